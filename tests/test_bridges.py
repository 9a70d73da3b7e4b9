"""Classification bridges and concordances projected from EXIOBASE 3 pxp onto other systems."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from spendprint.core.model import MRIO
from spendprint.core.synthetic import synthetic_mrio
from spendprint.errors import LedgerError, ValidationError
from spendprint.procurement import Concordance, demo_inputs
from spendprint.procurement.bridges import (
    BRIDGE_FILES,
    HUB,
    canonical_system,
    classification_of,
    load_bridge,
    project_concordance,
)


def _products() -> pd.DataFrame:
    from importlib import resources

    p = resources.files("spendprint.data").joinpath("exio3_pxp_products.tsv")
    return pd.read_csv(str(p), sep="\t", dtype=str)


def model_with(labels: list[str], regions=("NO", "DE"), seed: int = 1) -> MRIO:
    """A tiny productive model (diagonal A) whose products carry `labels`."""
    rng = np.random.default_rng(seed)
    P, R = len(labels), len(regions)
    n = P * R
    return MRIO(A=np.eye(n) * 0.1, x=rng.uniform(1.0, 100.0, n), S=np.ones((1, n)),
                regions=tuple(regions), sectors=tuple(labels), stressors=("CO2e",),
                stressor_units=("kg",), meta={"source": "test"})


def target_model(system: str, **kw) -> MRIO:
    f = load_bridge(HUB, system).frame
    return model_with(list(dict.fromkeys(f["dst_code"])), **kw)


@pytest.mark.parametrize("system", sorted(BRIDGE_FILES))
def test_every_exiobase_product_has_a_target(system):
    b = load_bridge("EXIOBASE", system)
    codes = set(_products()["code"])
    assert set(b.frame["src_code"]) == codes  # all 200 products, none lost
    assert (b.frame["dst_code"] != "").all()


def test_target_counts():
    n = {s: load_bridge(HUB, s).frame["dst_code"].nunique() for s in BRIDGE_FILES}
    assert n["figaro64"] == 64
    assert n["icio45"] == 45
    assert n["gloria120"] == 119      # USEPA's table lists 119 of GLORIA's 120 sectors
    assert n["useeio_bea"] > 350


@pytest.mark.parametrize("system", sorted(BRIDGE_FILES))
def test_demo_concordance_projects(system):
    _, conc = demo_inputs()
    dst = target_model(system)
    out = project_concordance(conc, HUB, dst)
    sums = out.frame.groupby("category")["weight"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-12)
    assert out.categories == conc.categories                  # no category lost, same order
    assert set(out.frame["sector"]) <= set(dst.sectors)
    assert out.problems(dst) == []


def test_split_by_target_output():
    """`Chemicals nec` -> FIGARO C20 and C21, split by their output summed over regions."""
    dst = target_model("figaro64", seed=7)
    conc = Concordance.from_frame(pd.DataFrame({
        "category": ["drugs", "drugs", "steel"],
        "sector": ["Chemicals nec", "Wheat", "Basic iron and steel and of ferro-alloys and "
                                             "first products thereof"],
        "weight": [0.75, 0.25, 1.0]}))
    out = project_concordance(conc, HUB, dst).frame.set_index(["category", "sector"])["weight"]
    P = len(dst.sectors)
    xbar = dict(zip(dst.sectors, dst.x.reshape(-1, P).sum(axis=0), strict=True))
    c20, c21 = xbar["C20"], xbar["C21"]
    assert out[("drugs", "C20")] == pytest.approx(0.75 * c20 / (c20 + c21), rel=1e-14)
    assert out[("drugs", "C21")] == pytest.approx(0.75 * c21 / (c20 + c21), rel=1e-14)
    assert out[("drugs", "A01")] == pytest.approx(0.25, rel=1e-14)
    assert out[("steel", "C24")] == 1.0


def test_cpa_prefix_labels_and_names_resolve():
    f = load_bridge(HUB, "figaro64").frame
    dst = model_with(["CPA_" + c for c in dict.fromkeys(f["dst_code"])])
    _, conc = demo_inputs()
    out = project_concordance(conc, HUB, dst)
    assert all(s.startswith("CPA_") for s in out.frame["sector"])


def test_missing_target_is_named():
    dst = model_with(["C20", "C21", "A01"])
    conc = Concordance.from_frame(pd.DataFrame({
        "category": ["a", "b"], "sector": ["Chemicals nec", "Air transport services (62)"],
        "weight": [1.0, 1.0]}))
    with pytest.raises(LedgerError) as e:
        project_concordance(conc, HUB, dst)
    msg = str(e.value)
    assert "Air transport services (62)" in msg and "row 3" in msg and "H51" in msg
    assert "Chemicals nec" not in msg


def test_unknown_source_product_is_named():
    conc = Concordance.from_frame(pd.DataFrame({"category": ["a"], "sector": ["Moon rock"],
                                                "weight": [1.0]}))
    with pytest.raises(LedgerError, match="Moon rock"):
        project_concordance(conc, HUB, target_model("icio45"))


def test_reverse_and_composed_bridges():
    rev = load_bridge("FIGARO", "EXIOBASE")
    assert rev.src_system == "figaro64" and rev.dst_system == HUB
    assert {c for c, _ in rev.targets("C21")} == {"p24.d"}
    comp = load_bridge("GLORIA", "ICIO")
    assert "composed" in comp.note
    assert ("C21", ) == tuple(sorted({c for c, _ in comp.targets(
        "Pharmaceuticals and medicinal products")} & {"C21"}))
    # ICIO -> EXIOBASE: a synthetic EXIOBASE model receives the weight by its own output
    exio = synthetic_mrio(regions=3, sectors=200, seed=2)
    conc = Concordance.from_frame(pd.DataFrame({"category": ["x"], "sector": ["C21"],
                                                "weight": [1.0]}))
    out = project_concordance(conc, "icio45", exio)
    assert list(out.frame["sector"]) == ["Chemicals nec"]


def test_classification_detection():
    assert classification_of(synthetic_mrio(regions=2, sectors=30, seed=0)) == HUB
    assert classification_of(target_model("icio45")) == "icio45"
    assert classification_of(target_model("useeio_bea")) == "useeio_bea"
    m = dataclasses.replace(model_with(["a", "b"]), meta={"classification": "GLORIA"})
    assert classification_of(m) == "gloria120"
    with pytest.raises(ValidationError, match="classification"):
        classification_of(model_with(["zz1", "zz2"]))
    assert canonical_system("OECD ICIO") == "icio45"
    with pytest.raises(ValidationError, match="known"):
        canonical_system("wiod")


def test_icio_editions_labels():
    """ICIO 2021 numeric codes resolve; a 2023 split (C24A/C24B) receives both parts."""
    from spendprint.procurement.bridges import _ICIO_ALIASES

    f = load_bridge(HUB, "icio45").frame
    codes = list(dict.fromkeys(f["dst_code"]))
    numeric = [_ICIO_ALIASES[c][0] for c in codes]
    m2021 = model_with(numeric)
    assert classification_of(m2021) == "icio45"
    _, conc = demo_inputs()
    out = project_concordance(conc, HUB, m2021)
    assert set(out.frame["sector"]) <= set(numeric)
    split = [c for c in codes if c != "C24"] + ["C24A", "C24B"]
    m2023 = model_with(split, seed=4)
    steel = Concordance.from_frame(pd.DataFrame({"category": ["s"], "sector": [
        "Basic iron and steel and of ferro-alloys and first products thereof"], "weight": [1.0]}))
    got = project_concordance(steel, HUB, m2023).frame.set_index("sector")["weight"]
    P = len(split)
    xbar = dict(zip(split, m2023.x.reshape(-1, P).sum(axis=0), strict=True))
    assert set(got.index) == {"C24A", "C24B"}
    assert got["C24A"] == pytest.approx(xbar["C24A"] / (xbar["C24A"] + xbar["C24B"]), rel=1e-14)


def test_concordance_project_method_is_the_projection():
    conc = demo_inputs()[1]
    dst = target_model("figaro64")
    a = conc.project(HUB, dst).frame
    b = project_concordance(conc, HUB, dst).frame
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
