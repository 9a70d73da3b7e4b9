"""One ledger through several models: compare_models, the chart and `spendprint compare`."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from spendprint.core.synthetic import synthetic_mrio
from spendprint.errors import LabelMismatchError
from spendprint.procurement import Ledger, demo_inputs, procurement_demand, procurement_footprint
from spendprint.procurement.bridges import load_bridge, project_concordance
from spendprint.procurement.compare import TOTAL, buyer_region_for, compare_models, spread_chart


def relabel(m, system, regions):
    labels = list(dict.fromkeys(load_bridge("exiobase3_pxp", system).frame["dst_code"]))
    assert len(labels) == len(m.sectors)
    return dataclasses.replace(m, sectors=tuple(labels), regions=tuple(regions),
                               meta={**m.meta, "source": f"synthetic-{system}"})


@pytest.fixture(scope="module")
def world():
    exio = synthetic_mrio(regions=4, sectors=60, seed=1)                      # CN IN NO WA
    figaro = relabel(synthetic_mrio(regions=4, sectors=64, seed=2), "figaro64",
                     ("CHN", "IND", "NOR", "ROW"))
    icio = relabel(synthetic_mrio(regions=4, sectors=45, seed=3), "icio45",
                   ("CHN", "IND", "SWE", "ROW"))                              # no Norway
    ledger, conc = demo_inputs()
    f = ledger.frame if hasattr(ledger, "frame") else None
    assert f is not None
    keep = f[f["supplier_country"].fillna("").astype(str).str.strip() == ""]
    cols = [c for c in ("category", "amount", "currency", "year", "supplier_country",
                        "price_basis") if c in keep.columns]
    ledger = Ledger.from_frame(keep[cols].reset_index(drop=True), source="ledger.csv")
    return {"EXIOBASE": exio, "FIGARO": figaro, "ICIO": icio}, ledger, conc


def test_numbers_equal_separate_runs(world):
    models, ledger, conc = world
    t = compare_models(models, ledger, conc, stressor="CO2e", buyer_region="NO")
    assert t.attrs["systems"] == {"EXIOBASE": "exiobase3_pxp", "FIGARO": "figaro64",
                                  "ICIO": "icio45"}
    assert t.attrs["projected"] == ["FIGARO", "ICIO"]
    assert t.attrs["regions"]["FIGARO"] == {"region": "NOR", "how": "ISO3"}
    assert t.attrs["regions"]["ICIO"]["region"] == "ROW"
    assert any("ICIO" in n and "ROW" in n for n in t.attrs["notes"])
    regions = {"EXIOBASE": "NO", "FIGARO": "NOR", "ICIO": "ROW"}
    for name, m in models.items():
        c = conc if name == "EXIOBASE" else project_concordance(conc, "exiobase3_pxp", m)
        ds = procurement_footprint(m, ledger, c, buyer_region=regions[name], stressors=["CO2e"],
                                   by_origin=False)
        ref = ds["footprint"].sel(stressor="CO2e").to_series()
        got = t[name].drop(TOTAL)
        np.testing.assert_allclose(got.to_numpy(), ref.reindex(got.index).to_numpy(), rtol=1e-12)
        assert t.loc[TOTAL, name] == pytest.approx(ref.sum(), rel=1e-12)
    # the spread columns from first principles
    v = t[list(models)].to_numpy()
    np.testing.assert_allclose(t["min"], v.min(1))
    np.testing.assert_allclose(t["max"], v.max(1))
    np.testing.assert_allclose(t["cv"], v.std(1) / v.mean(1))
    assert (t["cv"].drop(TOTAL) > 0).any()


def test_supplier_countries_mapped_per_model(world):
    """The full demo ledger (suppliers in China, India, Germany, USA...) on ISO3-labelled models:
    countries go to the model's own labels, those it lacks to its rest of the world."""
    models, _, conc = world
    ledger, _ = demo_inputs()
    t = compare_models(models, ledger, conc)
    assert any("ICIO" in n and "'Germany'" in n and "ROW" in n for n in t.attrs["notes"])
    m = models["ICIO"]
    lf = ledger.frame.copy()
    by_hand = {"China": "CHN", "India": "IND", "": ""}
    lf["supplier_country"] = pd.Categorical([by_hand.get(v, "ROW")
                                             for v in lf["supplier_country"]])
    ref = procurement_footprint(m, Ledger(frame=lf, source="x"),
                                project_concordance(conc, "exiobase3_pxp", m),
                                buyer_region="ROW", stressors=["CO2e"], by_origin=False)
    r = ref["footprint"].sel(stressor="CO2e").to_series()
    np.testing.assert_allclose(t["ICIO"].drop(TOTAL).to_numpy(), r.reindex(t.index.drop(TOTAL)),
                               rtol=1e-12)


