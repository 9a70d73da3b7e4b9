"""Monte Carlo speed against naive per-sample refactorisation, in one run.

Usage (from the repository root)::

    python -m benchmarks.mc_speed --sizes 1000 4900 9800 --samples 32 --naive 3 --out mc_speed.json

For every size n (synthetic worlds of ``benchmarks._common.world``; 9,800 = 49 x 200), with all
nonzeros of A (RSD 0.2) and S (all stressors), spend and Dirichlet composition uncertain, 100
categories and 5 indicators:

* naive: draw the factors with numpy, factorise ``(I - A_s)`` in float64 (LAPACK, both cores) and
  solve, per sample (only ``--naive`` samples);
* engine, 1 worker: ``sp.monte_carlo(client="sync")`` in this process (BLAS and Numba on 1 thread);
* engine, 2 workers: a ``LocalCluster`` of 2 single-threaded worker processes;
* the fused-vs-materialised trade-off: one perturbation pass + I products against I fused products;
* iterations, fallbacks, worst residual, peak resident memory (driver and workers).

Numba compilation happens in warm-up runs before every timed run.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import numpy as np
import scipy.linalg as sla
from threadpoolctl import threadpool_limits

import spendprint as sp
from spendprint import kernels as K
from spendprint.kernels import random as KR
from spendprint.runtime.cluster import local_client
from spendprint.uncertainty.iteration import aligned_empty

from ._common import shape_for, world
from .bench_montecarlo import SPEC, mc_demand, mc_problem


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss is inherited by spawned workers)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def naive_seconds(mrio: sp.MRIO, y: np.ndarray, samples: int, seed: int = 0) -> float:
    """Seconds per sample of perturb-with-numpy + float64 LU of (I - A_s) + solve."""
    rng = np.random.default_rng(seed)
    A = mrio.dense_A()
    rows, cols = np.nonzero(A)
    vals = A[rows, cols]
    sa = np.sqrt(np.log1p(0.2**2))
    S = mrio.S_all()
    times = []
    for _ in range(samples):
        t = time.perf_counter()
        As = np.zeros_like(A)
        As[rows, cols] = vals * rng.lognormal(-0.5 * sa**2, sa, vals.size)
        Ss = S * rng.lognormal(0.0, 0.1, S.shape)
        M = np.eye(mrio.n) - As
        lu = sla.lu_factor(M, overwrite_a=True, check_finite=False)
        X = sla.lu_solve(lu, y, check_finite=False)
        _ = Ss @ X
        times.append(time.perf_counter() - t)
    return float(np.mean(times))


def fused_vs_materialised(n: int, iterations: int) -> dict:
    """Seconds per sample for I solver products: materialise once + I products, or I fused."""
    _, p = mc_problem(n, group_size=4)
    s = p.system
    G = 4
    keys = np.array([K.stream_key(0, KR.DOMAIN_A, i) for i in range(G)], dtype=np.uint64)
    zb = np.zeros((G, 1))
    buf = s.value_buffer(G)
    X = aligned_empty((G, s.n, p.W.shape[0]))
    X[...] = np.random.default_rng(0).random(X.shape)
    out = np.empty_like(X)
    act = np.ones(G, dtype=bool)
    with threadpool_limits(1):
        # untimed first pass: page faults of the fresh buffer (GBs) are not kernel time
        s.perturb(p.a_sigma, 0, 1, zb, keys, buf)
        s.matmat(buf, X, act, out)
        t = time.perf_counter()
        s.perturb(p.a_sigma, 0, 1, zb, keys, buf)
        t_pert = time.perf_counter() - t
        t = time.perf_counter()
        s.matmat(buf, X, act, out)
        t_mm = time.perf_counter() - t
        t = time.perf_counter()
        K.csr_perturb_matmat(s.indptr, s.rows, s.indices, s.data, p.a_sigma, s.n, s.adjoint, 0, 1,
                             zb, keys, X, out)
        t_fused = time.perf_counter() - t
    return {"perturb_s": t_pert / G, "matmat_s": t_mm / G, "fused_matmat_s": t_fused / G,
            "materialised_total_s": (t_pert + iterations * t_mm) / G,
            "fused_total_s": iterations * t_fused / G, "nnz": int(s.nnz),
            "perturb_ns_per_element": t_pert / G / s.nnz * 1e9}


def _compile_kernels() -> bool:
    """Run a tiny Monte Carlo in this process so that every kernel is compiled (JIT warm-up)."""
    m = sp.synthetic_mrio(regions=3, sectors=20, seed=0)
    sp.monte_carlo(m, mc_demand(m, m=5), SPEC, samples=8, seed=0, client="sync", group_size=8)
    return True


def engine_run(mrio, y, samples: int, client, workers: int = 1, seed: int = 1) -> dict:
    """One timed run. Steady state: from the end of the first wave of chunks (the ``workers``-th
    completed chunk: every worker has the model and has finished a chunk) to the last chunk,
    per sample completed in between. Counting from the first completed chunk instead would
    credit the window with the other workers' first chunks, done mostly before it."""
    stamps = []
    t0 = time.perf_counter()
    ds = sp.monte_carlo(mrio, y, SPEC, samples=samples, seed=seed, client=client,
                        progress=lambda d, tot: stamps.append((time.perf_counter(), d)))
    wall = time.perf_counter() - t0
    done = [(t, d) for t, d in stamps if d > 0]
    steady = None
    if len(done) >= workers + 1:
        (t1, d1), (t2, d2) = done[workers - 1], done[-1]
        steady = (t2 - t1) / max(d2 - d1, 1)
    return {"samples": samples, "wall_s": wall, "s_per_sample_wall": wall / samples,
            "s_per_sample_steady": steady, "steady_window_samples": (d2 - d1) if steady else 0,
            "progress": [(round(t - t0, 2), d) for t, d in done], "iterations_mean": ds.attrs["iterations_mean"],
            "iterations_max": ds.attrs["iterations_max"], "fallbacks": ds.attrs["fallbacks"],
            "max_residual": ds.attrs["max_residual"], "chunk_size": ds.attrs["chunk_size"],
            "group_size": ds.attrs["group_size"], "orientation": ds.attrs["orientation"],
            "storage": ds.attrs["storage"]}


