"""The exact engine: block Jacobi vs the LU path vs pymrio ``calc_all``, time and peak memory.

The work, on the seeded synthetic world of about n sectors (as `benchmarks.compare_pymrio`):
multipliers of the 5 indicators ``M = S (I - A)^-1`` and footprints of 100 demand vectors with
the origin breakdown (totals ``M y`` and ``S diag((I - A)^-1 y)``).

Methods, each in its own fresh Python process (peak resident set size ``ru_maxrss`` captures
every allocation), each starting from a freshly opened model so that setting up the solver is
part of the time:

* ``block``: the model's own solver (``method="auto"``: block Jacobi over the regions' domestic
  blocks when its estimated contraction is small, which it is here), then `sp.multipliers` and
  `sp.footprint(..., by_origin=True)`;
* ``lu``: the same calls with the solver forced to the LU path (float32 LU + float64
  refinement, ``LeontiefSolver(A, method="dense")``);
* ``pymrio``: ``calc_all()`` on ``sp.to_pymrio(model)``, then the footprints from pymrio's ``L``.

Differences are relative to the LU path, with an absolute floor of 1e-12 of the largest value of
each indicator.

Usage::

    python -m benchmarks.exact_engine --sizes 1000 4900 9800
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .compare_pymrio import _max_rel, _peak_rss, _rss_now

METHODS = ("block", "lu", "pymrio")


def _worker(method: str, store: Path, demand_file: Path, out: Path) -> None:
    import spendprint as sp

    # imports, thread pools and the numba kernels warm on a tiny two-region model, for all alike
    tiny = sp.synthetic_mrio(regions=2, sectors=5)
    sp.multipliers(tiny)
    sp.footprint(tiny, np.ones(tiny.n), by_origin=True)
    del tiny
    mrio = sp.open_mrio(store)
    y = np.load(demand_file)
    k, n, m = len(mrio.indicators), mrio.n, y.shape[1]
    info: dict = {}
    if method in ("block", "lu"):
        base = _rss_now()
        t0 = time.perf_counter()
        if method == "lu":  # the model's cached solver, set to the LU path
            mrio.__dict__["solver"] = sp.LeontiefSolver(mrio.A, method="dense")
        solver = mrio.solver
        t_setup = time.perf_counter() - t0
        M = sp.multipliers(mrio).values.reshape(k, n)
        t_mult = time.perf_counter() - t0 - t_setup
        fp = sp.footprint(mrio, y, by_origin=True)
        total = fp["total"].transpose("stressor", "demand").values
        origin = fp["by_origin"].transpose("stressor", "origin_region", "origin_sector",
                                           "demand").values.reshape(k, n, m)
        elapsed = time.perf_counter() - t0
        info = {"method_used": solver.method_used, "contraction": solver.contraction,
                "setup_s": t_setup, "multipliers_s": t_mult,
                "footprints_s": elapsed - t_setup - t_mult,
                "last_steps": solver.stats["refinement_steps"]}
    elif method == "pymrio":
        import pymrio

        pymrio.load_test().calc_all()  # warm-up
        io = sp.to_pymrio(mrio)
        del mrio
        base = _rss_now()
        t0 = time.perf_counter()
        io.calc_all()
        M = np.vstack([io.stressors.M.to_numpy(), io.impacts.M.to_numpy()])
        S = np.vstack([io.stressors.S.to_numpy(), io.impacts.S.to_numpy()])
        xy = io.L.to_numpy() @ y
        total = M @ y
        origin = S[:, :, None] * xy[None, :, :]
        elapsed = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown method {method!r}")
    peak = _peak_rss()
    np.savez(out.with_suffix(".npz"), M=M, total=total, origin=origin)
    out.with_suffix(".json").write_text(json.dumps(
        {"method": method, "seconds": elapsed, "peak_bytes": peak, "base_bytes": base, **info}))


def run(sizes: list[int], demands_m: int, seed: int, methods: list[str],
        workdir: Path) -> list[dict]:
    import spendprint as sp

    from ._common import demands, shape_for

    rows = []
    for n_req in sizes:
        R, P = shape_for(n_req)
        world = sp.synthetic_mrio(regions=R, sectors=P, seed=seed)
        store = workdir / f"world-{R}x{P}.zarr"
        world.to_zarr(store)
        dfile = workdir / f"demand-{R}x{P}.npy"
        np.save(dfile, demands(world.n, demands_m, seed))
        del world
        results = {}
        for method in methods:
            out = workdir / f"{method}-{R}x{P}"
            cmd = [sys.executable, "-m", "benchmarks.exact_engine", "--worker", method,
                   "--store", str(store), "--demand-file", str(dfile), "--out", str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  cwd=Path(__file__).resolve().parents[1])
            if proc.returncode != 0:
                print(f"  {method} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
                continue
            info = json.loads(out.with_suffix(".json").read_text())
            info["arrays"] = dict(np.load(out.with_suffix(".npz")))
            results[method] = info
            print(f"n = {R * P}: {method:7s} {info['seconds']:8.2f} s  peak "
                  f"{info['peak_bytes'] / 2**30:6.2f} GiB", file=sys.stderr, flush=True)
        ref = results.get("lu")
        blk = results.get("block")
        for info in results.values():
            row = {k: v for k, v in info.items() if k != "arrays"}
            row.update(n=R * P, shape=f"{R}x{P}", peak_gib=info["peak_bytes"] / 2**30,
                       extra_gib=(info["peak_bytes"] - info["base_bytes"]) / 2**30)
            if blk is not None:
                row["time_over_block"] = info["seconds"] / blk["seconds"]
                row["peak_over_block"] = info["peak_bytes"] / blk["peak_bytes"]
            if ref is not None:
                row["max_rel_diff_vs_lu"] = max(_max_rel(info["arrays"][key], ref["arrays"][key])
                                                for key in ("M", "total", "origin"))
            rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    head = (f"{'n':>6} {'R x P':>7} {'method':>7} {'time s':>8} {'peak GiB':>9} {'+GiB':>6} "
            f"{'t/block':>8} {'peak/block':>10} {'rel diff vs LU':>15}  detail")
    print(head)
    print("-" * len(head))
    nan = float("nan")
    for r in rows:
        detail = ""
        if "method_used" in r:
            rho = r["contraction"]
            detail = (f"{r['method_used']}, setup {r['setup_s']:.2f} s, mult "
                      f"{r['multipliers_s']:.2f} s, fp {r['footprints_s']:.2f} s"
                      + (f", rho {rho:.3f}" if rho is not None else ""))
        print(f"{r['n']:>6} {r['shape']:>7} {r['method']:>7} {r['seconds']:>8.2f} "
              f"{r['peak_gib']:>9.2f} {r['extra_gib']:>6.2f} {r.get('time_over_block', nan):>8.2f} "
              f"{r.get('peak_over_block', nan):>10.2f} {r.get('max_rel_diff_vs_lu', nan):>15.2e}"
              f"  {detail}")
    print("(t/block, peak/block: the method's time and peak RSS over the block engine's; '+GiB': "
          "peak above the RSS with the inputs loaded)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 4900, 9800])
    p.add_argument("--demands", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--rtol", type=float, default=1e-9, help="required agreement with the LU path")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    p.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--demand-file", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.store, args.demand_file, args.out)
        return 0
    with tempfile.TemporaryDirectory(prefix="sp-exact-") as tmp:
        rows = run(args.sizes, args.demands, args.seed, list(args.methods), Path(tmp))
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r.get("max_rel_diff_vs_lu", 0.0) <= args.rtol for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
