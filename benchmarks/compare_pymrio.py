"""spendprint vs pymrio vs naive numpy: time and peak memory of the same work, from one run.

The work, on the same seeded synthetic world of about n sectors:

* multipliers of the 5 indicators (CO2, CH4, N2O, employment hours, CO2e): ``M = S (I - A)^-1``;
* footprints of 100 demand vectors with the origin breakdown: totals ``M y`` and
  ``S diag((I - A)^-1 y)`` per vector (5 x n x 100 numbers).

Methods (each in its own fresh Python process, so that the peak resident set size ``ru_maxrss``
captures every allocation, BLAS and LAPACK workspaces included):

* ``spendprint``: ``sp.multipliers`` + ``sp.footprint(..., by_origin=True)`` starting from a freshly
  opened model, so the factorisation of (I - A) is part of the time;
* ``pymrio``: ``calc_all()`` on ``sp.to_pymrio(model)`` (A, Z, x, Y given, as EXIOBASE provides
  them), then the 100 footprints from pymrio's own ``L`` and ``M``;
* ``numpy``: ``np.linalg.inv(I - A)`` and products with it.

Results of pymrio and numpy are checked against spendprint's to ``--rtol`` (1e-9) relative, with an
absolute floor of 1e-12 of the largest value of each indicator.

Usage::

    python -m benchmarks.compare_pymrio --sizes 1000 4900 9800
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METHODS = ("spendprint", "pymrio", "numpy")


def _rss_now() -> int:
    """Current resident set size in bytes (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ------------------------------------------------------------------------------------------------
# worker: one method, one size, in its own process
# ------------------------------------------------------------------------------------------------
def _worker(method: str, store: Path, demand_file: Path, out: Path) -> None:
    import spendprint as sp

    # one-time imports and thread-pool start-up (xarray/dask/scipy are imported lazily on the
    # first call) are paid on a tiny model before the clock starts, for every method alike
    tiny = sp.synthetic_mrio(regions=1, sectors=5)
    sp.footprint(tiny, np.ones(tiny.n), by_origin=True)
    np.linalg.inv(np.eye(5) - tiny.A) @ np.ones((5, 2))
    del tiny
    mrio = sp.open_mrio(store)
    y = np.load(demand_file)
    k, n, m = len(mrio.indicators), mrio.n, y.shape[1]
    if method == "spendprint":
        base = _rss_now()
        t0 = time.perf_counter()
        M = sp.multipliers(mrio).values.reshape(k, n)
        fp = sp.footprint(mrio, y, by_origin=True)
        total = fp["total"].transpose("stressor", "demand").values
        origin = fp["by_origin"].transpose("stressor", "origin_region", "origin_sector",
                                           "demand").values.reshape(k, n, m)
        elapsed = time.perf_counter() - t0
    elif method == "pymrio":
        import pymrio

        pymrio.load_test().calc_all()  # warm-up, as above
        io = sp.to_pymrio(mrio)
        del mrio
        base = _rss_now()
        t0 = time.perf_counter()
        io.calc_all()
        M = np.vstack([io.stressors.M.to_numpy(), io.impacts.M.to_numpy()])
        S = np.vstack([io.stressors.S.to_numpy(), io.impacts.S.to_numpy()])
        xy = io.L.to_numpy() @ y  # x_y = L y with pymrio's Leontief inverse, (n, m)
        total = M @ y
        origin = S[:, :, None] * xy[None, :, :]
        elapsed = time.perf_counter() - t0
    elif method == "numpy":
        A = mrio.dense_A()
        S = mrio.S_all()
        del mrio
        base = _rss_now()
        t0 = time.perf_counter()
        L = np.linalg.inv(np.eye(n) - A)
        M = S @ L
        xy = L @ y
        total = S @ xy
        origin = S[:, :, None] * xy[None, :, :]
        elapsed = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown method {method!r}")
    peak = _peak_rss()
    np.savez(out.with_suffix(".npz"), M=M, total=total, origin=origin)
    out.with_suffix(".json").write_text(json.dumps(
        {"method": method, "seconds": elapsed, "peak_bytes": peak, "base_bytes": base}))


# ------------------------------------------------------------------------------------------------
# driver
# ------------------------------------------------------------------------------------------------
def _max_rel(got: np.ndarray, ref: np.ndarray) -> float:
    """max |got - ref| / max(|ref|, 1e-12 * max|ref of that indicator|)."""
    k = ref.shape[0]
    r, g = ref.reshape(k, -1), got.reshape(k, -1)
    floor = 1e-12 * np.abs(r).max(axis=1, keepdims=True)
    return float((np.abs(g - r) / np.maximum(np.abs(r), np.maximum(floor, 1e-300))).max())


def run(sizes: list[int], demands_m: int, seed: int, methods: list[str], rtol: float,
        workdir: Path) -> list[dict]:
    import spendprint as sp

    from ._common import demands, shape_for

    rows = []
    for n_req in sizes:
        R, P = shape_for(n_req)
        t0 = time.perf_counter()
        world = sp.synthetic_mrio(regions=R, sectors=P, seed=seed)
        store = workdir / f"world-{R}x{P}.zarr"
        world.to_zarr(store)
        dfile = workdir / f"demand-{R}x{P}.npy"
        np.save(dfile, demands(world.n, demands_m, seed))
        print(f"n = {world.n} ({R} x {P}): world ready in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr, flush=True)
        del world
        results = {}
        for method in methods:
            out = workdir / f"{method}-{R}x{P}"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method,
                   "--store", str(store), "--demand-file", str(dfile), "--out", str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"  {method} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
                continue
            info = json.loads(out.with_suffix(".json").read_text())
            info["arrays"] = dict(np.load(out.with_suffix(".npz")))
            results[method] = info
            print(f"  {method:10s} {info['seconds']:8.2f} s  peak {info['peak_bytes'] / 2**30:6.2f} GiB",
                  file=sys.stderr, flush=True)
        ref = results.get("spendprint")
        for method, info in results.items():
            row = {"n": R * P, "shape": f"{R}x{P}", "method": method, "seconds": info["seconds"],
                   "peak_gib": info["peak_bytes"] / 2**30,
                   "extra_gib": (info["peak_bytes"] - info["base_bytes"]) / 2**30}
            if ref is not None:
                row["time_ratio"] = info["seconds"] / ref["seconds"]
                row["peak_ratio"] = info["peak_bytes"] / ref["peak_bytes"]
                row["max_rel_diff"] = max(_max_rel(info["arrays"][key], ref["arrays"][key])
                                          for key in ("M", "total", "origin"))
                row["agrees"] = row["max_rel_diff"] <= rtol
            rows.append(row)
    return rows


def print_table(rows: list[dict], rtol: float) -> None:
    head = (f"{'n':>6} {'R x P':>8} {'method':>10} {'time s':>8} {'peak GiB':>9} {'+GiB':>6} "
            f"{'time/sp':>8} {'peak/sp':>8} {'max rel diff':>13} {'agrees':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['n']:>6} {r['shape']:>8} {r['method']:>10} {r['seconds']:>8.2f} "
              f"{r['peak_gib']:>9.2f} {r['extra_gib']:>6.2f} {r.get('time_ratio', float('nan')):>8.2f} "
              f"{r.get('peak_ratio', float('nan')):>8.2f} {r.get('max_rel_diff', float('nan')):>13.2e} "
              f"{str(r.get('agrees', '-')):>7}")
    print(f"(time/sp, peak/sp: the method's time and peak RSS over spendprint's; agreement with "
          f"spendprint to {rtol:g} relative; '+GiB' is the peak above the RSS with the inputs "
          f"loaded)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 4900, 9800],
                   help="approximate numbers of sectors (regions x products chosen to match)")
    p.add_argument("--demands", type=int, default=100, help="number of demand vectors")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--rtol", type=float, default=1e-9)
    p.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp dir)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    p.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--demand-file", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.store, args.demand_file, args.out)
        return 0
    with tempfile.TemporaryDirectory(prefix="sp-compare-", dir=args.workdir) as tmp:
        rows = run(args.sizes, args.demands, args.seed, list(args.methods), args.rtol, Path(tmp))
    print_table(rows, args.rtol)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    ok = all(r.get("agrees", True) for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