def run_size(n: int, samples: int, naive: int, workers: list[int]) -> dict:
    R, P = shape_for(n)
    t = time.perf_counter()
    mrio = world(n)
    y_da = mc_demand(mrio)
    y = y_da.transpose("region", "sector", "category").values.reshape(mrio.n, -1)
    res: dict = {"n": mrio.n, "regions": R, "sectors": P, "density": float(np.count_nonzero(
        mrio.dense_A()) / mrio.n**2), "setup_s": time.perf_counter() - t}
    t = time.perf_counter()
    _ = mrio.solver
    res["baseline_lu_s"] = time.perf_counter() - t
    print(f"n={mrio.n}: world + LU ready", flush=True)
    res["naive_s_per_sample"] = naive_seconds(mrio, y, naive)
    print(f"  naive {res['naive_s_per_sample']:.2f} s/sample", flush=True)
    if 1 in workers:
        sp.monte_carlo(mrio, y_da, SPEC, samples=4, seed=0, client="sync", group_size=4)  # JIT
        res["engine_1"] = engine_run(mrio, y_da, samples, "sync")
        print(f"  engine 1 worker {res['engine_1']}", flush=True)
    if 2 in workers:
        client = local_client(2)
        try:
            client.run(_compile_kernels)  # on every worker, not only where a warm-up chunk lands
            sp.monte_carlo(mrio, y_da, SPEC, samples=16, seed=0, client=client, chunk_size=8)
            res["engine_2"] = engine_run(mrio, y_da, samples, client, workers=2)
            rss = client.run(peak_rss_mb)
            res["engine_2"]["worker_peak_rss_mb"] = max(rss.values())
        finally:
            client.close()
            client.cluster.close()
        print(f"  engine 2 workers {res['engine_2']}", flush=True)
    it = res.get("engine_1", res.get("engine_2", {})).get("iterations_mean", 7)
    res["tradeoff"] = fused_vs_materialised(n, int(round(it)) + 1)
    print(f"  trade-off {res['tradeoff']}", flush=True)
    for key in ("engine_1", "engine_2"):
        if key in res:
            per = res[key]["s_per_sample_steady"] or res[key]["s_per_sample_wall"]
            res[key]["speedup_vs_naive"] = res["naive_s_per_sample"] / per
    if "engine_1" in res and "engine_2" in res:
        a = res["engine_1"]["s_per_sample_steady"] or res["engine_1"]["s_per_sample_wall"]
        b = res["engine_2"]["s_per_sample_steady"] or res["engine_2"]["s_per_sample_wall"]
        res["scaling_1_to_2"] = a / b
    res["driver_peak_rss_mb"] = peak_rss_mb()
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4900, 9800])
    ap.add_argument("--samples", type=int, default=32, help="engine samples per timed run")
    ap.add_argument("--naive", type=int, default=3, help="naive samples per size")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    a = ap.parse_args(argv)
    results = {"machine": platform.processor() or platform.machine(), "runs": []}
    for n in a.sizes:
        results["runs"].append(run_size(n, a.samples, a.naive, a.workers))
    print(json.dumps(results, indent=1, default=float))
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(results, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
