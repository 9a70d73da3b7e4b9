"""A Monte Carlo job submitted over HTTP runs on a real dask.distributed cluster (LocalCluster,
2 worker processes) named in the server settings, and returns the numbers of the Python API."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pandas as pd
import pytest

from .test_api import LIMITS, Server, make_data_dir
from .test_api_jobs import REFERENCE_SCRIPT, finished, job_body, samples_of, wait


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as lc:
        yield lc


def test_job_runs_on_the_dask_cluster(cluster, tmp_path):
    from distributed import Client

    data = make_data_dir(tmp_path / "data", LIMITS + f'dask_scheduler = "{cluster.scheduler_address}"\n')
    from spendprint.api.auth import KeyStore

    key = KeyStore(data / "spendprint.sqlite").create("dask")[1]
    body = job_body(samples=48, seed=21, chunk_size=8)
    (tmp_path / "body.json").write_text(json.dumps(body))
    srv = Server(data).start()
    try:
        with Client(cluster.scheduler_address) as watcher, \
                httpx.Client(base_url=srv.url, headers={"X-API-Key": key}, timeout=60.0) as c:
            r = c.post("/jobs", json=body)
            assert r.status_code == 202, r.text
            status = wait(c, r.json()["id"], finished, timeout=180)
            assert status["status"] == "done", status
            got = samples_of(c, r.json()["id"])
            # the cluster's scheduler saw the job's tasks
            tasks = watcher.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.transition_log))
            assert tasks > 0
    finally:
        srv.stop()
    ref_path = tmp_path / "ref.parquet"
    proc = subprocess.run([sys.executable, "-c", REFERENCE_SCRIPT, str(data), str(tmp_path / "body.json"),
                           str(ref_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ref = pd.read_parquet(ref_path).set_index(["sample", "stressor", "category"])["footprint"].sort_index()
    pd.testing.assert_series_equal(got, ref, check_exact=False, rtol=1e-12)
