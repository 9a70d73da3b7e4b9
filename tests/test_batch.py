"""Batch plans (`spendprint batch`): validation, expansion, a local-cluster run equal to plain
``spendprint run`` runs, job-array slices merged equal to the whole run, skipping, resuming a
killed Monte Carlo task, failing tasks named with exit code 3, and the array scripts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

import spendprint as sp
from spendprint.cli import main
from spendprint.errors import ValidationError
from spendprint.jobs.batch_plan import expand, load_plan, parse_plan, plan_hash, task_slice
from spendprint.jobs.batch_run import plan_status, run_tasks
from spendprint.procurement import demo_paths

LEDGER = demo_paths()["ledger"]
SAMPLES, CHUNK, SEED = 40, 16, 3


def write_plan(folder: Path, **over) -> Path:
    plan = {"name": "test-batch", "models": ["models/*.zarr"], "ledgers": [LEDGER], "concordance": demo_paths()["concordance"],
            "samples": SAMPLES, "sample_chunk": CHUNK, "seed": SEED, "out": "out",
            "cluster": {"kind": "local", "jobs": 2}}
    plan.update(over)
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch")
    (folder / "models").mkdir()
    sp.synthetic_mrio(regions=8, sectors=60, seed=1).to_zarr(folder / "models" / "a.zarr")
    sp.synthetic_mrio(regions=8, sectors=60, seed=2).to_zarr(folder / "models" / "b.zarr")
    return folder


@pytest.fixture(scope="module")
def local_run(models) -> Path:
    """The plan (2 models x 1 ledger x 40 samples) on a local dask cluster of 2 workers."""
    plan = write_plan(models)
    assert main(["batch", "run", str(plan)]) == 0
    return plan


def _sliced_copy(models: Path, name: str) -> Path:
    folder = models / name
    folder.mkdir()
    (folder / "models").symlink_to(models / "models")
    return write_plan(folder)


# ---- plan validation and expansion --------------------------------------------------------------
def test_plan_errors_name_every_key(models):
    bad = {"name": "x", "models": ["models/missing.zarr"], "ledgers": [], "samles": 10,
           "samples": -1, "sample_chunk": 10, "group_size": 4, "out": "o",
           "cluster": {"kind": "slurmm", "memory": "lots", "walltime": "2h", "jobz": 1}}
    with pytest.raises(ValidationError) as err:
        parse_plan(bad, base=models, source="plan.yaml")
    msg = str(err.value)
    for part in ("plan.yaml", "models[0]: ", "missing.zarr does not exist",
                 "ledgers: an empty list", "samles: unknown key (did you mean 'samples'?)",
                 "samples: expected an integer >= 0, got -1",
                 "sample_chunk: 10 is not a multiple of group_size 4",
                 "cluster.kind: expected one of local, slurm, pbs, address, got 'slurmm'",
                 "cluster.memory: expected a size", "cluster.walltime: expected HH:MM:SS",
                 "cluster.jobz: unknown key (did you mean 'jobs'?)"):
        assert part in msg, part
    with pytest.raises(ValidationError, match="concordance: 2 given for 1 ledgers"):
        parse_plan({"models": ["models/*.zarr"], "ledgers": [LEDGER], "out": "o",
                    "concordance": [demo_paths()["concordance"]] * 2}, base=models)
    with pytest.raises(ValidationError, match=r"models\[0\]: the pattern 'nothing\*.zarr' "):
        parse_plan({"models": ["nothing*.zarr"], "ledgers": [LEDGER], "out": "o"}, base=models)
    with pytest.raises(ValidationError, match="cluster.address: required"):
        parse_plan({"models": ["models/a.zarr"], "ledgers": [LEDGER], "out": "o",
                    "cluster": {"kind": "address"}}, base=models)


def test_bad_plan_is_exit_2_without_traceback(models, capsys):
    (models / "bad.yaml").write_text("models: [nope.zarr]\nledgers: [nope.csv]\nout: o\n")
    assert main(["batch", "run", str(models / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    assert "models[0]" in err and "ledgers[0]" in err and "Traceback" not in err
    assert main(["batch", "status", str(models / "missing.yaml")]) == 2


def test_expansion_is_a_pure_function_of_the_plan(models):
    plan = load_plan(write_plan(models))
    tasks = expand(plan)
    assert [t.id for t in tasks] == [t.id for t in expand(load_plan(write_plan(models)))]
    assert [t.id for t in tasks[:4]] == ["m0-l0-det", "m0-l0-mc000000-000016",
                                         "m0-l0-mc000016-000032", "m0-l0-mc000032-000040"]
    assert len(tasks) == 2 * (1 + 3) and plan.models[0].endswith("a.zarr")
    # slices partition the tasks, for any count
    for n in (1, 3, 5, 11):
        ids = [t.id for i in range(n) for t in task_slice(tasks, i, n)]
        assert sorted(ids) == sorted(t.id for t in tasks) and len(set(ids)) == len(tasks)
    with pytest.raises(ValidationError, match="--task-index"):
        task_slice(tasks, 3, 3)
    # the hash follows the numbers, not where they are computed
    h = plan_hash(plan)
    other = load_plan(write_plan(models, cluster={"kind": "slurm", "jobs": 9}))
    assert plan_hash(other) == h
    assert plan_hash(load_plan(write_plan(models, seed=4))) != h
    write_plan(models)


# ---- runs --------------------------------------------------------------------------------------
def test_local_cluster_run_equals_plain_runs(local_run, models, tmp_path):
    out = models / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["counts"] == {"done": 8}
    assert {t["status"] for t in manifest["tasks"]} == {"done"}
    assert len(manifest["inputs"]) == 4 and all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    ds = xr.open_zarr(out / "results.zarr", consolidated=False)
    assert list(ds["model"].values) == ["a", "b"] and ds.sizes["sample"] == SAMPLES
    from threadpoolctl import threadpool_limits

    for label in ("a", "b"):
        ref = tmp_path / label
        # the tasks run BLAS on one thread (the float32 preconditioner LU of the Monte Carlo
        # changes in its last bits with the thread count); so does the reference run
        with threadpool_limits(limits=1):
            ok = main(["run", "--mrio", str(models / "models" / f"{label}.zarr"), "--out", str(ref),
                       "--samples", str(SAMPLES), "--seed", str(SEED), "--workers", "1",
                       "--spa-top", "0"])
        assert ok == 0
        table = pd.read_parquet(ref / "categories.parquet").set_index(["category", "stressor"])
        got = ds.sel(model=label, ledger="demo_ledger")
        for name, col in (("footprint", "footprint"), ("mc_mean", "mean"), ("mc_sd", "sd"),
                          ("mc_p5", "p5"), ("mc_p95", "p95")):
            frame = got[name].to_dataframe()[name].reorder_levels(["category", "stressor"])
            want = table[col].reindex(frame.index)
            np.testing.assert_array_equal(frame.to_numpy(), want.to_numpy(), err_msg=name)
        import zarr

        samples = zarr.open_group(str(ref / "samples.zarr"), mode="r")["footprint"][...]
        mine = got["sample_footprint"].transpose("sample", "stressor", "category").values
        np.testing.assert_array_equal(mine, samples)
    # the tidy table: the plain run's rows with model and ledger columns
    tidy = pd.read_parquet(out / "categories.parquet")
    assert {"model", "ledger", "category", "stressor", "footprint", "mean", "sd"} <= set(tidy)
    assert len(tidy) == 2 * len(table)
    assert "demo_ledger" in (out / "comparison.html").read_text()


def test_job_array_slices_merged_equal_the_whole_run(local_run, models):
    plan = _sliced_copy(models, "sliced")
    for i in (2, 0, 1):
        assert main(["batch", "run", str(plan), "--task-index", str(i), "--task-count", "3"]) == 0
    assert not (plan.parent / "out" / "results.zarr").exists()  # a slice does not merge
    assert main(["batch", "merge", str(plan)]) == 0
    a = xr.open_zarr(models / "out" / "results.zarr", consolidated=False).load()
    b = xr.open_zarr(plan.parent / "out" / "results.zarr", consolidated=False).load()
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        if a[name].dtype.kind == "f":
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    pd.testing.assert_frame_equal(pd.read_parquet(models / "out" / "categories.parquet"),
                                  pd.read_parquet(plan.parent / "out" / "categories.parquet"))


def test_rerun_skips_finished_tasks(local_run, models, capsys):
    before = {p.name: json.loads((p / "task.json").read_text())["started"]
              for p in (models / "out" / "tasks").iterdir() if not p.name.startswith(".")}
    assert len(before) == 8
    plan = load_plan(local_run)
    results = run_tasks(plan, expand(plan), in_process=True)
    assert {r["status"] for r in results.values()} == {"skipped"}
    after = {p.name: json.loads((p / "task.json").read_text())["started"]
             for p in (models / "out" / "tasks").iterdir() if not p.name.startswith(".")}
    assert after == before
    capsys.readouterr()
    assert main(["batch", "status", str(local_run)]) == 0
    out = capsys.readouterr().out
    assert "m1-l0-mc000032-000040\tdone" in out and "done: 8" in out


def test_killed_monte_carlo_task_resumes(models):
    folder = models / "killed"
    folder.mkdir()
    (folder / "models").symlink_to(models / "models")
    # one model, one chunk of 20 groups of 16 samples: the task is killed between groups
    plan = write_plan(folder, models=["models/a.zarr"], samples=320, sample_chunk=320)
    cmd = [sys.executable, "-m", "spendprint", "batch", "run", str(plan), "--task-index", "1",
           "--task-count", "2"]
    part = folder / "out" / "tasks" / ".partial" / "m0-l0-mc000000-000320"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list(part.glob("g*.npz"))) >= 2:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the task finished before it could be killed"
    done = len(list(part.glob("g*.npz")))
    assert 2 <= done < 20
    p = load_plan(plan)
    state = plan_status(p)["m0-l0-mc000000-000320"]
    assert state["status"] == "partial" and state["groups_done"] == done
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    meta = json.loads((folder / "out" / "tasks" / "m0-l0-mc000000-000320" / "task.json")
                      .read_text())
    assert meta["resumed_groups"] == done and meta["groups"] == 20
    assert not part.exists()
    # the resumed samples are those of one uninterrupted Monte Carlo run
    from spendprint.jobs.batch_run import sample_setup
    from spendprint.uncertainty.sampler import run_samples

    task = expand(p)[1]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        ref = run_samples(sample_setup(p, task).problem, SEED, 0, 320)[0]
    with np.load(folder / "out" / "tasks" / task.id / "samples.npz") as z:
        np.testing.assert_array_equal(z["footprint"], ref)


def test_failing_task_is_named_and_exit_3(models, tmp_path, capsys):
    bad = tmp_path / "bad_ledger.csv"
    bad.write_text("category,amount,currency,year\nNo such category,1000,NOK,2022\n")
    plan = write_plan(tmp_path, models=[str(models / "models" / "a.zarr")],
                      ledgers=[LEDGER, str(bad)], samples=0)
    capsys.readouterr()
    assert main(["batch", "run", str(plan), "--in-process"]) == 3
    err = capsys.readouterr().err
    assert "task m0-l1-det failed" in err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    tasks = {t["id"]: t for t in manifest["tasks"]}
    assert tasks["m0-l0-det"]["status"] == "done"
    assert tasks["m0-l1-det"]["status"] == "failed"
    assert "No such category" in tasks["m0-l1-det"]["error"]
    assert not manifest["complete"] and manifest["counts"] == {"done": 1, "failed": 1}
    ds = xr.open_zarr(tmp_path / "out" / "results.zarr", consolidated=False)
    assert list(ds["ledger"].values) == ["demo_ledger"]
    assert main(["batch", "merge", str(plan)]) == 3
    assert main(["batch", "status", str(plan)]) == 3


def test_array_scripts(models, tmp_path, capsys):
    plan = write_plan(models, cluster={"kind": "slurm", "queue": "debug", "memory": "2GiB",
                                       "walltime": "00:30:00", "account": "proj1"})
    assert main(["batch", "script", str(plan), "--array", "3", "--out", str(tmp_path)]) == 0
    sb = (tmp_path / "batch.sbatch").read_text()
    for line in ("#SBATCH --array=0-2", "#SBATCH --mem=2048M", "#SBATCH --time=00:30:00",
                 "#SBATCH --partition=debug", "#SBATCH --account=proj1",
                 '--task-index "$SLURM_ARRAY_TASK_ID" --task-count 3'):
        assert line in sb, line
    pbs = (tmp_path / "batch.pbs").read_text()
    for line in ("#PBS -J 0-2", "#PBS -q debug", "mem=2048mb", '"$PBS_ARRAY_INDEX"'):
        assert line in pbs, line
    assert subprocess.run(["bash", "-n", str(tmp_path / "batch.sbatch")]).returncode == 0
    assert main(["batch", "script", str(plan), "--array", "0", "--out", str(tmp_path)]) == 2
    write_plan(models)


def test_a_task_held_elsewhere_is_running_and_not_computed_twice(models):
    import multiprocessing as mp

    from spendprint.jobs.batch_run import run_task, task_lock

    plan = load_plan(_sliced_copy(models, "locked"))
    task = expand(plan)[0]
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(plan, task, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        state = plan_status(plan)[task.id]
        assert state["status"] == "running" and str(holder.pid) in state["holder"]
        assert run_task(plan, task, plan_hash(plan))["status"] == "running"
        assert not (plan.out and (Path(plan.out) / "tasks" / task.id).exists())
    finally:
        release.set()
        holder.join(60)
    assert plan_status(plan)[task.id]["status"] == "missing"
    with task_lock(plan, task) as mine:
        assert mine


def _hold_lock(plan, task, ready, release) -> None:
    from spendprint.jobs.batch_run import task_lock

    with task_lock(plan, task) as mine:
        assert mine
        ready.set()
        release.wait(60)
