"""One demand, one solve plan: the model's cache, the plan's batching, and the main job's counts.

Also the defects of the review that live in the core: `from_pymrio` without `x`, the solver's
endless recursion on an ill-conditioned system, and one name for one quantity in the outputs.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import spendprint as sp
from spendprint.cli import main
from spendprint.core.leontief import LeontiefSolver
from spendprint.core.plan import SolvePlan
from spendprint.jobs import main_job
from spendprint.procurement import ProcurementDemand, demo_inputs
from spendprint.procurement.ledger import Ledger


def dense_L(mrio: sp.MRIO) -> np.ndarray:
    return np.linalg.inv(np.eye(mrio.n) - mrio.dense_A())


def test_cache_rows_and_outputs_equal_dense_inverse(small_mrio):
    m = small_mrio.replace()  # a fresh model: empty cache, fresh factorisation
    names = ["CO2e", "Employment hours"]
    L = dense_L(m)
    rows = m.cache.multiplier_rows(names)
    np.testing.assert_allclose(rows, m.S_all(names) @ L, rtol=1e-10)
    Y = np.random.default_rng(1).random((m.n, 3))
    X = m.cache.outputs("k", Y)
    np.testing.assert_allclose(X, L @ Y, rtol=1e-10)
    stats = dict(m.solver.stats)
    # hits cost nothing, and the rows are the ones sp.multipliers reports
    assert m.cache.outputs("k", Y) is X
    np.testing.assert_allclose(sp.multipliers(m, "CO2e").values.ravel(), rows[0], rtol=0)
    assert m.solver.stats["forward_solves"] == stats["forward_solves"]
    assert m.solver.stats["adjoint_solves"] == stats["adjoint_solves"]
    with pytest.raises(ValueError, match="shape"):
        m.cache.outputs("k", Y[:, :2])
    assert not X.flags.writeable


def test_plan_solves_everything_in_one_adjoint_and_one_forward_solve(small_mrio):
    m = small_mrio.replace()
    rng = np.random.default_rng(2)
    Y1, Y2 = rng.random((m.n, 4)), rng.random((m.n, 2))
    plan = SolvePlan(m).multipliers(["CO2e", "CO2"]).multipliers(["CO2e"])
    plan.outputs("a", Y1).outputs("b", Y2)
    assert plan.solve() == {"adjoint_rhs": 2, "forward_rhs": 6}
    assert m.solver.stats["adjoint_solves"] == 1 and m.solver.stats["forward_solves"] == 1
    L = dense_L(m)
    np.testing.assert_allclose(m.cache.outputs("a", Y1), L @ Y1, rtol=1e-10)
    np.testing.assert_allclose(m.cache.outputs("b", Y2), L @ Y2, rtol=1e-10)
    # everything is cached now: a second plan for the same things solves nothing
    assert SolvePlan(m).multipliers(["CO2"]).outputs("a", Y1).solve() == {
        "adjoint_rhs": 0, "forward_rhs": 0}
    assert m.solver.stats["adjoint_solves"] == 1 and m.solver.stats["forward_solves"] == 1
    with pytest.raises(sp.LabelMismatchError):
        SolvePlan(m).multipliers(["nope"]).solve()


def test_analyses_of_one_demand_share_one_forward_and_one_adjoint_solve(small_mrio):
    m = small_mrio.replace()
    ledger, conc = demo_inputs()
    demand = ProcurementDemand.build(m, ledger, conc)
    res = main_job.analyse(m, demand, "CO2e", scenarios=sp.read_scenarios(
        sp.procurement.demo_paths()["scenarios"]))
    st = m.solver.stats
    assert (st["factorisations"], st["forward_solves"], st["adjoint_solves"]) == (1, 1, 1)
    assert res.solves["adjoint_rhs"] == len(m.indicators)
    # the numbers are those of a dense inverse
    L = dense_L(m)
    ref = m.S_all(["CO2e"]) @ L @ demand.Y
    np.testing.assert_allclose(res.footprints["footprint"].sel(stressor="CO2e").values, ref[0],
                               rtol=1e-9)
    np.testing.assert_allclose(res.savings["baseline"].sel(stressor="CO2e").values, ref[0],
                               rtol=1e-9)
    np.testing.assert_allclose(res.scenarios["baseline"].sel(stressor="CO2e").values, ref[0],
                               rtol=1e-9)
    h = m.S_all(["Employment hours"])[0]
    np.testing.assert_allclose(res.risk["hours"].values, h @ L @ demand.Y, rtol=1e-9)


def test_default_run_builds_the_demand_once_and_solves_each_system_once(
        tmp_path, monkeypatch):
    """The spy: demand builds and ledger validations are counted in-process; factorisations and
    solves are read from run.json, which records the solver's counters."""
    calls = {"build": 0, "problems": 0}
    real_build = ProcurementDemand.build.__func__
    real_problems = Ledger.problems

    def build(cls, *a, **k):
        calls["build"] += 1
        return real_build(cls, *a, **k)

    def problems(self, *a, **k):
        calls["problems"] += 1
        return real_problems(self, *a, **k)

    monkeypatch.setattr(ProcurementDemand, "build", classmethod(build))
    monkeypatch.setattr(Ledger, "problems", problems)
    store = tmp_path / "w.zarr"
    sp.synthetic_mrio(regions=6, sectors=60, seed=4).to_zarr(store)
    out = tmp_path / "out"
    assert main(["run", "--mrio", str(store), "--out", str(out), "--spa-top", "2"]) == 0
    # one demand for the whole ledger, one per ledger year (the per-year results), one validation
    years = len(json.loads((out / "run.json").read_text())["ledger"]["years"])
    assert years > 1 and calls == {"build": 1 + years, "problems": 1}
    solver = json.loads((out / "run.json").read_text())["model"]["solver"]
    assert solver["factorisations"] == 1
    assert solver["forward_solves"] == 1
    assert solver["adjoint_solves"] == 1


