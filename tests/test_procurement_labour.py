"""Labour-risk screen against a hand computation; risk-table matching rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import spendprint as sp
from spendprint.errors import LabelMismatchError, LedgerError
from spendprint.procurement import labour_risk, risk_intensity, risk_scores

RUBBER = "Rubber and plastic products (25)"
TABLE = pd.DataFrame({"region": ["*", "WA", "*", "WA", "Malaysia", "India"],
                      "sector": ["*", "*", RUBBER, RUBBER, "Textiles (17)", "*"],
                      "risk": [0.1, 0.5, 0.3, 0.9, 0.8, 0.6]})


def test_matching_specificity(small_mrio):
    rho = risk_scores(small_mrio, TABLE)
    R, P = len(small_mrio.regions), len(small_mrio.sectors)
    assert rho.shape == (R, P)
    r = small_mrio.regions.index
    p = small_mrio.sectors.index
    assert rho[r("WA"), p(RUBBER)] == 0.9            # (region, sector)
    assert rho[r("WA"), p("Textiles (17)")] == 0.8   # country name mapped to its region
    assert rho[r("WA"), p("Chemicals nec")] == 0.5   # (region, *)
    assert rho[r("DE"), p(RUBBER)] == 0.3            # (*, sector)
    assert rho[r("DE"), p("Chemicals nec")] == 0.1   # (*, *)
    assert rho[r("IN"), p(RUBBER)] == 0.6            # (region, *) beats (*, sector)


def test_labour_risk_by_hand(small_mrio):
    led, conc = sp.demo_inputs()
    y = sp.procurement_demand(small_mrio, led, conc)
    ds = labour_risk(small_mrio, y, TABLE, threshold=0.7, flag_share=0.2, top=3)
    n = small_mrio.n
    L = np.linalg.inv(np.eye(n) - small_mrio.dense_A())
    Y = y.transpose("region", "sector", "category").values.reshape(n, -1)
    X = L @ Y
    h = small_mrio.S[small_mrio.stressors.index("Employment hours")]
    rho = risk_scores(small_mrio, TABLE).ravel()
    np.testing.assert_allclose(ds["hours"].values, h @ X, rtol=1e-9)
    np.testing.assert_allclose(ds["risk_hours"].values, (rho * h) @ X, rtol=1e-9)
    np.testing.assert_allclose(risk_intensity(small_mrio, TABLE), rho * h)
    high = ((rho >= 0.7) * h) @ X
    np.testing.assert_allclose(ds["high_risk_hours"].values, high, rtol=1e-9)
    np.testing.assert_array_equal(ds["flag"].values, high / (h @ X) >= 0.2)
    np.testing.assert_allclose(ds["risk_hours_by_origin_region"].sum("origin_region"),
                               ds["risk_hours"], rtol=1e-12)
    # hours of a category are the 'Employment hours' footprint
    fp = sp.footprint(small_mrio, y, "Employment hours")["total"].squeeze()
    np.testing.assert_allclose(ds["hours"].values, fp.values, rtol=1e-9)
    # gloves from Malaysia: the top hotspot is WA rubber, and it is flagged
    g = ds.sel(category="Examination gloves")
    assert str(g["hotspot_region"].values[0]) == "WA"
    assert str(g["hotspot_sector"].values[0]) == RUBBER
    assert bool(g["flag"])
    assert np.all(np.diff(g["hotspot_risk_hours"].values) <= 0)


def test_shipped_example_table(small_mrio):
    led, conc = sp.demo_inputs()
    y = sp.procurement_demand(small_mrio, led, conc)
    ds = labour_risk(small_mrio, y)  # the illustrative table
    flagged = set(ds["category"].values[ds["flag"].values])
    assert {"Examination gloves", "Surgical gloves", "Staff uniforms and workwear"} <= flagged
    assert "Software licences" not in flagged
    assert ((ds["mean_risk"] >= 0) & (ds["mean_risk"] <= 1)).all()


def test_errors(small_mrio):
    with pytest.raises(LedgerError):
        risk_scores(small_mrio, pd.DataFrame({"region": ["*"], "sector": ["*"], "risk": [1.5]}))
    with pytest.raises(LedgerError):
        risk_scores(small_mrio, pd.DataFrame({"region": ["*"], "risk": [0.5]}))
    with pytest.raises(LabelMismatchError):
        risk_intensity(small_mrio, TABLE, employment="Employment people")
