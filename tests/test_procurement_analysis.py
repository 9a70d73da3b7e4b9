"""Category footprints: known answers from a dense inverse, additivity, invariances, origins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spendprint as sp
from spendprint.errors import LabelMismatchError, LedgerError
from spendprint.procurement import Concordance, Ledger, hotspots, origin_shares


@pytest.fixture(scope="module")
def dense_M(small_mrio):
    """Multipliers from an explicit dense inverse (independent of the solver)."""
    n = small_mrio.n
    L = np.linalg.inv(np.eye(n) - small_mrio.dense_A())
    return small_mrio.S_all() @ L


@pytest.fixture(scope="module")
def demo():
    return sp.demo_inputs()


def frame(rows):
    return pd.DataFrame(rows, columns=["category", "amount", "currency", "year",
                                       "supplier_country", "price_basis"])


def test_known_answer_one_category_one_product_one_origin(small_mrio, dense_M):
    led = Ledger.from_frame(frame([["X", 3.0e6, "EUR", 2022, "", "basic"]]))
    conc = Concordance.from_frame(pd.DataFrame({"category": ["X"], "sector": ["Chemicals nec"],
                                                "weight": [1.0], "origin_region": ["DE"]}))
    ds = sp.procurement_footprint(small_mrio, led, conc)
    j = small_mrio.regions.index("DE") * len(small_mrio.sectors) + small_mrio.sectors.index(
        "Chemicals nec")
    np.testing.assert_allclose(ds["footprint"].sel(category="X").values, 3.0 * dense_M[:, j],
                               rtol=1e-9)
    np.testing.assert_allclose(ds["spend"].values, [3.0])
    np.testing.assert_allclose(ds["intensity"].sel(category="X").values, dense_M[:, j], rtol=1e-9)
    np.testing.assert_allclose(ds["direct"].sel(category="X").values,
                               3.0 * small_mrio.S_all()[:, j], rtol=1e-12)
    assert list(ds["stressor"].values) == list(small_mrio.indicators)
    assert ds.attrs["original_currency"] == "EUR"


def test_demo_dataset_layout(small_mrio, demo):
    led, conc = demo
    ds = sp.procurement_footprint(small_mrio, led, conc, stressors=["CO2e", "Employment hours"])
    assert ds.sizes["category"] == 80
    for v in ("spend", "spend_original", "footprint", "intensity", "share", "cumulative_share",
              "rank", "direct", "supply_chain", "by_origin_region", "spend_share"):
        assert v in ds, v
    assert ds["by_origin_region"].dims == ("category", "stressor", "origin_region")
    assert list(ds["unit"].values) == ["kg CO2e", "h"]
    np.testing.assert_allclose(ds["by_origin_region"].sum("origin_region"), ds["footprint"],
                               rtol=1e-9)
    np.testing.assert_allclose(ds["direct"] + ds["supply_chain"], ds["footprint"], rtol=1e-12)
    np.testing.assert_allclose(ds["share"].sum("category"), 1.0)
    # Pareto: cumulative share ordered by rank, ending at 1
    for s in ds["stressor"].values:
        d = ds.sel(stressor=s)
        order = np.argsort(d["rank"].values)
        cum = d["cumulative_share"].values[order]
        assert np.all(np.diff(cum) >= -1e-15) and cum[-1] == pytest.approx(1.0)
        np.testing.assert_allclose(cum, np.cumsum(d["share"].values[order]))
        assert np.all(np.diff(d["footprint"].values[order]) <= 0)
    assert ds.attrs["original_currency"] == "NOK"
    np.testing.assert_allclose(float(ds["spend_original"].sum()), led.frame["amount"].sum())
    top = hotspots(ds, "CO2e", top=10)
    assert list(top["rank"]) == list(range(1, 11))
    assert top["footprint"].is_monotonic_decreasing
    assert {"category", "share", "cumulative_share", "intensity", "top_origin_region"} <= set(top)
    with pytest.raises(LabelMismatchError):
        hotspots(ds, "CH4")


def test_additivity(small_mrio, demo):
    led, conc = demo
    y = sp.procurement_demand(small_mrio, led, conc)
    ds = sp.procurement_footprint(small_mrio, led, conc, by_origin=False)
    whole = sp.footprint(small_mrio, y.sum("category"))
    np.testing.assert_allclose(ds["footprint"].sum("category").values, whole["total"].values,
                               rtol=1e-9)


def test_splitting_a_row_changes_nothing(small_mrio, demo):
    _, conc = demo
    rows = [["Examination gloves", 9.0e7, "NOK", 2023, "Malaysia", "purchaser"],
            ["Electricity", 5.0e8, "NOK", 2022, "Norway", "purchaser"],
            ["Consultancy services", 2.0e8, "NOK", 2024, "", "basic"]]
    a = sp.procurement_footprint(small_mrio, Ledger.from_frame(frame(rows)), conc)
    split = [rows[0][:1] + [3.0e7] + rows[0][2:], rows[0][:1] + [6.0e7] + rows[0][2:],
             rows[2], rows[1]]
    b = sp.procurement_footprint(small_mrio, Ledger.from_frame(frame(split)), conc)
    for v in ("footprint", "spend", "by_origin_region", "spend_original"):
        np.testing.assert_allclose(a[v].values, b[v].values, rtol=1e-12)


def test_origin_shares_follow_final_demand(small_mrio, demo):
    _, conc = demo
    led = Ledger.from_frame(frame([["Food - dairy products", 1.0e6, "EUR", 2022, "", "basic"]]))
    y = sp.procurement_demand(small_mrio, led, conc, buyer_region="NO")
    col = y.sel(sector="Dairy products", category="Food - dairy products").values
    R, P, f = len(small_mrio.regions), len(small_mrio.sectors), len(small_mrio.fd_categories)
    b = small_mrio.regions.index("NO")
    keep = [i for i, c in enumerate(small_mrio.fd_categories)
            if not any(w in c.lower() for w in ("inventor", "valuables", "export"))]
    Yb = small_mrio.Y[:, [b * f + i for i in keep]].sum(axis=1).reshape(R, P)
    p = small_mrio.sectors.index("Dairy products")
    np.testing.assert_allclose(col / col.sum(), Yb[:, p] / Yb[:, p].sum(), rtol=1e-12)
    np.testing.assert_allclose(origin_shares(small_mrio, "NO").sum(axis=0), 1.0)
    np.testing.assert_allclose(col.sum(), 1.0)


def test_supplier_country_overrides_origin(small_mrio, demo):
    _, conc = demo
    for country in ("Malaysia", "MYS", "MY", "WA"):
        led = Ledger.from_frame(frame([["Examination gloves", 1.0e6, "EUR", 2022, country,
                                        "basic"]]))
        y = sp.procurement_demand(small_mrio, led, conc)
        prod = y.sel(sector="Rubber and plastic products (25)", category="Examination gloves")
        assert float(prod.sel(region="WA")) == pytest.approx(1.0)
        assert float(prod.sum()) == pytest.approx(1.0)


def test_concordance_origin_region_and_ledger_precedence(small_mrio):
    conc = Concordance.from_frame(pd.DataFrame({
        "category": ["X", "X"], "sector": ["Chemicals nec", "Textiles (17)"],
        "weight": [0.25, 0.75], "origin_region": ["Germany", ""]}))
    led = Ledger.from_frame(frame([["X", 4.0e6, "EUR", 2022, "", "basic"]]))
    y = sp.procurement_demand(small_mrio, led, conc).sel(category="X")
    assert float(y.sel(region="DE", sector="Chemicals nec")) == pytest.approx(1.0)
    assert float(y.sel(sector="Textiles (17)").sum()) == pytest.approx(3.0)
    led2 = Ledger.from_frame(frame([["X", 4.0e6, "EUR", 2022, "CHN", "basic"]]))
    y2 = sp.procurement_demand(small_mrio, led2, conc).sel(category="X")
    assert float(y2.sel(region="CN").sum()) == pytest.approx(4.0)  # ledger wins over concordance


def test_concordance_validation_lists_all(tmp_path, small_mrio):
    p = tmp_path / "conc.csv"
    p.write_text("category,sector,weight,origin_region\n"
                 "A,Chemicals nec,0.5,\n"          # rows 2-3: weights sum to 0.8
                 "A,Textiles (17),0.3,\n"
                 "B,Not a product,1.0,\n"          # row 4: unknown sector
                 "C,Chemicals nec,x,\n"            # row 5: bad weight
                 ",Chemicals nec,1.0,\n")          # row 6: empty category
    with pytest.raises(LedgerError) as ei:
        Concordance.read(p)
    probs = ei.value.problems
    assert any("row 5, field 'weight'" in m for m in probs)
    assert any("row 6, field 'category'" in m for m in probs)
    p.write_text("category,sector,weight,origin_region\n"
                 "A,Chemicals nec,0.5,\nA,Textiles (17),0.3,\n"
                 "B,Not a product,1.0,\nC,Chemicals nec,1.0,Atlantis\n")
    with pytest.raises(LedgerError) as ei:
        Concordance.read(p)
    assert ei.value.problems == [
        "conc.csv rows 2, 3, field 'weight': weights of category 'A' sum to 0.8, not 1"]
    p.write_text("category,sector,weight,origin_region\n"
                 "A,Chemicals nec,0.5,\nA,Textiles (17),0.5000000001,\n"
                 "B,Not a product,1.0,\nC,Chemicals nec,1.0,Atlantis\n")
    conc = Concordance.read(p)                      # within 1e-6
    probs = conc.problems(small_mrio)
    assert probs == ["conc.csv row 4, field 'sector': 'Not a product' is not a product of the MRIO",
                     "conc.csv row 5, field 'origin_region': 'Atlantis' maps to no region of "
                     "the MRIO"]


def test_unknown_buyer_region(small_mrio, demo):
    led, conc = demo
    with pytest.raises(LabelMismatchError):
        sp.procurement_demand(small_mrio, led, conc, buyer_region="FR")


def test_multi_currency_spend_original(small_mrio, demo):
    _, conc = demo
    led = Ledger.from_frame(frame([["Electricity", 1.0e7, "NOK", 2022, "", "basic"],
                                   ["Electricity", 1.0e6, "EUR", 2022, "", "basic"]]))
    ds = sp.procurement_footprint(small_mrio, led, conc, stressors="CO2e")
    assert ds.attrs["original_currency"] == "EUR"
    np.testing.assert_allclose(float(ds["spend_original"].sum()), 1e7 / 10.1026 + 1e6)


@pytest.mark.parametrize("size", [(8, 60, 1), (10, 80, 3)])
def test_demo_runs_on_small_synthetic_worlds(size, demo):
    led, conc = demo
    m = sp.synthetic_mrio(regions=size[0], sectors=size[1], seed=size[2])
    assert set(conc.sectors) <= set(m.sectors)
    ds = sp.procurement_footprint(m, led, conc, stressors="CO2e")
    assert np.all(ds["footprint"].values > 0)
    assert ds.attrs["note"].startswith("SYNTHETIC")


def test_demo_concordance_names_are_exiobase(demo):
    from spendprint.core.synthetic import exio3_products

    _, conc = demo
    assert set(conc.sectors) <= set(exio3_products()["name"])
    assert len(conc.categories) == 80
    led, _ = demo
    assert set(led.categories) == set(conc.categories)
    assert led.currencies == ["NOK"]


def test_concordance_xlsx_and_parquet(tmp_path, demo):
    _, conc = demo
    df = conc.frame.reset_index(drop=True)
    df.to_excel(tmp_path / "c.xlsx", index=False)
    df.to_parquet(tmp_path / "c.parquet", index=False)
    for p in (tmp_path / "c.xlsx", tmp_path / "c.parquet"):
        c2 = Concordance.read(p)
        assert c2.categories == conc.categories
        np.testing.assert_allclose(c2.frame["weight"].values, conc.frame["weight"].values)


@settings(max_examples=8, deadline=None)
@given(scale=st.floats(0.01, 100.0), amounts=st.lists(st.floats(0.0, 1e9), min_size=3,
                                                      max_size=3))
def test_linear_in_amounts(small_mrio, scale, amounts):
    _, conc = sp.demo_inputs()
    cats = ["Examination gloves", "Electricity", "Food - meat"]
    rows = [[c, a, "NOK", 2023, "", "purchaser"] for c, a in zip(cats, amounts, strict=True)]
    a = sp.procurement_footprint(small_mrio, Ledger.from_frame(frame(rows)), conc,
                                 stressors="CO2e", by_origin=False)
    rows2 = [[c, x * scale, *rest] for c, x, *rest in rows]
    b = sp.procurement_footprint(small_mrio, Ledger.from_frame(frame(rows2)), conc,
                                 stressors="CO2e", by_origin=False)
    np.testing.assert_allclose(b["footprint"].values, scale * a["footprint"].values,
                               rtol=1e-9, atol=1e-9)


def test_by_origin_route_matches_engine_and_adjoint_route(small_mrio, demo):
    led, conc = demo
    ref = sp.procurement_footprint(small_mrio, led, conc)
    y = sp.procurement_demand(small_mrio, led, conc)
    eng = sp.footprint(small_mrio, y, by_origin=True)["by_origin"].sum("origin_sector")
    np.testing.assert_allclose(
        ref["by_origin_region"].values,
        eng.transpose("category", "stressor", "origin_region").values, rtol=1e-10)
    # forward route S (L y) with origins against the adjoint route M y without
    adj = sp.procurement_footprint(small_mrio, led, conc, by_origin=False)
    for v in adj.data_vars:
        np.testing.assert_allclose(adj[v].values, ref[v].values, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ref["by_origin_region"].sum("origin_region").values,
                               ref["footprint"].values, rtol=1e-10)
    assert list(adj["unit"].values) == list(ref["unit"].values)