def test_one_model_against_dense_solve(world):
    """The FIGARO-labelled model's footprint = S (I - A)^-1 y with numpy's dense solve."""
    models, ledger, conc = world
    m = models["FIGARO"]
    t = compare_models({"FIGARO": m}, ledger, conc, concordance_system="EXIOBASE")
    pc = project_concordance(conc, "exiobase3_pxp", m)
    y = procurement_demand(m, ledger, pc, buyer_region="NOR")
    Y = y.transpose("region", "sector", "category").values.reshape(m.n, -1)
    X = np.linalg.solve(np.eye(m.n) - np.asarray(m.A), Y)
    E = m.S_all(["CO2e"]) @ X
    np.testing.assert_allclose(t["FIGARO"].drop(TOTAL).to_numpy(), E[0], rtol=1e-9)
    assert np.isnan(t["cv"]).sum() == 0 and (t["cv"] == 0).all()


def test_buyer_region_mapping():
    assert buyer_region_for("no", ["NO", "SE"]) == ("NO", "exact")
    assert buyer_region_for("NO", ["NOR", "SWE"]) == ("NOR", "ISO3")
    assert buyer_region_for("Norway", ["NO", "SE"]) == ("NO", "ISO2")
    assert buyer_region_for("NO", ["US", "RoW"]) == ("RoW", "rest of world")
    assert buyer_region_for("NO", ["US"]) == ("US", "only region")
    with pytest.raises(LabelMismatchError, match="US, CA"):
        buyer_region_for("NO", ["US", "CA"])


def test_missing_stressor_named(world):
    models, ledger, conc = world
    with pytest.raises(LabelMismatchError, match="'GHG'"):
        compare_models(models, ledger, conc, stressor="GHG")


def test_chart_is_svg(world):
    models, ledger, conc = world
    t = compare_models(models, ledger, conc)
    svg = spread_chart(t, top=10)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    top = t.drop(TOTAL).sort_values("mean", ascending=False).index[0]
    assert str(top)[:20] in svg


def test_cli_compare(world, tmp_path):
    from spendprint.cli import main

    models, ledger, conc = world
    paths = []
    for name, m in models.items():
        p = tmp_path / name
        m.to_zarr(p)
        paths += ["--mrio", f"{name}={p}"]
    lp, cp = tmp_path / "ledger.csv", tmp_path / "conc.csv"
    ledger.frame.to_csv(lp, index=False)
    conc.frame.to_csv(cp, index=False)
    out = tmp_path / "out"
    assert main(["compare", *paths, "--ledger", str(lp), "--concordance", str(cp),
                 "--out", str(out)]) == 0
    csv = pd.read_csv(out / "compare.csv", index_col=0)
    pq = pd.read_parquet(out / "compare.parquet")
    ref = compare_models(models, ledger, conc)
    np.testing.assert_allclose(csv["ICIO"].to_numpy(), ref["ICIO"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(pq["cv"].to_numpy(), ref["cv"].to_numpy(), rtol=1e-12)
    assert (out / "compare.svg").read_text().count("<svg") == 1
    assert not list(out.glob(".*tmp"))
    # bad input: a missing model file exits 2
    assert main(["compare", "--mrio", str(tmp_path / "nope"), "--ledger", str(lp),
                 "--concordance", str(cp), "--out", str(out)]) == 2
