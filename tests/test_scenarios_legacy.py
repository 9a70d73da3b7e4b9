"""The engine gives the procurement scenarios' results for their levers (demo scenario file)."""

from __future__ import annotations

from importlib.resources import files

import numpy as np

import spendprint as sp
import spendprint.procurement as pc
from spendprint.scenarios import ScenarioSet, scenario_footprints


def test_engine_equals_run_scenarios_on_the_demo_file(small_mrio):
    ledger, conc = sp.demo_inputs()
    demand = pc.ProcurementDemand.build(small_mrio, ledger, conc, pc.Prices.default(), "NO")
    path = files("spendprint") / "data" / "demo_scenarios.yaml"
    levers = pc.read_scenarios(path)
    old = pc.run_scenarios(small_mrio, demand, levers)
    shares = demand.origin_shares
    if shares is None:
        shares = pc.origin_shares(small_mrio, demand.buyer_region)
    new = scenario_footprints(small_mrio, demand.to_dataarray(), ScenarioSet.read(path),
                              origin_shares=shares)
    assert list(new.scenario.values) == list(old.scenario.values)
    a = old.footprint.transpose("scenario", "stressor", "category").values
    b = new.footprint.sel(stressor=list(old.stressor.values)).values
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9 * np.abs(a).max())
    np.testing.assert_allclose(new.baseline.sel(stressor=list(old.stressor.values)).values,
                               old.baseline.transpose("stressor", "category").values, rtol=1e-9)
