"""Savings potential: best origin never worse; scenario batch equals one-by-one solves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import spendprint as sp
from spendprint.errors import LedgerError
from spendprint.procurement import (
    ProcurementDemand,
    demo_paths,
    read_scenarios,
    run_scenarios,
    savings_potential,
)


@pytest.fixture(scope="module")
def demo():
    return sp.demo_inputs()


@pytest.mark.parametrize("market", ["buyer", "world"])
def test_best_origin_never_worse(small_mrio, demo, market):
    led, conc = demo
    sv = savings_potential(small_mrio, led, conc, market=market, min_market_share=0.01)
    co2e = sv.sel(stressor="CO2e")
    assert np.all(co2e["best_origin"].values <= co2e["baseline"].values * (1 + 1e-12))
    assert float(co2e["savings"].sum()) > 0
    ref = sp.procurement_footprint(small_mrio, led, conc, by_origin=False)
    np.testing.assert_allclose(sv["baseline"].values, ref["footprint"].values, rtol=1e-10)
    # the chosen region is a supplier of that product above the threshold, or a current origin
    y = sp.procurement_demand(small_mrio, led, conc)
    shares = (sp.procurement.origin_shares(small_mrio, "NO") if market == "buyer"
              else sp.procurement.export_shares(small_mrio))
    br = sv["best_region"].sel(category="Examination gloves",
                               sector="Rubber and plastic products (25)").item()
    r = small_mrio.regions.index(br)
    p = small_mrio.sectors.index("Rubber and plastic products (25)")
    assert shares[r, p] >= 0.01 or float(y.sel(category="Examination gloves").values[r, p]) > 0
    # moved spend never exceeds the category's spend
    assert np.all(sv["moved_spend"].values <= y.sum(("region", "sector")).values * (1 + 1e-12))


def test_best_origin_by_hand(small_mrio, demo):
    """One product: the best origin is the min-multiplier eligible region."""
    _, conc = demo
    led = sp.Ledger.from_frame(pd.DataFrame({
        "category": ["Food - dairy products"], "amount": [1e6], "currency": ["EUR"],
        "year": [2022], "price_basis": ["basic"]}))
    sv = savings_potential(small_mrio, led, conc, stressors="CO2e", min_market_share=0.05)
    M = sp.multipliers(small_mrio, "CO2e").sel(sector="Dairy products").values[0]
    sh = sp.procurement.origin_shares(small_mrio, "NO")[:, small_mrio.sectors.index("Dairy products")]
    best = np.argmin(np.where(sh > 0, M, np.inf))  # every current origin is a candidate
    np.testing.assert_allclose(float(sv["best_origin"].squeeze()), M[best], rtol=1e-9)


SCEN = {"scenarios": [
    {"name": "gloves DE", "levers": [
        {"category": "Examination gloves", "lever": "origin", "region": "Germany"}]},
    {"name": "less meat", "levers": [
        {"category": "Food - meat", "lever": "substitute", "to_sector": "Vegetables, fruit, nuts",
         "value": 0.5}]},
    {"name": "cut everything", "levers": [
        {"category": "*", "lever": "volume", "value": -0.1}]},
    {"name": "clean steel", "levers": [
        {"category": "Construction materials - steel", "lever": "intensity", "value": 0.3}]},
    {"name": "clean steel CO2", "levers": [
        {"category": "Construction materials - steel", "lever": "intensity", "value": 0.3,
         "stressor": "CO2"}]},
]}


def D(mrio, led, conc):
    return ProcurementDemand.build(mrio, led, conc)


def test_scenario_batch_equals_one_by_one(small_mrio, demo):
    led, conc = demo
    batch = run_scenarios(small_mrio, D(small_mrio, led, conc), SCEN)
    for sc in SCEN["scenarios"]:
        one = run_scenarios(small_mrio, D(small_mrio, led, conc), {"scenarios": [sc]})
        np.testing.assert_allclose(batch["footprint"].sel(scenario=sc["name"]).values,
                                   one["footprint"].isel(scenario=0).values, rtol=1e-10)
    np.testing.assert_allclose(batch["baseline"].values,
                               sp.procurement_footprint(small_mrio, led, conc, by_origin=False)
                               ["footprint"].values, rtol=1e-10)
    # volume -10 % everywhere: linear
    np.testing.assert_allclose(batch["footprint"].sel(scenario="cut everything").values,
                               0.9 * batch["baseline"].values, rtol=1e-10)
    # untouched categories are unchanged
    ch = batch["change"].sel(scenario="gloves DE").drop_sel(category="Examination gloves")
    np.testing.assert_allclose(ch.values, 0.0, atol=1e-12 * float(abs(batch["baseline"]).max()))


def test_demand_levers_against_direct_footprints(small_mrio, demo):
    led, conc = demo
    batch = run_scenarios(small_mrio, D(small_mrio, led, conc), SCEN, stressors="CO2e")
    y = sp.procurement_demand(small_mrio, led, conc)
    g = y.sel(category="Examination gloves")
    moved = g.copy()
    moved[:] = 0.0
    moved.loc[{"region": "DE"}] = g.sum("region")
    ref = sp.footprint(small_mrio, moved, "CO2e")["total"].item()
    got = batch["footprint"].sel(scenario="gloves DE", category="Examination gloves",
                                 stressor="CO2e").item()
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    meat = y.sel(category="Food - meat").copy()
    total = float(meat.sum())
    meat *= 0.5
    sh = sp.procurement.origin_shares(small_mrio, "NO")[:, small_mrio.sectors.index(
        "Vegetables, fruit, nuts")]
    meat.loc[{"sector": "Vegetables, fruit, nuts"}] += 0.5 * total * sh
    ref = sp.footprint(small_mrio, meat, "CO2e")["total"].item()
    got = batch["footprint"].sel(scenario="less meat", category="Food - meat").item()
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    np.testing.assert_allclose(float(batch["spend"].sel(scenario="less meat",
                                                        category="Food - meat")), total)


def test_intensity_lever_equals_modified_S(small_mrio, demo):
    led, conc = demo
    cat = "Construction materials - steel"
    batch = run_scenarios(small_mrio, D(small_mrio, led, conc), SCEN)
    y = sp.procurement_demand(small_mrio, led, conc).sel(category=cat)
    supplying = (y.values.ravel() > 0)
    for name, rows in (("clean steel", slice(None)), ("clean steel CO2", [0])):
        S = small_mrio.S.copy()
        S[rows, :] = np.where(supplying[None, :], 0.7 * S[rows, :], S[rows, :])
        m2 = small_mrio.replace(S=S)
        ref = sp.footprint(m2, y)["total"].values
        np.testing.assert_allclose(batch["footprint"].sel(scenario=name, category=cat).values,
                                   ref, rtol=1e-9)


def test_scenario_files(tmp_path, small_mrio, demo):
    led, conc = demo
    ds = run_scenarios(small_mrio, D(small_mrio, led, conc), read_scenarios(demo_paths()["scenarios"]), stressors="CO2e")
    assert ds.sizes["scenario"] == 4
    assert float(ds["change"].sel(scenario="gloves from Europe").sum()) != 0.0
    p = tmp_path / "sc.csv"
    p.write_text("scenario,category,lever,value,sector,to_sector,region,stressor\n"
                 "a,Examination gloves,origin,,,,DE,\n"
                 "b,Food - meat,volume,-0.5,,,,\n")
    lev = read_scenarios(p)
    assert list(lev["scenario"]) == ["a", "b"]
    ds2 = run_scenarios(small_mrio, D(small_mrio, led, conc), read_scenarios(p), stressors="CO2e")
    np.testing.assert_allclose(
        ds2["footprint"].sel(scenario="a", category="Examination gloves").values,
        ds["footprint"].sel(scenario="gloves from Europe", category="Examination gloves").values,
        rtol=1e-10)
    np.testing.assert_allclose(ds2["footprint"].sel(scenario="b", category="Food - meat").values,
                               0.5 * ds["baseline"].sel(category="Food - meat").values, rtol=1e-10)
    p.write_text("scenario,category,lever,value,sector,to_sector,region,stressor\n"
                 "a,Examination gloves,teleport,,,,DE,\n"
                 "b,Nope,volume,x,,,,\n"
                 "c,Food - meat,substitute,,Not a sector,,,\n"
                 "d,Food - meat,origin,,,,Atlantis,\n"
                 "e,Food - meat,origin,1.5,,,DE,\n")
    with pytest.raises(LedgerError) as ei:
        run_scenarios(small_mrio, D(small_mrio, led, conc), read_scenarios(p))
    probs = ei.value.problems
    for frag in ("row 2, field 'lever'", "row 3, field 'category'", "row 3, field 'value'",
                 "row 4, field 'sector'", "row 4, field 'to_sector'", "row 5, field 'region'",
                 "row 6, field 'value'"):
        assert any(frag in m for m in probs), (frag, probs)
