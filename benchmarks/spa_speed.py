"""Structural path analysis at n = 9,800: Numba kernel vs a pure-Python depth-first search.

Run from the repository root: ``python -m benchmarks.spa_speed [--regions 49 --sectors 200]
[--thresholds 1e-3 1e-4] [--depth 8] [--budget 60] [--json out.json]``.

One category: 'Examination gloves' of the demo ledger (via ``spendprint.procurement``) on the
synthetic world; CO2e. For each threshold the script times ``structural_paths`` cold (the whole
call: multipliers ``m = (I - A)^-T s`` from the cached factorisation, the compiled search, the
table) and warm (``m`` cached, as for further categories of the same stressor), the compiled
search alone, and then the pure-Python search (``benchmarks.bench_spa.python_spa``, same pruning rule, scanning each visited
node's full column) with a time budget; when it runs out, its speed (nodes/s) and the number of
nodes the kernel visited give the extrapolated time. One-off costs per model (world, factorisation,
JIT, the C-ordered copy of ``A^T`` the kernel reads columns from) are reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import spendprint as sp
from spendprint.labelled.structural_paths import (
    _column_access,
    _multipliers,
    _trace,
    structural_paths,
)

from .bench_spa import python_spa, warm_up


def category_demand(mrio: sp.MRIO, category: str) -> np.ndarray:
    from spendprint.procurement import demo_inputs, procurement_demand

    demand = procurement_demand(mrio, *demo_inputs(), buyer_region="NO")
    return np.ascontiguousarray(demand.sel(category=category).transpose("region", "sector")
                                .values.ravel())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=49)
    ap.add_argument("--sectors", type=int, default=200)
    ap.add_argument("--category", default="Examination gloves")
    ap.add_argument("--stressor", default="CO2e")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[1e-3, 1e-4])
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--budget", type=float, default=60.0, help="pure-Python budget per threshold [s]")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    res: dict = {"cpus": os.cpu_count(), "args": vars(args), "runs": []}
    t0 = time.perf_counter()
    mrio = sp.synthetic_mrio(args.regions, args.sectors, seed=0)
    res["world_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _ = mrio.solver
    res["factorise_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm_up()
    res["jit_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _column_access(mrio)
    res["transpose_s"] = time.perf_counter() - t0
    y = category_demand(mrio, args.category)
    s = mrio.S_all([args.stressor])[0]
    print(f"{mrio!r}; category {args.category!r}: {np.count_nonzero(y)} nonzero demand entries, "
          f"{y.sum():.4g} {mrio.meta['money_unit']}")
    print(f"one-off: world {res['world_s']:.1f} s, factorisation {res['factorise_s']:.1f} s, "
          f"JIT {res['jit_s']:.1f} s, A^T copy {res['transpose_s']:.1f} s")
    A = np.ascontiguousarray(mrio.dense_A())
    for thr in args.thresholds:
        mrio.__dict__.pop("cache", None)  # cold: include the multiplier solve m = (I - A)^-T s
        t0 = time.perf_counter()
        structural_paths(mrio, y, args.stressor, threshold=thr, max_depth=args.depth)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()  # warm: m cached (further categories of the same stressor)
        df = structural_paths(mrio, y, args.stressor, threshold=thr, max_depth=args.depth)
        t_call = time.perf_counter() - t0
        m = _multipliers(mrio, s)
        t0 = time.perf_counter()
        _trace(_column_access(mrio), s, m, y, thr, args.depth)
        t_kernel = time.perf_counter() - t0
        py = python_spa(A, s, m, y, thr, args.depth, budget_s=args.budget)
        rate = py["visited"] / py["seconds"]
        py_est = py["seconds"] if py["finished"] else df.attrs["visited"] / rate
        same = None
        if py["finished"]:
            lookup = {(r, p): i for i, (r, p) in enumerate(mrio.sector_index)}
            mine = {tuple(lookup[(row[f"region_{t}"], row[f"sector_{t}"])] for t in range(row["depth"] + 1)):
                    row["value"] for row in df.to_dict("records")}
            same = set(mine) == set(py["paths"]) and all(
                abs(mine[p] - v) <= 1e-9 * abs(v) for p, v in py["paths"].items())
        run = {"threshold": thr, "depth": args.depth, "seconds_cold": t_cold, "seconds": t_call,
               "kernel_seconds": t_kernel,
               "paths": len(df), "coverage": df.attrs["coverage"], "visited": df.attrs["visited"],
               "python_finished": py["finished"],
               "python_seconds": py["seconds"], "python_paths": len(py["paths"]),
               "python_visited": py["visited"], "python_nodes_per_s": rate,
               "python_estimated_seconds": py_est, "speedup_call": py_est / t_cold,
               "speedup_search": py_est / t_kernel,
               "same_paths": same}
        res["runs"].append(run)
        print(f"threshold {thr:g}, depth {args.depth}: numba {t_cold:.2f} s per category with the "
              f"multiplier solve, {t_call:.2f} s without (search alone {t_kernel:.3f} s), "
              f"{len(df)} paths, coverage "
              f"{df.attrs['coverage']:.1%}, {df.attrs['visited']} nodes visited | pure Python "
              f"{'finished' if py['finished'] else 'stopped'} after {py['seconds']:.1f} s, "
              f"{py['visited']} nodes ({rate:.0f} nodes/s), {len(py['paths'])} paths"
              + ("" if py["finished"] else f", extrapolated {py_est:.0f} s")
              + f" | speed-up x{py_est / t_cold:.1f} (cold call), x{py_est / t_kernel:.1f} "
                f"(search alone)"
              + ("" if same is None else f" | same paths and values: {same}"))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
