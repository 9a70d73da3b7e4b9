"""Running the tasks of a batch plan: in this process, on a dask cluster, or one slice of an array.

Each task writes into ``out/tasks/<task-id>/`` through `spendprint.io.atomic.atomic_path` (a
killed task leaves no half-written folder) with a ``task.json`` naming the plan hash; a rerun
skips a task whose ``task.json`` carries the current plan hash. A Monte Carlo task checkpoints
every solved group of samples under ``out/tasks/.partial/<task-id>/`` and a rerun computes only
the missing groups, so a killed job loses at most one group. A task holds an ``flock`` on
``out/tasks/.locks/<task-id>.lock`` while it runs: two array jobs never compute the same task,
and ``spendprint batch status`` reports a held lock as running.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import ValidationError
from ..io.atomic import atomic_path, write_bytes_atomic
from .batch_plan import BatchPlan, Task, expand, plan_hash

Say = Callable[[str], None]


# ---- where things are ------------------------------------------------------------------------------
def tasks_dir(plan: BatchPlan) -> Path:
    return Path(plan.out) / "tasks"


def task_dir(plan: BatchPlan, task: Task) -> Path:
    return tasks_dir(plan) / task.id


def partial_dir(plan: BatchPlan, task: Task) -> Path:
    return tasks_dir(plan) / ".partial" / task.id


def failed_path(plan: BatchPlan, task: Task) -> Path:
    return tasks_dir(plan) / ".failed" / f"{task.id}.json"


def _read_json(p: Path) -> dict[str, Any] | None:
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def task_lock(plan: BatchPlan, task: Task) -> Iterator[bool]:
    """Hold the task's lock; yields False (and holds nothing) when another process has it."""
    d = tasks_dir(plan) / ".locks"
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / f"{task.id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def task_state(plan: BatchPlan, task: Task, phash: str) -> dict[str, Any]:
    """``{"status": done | failed | running | partial | missing, ...}`` of one task."""
    meta = _read_json(task_dir(plan, task) / "task.json")
    if meta and meta.get("plan_hash") == phash:
        return {"status": "done", **meta}
    lock = tasks_dir(plan) / ".locks" / f"{task.id}.lock"
    if lock.exists():
        fd = os.open(lock, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BlockingIOError:
            return {"status": "running", "holder": lock.read_text().strip()}
        finally:
            os.close(fd)
    failed = _read_json(failed_path(plan, task))
    if failed and failed.get("plan_hash") == phash:
        return {"status": "failed", **failed}
    groups = _done_groups(plan, task, phash) if task.kind == "mc" else []
    if groups:
        return {"status": "partial", "groups_done": len(groups)}
    return {"status": "missing"}


# ---- one task --------------------------------------------------------------------------------------
def run_task(plan: BatchPlan, task: Task, phash: str) -> dict[str, Any]:
    """Run one task unless it is done or running elsewhere; never raises for a task's own error.

    Returns the task's state (``done``, ``skipped`` (done before), ``running`` (elsewhere) or
    ``failed`` with ``error``); a failure is also written to ``out/tasks/.failed/<id>.json``.
    """
    state = task_state(plan, task, phash)
    if state["status"] == "done":
        return {**state, "status": "skipped"}
    with task_lock(plan, task) as mine:
        if not mine:
            return {"id": task.id, "status": "running"}
        t0 = time.time()
        try:
            # BLAS on one thread wherever the task runs (here, a dask worker, an array job): the
            # dense float32 preconditioner LU of the Monte Carlo differs in its last bits with
            # the thread count, and the tasks themselves are the parallelism
            with threadpool_limits(limits=1):
                extra = (_run_det if task.kind == "det" else _run_mc)(plan, task, phash, t0)
        except Exception as exc:  # noqa: BLE001 - recorded, named in the manifest, exit 3
            info = {"id": task.id, "status": "failed", "plan_hash": phash,
                    "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
                    "host": socket.gethostname(), "seconds": round(time.time() - t0, 3)}
            failed_path(plan, task).parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(failed_path(plan, task), json.dumps(info, indent=2).encode())
            return info
        with contextlib.suppress(FileNotFoundError):
            failed_path(plan, task).unlink()
        return {"id": task.id, "status": "done", **extra}


def _meta(plan: BatchPlan, task: Task, phash: str, t0: float, **extra: Any) -> dict[str, Any]:
    return {"id": task.id, "kind": task.kind, "plan_hash": phash,
            "model": plan.models[task.model_index], "ledger": plan.ledgers[task.ledger_index],
            "start": task.start, "stop": task.stop, "host": socket.gethostname(),
            "pid": os.getpid(), "started": t0, "seconds": round(time.time() - t0, 3), **extra}


def run_config(plan: BatchPlan, task: Task, out: str | Path):
    """The `RunConfig` of ``spendprint run`` for the task's (model, ledger), deterministic."""
    from .main_job import RunConfig

    return RunConfig(mrio=plan.models[task.model_index], ledger=plan.ledgers[task.ledger_index],
                     concordance=plan.concordance[task.ledger_index], prices=plan.prices,
                     scenarios=plan.scenarios, risk=plan.risk, buyer_region=plan.buyer_region,
                     out=str(out), stressor=plan.stressor, samples=0, seed=plan.seed,
                     uncertainty=plan.uncertainty, spa_top=plan.spa_top)


def _run_det(plan: BatchPlan, task: Task, phash: str, t0: float) -> dict[str, Any]:
    from .main_job import run_job

    target = task_dir(plan, task)
    with atomic_path(target) as work:
        run_job(run_config(plan, task, work))
        meta = _meta(plan, task, phash, t0)
        (work / "task.json").write_text(json.dumps(meta, indent=2))
    return meta


@dataclass
class SampleSetup:
    """What a Monte Carlo chunk needs: the problem of `spendprint.uncertainty.sampler`."""

    problem: Any
    names: list[str]
    categories: list[str]
    deterministic: np.ndarray  # (stressor, category)


def sample_setup(plan: BatchPlan, task: Task) -> SampleSetup:
    """Model, ledger and demand as ``spendprint run`` reads them; the Monte Carlo problem as
    `spendprint.uncertainty.monte_carlo` builds it (same indicators, group size and tolerance),
    so that the samples of a chunk equal those samples of one ``spendprint run --samples``."""
    from .. import procurement as pc
    from ..labelled.footprints import _indicators, as_demand, footprint
    from ..uncertainty.sampler import build_problem
    from .main_job import load_model, read_inputs, run_uncertainty

    cfg = run_config(plan, task, plan.out)
    mrio = load_model(cfg.mrio, cfg.synthetic)
    # exactly as `spendprint run` reads them (one shared function)
    prices, ledger, used = read_inputs(cfg, mrio, cfg.ledger, cfg.concordance, cfg.prices)
    demand = pc.ProcurementDemand.build(mrio, ledger, used.concordance, prices, cfg.buyer_region)
    unc = run_uncertainty(cfg.uncertainty)
    if cfg.stressor not in mrio.indicators:
        raise ValidationError(f"stressor {cfg.stressor!r} is not an indicator of "
                              f"{cfg.mrio}; choose one of {list(mrio.indicators)[:12]}")
    stressors = None if len(mrio.indicators) <= 20 else [cfg.stressor]
    names = _indicators(mrio, stressors)
    ya = as_demand(mrio, demand.to_dataarray())
    cat = next(d for d in ya.dims if d not in ("region", "sector"))
    ya = ya.transpose("region", "sector", cat)
    categories = [str(v) for v in ya[cat].values]
    y2 = np.ascontiguousarray(np.asarray(ya.values, dtype=np.float64).reshape(mrio.n, -1))
    problem = build_problem(mrio, y2, unc, names, categories, tol=1e-9,
                            group_size=plan.group_size)
    det = footprint(mrio, ya, names)["total"].transpose("stressor", cat).values
    return SampleSetup(problem, names, categories, np.asarray(det, dtype=np.float64))


def _done_groups(plan: BatchPlan, task: Task, phash: str) -> list[int]:
    d = partial_dir(plan, task)
    if (_read_json(d / "hash.json") or {}).get("plan_hash") != phash:
        return []
    return sorted(int(p.stem[1:]) for p in d.glob("g*.npz"))


def _run_mc(plan: BatchPlan, task: Task, phash: str, t0: float) -> dict[str, Any]:
    from ..uncertainty.sampler import sample_group

    setup = sample_setup(plan, task)
    G = setup.problem.group_size
    part = partial_dir(plan, task)
    if (_read_json(part / "hash.json") or {}).get("plan_hash") != phash:
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        write_bytes_atomic(part / "hash.json", json.dumps({"plan_hash": phash}).encode())
    groups = range(task.start // G, -(-task.stop // G))
    had = set(_done_groups(plan, task, phash))
    buffer = setup.problem.system.value_buffer(G)
    for g in groups:
        if g in had:
            continue
        E, it, res, fb = sample_group(setup.problem, int(plan.seed), g, buffer)
        with atomic_path(part / f"g{g:06d}.npz") as p:
            with p.open("wb") as fh:
                np.savez(fh, E=E, it=it, res=res, fb=fb)
    parts = []
    for g in groups:
        with np.load(part / f"g{g:06d}.npz") as z:
            parts.append({k: z[k] for k in ("E", "it", "res", "fb")})
    # the samples of group g are G * g ... G * g + G - 1; keep [start, stop)
    lo = task.start - groups[0] * G
    n = task.stop - task.start
    cat = {k: np.concatenate([p[k] for p in parts])[lo:lo + n] for k in ("E", "it", "res", "fb")}
    meta = _meta(plan, task, phash, t0, group_size=G, groups=len(groups),
                 resumed_groups=len(had & set(groups)), fallbacks=int(cat["fb"].sum()))
    target = task_dir(plan, task)
    with atomic_path(target) as work:
        work.mkdir()
        with (work / "samples.npz").open("wb") as fh:
            np.savez(fh, footprint=cat["E"], iterations=cat["it"], residual=cat["res"],
                     fallback=cat["fb"], deterministic=setup.deterministic,
                     stressor=np.array(setup.names), category=np.array(setup.categories),
                     sample=np.arange(task.start, task.stop))
        (work / "task.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(part, ignore_errors=True)
    return meta


# ---- many tasks ------------------------------------------------------------------------------------
def _run_task_remote(plan: BatchPlan, task: Task, phash: str) -> dict[str, Any]:
    return run_task(plan, task, phash)


@contextlib.contextmanager
def open_client(plan: BatchPlan, say: Say) -> Iterator[Any]:
    """A dask client on the plan's cluster (``cluster.kind``), closed (and its jobs cancelled)
    on exit."""
    from distributed import Client

    c = plan.cluster
    if c.kind == "address":
        say(f"connecting to the scheduler at {c.address}")
        client = Client(c.address, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    if c.kind == "local":
        from distributed import LocalCluster

        workers = c.jobs * (c.processes or c.cores)
        say(f"starting a local cluster of {workers} worker process(es)")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", local_directory=c.local_directory)
    else:
        import dask_jobqueue

        cls = dask_jobqueue.SLURMCluster if c.kind == "slurm" else dask_jobqueue.PBSCluster
        kwargs: dict[str, Any] = dict(
            cores=c.cores, processes=c.processes or c.cores, memory=c.memory,
            walltime=c.walltime, queue=c.queue, account=c.account,
            job_extra_directives=list(c.job_extra_directives),
            scheduler_options={"dashboard_address": ":0"},
            local_directory=c.local_directory or os.path.join(plan.out, "tasks", ".dask"),
            log_directory=os.path.join(plan.out, "tasks", ".logs"),
            # one task is one thread: BLAS inside a task is limited to one thread as well
            job_script_prologue=["export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "
                                 "MKL_NUM_THREADS=1"])
        if c.interface:
            kwargs["interface"] = c.interface
        say(f"submitting {c.jobs} {c.kind.upper()} job(s) of {c.cores} core(s), {c.memory}")
        cluster = cls(**kwargs)
        cluster.scale(jobs=c.jobs)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run_tasks(plan: BatchPlan, tasks: list[Task], *, in_process: bool, say: Say | None = None,
              phash: str | None = None) -> dict[str, dict[str, Any]]:
    """Run ``tasks`` (skipping finished ones) here or on the plan's cluster; id -> state."""
    say = say or (lambda m: None)
    phash = phash or plan_hash(plan)
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for t in tasks:
        st = task_state(plan, t, phash)
        if st["status"] == "done":
            results[t.id] = {**st, "status": "skipped"}
        else:
            todo.append(t)
    say(f"{len(tasks)} task(s): {len(tasks) - len(todo)} done before, {len(todo)} to run")
    if not todo:
        return results
    if in_process:
        for t in todo:
            say(f"task {t.id}")
            results[t.id] = run_task(plan, t, phash)
            say(f"task {t.id}: {results[t.id]['status']}")
        return results
    from distributed import as_completed

    with open_client(plan, say) as client:
        futures = {client.submit(_run_task_remote, plan, t, phash, pure=False, key=f"task-{t.id}"):
                   t for t in todo}
        for f in as_completed(futures):
            t = futures[f]
            try:
                results[t.id] = f.result()
            except Exception as exc:  # noqa: BLE001 - a worker died: the task is named as failed
                results[t.id] = {"id": t.id, "status": "failed",
                                 "error": f"{type(exc).__name__}: {exc}"}
            say(f"task {t.id}: {results[t.id]['status']}")
    return results


def plan_status(plan: BatchPlan, phash: str | None = None) -> dict[str, dict[str, Any]]:
    phash = phash or plan_hash(plan)
    return {t.id: task_state(plan, t, phash) for t in expand(plan)}
