"""``monte_carlo``: footprints of every category under uncertainty, on one machine or a cluster.

Samples are computed in chunks of ``chunk_size`` (a multiple of the solver group size) by dask
tasks. The problem (A, its baseline factorisation, S, y and the resolved uncertainty) is sent to
each worker once (``client.scatter(..., broadcast=True)``). With ``store=`` each finished chunk is
written to a Zarr group and then marked done by an atomically written marker file; a rerun with
the same arguments computes only the chunks without a marker and returns exactly the numbers of an
uninterrupted run (every sample's result is a pure function of (seed, sample)).

Clusters: pass ``client="tcp://host:8786"`` (or a ``distributed.Client``) to join a running
scheduler. On SLURM with dask-jobqueue, one single-threaded worker per job slot::

    from dask_jobqueue import SLURMCluster
    from distributed import Client

    cluster = SLURMCluster(cores=1, processes=1, memory="6GB", walltime="02:00:00",
                           job_script_prologue=["export NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 "
                                                "OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"])
    cluster.scale(jobs=64)
    ds = sp.monte_carlo(mrio, y, unc, samples=10_000, seed=1, client=Client(cluster),
                        store="/scratch/run1/mc.zarr")

Bit-for-bit equality across machines needs the same CPU kind and BLAS build on every worker
(LAPACK's triangular solves and Numba's code are chosen per CPU); on one kind of machine the
numbers do not depend on chunking, worker count or order.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ValidationError
from ..io.checkpoints import SampleStore as _Store
from ..labelled.footprints import _indicators, _units, as_demand, footprint
from ..runtime.cluster import local_client
from ..runtime.tuning import in_dask_worker as _in_dask_worker
from ..runtime.tuning import is_malloc_tuned, tune_malloc
from .sampler import MCProblem, build_problem, run_samples
from .spec import Uncertainty
from .summary import MCSE_TARGET, summarise

#: Default memory budget of one Monte Carlo run (bytes), see [estimate_memory][spendprint.uncertainty.montecarlo.estimate_memory];
#: the environment variable ``SPENDPRINT_MEMORY_BUDGET`` (bytes, or with a suffix ``K``, ``M``,
#: ``G``, ``T``: powers of 1024) overrides it.
DEFAULT_MEMORY_BUDGET = 8 << 30
#: Default largest share of flagged samples (fallback solve, non-finite or non-physical result).
MAX_FLAGGED_SHARE = 0.05
#: Seconds a local cluster takes to start and compile on its workers (measured: about 5-10 s);
#: the automatic choice of execution starts one only when the job is expected to save more.
CLUSTER_STARTUP_S = 8.0
#: Seconds to wait for a remote scheduler before giving up.
CONNECT_TIMEOUT_S = 5.0


class UnguardedMainWarning(UserWarning):
    """``monte_carlo`` was called at the top level of a script without a ``__main__`` guard."""


def parse_bytes(value: str | int | float) -> int:
    """``"8G"`` / ``"512M"`` / ``"1.5GiB"`` / ``1024`` -> bytes (suffixes are powers of 1024)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        b = int(value)
    else:
        text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(text[-1:], 1)
        try:
            b = int(float(text[:-1] if mult > 1 else text) * mult)
        except ValueError as exc:
            raise ValidationError(f"memory budget {str(value)[:40]!r} is not a size such as "
                                  f"8G or 512M") from exc
    if b <= 0:
        raise ValidationError(f"memory budget must be > 0 bytes, got {value!r}")
    return b


def default_memory_budget() -> int:
    """``SPENDPRINT_MEMORY_BUDGET`` if set, else [DEFAULT_MEMORY_BUDGET][spendprint.uncertainty.montecarlo.DEFAULT_MEMORY_BUDGET]."""
    env = os.environ.get("SPENDPRINT_MEMORY_BUDGET")
    return parse_bytes(env) if env else DEFAULT_MEMORY_BUDGET


