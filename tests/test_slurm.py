"""Batch plans on a real single-node SLURM (started by ``.ci/slurm_start.sh``): through
dask-jobqueue's ``SLURMCluster``, as an ``sbatch --array`` job array merged afterwards, and a
task killed with ``scancel`` that resumes; every merged number equal to a local run's."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

import spendprint as sp
from spendprint.cli import main
from spendprint.jobs.batch_plan import load_plan
from spendprint.jobs.batch_run import plan_status
from spendprint.procurement import demo_paths


def _slurm_reason() -> str | None:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM is not installed (sinfo/sbatch not found; see .ci/slurm_start.sh)"
    try:
        state = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True,
                               timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    states = state.stdout.split()
    if state.returncode != 0 or not any(s in ("idle", "mixed") for s in states):
        return (f"no idle SLURM node (sinfo: {state.stdout.strip() or state.stderr.strip()}); "
                f"start one with .ci/slurm_start.sh")
    return None


_REASON = _slurm_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=str(_REASON))
LEDGER = demo_paths()["ledger"]


def write_plan(folder: Path, **over) -> Path:
    plan = {"name": "slurm-test", "models": ["models/*.zarr"], "ledgers": [LEDGER], "concordance": demo_paths()["concordance"],
            "samples": 32, "sample_chunk": 16, "seed": 5, "out": "out",
            "cluster": {"kind": "slurm", "queue": "debug", "cores": 1, "memory": "900MB",
                        "walltime": "00:10:00", "jobs": 2, "interface": "lo"}}
    plan.update(over)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "models").exists():
        (folder / "models").symlink_to(MODELS)
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


MODELS = Path()


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    global MODELS
    root = tmp_path_factory.mktemp("slurm")
    MODELS = root / "models-store"
    MODELS.mkdir()
    sp.synthetic_mrio(regions=8, sectors=60, seed=1).to_zarr(MODELS / "a.zarr")
    sp.synthetic_mrio(regions=8, sectors=60, seed=2).to_zarr(MODELS / "b.zarr")
    return root


@pytest.fixture(scope="module")
def local(base) -> xr.Dataset:
    plan = write_plan(base / "local")
    assert main(["batch", "run", str(plan), "--in-process"]) == 0
    return xr.open_zarr(base / "local" / "out" / "results.zarr", consolidated=False).load()


def assert_same(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        if a[name].dtype.kind == "f":
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def _logs(folder: Path) -> str:
    """The tails of the array elements' logs, for a failure message."""
    return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}"
                     for p in sorted((folder / "out" / "tasks" / ".logs").glob("*.out")))


def _wait_gone(job: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        q = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True)
        if not q.stdout.strip():
            return
        time.sleep(0.3)
    raise AssertionError(f"job {job} still queued after {timeout} s")


def test_plan_through_dask_jobqueue_slurm_cluster(base, local):
    plan = write_plan(base / "jobqueue")
    assert main(["batch", "run", str(plan)]) == 0
    got = xr.open_zarr(base / "jobqueue" / "out" / "results.zarr", consolidated=False).load()
    assert_same(local, got)
    hosts = {t["host"] for t in json.loads((base / "jobqueue" / "out" / "manifest.json")
                                           .read_text())["tasks"]}
    assert hosts  # the workers ran as SLURM jobs: their logs are in tasks/.logs
    assert list((base / "jobqueue" / "out" / "tasks" / ".logs").glob("dask-worker-*.err"))


def test_sbatch_array_of_three_merged_equals_local(base, local):
    plan = write_plan(base / "array")
    assert main(["batch", "script", str(plan), "--array", "3"]) == 0
    script = base / "array" / "out" / "batch.sbatch"
    run = subprocess.run(["sbatch", "--parsable", "--wait", str(script)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr + _logs(base / "array")
    job = run.stdout.strip().split(";")[0]
    logs = sorted((base / "array" / "out" / "tasks" / ".logs").glob(f"*-{job}_*.out"))
    assert len(logs) == 3, _logs(base / "array")
    assert main(["batch", "merge", str(plan)]) == 0, _logs(base / "array")
    got = xr.open_zarr(base / "array" / "out" / "results.zarr", consolidated=False).load()
    assert_same(local, got)


def test_task_killed_with_scancel_resumes(base):
    folder = base / "scancel"
    # one model, no other work: the array element runs one chunk of 20 groups of 16 samples
    plan = write_plan(folder, models=["models/a.zarr"], samples=320, sample_chunk=320)
    assert main(["batch", "script", str(plan), "--array", "1"]) == 0
    script = folder / "out" / "batch.sbatch"
    part = folder / "out" / "tasks" / ".partial" / "m0-l0-mc000000-000320"
    job = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True,
                         check=True).stdout.strip().split(";")[0]
    deadline = time.time() + 180
    while time.time() < deadline and len(list(part.glob("g*.npz"))) < 2:
        time.sleep(0.05)
    subprocess.run(["scancel", job], check=True)
    _wait_gone(job)
    done = len(list(part.glob("g*.npz")))
    assert 2 <= done < 20, "the task was not killed between its groups\n" + _logs(folder)
    state = plan_status(load_plan(plan))["m0-l0-mc000000-000320"]
    assert state["status"] == "partial" and state["groups_done"] == done
    again = subprocess.run(["sbatch", "--parsable", "--wait", str(script)], capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr + _logs(folder)
    meta = json.loads((folder / "out" / "tasks" / "m0-l0-mc000000-000320" / "task.json")
                      .read_text())
    assert meta["resumed_groups"] >= done and meta["groups"] == 20
    # equal to the same chunk computed in one go here
    clean = write_plan(base / "scancel-clean", models=["models/a.zarr"], samples=320,
                       sample_chunk=320)
    assert main(["batch", "run", str(clean), "--in-process", "--no-merge"]) == 0
    with np.load(folder / "out" / "tasks" / "m0-l0-mc000000-000320" / "samples.npz") as a, \
            np.load(base / "scancel-clean" / "out" / "tasks" / "m0-l0-mc000000-000320"
                    / "samples.npz") as b:
        np.testing.assert_array_equal(a["footprint"], b["footprint"])
