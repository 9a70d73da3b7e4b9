"""Monte Carlo jobs over HTTP: submit, poll, results, cancel, limits, and a server killed mid-job."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time

import httpx
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import spendprint as sp

from .test_api import LIMITS, MODEL, Server, demo_ledger_rows, make_data_dir

UNCERTAINTY = {"a_size_rule": [0.3, 0.05], "s_rsd": "schulte2024", "spend_rsd": 0.05}


def job_body(samples: int = 64, seed: int = 11, chunk_size: int | None = 16, **kw) -> dict:
    return {"model": MODEL, "ledger": demo_ledger_rows(), "concordance": "demo", "samples": samples,
            "seed": seed, "chunk_size": chunk_size, "stressors": ["CO2e", "CO2"],
            "uncertainty": UNCERTAINTY, **kw}


def wait(client: httpx.Client, job_id: str, until, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded polling
        status = client.get(f"/jobs/{job_id}").json()
        if until(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not get there in {timeout} s: {status}")


def finished(s: dict) -> bool:
    return s["status"] in ("done", "failed", "cancelled")


def samples_of(client: httpx.Client, job_id: str) -> pd.Series:
    pq = client.get(f"/jobs/{job_id}/result", params={"format": "parquet"})
    assert pq.status_code == 200, pq.text
    df = pd.read_parquet(io.BytesIO(pq.content))
    df = df.astype({"stressor": str, "category": str})  # dictionary-encoded labels -> plain
    return df.set_index(["sample", "stressor", "category"])["footprint"].sort_index()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    # this server also checks the private-reads setting
    data = make_data_dir(tmp_path_factory.mktemp("jobs") / "data",
                         LIMITS.replace("public_reads = true", "public_reads = false")
                         + "compute_slots = 2\n")
    from spendprint.api.auth import KeyStore

    store = KeyStore(data / "spendprint.sqlite")
    key, other = (store.create(name)[1] for name in ("jobs", "other"))
    srv = Server(data).start()
    yield {"data": data, "key": key, "other": other, "server": srv}
    srv.stop()


def _client(env, key=None) -> httpx.Client:
    return httpx.Client(base_url=env["server"].url, headers={"X-API-Key": key or env["key"]},
                        timeout=60.0)


def test_private_reads_setting(env):
    url = env["server"].url
    assert httpx.get(f"{url}/models").status_code == 401
    assert httpx.get(f"{url}/models/{MODEL}/multipliers").status_code == 401
    assert httpx.get(f"{url}/models", headers={"X-API-Key": env["key"]}).status_code == 200
    assert httpx.get(f"{url}/health").status_code == 200


def kill_body() -> dict:
    return job_body(samples=160, seed=5, chunk_size=8)


REFERENCE_SCRIPT = """
import json, sys
import pandas as pd
import spendprint as sp
from spendprint.procurement import Ledger, Prices, procurement_demand
from spendprint.procurement.demo import demo_inputs
from spendprint.uncertainty import Uncertainty, monte_carlo

data_dir, body_path, out = sys.argv[1:]
body = json.loads(open(body_path).read())
mrio = sp.open_mrio(f"{data_dir}/models/{body['model']}")
y = procurement_demand(mrio, Ledger.from_frame(pd.DataFrame(body["ledger"])), demo_inputs()[1],
                       prices=Prices.default(), buyer_region="NO")
ds = monte_carlo(mrio, y, Uncertainty.from_dict(body["uncertainty"]), samples=body["samples"],
                 seed=body["seed"], chunk_size=body["chunk_size"], client="sync",
                 stressors=body["stressors"])
