"""The worker process of one job: ``python -m spendprint.api.worker DATA_DIR JOB_ID``.

It takes the job's lock file (so a worker left over from a killed server finishes dying first),
reads the job's stored inputs, runs the payload, writes the results under ``jobs/<id>/`` with atomic
renames and records the outcome in the database. It exits by itself when its server goes away
(the next server resumes the job). No maths here: the payload calls the Python API.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

#: What a job computes, by kind. Each takes (job row, settings, work dir, progress callback) and
#: returns an xarray Dataset; swapping the computation of a kind is swapping one function.
PAYLOADS: dict[str, Any] = {}


def payload(kind: str):
    def register(fn):
        PAYLOADS[kind] = fn
        return fn
    return register


# ---- inputs stored with a job ----------------------------------------------------------------
def procurement_inputs(spec: dict[str, Any]):
    """(ledger, concordance, prices) rebuilt from the snapshot stored at submission."""
    import pandas as pd

    from ..procurement import Concordance, Ledger, Prices

    ledger = Ledger.from_frame(pd.DataFrame(spec["ledger"]), source="job ledger")
    concordance = Concordance.from_frame(pd.DataFrame(spec["concordance"]), source="job concordance")
    tables = {k: pd.DataFrame(v) for k, v in spec["prices"].items()}
    prices = Prices(**tables, source="job price tables")
    return ledger, concordance, prices


def open_model(settings, name: str):
    from ..io.native_store import open_mrio

    return open_mrio(settings.models_dir / name)


@payload("footprint")
def run_footprint(row: dict[str, Any], settings, wdir: Path, progress) -> Any:
    """Deterministic procurement footprint (the same computation as ``POST .../footprints``)."""
    from ..procurement import procurement_footprint

    spec = row["spec"]
    progress(0.0, "opening model", stage="opening model")
    mrio = open_model(settings, row["model"])
    progress(0.05, "model opened", stage="computing")
    ledger, concordance, prices = procurement_inputs(spec)
    return procurement_footprint(mrio, ledger, concordance, prices=prices,
                                 buyer_region=spec["buyer_region"], stressors=spec["stressors"],
                                 by_origin=False)


def _monte_carlo_available() -> bool:
    try:
        from .. import uncertainty
    except ImportError:
        return False
    return hasattr(uncertainty, "monte_carlo") and hasattr(uncertainty, "Uncertainty")


#: The job status warning of a specification that leaves every parameter certain.
CERTAIN_WARNING = "the uncertainty specification leaves every parameter certain; the spread is zero"


def uncertainty_from(params: dict[str, Any] | None):
    """``Uncertainty.from_dict`` of the request's settings (the library validates them);
    ``None`` (no ``uncertainty`` in the request) is the shipped ``Uncertainty.default()``."""
    from ..errors import ValidationError
    from ..uncertainty import Uncertainty

    if params is None:
        return Uncertainty.default()
    try:
        return Uncertainty.from_dict(params, source="request uncertainty")
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(f"request uncertainty: {exc}") from exc


def run_monte_carlo(row: dict[str, Any], settings, wdir: Path, progress) -> Any:
    """``monte_carlo`` of the procurement demand, written chunk by chunk to ``wdir/mc.zarr`` (a
    resumed job computes only the chunks not already there, and gets the same numbers)."""
    from ..procurement import procurement_demand
    from ..uncertainty import monte_carlo

    spec = row["spec"]
    progress(0.0, "opening model", stage="opening model")
    mrio = open_model(settings, row["model"])
    progress(0.0, "preparing inputs", stage="preparing inputs")
    ledger, concordance, prices = procurement_inputs(spec)
    y = procurement_demand(mrio, ledger, concordance, prices=prices,
                           buyer_region=spec["buyer_region"])
    progress(0.0, "inputs ready", stage="sampling", done=0, total=int(spec["samples"]))
    client, close = _dask_client(settings)

    def report(done: int, total: int) -> None:
        # the last 1 % is writing the results
        progress(0.99 * done / max(total, 1), f"{done} of {total} samples", stage="sampling",
                 done=done, total=total)

    try:
        return monte_carlo(mrio, y, uncertainty_from(spec["uncertainty"]), samples=spec["samples"],
                           seed=spec["seed"], chunk_size=spec["chunk_size"], client=client,
                           store=str(wdir / "mc.zarr"), stressors=spec["stressors"],
                           progress=report, memory_budget=settings.job_memory_budget)
    finally:
        close()


def _dask_client(settings):
    """(client, close): the scheduler at ``dask_scheduler``; a LocalCluster of
    ``dask_local_workers`` processes; else ``"sync"`` (this worker process computes)."""
    if settings.dask_scheduler:
        return settings.dask_scheduler, lambda: None
    if settings.dask_local_workers > 0:
        from ..runtime.cluster import local_client

        client = local_client(settings.dask_local_workers)

        def close() -> None:
            client.close()
            client.cluster.close()

        return client, close
    return "sync", lambda: None


def payloads() -> dict[str, Any]:
    """The job kinds this installation can run (Monte Carlo needs ``spendprint.uncertainty``)."""
    if "monte_carlo" not in PAYLOADS and _monte_carlo_available():
        PAYLOADS["monte_carlo"] = run_monte_carlo
    return PAYLOADS


# ---- results ---------------------------------------------------------------------------------
def _clean(obj: Any) -> Any:
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        try:
            return _clean(obj.item())
        except (ValueError, AttributeError):
            return str(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


def summary_dict(ds) -> dict[str, Any]:
    """The variables of ``ds`` without a ``sample`` dim, in ``xarray.Dataset.to_dict`` form."""
    keep = [v for v in ds.data_vars if "sample" not in ds[v].dims]
    sub = ds[keep]
    sub = sub.drop_vars([c for c in sub.coords if "sample" in sub[c].dims])
    sub = sub.drop_dims([d for d in sub.dims if d == "sample"])
    return _clean(sub.to_dict(data="list"))


def write_results(ds, wdir: Path) -> dict[str, Any]:
    """``summary.json`` (always) and ``samples.parquet`` (when the result has samples)."""
    from ..io.atomic import atomic_path, write_bytes_atomic

    files = {}
    sample_vars = ["footprint"] if "footprint" in ds and "sample" in ds["footprint"].dims else []
    if sample_vars:
        from .tables import long_table

        dims = ds[sample_vars[0]].dims
        df = long_table(ds[sample_vars], tuple(dims))
        with atomic_path(wdir / "samples.parquet") as tmp:
            df.to_parquet(tmp, index=False)
        files["samples"] = "samples.parquet"
    summary = summary_dict(ds)
    write_bytes_atomic(wdir / "summary.json",
                       json.dumps(summary, allow_nan=False, separators=(",", ":")).encode())
    files["summary"] = "summary.json"
    return files


# ---- process ---------------------------------------------------------------------------------
def _watch_parent(ppid: int) -> None:
    """Exit when the server that started this worker is gone (the next server resumes the job)."""
    from .job_store import ORPHAN_EXIT

    def loop() -> None:
        while True:
            if os.getppid() != ppid:
                try:  # when this worker leads its process group, take any dask workers along
                    if os.getpgrp() == os.getpid():
                        os.killpg(os.getpgrp(), signal.SIGKILL)
                finally:
                    os._exit(ORPHAN_EXIT)
            time.sleep(0.25)

    threading.Thread(target=loop, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    from ..errors import SpendprintError
    from .job_store import JobStore
    from .settings import Settings

    data_dir, job_id = argv
    _watch_parent(os.getppid())
    settings = Settings.load(data_dir)
    store = JobStore(settings.db_path)
    wdir = settings.jobs_dir / job_id
    wdir.mkdir(parents=True, exist_ok=True)
    with open(wdir / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits for a worker of a killed server to exit
        row = store.get(job_id, with_spec=True)
        if row is None or row["status"] != "running":
            return 0
        last = [0.0, ""]

        def progress(fraction: float, message: str = "", stage: str | None = None,
                     done: int | None = None, total: int | None = None) -> None:
            now = time.monotonic()  # at most 5 writes a second, but every change of stage
            if now - last[0] >= 0.2 or fraction >= 1.0 or stage != last[1] or done == total:
                last[0], last[1] = now, stage
                store.set_progress(job_id, fraction, message, stage=stage, done=done, total=total)

        try:
            fn = payloads()[row["kind"]]
            t0 = time.perf_counter()
            ds = fn(row, settings, wdir, progress)
            progress(0.99, "writing results", stage="writing results")
            write_results(ds, wdir)
            flagged = ds.attrs.get("flagged_samples") if hasattr(ds, "attrs") else None
            note = (f"; {flagged} of {ds.attrs.get('samples')} samples flagged (fallback or "
                    f"non-physical)" if flagged is not None else "")
            store.finish(job_id, "done",
                         message=f"finished in {time.perf_counter() - t0:.1f} s{note}")
        except SpendprintError as exc:
            store.finish(job_id, "failed", error=str(exc))
        except Exception as exc:
            traceback.print_exc()
            store.finish(job_id, "failed", error=f"internal error: {type(exc).__name__}: {exc}")
            return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
