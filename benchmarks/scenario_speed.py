"""Scenarios per second: the batched engine against refactorising (I - A') per scenario.

Three kinds of scenario on a synthetic world of n sectors and m = 100 categories:
demand-only (volume and origin levers), single-column technology (one column of A scaled) and a
12-product mix (the shares of 12 inputs of one region change in every column). The reference
"refactorise" path builds A' densely, factorises I - A' (`LeontiefSolver`, the project's LU),
computes the multipliers S (I - A')^-1 and the footprints; it is timed on a few scenarios and
its time per scenario is used for the ratio. Every engine result is checked against the
reference on those scenarios (max relative difference printed).

    .venv/bin/python benchmarks/scenario_speed.py --regions 15 --sectors 200   # n = 3,000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import spendprint as sp
from spendprint.core.leontief import LeontiefSolver
from spendprint.scenarios import ScenarioSet, scenario_footprints
from spendprint.scenarios.engine import _compile, _delta_A


def reference(m, Y, ss, names):
    """Refactorise per scenario: dense A', LU of I - A', multipliers, footprints."""
    import scipy.sparse as sps

    from spendprint.scenarios.engine import _apply_demand, _S_factor

    A = sps.csr_array(m.A)
    Acsc = sps.csc_array(A)
    sub = ScenarioSet(ss.table[ss.table["scenario"].isin(names)])
    comp = {c.name: c for c in _compile(sub, m.regions, m.sectors, m.stressors,
                                        [f"c{i}" for i in range(Y.shape[1])])}
    out = []
    R, P = len(m.regions), len(m.sectors)
    for name in names:
        c = comp[name]
        dA = _delta_A(c, A, Acsc)
        Ap = m.dense_A() + (dA.toarray() if dA is not None else 0.0)
        fac = _S_factor(c, *m.S.shape)
        Sp = m.S if fac is None else m.S * fac
        solver = LeontiefSolver(Ap, method="dense")
        Mp = solver.solve_transpose(np.ascontiguousarray(Sp.T)).T
        out.append(Mp @ _apply_demand(c, Y, R, P))
    return np.array(out)


def bench(label, m, Y, ss, n_ref=3, stressors=None):
    t0 = time.perf_counter()
    ds = scenario_footprints(m, Y, ss, stressors=list(m.stressors), chunk_size=256)
    t_eng = time.perf_counter() - t0
    names = ss.names[:n_ref]
    t0 = time.perf_counter()
    ref = reference(m, Y, ss, names)
    t_ref = (time.perf_counter() - t0) / len(names)
    got = ds.footprint.sel(scenario=names).values
    err = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)))
    N = len(ss)
    rate = N / t_eng
    print(f"{label:<28} N={N:>5}  engine {t_eng:7.2f} s = {rate:9.1f} scen/s   "
          f"refactorise {t_ref:6.3f} s/scen = {1 / t_ref:6.2f} scen/s   ratio {rate * t_ref:8.1f}x"
          f"   max rel diff {err:.1e}   methods {sorted(set(ds.method.values))}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--regions", type=int, default=15)
    ap.add_argument("--sectors", type=int, default=200)
    ap.add_argument("--categories", type=int, default=100)
    ap.add_argument("--demand", type=int, default=2000)
    ap.add_argument("--tech", type=int, default=1000)
    ap.add_argument("--mix", type=int, default=100)
    ap.add_argument("--n-ref", type=int, default=3, help="reference scenarios timed per kind")
    ap.add_argument("--mc-samples", type=int, default=8)
    ap.add_argument("--mc-scenarios", type=int, default=50)
    a = ap.parse_args()
    t0 = time.perf_counter()
    m = sp.synthetic_mrio(regions=a.regions, sectors=a.sectors, seed=0)
    rng = np.random.default_rng(0)
    Y = rng.random((m.n, a.categories)) * (rng.random((m.n, a.categories)) < 0.05)
    from spendprint.scenarios.engine import baseline_solver

    baseline_solver(m)
    print(f"n = {m.n}, m = {a.categories} categories, {len(m.stressors)} stressors; model and "
          f"baseline LU {time.perf_counter() - t0:.1f} s", flush=True)
    R, P = m.regions, m.sectors
    dem = ScenarioSet.latin_hypercube(
        [{"lever": "volume", "value": (-0.3, 0.3)},
         {"lever": "origin", "region": R[1], "sector": P[0], "value": (0.0, 1.0)}],
        n=max(a.demand, 1), seed=1)
    if a.demand:
        bench("demand-only", m, Y, dem, a.n_ref)
    cols = rng.integers(0, m.n, a.tech)
    tech = ScenarioSet([{"name": f"t{i}", "levers": [
        {"lever": "technology", "region": R[j // len(P)], "sector": P[j % len(P)],
         "value": float(rng.uniform(-0.5, 0.2))}]} for i, j in enumerate(cols)])
    if a.tech > a.mc_scenarios:
        bench("single-column technology", m, Y, tech, a.n_ref)
    elec = list(P[:12])
    mix = []
    for i in range(a.mix):
        w = rng.dirichlet(np.ones(12))
        w = w / w.sum()
        w[-1] = 1.0 - w[:-1].sum()
        mix.append({"name": f"mix{i}", "levers": [
            {"lever": "mix", "from_region": R[i % len(R)], "from_sector": s, "value": float(v)}
            for s, v in zip(elec, w, strict=True)]})
    if a.mix:
        bench("12-product mix", m, Y, ScenarioSet(mix), a.n_ref)
    if a.mc_samples:
        bench_mc(m, Y, tech, a.mc_samples, a.mc_scenarios)


def bench_mc(m, Y, tech, samples, n_scen):
    """Scenario x Monte Carlo: cost per (scenario, sample) against the Monte Carlo alone."""
    import xarray as xr

    from spendprint.uncertainty.montecarlo import monte_carlo

    y = xr.DataArray(Y.reshape(len(m.regions), len(m.sectors), -1),
                     dims=("region", "sector", "category"),
                     coords={"region": list(m.regions), "sector": list(m.sectors),
                             "category": [f"c{i}" for i in range(Y.shape[1])]})
    sub = ScenarioSet(tech.table[tech.table["scenario"].isin(tech.names[:n_scen])])
    one = ScenarioSet(tech.table[tech.table["scenario"] == tech.names[0]])
    monte_carlo(m, y, samples=2, seed=0, client="sync")            # JIT warm-up, not timed
    scenario_footprints(m, y, one, samples=1, seed=0)
    t0 = time.perf_counter()
    mc = monte_carlo(m, y, samples=samples, seed=0, client="sync", stressors=list(m.stressors))
    t_mc = time.perf_counter() - t0
    t0 = time.perf_counter()
    ds = scenario_footprints(m, y, sub, stressors=list(m.stressors), samples=samples, seed=0)
    t_sc = time.perf_counter() - t0
    f = mc.footprint.transpose("sample", "stressor", "category").values
    err = float(np.max(np.abs(ds.baseline.values - f) / np.maximum(np.abs(f), 1e-300)))
    per_mc = t_mc / samples
    per_pair = t_sc / (samples * len(sub))
    print(f"scenario x Monte Carlo: {len(sub)} technology scenarios x {samples} samples "
          f"{t_sc:.2f} s; Monte Carlo alone {t_mc:.2f} s ({per_mc * 1e3:.1f} ms/sample); "
          f"per (scenario, sample) {per_pair * 1e3:.1f} ms = {per_pair / per_mc:.2f} x a "
          f"Monte Carlo sample; baseline vs monte_carlo max rel diff {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
