"""Real EXIOBASE labels map onto spendprint's standard indicators, so `spendprint run` works on them."""

from __future__ import annotations

import numpy as np
import pandas as pd

import spendprint as sp
from spendprint.cli import main
from spendprint.io.exiobase import standard_indicators, write_exiobase3_like

GHG = "GHG emissions AR5 (GWP100) | GWP100 (IPCC, 2010)"
MALE = "Employment hours: Low-skilled male"
FEMALE = "Employment hours: Low-skilled female"


def exiobase_labelled(seed: int = 1) -> sp.MRIO:
    """The 8 x 60 synthetic world with its indicators named and scaled as in EXIOBASE 3.8."""
    m = sp.synthetic_mrio(regions=8, sectors=60, seed=seed)
    co2e = m.S_all(["CO2e"])[0]
    hours = m.S[3]
    S = np.vstack([m.S[:3], co2e, 0.4 * hours / 1e6, 0.6 * hours / 1e6])  # M.hr per M EUR
    return m.replace(S=S, stressors=("CO2 - combustion - air", "CH4 - combustion - air",
                                     "N2O - combustion - air", GHG, MALE, FEMALE),
                     stressor_units=("kg", "kg", "kg", "kg CO2 eq.", "M.hr", "M.hr"),
                     C=None, impacts=(), impact_units=(), F_Y=None)


def test_standard_indicator_rows():
    C, impacts, units = standard_indicators(("a", GHG, MALE, FEMALE), ("kg", "kg CO2 eq.", "M.hr", "M.hr"))
    assert impacts == ("CO2e", "Employment hours") and units == ("kg CO2e", "h")
    np.testing.assert_array_equal(C, [[0, 1, 0, 0], [0, 0, 1e6, 1e6]])
    assert standard_indicators(("CO2",), ("kg",)) == (None, (), ())


def test_exiobase_file_gets_co2e_and_hours_and_runs(tmp_path):
    ref = sp.synthetic_mrio(regions=8, sectors=60, seed=1)
    path = tmp_path / "IOT_2022_pxp.zip"
    write_exiobase3_like(exiobase_labelled(), path, zip=True)
    m = sp.read_exiobase3(path)
    assert m.impacts == ("CO2e", "Employment hours")
    got = sp.multipliers(m, ["CO2e", "Employment hours"]).values
    want = sp.multipliers(ref, ["CO2e", "Employment hours"]).values
    np.testing.assert_allclose(got, want, rtol=1e-9)
    # the main job runs on the EXIOBASE-layout file with the default indicator names
    out = tmp_path / "out"
    assert main(["run", "--mrio", str(path), "--out", str(out), "--spa-top", "1"]) == 0
    table = pd.read_parquet(out / "categories.parquet")
    assert {"CO2e", "Employment hours"} <= set(table["stressor"])
    assert table["risk_hours"].notna().all() and (table["risk_hours"] > 0).any()