def test_one_name_one_quantity_in_every_output(tmp_path):
    store = tmp_path / "w.zarr"
    sp.synthetic_mrio(regions=8, sectors=60, seed=2).to_zarr(store)
    out = tmp_path / "out"
    assert main(["run", "--mrio", str(store), "--out", str(out), "--spa-top", "0"]) == 0
    table = pd.read_csv(out / "categories.csv")
    ds = xr.open_zarr(out / "results.zarr", consolidated=False)
    for name in ("best_origin_footprint", "best_origin_savings", "best_origin_savings_share"):
        col = table.set_index(["category", "stressor"])[name]
        var = ds[name].to_series().reindex(col.index)
        np.testing.assert_allclose(col.to_numpy(), var.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        table["footprint"] - table["best_origin_footprint"], table["best_origin_savings"],
        rtol=1e-9, atol=1e-9 * float(table["footprint"].abs().max()))
    assert "savings_best_origin" not in table.columns and "savings_best_origin" not in ds


def test_solver_raises_convergence_error_instead_of_recursing():
    """I - A = the 14 x 14 Hilbert matrix (condition number ~1e18): refinement cannot reach the
    tolerance in float32 nor in float64. It used to recurse until RecursionError."""
    n = 14
    H = 1.0 / (np.arange(n)[:, None] + np.arange(n)[None, :] + 1.0)
    solver = LeontiefSolver(np.eye(n) - H)
    with pytest.raises(sp.ConvergenceError, match="ill-conditioned"):
        solver.solve(np.ones(n))
    assert solver.stats["fallbacks"] == 1


def test_from_pymrio_without_x_computes_it_from_the_leontief_system():
    pymrio = pytest.importorskip("pymrio")
    io = pymrio.load_test().calc_all()
    io.x = None  # a system with A and Y but no x
    m = sp.from_pymrio(io)
    A = io.A.to_numpy()
    y = io.Y.to_numpy().sum(axis=1)
    np.testing.assert_allclose(m.x, np.linalg.solve(np.eye(len(y)) - A, y), rtol=1e-9)


def test_procurement_demand_is_immutable_and_checks_its_model(small_mrio, tiny_mrio):
    ledger, conc = demo_inputs()
    d = ProcurementDemand.build(small_mrio, ledger, conc)
    with pytest.raises(ValueError):
        d.y[0, 0, 0] = 1.0
    np.testing.assert_allclose(d.to_dataarray().values, sp.procurement_demand(
        small_mrio, ledger, conc).values, rtol=0)
    with pytest.raises(sp.LabelMismatchError, match="another model"):
        sp.procurement_footprint(tiny_mrio, d)
    with pytest.raises(sp.ValidationError, match="ProcurementDemand"):
        sp.procurement_footprint(small_mrio, "ledger.csv")