def _nnz(A) -> int:
    import scipy.sparse as sps

    return int(A.nnz) if sps.issparse(A) else int(np.count_nonzero(A))


def estimate_memory(mrio, y, samples: int, chunk_size: int | None = None, *,
                    stressors: str | Sequence[str] | None = None, workers: int = 1,
                    categories: int | None = None) -> int:
    """Bytes a [monte_carlo][spendprint.uncertainty.montecarlo.monte_carlo] run needs, before it starts.

    An upper-side estimate from the sizes alone (nothing is allocated): with ``N`` samples, ``k``
    indicators, ``m`` categories, ``n`` sectors, ``z = nnz(A)``, chunk size ``C`` and ``W``
    worker processes,

    * results in this process: ``N k m`` float64 for the samples, twice more for the summary
      (ranks as int64, sorted copies for the percentiles): ``24 N k m``, plus ``17 N`` for the
      per-sample iterations, residuals and flags;
    * the problem, once here and once per worker: ``A`` and its perturbation in CSR
      (``2 (12 z + 8 n)``), the baseline LU (dense float32 ``4 n^2`` when ``n <= 4,000``, else
      a sparse LU estimated at ``10`` times the CSR), ``S`` and ``y`` (``8 n (k + m)``);
    * each worker's chunk: ``C k m`` float64 of results and ``6 C n max(k, m)`` float64 of
      solver workspace (right-hand sides, iterates, Anderson history).

    Parameters
    ----------
    mrio : MRIO
    y : DataArray or ndarray
        The demand (region, sector, category) or (n, m); only its size is used.
    samples, chunk_size : int
        As in ``monte_carlo`` (default chunk: ``ceil(N / 16)``, at most 64).
    stressors : names, optional
        Indicators (default all of ``mrio.indicators``).
    workers : int
        Worker processes (1 in-process).
    categories : int, optional
        Number of categories when ``y`` is not given (``y=None``).

    Returns
    -------
    int
        Bytes.
    """
    N = int(samples)
    n = int(mrio.n)
    if stressors is None:
        k = len(mrio.indicators)
    else:
        k = 1 if isinstance(stressors, str) else len(list(stressors))
    if categories is not None:
        m = int(categories)
    elif y is None:
        m = 1
    else:
        size = int(np.prod(np.shape(y)))
        m = max(1, size // max(n, 1))
    C = int(chunk_size) if chunk_size else min(-(-N // 16), 64)
    C = max(1, min(C, N))
    z = _nnz(mrio.A)
    csr = 12 * z + 8 * n
    lu = 4 * n * n if n <= 4000 else 10 * csr
    problem = 2 * csr + lu + 8 * n * (k + m)
    results = 24 * N * k * m + 17 * N
    chunk = 8 * C * k * m + 6 * 8 * C * n * max(k, m)
    W = max(1, int(workers))
    return int(results + problem * (1 + (W if W > 1 else 0)) + chunk * W)


def _human(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(b) < 1024 or unit == "PiB":
            return f"{b:,.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    return f"{b} B"  # pragma: no cover


def main_guard_missing() -> bool:
    """True when this call comes from the top level of a ``python script.py`` whose call is not
    under ``if __name__ == "__main__":`` -- worker processes started by ``spawn`` would run the
    script again. Read from the script's source with ``ast`` (False when unsure)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not str(path).endswith(".py"):
        return False
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is main.__dict__
                                     and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:
        return False
    line = frame.f_lineno
    try:
        tree = ast.parse(open(path, encoding="utf-8").read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return False
    for node in tree.body:
        end = getattr(node, "end_lineno", node.lineno)
        if node.lineno <= line <= end:
            return not _is_main_test(node)
    return False


def _is_main_test(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    names = {p.id for p in parts if isinstance(p, ast.Name)}
    consts = {p.value for p in parts if isinstance(p, ast.Constant)}
    return "__name__" in names and "__main__" in consts


def _spawns() -> bool:
    try:
        import dask

        method = dask.config.get("distributed.worker.multiprocessing-method", "spawn")
    except ImportError:  # pragma: no cover
        method = "spawn"
    return method in ("spawn", "forkserver")


def _connect(address: str):
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover
        raise ValidationError("a scheduler address needs the 'distributed' package") from exc
    try:
        return Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValidationError(f"cannot reach the dask scheduler {address[:200]!r} within "
                              f"{CONNECT_TIMEOUT_S:g} s ({type(exc).__name__}); check the address "
                              f"or drop --scheduler to compute locally") from exc


def _chunk_task(problem: MCProblem, seed: int, start: int, stop: int):
    if not is_malloc_tuned() and _in_dask_worker():
        tune_malloc()
    return start, stop, *run_samples(problem, seed, start, stop)


def _write_chunk(store: _Store | None, i: int, start: int, stop: int, E, it, res, fb) -> None:
    if store is not None:
        store.write(i, start, stop, E, it, res, fb)


def _hash_array(a) -> str:
    import scipy.sparse as sps

    h = hashlib.sha256()
    if sps.issparse(a):
        c = sps.csr_array(a)
        for part in (c.indptr, c.indices, c.data):
            h.update(np.ascontiguousarray(part).tobytes())
    else:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


# ---- the API ---------------------------------------------------------------------------------------
def monte_carlo(mrio, y: xr.DataArray, uncertainty: Uncertainty | None = None, samples: int = 1000,
                seed: int = 0, chunk_size: int | None = None, client: Any = None,
                store: str | os.PathLike | None = None, stressors: str | Sequence[str] | None = None,
                tol: float = 1e-9, *, storage: str = "auto", orientation: str = "auto",
                group_size: int | None = None, mcse_target: float = MCSE_TARGET,
                progress: Callable[[int, int], None] | None = None, workers: int | None = None,
                memory_budget: int | str | None = None,
                max_flagged_share: float = MAX_FLAGGED_SHARE) -> xr.Dataset:
    """Monte Carlo footprints ``E_s = C' S_s (I - A_s)^-1 Y_s`` of every category.

    Parameters
    ----------
    mrio : MRIO
    y : DataArray (region, sector, category)
        Demand in the model's money unit (e.g. from ``procurement_demand``); one extra dim (its
        name is kept, normally ``category``).
    uncertainty : Uncertainty, optional
        What is uncertain; ``None`` means the shipped default
        [Uncertainty.default][spendprint.uncertainty.spec.Uncertainty.default] (the same as the
        CLI and the HTTP API). ``Uncertainty()`` (or any spec whose RSDs are all zero) gives N
        copies of the deterministic result and ``attrs["certain"] = 1``.
    samples, seed : int
        Number of samples N; seed of the counter-based streams (sample s is a pure function of
        (seed, s)).
    chunk_size : int, optional
        Samples per dask task and Zarr chunk, rounded up to a multiple of the group size
        (default: about N / 16, at most 8 groups).
    client : None, "auto", "local", "sync", str or distributed.Client
        ``None`` / ``"auto"``: chosen by the size of the job: the first chunk runs in this
        process and its time per sample is measured; a local cluster of ``workers`` (default
        one per core) single-threaded processes is started only when the remaining samples are
        expected to take longer than [CLUSTER_STARTUP_S][spendprint.uncertainty.montecarlo.CLUSTER_STARTUP_S]
        plus their share on the workers, i.e. when it pays. ``"local"``: always a local cluster;
        ``"sync"``: this process; a scheduler address (``tcp://host:8786``, refused after
        [CONNECT_TIMEOUT_S][spendprint.uncertainty.montecarlo.CONNECT_TIMEOUT_S] with a
        ValidationError) or a ``Client``: that cluster. Called from the top level of a script
        without an ``if __name__ == "__main__":`` guard, a local cluster (whose spawned workers
        would run the script again) is replaced by in-process computation with a one-line
        [UnguardedMainWarning][spendprint.uncertainty.montecarlo.UnguardedMainWarning].
    store : path, optional
        Zarr group for the samples; an interrupted run resumes from it.
    stressors : names, optional
        Indicators (stressors and impacts); default all.
    tol : float
        Relative residual ``max_q ||B_q - (I - T_s) X_q||_inf / ||B_q||_inf`` every perturbed
        solve must reach (dimensionless; default 1e-9, far below the sampling error of any
        realistic run).
    storage, orientation, group_size
        Solver choices (see `spendprint.uncertainty.sampler.build_problem`); the results
        depend on ``group_size`` in the last bits only.
    progress : callable(done, total), optional
        Called after each chunk with samples done and total.
    workers : int, optional
        Worker processes of a local cluster (``>= 1``; default one per core).
    memory_budget : int or str, optional
        Refuse the run (ValidationError, before anything starts) when
        [estimate_memory][spendprint.uncertainty.montecarlo.estimate_memory] exceeds it; bytes or
        ``"8G"``; default [default_memory_budget][spendprint.uncertainty.montecarlo.default_memory_budget].
    max_flagged_share : float
        Largest share of flagged samples (a refactorisation fallback, a non-finite footprint, or
        a negative footprint where the deterministic one is positive) before the run fails with
        a ValidationError naming the counts (default 0.05; 1 disables the check).

    Returns
    -------
    xarray.Dataset
        ``footprint`` (sample, stressor, category) in the indicator unit; the summaries of
        `summarise` (``mean``, ``sd``, ``percentiles`` (quantile, ...), ``p_top5``,
        ``p_top10``, ``rank_lo``, ``rank_hi``, ``mcse``, ``rel_mcse``, ``enough_samples``,
        ``samples_needed``); ``deterministic`` (stressor, category); per sample ``iterations``,
        ``residual`` (final relative residual), ``fallback``; attrs with the solver statistics
        (``iterations_mean``, ``iterations_max``, ``fallbacks``, ``max_residual``), seed,
        samples, group size, chunk size, orientation, storage and timing; per sample
        ``flagged`` and attrs ``fallbacks``, ``nonfinite_samples``, ``negative_samples``,
        ``flagged_samples``, ``flagged_share``, ``execution`` (``sync`` or ``cluster``) and
        ``certain`` (1 when the specification leaves every parameter certain: the spread is zero).
    """
    t0 = time.perf_counter()
    spec = uncertainty if uncertainty is not None else Uncertainty.default()
    if isinstance(samples, bool) or int(samples) != samples or int(samples) < 1:
        raise ValidationError(f"samples must be an integer >= 1, got {samples!r}")
    N = int(samples)
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers
                                or int(workers) < 1):
        raise ValidationError(f"workers must be an integer >= 1, got {workers!r}")
    if chunk_size is not None and int(chunk_size) < 1:
        raise ValidationError(f"chunk_size must be >= 1, got {chunk_size!r}")
    if not 0.0 <= float(max_flagged_share) <= 1.0:
        raise ValidationError(f"max_flagged_share must be in [0, 1], got {max_flagged_share!r}")
    budget = default_memory_budget() if memory_budget is None else parse_bytes(memory_budget)
    n_workers = int(workers) if workers else (os.cpu_count() or 1)
    need = estimate_memory(mrio, y, N, chunk_size, stressors=stressors,
                           workers=1 if isinstance(client, str) and client in ("sync", "synchronous")
                           else n_workers)
    if need > budget:
        raise ValidationError(f"Monte Carlo of {N:,} samples needs about {_human(need)} "
                              f"(estimate), above the memory budget of {_human(budget)}; use "
                              f"fewer samples or categories, or raise the budget "
                              f"(memory_budget=, --memory-budget, SPENDPRINT_MEMORY_BUDGET)")
    mode = "auto" if client is None else client
    if isinstance(mode, str) and mode in ("auto", "local") and _spawns() and main_guard_missing():
        warnings.warn("spendprint: Monte Carlo runs in this process; put the script's code under "
                      "`if __name__ == \"__main__\":` to let it start worker processes",
                      UnguardedMainWarning, stacklevel=2)
        mode = "sync"
    remote = None
    if isinstance(mode, str) and mode not in ("auto", "local", "sync", "synchronous"):
        remote = _connect(mode)  # before any store is created: a bad address leaves no files
    names = _indicators(mrio, stressors)
    ya = as_demand(mrio, y)
    extra = [d for d in ya.dims if d not in ("region", "sector")]
    if len(extra) != 1:
        raise ValidationError(f"Monte Carlo demand needs dims (region, sector, category); got {ya.dims}")
    cat = extra[0]
    ya = ya.transpose("region", "sector", cat)
    categories = [str(v) for v in ya[cat].values] if cat in ya.coords else [
        str(i) for i in range(ya.sizes[cat])]
    y2 = np.ascontiguousarray(np.asarray(ya.values, dtype=np.float64).reshape(mrio.n, -1))
    problem = build_problem(mrio, y2, spec, names, categories, tol=tol, storage=storage,
                            orientation=orientation, group_size=group_size)
    G = problem.group_size
    # default: about 16 chunks (load balance over workers), at most 8 groups per chunk
    C = int(chunk_size) if chunk_size else min(-(-N // 16), 8 * G)
    C = max(G, -(-C // G) * G)
    bounds = [(s, min(s + C, N)) for s in range(0, N, C)]
    k, m = problem.shape

    fingerprint = {
        "seed": int(seed), "samples": N, "chunk_size": C, "group_size": G, "tol": float(tol),
        "stressors": names, "categories": categories, "uncertainty": spec.fingerprint(),
        "A": _hash_array(mrio.A), "S": _hash_array(mrio.S), "y": _hash_array(y2),
        "orientation": "adjoint" if problem.system.adjoint else "primal",
        "storage": problem.system.storage,
        # the preconditioner changes the last bits: a float32 LU, or float64 after a fallback
        "preconditioner": f"{problem.system.precond.method}-"
                          f"{getattr(problem.system.precond, 'dtype', 'superlu')}",
        "lu": (_hash_array(problem.system.precond.lu) if problem.system.precond.method == "dense"
               else "superlu"),
    }
    try:
        lookup = dict(zip(mrio.indicators, mrio.indicator_units, strict=True))
        labels = {"stressors": list(names), "categories": list(categories),
                  "units": [lookup[s] for s in names]}
        st = _Store(store, fingerprint, N, (k, m), C, labels) if store is not None else None
    except BaseException:
        if remote is not None:
            remote.close()
        raise
    todo = [i for i in range(len(bounds)) if st is None or not st.is_done(i)]

    E = np.full((N, k, m), np.nan)
    it = np.zeros(N, dtype=np.int64)
    res = np.zeros(N)
    fb = np.zeros(N, dtype=bool)

    def accept(i, start, stop, Ec, itc, resc, fbc):
        E[start:stop], it[start:stop], res[start:stop], fb[start:stop] = Ec, itc, resc, fbc
        _write_chunk(st, i, start, stop, Ec, itc, resc, fbc)

    done = N - sum(bounds[i][1] - bounds[i][0] for i in todo)
    if progress is not None:
        progress(done, N)

    def run_here(chunks) -> None:
        nonlocal done
        for i in chunks:
            start, stop = bounds[i]
            accept(i, *_chunk_task(problem, int(seed), start, stop))
            done += stop - start
            if progress is not None:
                progress(done, N)

    execution = "sync"
    try:
        if todo and mode == "auto":
            # measure one chunk here; start a cluster only if the rest pays for its start-up
            t1 = time.perf_counter()
            run_here(todo[:1])
            per_sample = (time.perf_counter() - t1) / max(bounds[todo[0]][1] - bounds[todo[0]][0], 1)
            todo = todo[1:]
            rest = per_sample * sum(bounds[i][1] - bounds[i][0] for i in todo)
            pays = n_workers > 1 and len(todo) > 1 and (
                CLUSTER_STARTUP_S + rest / min(n_workers, len(todo)) < rest)
            mode = "local" if pays else "sync"
        if todo and mode in ("sync", "synchronous"):
            run_here(todo)
        elif todo:
            execution = "cluster"
            own = mode == "local"
            cl = local_client(n_workers) if own else (remote if remote is not None else mode)
            try:
                from distributed import as_completed

                fut = cl.scatter(problem, broadcast=True)
                futures = {cl.submit(_chunk_task, fut, int(seed), *bounds[i], pure=False): i
                           for i in todo}
                for f in as_completed(futures):
                    i = futures[f]
                    accept(i, *f.result())
                    done += bounds[i][1] - bounds[i][0]
                    if progress is not None:
                        progress(done, N)
                    f.release()
            finally:
                if own:
                    cluster = getattr(cl, "cluster", None)
                    cl.close()
                    if cluster is not None:
                        cluster.close()
    finally:
        if remote is not None:
            remote.close()
    if st is not None:
        E, it, res, fb = st.read()
    t_sample = time.perf_counter() - t0

    det = footprint(mrio, ya, names)["total"]
    detv = np.asarray(det.transpose("stressor", cat).values, dtype=np.float64)
    nonfinite = ~np.isfinite(E).all(axis=(1, 2))
    with np.errstate(invalid="ignore"):
        negative = ((E < 0) & (detv > 0)[None]).any(axis=(1, 2))
    flagged = fb | nonfinite | negative
    share = float(flagged.mean())
    counts = dict(fallbacks=int(fb.sum()), nonfinite_samples=int(nonfinite.sum()),
                  negative_samples=int(negative.sum()), flagged_samples=int(flagged.sum()),
                  flagged_share=share, max_flagged_share=float(max_flagged_share))
    if share > float(max_flagged_share):
        raise MonteCarloQualityError(
            f"{counts['flagged_samples']} of {N} Monte Carlo samples ({100 * share:.1f} %) are "
            f"flagged, above the limit of {100 * float(max_flagged_share):g} %: "
            f"{counts['fallbacks']} needed a refactorisation fallback, "
            f"{counts['nonfinite_samples']} have non-finite footprints and "
            f"{counts['negative_samples']} a negative footprint where the deterministic one is "
            f"positive; the uncertainty is too large for this model (lower a_rsd / the size "
            f"rule, or raise max_flagged_share)", counts)
    units = _units(mrio, names)
    fp = xr.DataArray(E, dims=("sample", "stressor", cat),
                      coords={"sample": np.arange(N), "stressor": names, cat: ya[cat].values
                              if cat in ya.coords else np.arange(m)}, name="footprint")
    ds = summarise(fp, det, mcse_target=mcse_target, category_dim=cat)
    ds["footprint"] = fp
    ds["iterations"] = ("sample", it)
    ds["residual"] = ("sample", res)
    ds["fallback"] = ("sample", fb)
    ds["flagged"] = ("sample", flagged)
    ds = ds.assign_coords(unit=("stressor", units))
    ds.attrs.update(
        seed=int(seed), group_size=G, chunk_size=C, tol=float(tol),
        orientation=fingerprint["orientation"], storage=fingerprint["storage"],
        preconditioner=fingerprint["preconditioner"],
        iterations_mean=float(it.mean()), iterations_max=int(it.max()),
        max_residual=float(res.max()), execution=execution, **counts,
        seconds=time.perf_counter() - t0, seconds_sampling=t_sample,
        uncertainty=json.dumps(spec.fingerprint()), certain=int(spec.is_certain),
        method=("preconditioned Richardson iteration with the baseline LU of (I - A), Anderson "
                "acceleration (depth 3); "
                "refactorisation fallback"),
    )
    return ds


class MonteCarloQualityError(ValidationError):
    """Too many flagged Monte Carlo samples; ``counts`` holds the numbers of each kind."""

    def __init__(self, message: str, counts: dict[str, Any]):
        super().__init__(message)
        self.counts = counts