ds["footprint"].to_series().rename("footprint").reset_index().to_parquet(out)
"""


@pytest.fixture(scope="module")
def resumed_job(env, tmp_path_factory) -> dict:
    """A job whose server is SIGKILLed mid-run and restarted; meanwhile the same run goes
    through the Python API in another process (uninterrupted, no store): the reference."""
    tmp = tmp_path_factory.mktemp("reference")
    body = kill_body()
    (tmp / "body.json").write_text(json.dumps(body))
    srv: Server = env["server"]
    with _client(env) as c:
        r = c.post("/jobs", json=body)
        assert r.status_code == 202, r.text
        job = r.json()
        ref = subprocess.Popen([sys.executable, "-c", REFERENCE_SCRIPT, str(env["data"]),
                                str(tmp / "body.json"), str(tmp / "ref.parquet")])
        assert job["status"] in ("queued", "running")
        assert r.headers["location"] == f"/jobs/{job['id']}"
        assert c.get(job["links"]["result"]).status_code == 409
        mid = wait(c, job["id"], lambda s: s["progress"] > 0.0 or finished(s), timeout=120)
    srv.kill()
    srv.start()  # same data dir, new port
    with _client(env) as c:
        status = wait(c, job["id"], finished, timeout=120)
        samples = samples_of(c, job["id"]) if status["status"] == "done" else None
    assert ref.wait(120) == 0
    reference = pd.read_parquet(tmp / "ref.parquet").set_index(
        ["sample", "stressor", "category"])["footprint"].sort_index()
    return {"id": job["id"], "mid": mid, "status": status, "samples": samples,
            "reference": reference, "body": body}


def test_server_killed_during_job_resumes_with_the_same_result(resumed_job):
    """SIGKILL while the job runs; the new server resumes it from the job's Zarr store and the
    numbers equal an uninterrupted run through the Python API."""
    assert resumed_job["mid"]["status"] == "running" and resumed_job["mid"]["progress"] < 1.0
    status = resumed_job["status"]
    assert status["status"] == "done", status
    assert status["attempts"] == 2 and status["progress"] == 1.0
    got, want = resumed_job["samples"], resumed_job["reference"]
    assert got.index.equals(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12, atol=0)


def test_job_results_and_ownership(env, resumed_job):
    from spendprint.procurement import Ledger, Prices, procurement_footprint
    from spendprint.procurement.demo import demo_inputs

    job_id, samples, body = resumed_job["id"], resumed_job["samples"], resumed_job["body"]
    with _client(env) as c:
        assert any(j["id"] == job_id for j in c.get("/jobs").json()["jobs"])
        assert samples.notna().all() and len(samples) == 160 * 2 * 80
        # summaries in xarray's dict form; the deterministic footprint is the Python API's
        summary = xr.Dataset.from_dict(c.get(f"/jobs/{job_id}/result").json()["summary"])
        mrio = sp.open_mrio(env["data"] / "models" / MODEL)
        det = procurement_footprint(mrio, Ledger.from_frame(pd.DataFrame(body["ledger"])),
                                    demo_inputs()[1], prices=Prices.default(),
                                    stressors=body["stressors"], by_origin=False)["footprint"]
        np.testing.assert_allclose(summary["deterministic"].transpose(*det.dims).values,
                                   det.values, rtol=1e-9)
        mean = samples.groupby(level=["stressor", "category"]).mean()
        want = summary["mean"].to_series().reorder_levels(mean.index.names).loc[mean.index]
        np.testing.assert_allclose(mean.to_numpy(), want.to_numpy(), rtol=1e-12)
        csv = c.get(f"/jobs/{job_id}/result", headers={"Accept": "text/csv"})
        assert csv.headers["content-type"].startswith("text/csv")
        assert len(pd.read_csv(io.StringIO(csv.text))) == 160 * 2 * 80
    with _client(env, env["other"]) as c:  # another key does not see it, nor delete it
        assert c.get(f"/jobs/{job_id}").status_code == 404
        assert c.get(f"/jobs/{job_id}/result").status_code == 404
        assert c.delete(f"/jobs/{job_id}").status_code == 404
    with _client(env) as c:  # finished: DELETE removes the job and its files (issue 17, 5)
        r = c.delete(f"/jobs/{job_id}")
        assert r.status_code == 200 and r.json()["message"] == "deleted"
        assert r.json()["status"] == "done"
        assert c.get(f"/jobs/{job_id}").status_code == 404
        assert not (env["data"] / "jobs" / job_id).exists()


def test_footprint_job_equals_python(env):
    """``kind = footprint``: the deterministic footprint computed as a job."""
    from .test_api import python_footprint

    rows = demo_ledger_rows()
    with _client(env) as c:
        r = c.post("/jobs", json={"model": MODEL, "kind": "footprint", "ledger": rows,
                                  "stressors": ["CO2e"]})
        assert r.status_code == 202, r.text
        status = wait(c, r.json()["id"], finished)
        assert status["status"] == "done", status
        summary = xr.Dataset.from_dict(c.get(f"/jobs/{status['id']}/result").json()["summary"])
        table = c.get(f"/jobs/{status['id']}/result", params={"format": "csv"})
        assert table.status_code == 200 and "footprint" in table.text.splitlines()[0]
    want = python_footprint(env["data"], rows, stressors=["CO2e"])
    for var in ("footprint", "direct", "rank", "spend"):
        np.testing.assert_allclose(summary[var].transpose(*want[var].dims).values,
                                   want[var].values, rtol=1e-12)


def test_concurrent_footprints_with_two_compute_slots(env):
    """compute_slots = 2 pins BLAS to one thread: parallel requests stay correct."""
    import asyncio

    from .test_api import assert_rows_match, python_footprint

    rows = demo_ledger_rows()[:40]
    want = python_footprint(env["data"], rows, stressors=["CO2e"])

    async def run():
        async with httpx.AsyncClient(base_url=env["server"].url, timeout=120.0,
                                     headers={"X-API-Key": env["key"]}) as c:
            return await asyncio.gather(*(c.post(f"/models/{MODEL}/footprints", json={
                "ledger": rows, "stressors": ["CO2e"]}) for _ in range(20)))

    for r in asyncio.run(run()):
        assert r.status_code == 200, r.text
        assert_rows_match(r.json()["rows"], want)


def test_limits_samples_422_and_concurrent_jobs_429_and_cancel(env):
    with _client(env) as c:
        r = c.post("/jobs", json=job_body(samples=501))
        assert r.status_code == 422
        assert r.json()["limit"] == "max_samples" and r.json()["maximum"] == 500
        ids = []
        for _ in range(2):
            r = c.post("/jobs", json=job_body(samples=480, chunk_size=16))
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        r = c.post("/jobs", json=job_body(samples=16))
        assert r.status_code == 429
        assert r.json()["limit"] == "max_jobs_per_key" and r.json()["maximum"] == 2
        # DELETE cancels, whether running or queued
        for job_id in ids:
            r = c.delete(f"/jobs/{job_id}")
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "cancelled"
        assert c.get(f"/jobs/{ids[0]}/result").status_code == 409
        assert c.get(f"/jobs/{ids[1]}").json()["status"] == "cancelled"
        # the key may submit again
        r = c.post("/jobs", json=job_body(samples=16))
        assert r.status_code == 202
        assert c.delete(f"/jobs/{r.json()['id']}").status_code == 200


def test_bad_job_inputs_are_422(env):
    with _client(env) as c:
        assert c.post("/jobs", json=job_body(uncertainty={"nonsense": 1})).status_code == 422
        assert c.post("/jobs", json=job_body(buyer_region="Atlantis")).status_code == 422
        assert c.post("/jobs", json=job_body(stressors=["Nope"])).status_code == 422
        assert c.post("/jobs", json={**job_body(), "model": "missing"}).status_code == 404
        assert c.get("/jobs/not-a-job-id").status_code == 404
