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

import hashlib
import json
import os
import time
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
                progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
    """Monte Carlo footprints ``E_s = C' S_s (I - A_s)^-1 Y_s`` of every category.

    Parameters
    ----------
    mrio : MRIO
    y : DataArray (region, sector, category)
        Demand in the model's money unit (e.g. from ``procurement_demand``); one extra dim (its
        name is kept, normally ``category``).
    uncertainty : Uncertainty
        What is uncertain; ``None`` or an empty spec gives N copies of the deterministic result.
    samples, seed : int
        Number of samples N; seed of the counter-based streams (sample s is a pure function of
        (seed, s)).
    chunk_size : int, optional
        Samples per dask task and Zarr chunk, rounded up to a multiple of the group size
        (default: about N / 16, at most 8 groups).
    client : None, "sync", str or distributed.Client
        ``None``: a local cluster with one single-threaded worker per core (started and closed
        here); ``"sync"``: compute in this process; a scheduler address (``tcp://host:8786``) or a
        ``Client``: use that cluster.
    store : path, optional
        Zarr group for the samples; an interrupted run resumes from it.
    stressors : names, optional
        Indicators (stressors and impacts); default all.
    tol : float
        Relative residual ``max_q ||B_q - (I - T_s) X_q||_inf / ||B_q||_inf`` every perturbed
        solve must reach (dimensionless; default 1e-9, far below the sampling error of any
        realistic run).
    storage, orientation, group_size
        Solver choices (see :func:`spendprint.uncertainty.sampler.build_problem`); the results
        depend on ``group_size`` in the last bits only.
    progress : callable(done, total), optional
        Called after each chunk with samples done and total.

    Returns
    -------
    xarray.Dataset
        ``footprint`` (sample, stressor, category) in the indicator unit; the summaries of
        :func:`summarise` (``mean``, ``sd``, ``percentiles`` (quantile, ...), ``p_top5``,
        ``p_top10``, ``rank_lo``, ``rank_hi``, ``mcse``, ``rel_mcse``, ``converged``,
        ``samples_needed``); ``deterministic`` (stressor, category); per sample ``iterations``,
        ``residual`` (final relative residual), ``fallback``; attrs with the solver statistics
        (``iterations_mean``, ``iterations_max``, ``fallbacks``, ``max_residual``), seed,
        samples, group size, chunk size, orientation, storage and timing.
    """
    t0 = time.perf_counter()
    spec = uncertainty if uncertainty is not None else Uncertainty()
    N = int(samples)
    if N < 1:
        raise ValidationError(f"samples must be >= 1, got {samples}")
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
    st = _Store(store, fingerprint, N, (k, m), C) if store is not None else None
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
    if todo:
        if isinstance(client, str) and client in ("sync", "synchronous"):
            for i in todo:
                start, stop = bounds[i]
                accept(i, *_chunk_task(problem, int(seed), start, stop))
                done += stop - start
                if progress is not None:
                    progress(done, N)
        else:
            own = client is None
            if own:
                cl = local_client()
            elif isinstance(client, str):
                from distributed import Client

                cl = Client(client)
            else:
                cl = client
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
                    cl.close()
                    cl.cluster.close()
                elif isinstance(client, str):
                    cl.close()
    if st is not None:
        E, it, res, fb = st.read()
    t_sample = time.perf_counter() - t0

    det = footprint(mrio, ya, names)["total"]
    units = _units(mrio, names)
    fp = xr.DataArray(E, dims=("sample", "stressor", cat),
                      coords={"sample": np.arange(N), "stressor": names, cat: ya[cat].values
                              if cat in ya.coords else np.arange(m)}, name="footprint")
    ds = summarise(fp, det, mcse_target=mcse_target, category_dim=cat)
    ds["footprint"] = fp
    ds["iterations"] = ("sample", it)
    ds["residual"] = ("sample", res)
    ds["fallback"] = ("sample", fb)
    ds = ds.assign_coords(unit=("stressor", units))
    ds.attrs.update(
        seed=int(seed), group_size=G, chunk_size=C, tol=float(tol),
        orientation=fingerprint["orientation"], storage=fingerprint["storage"],
        preconditioner=fingerprint["preconditioner"],
        iterations_mean=float(it.mean()), iterations_max=int(it.max()),
        fallbacks=int(fb.sum()), max_residual=float(res.max()),
        seconds=time.perf_counter() - t0, seconds_sampling=t_sample,
        uncertainty=json.dumps(spec.fingerprint()),
        method=("preconditioned Richardson iteration with the baseline LU of (I - A), Anderson "
                "acceleration (depth 3); "
                "refactorisation fallback"),
    )
    return ds


def procurement_monte_carlo(mrio, ledger, concordance, uncertainty: Uncertainty | None = None,
                            prices=None, buyer_region: str = "NO", **kwargs) -> xr.Dataset:
    """:func:`monte_carlo` of the demand of a procurement ledger.

    ``y = procurement_demand(mrio, ledger, concordance, prices, buyer_region)`` (region, sector,
    category); ``kwargs`` go to :func:`monte_carlo`. Spend RSD and Dirichlet concentrations are
    per ledger category.
    """
    from ..procurement import procurement_demand

    y = procurement_demand(mrio, ledger, concordance, prices=prices, buyer_region=buyer_region)
    return monte_carlo(mrio, y, uncertainty, **kwargs)
