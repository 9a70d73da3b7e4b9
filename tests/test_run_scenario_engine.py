"""`spendprint run --scenarios` with levers on A and S goes through the scenario engine; its
numbers equal a dense solve of the changed system."""

from __future__ import annotations

import numpy as np
import xarray as xr

import spendprint as sp
from spendprint.cli import main
from spendprint.procurement import Prices, ProcurementDemand

LEVERS = """scenario,lever,value,category,region,sector,from_region,from_sector,to_region,to_sector,stressor
Cleaner chemicals in China,technology,-0.2,,CN,Chemicals nec,,,,,
Cleaner chemicals in China,stressor,-0.3,,CN,Chemicals nec,,,,,CO2
Less medicines,volume,-0.1,Pharmaceuticals - prescription medicines,,,,,,,
"""


def test_run_with_technology_levers_equals_dense_solve(tmp_path):
    mrio = sp.synthetic_mrio(regions=8, sectors=60, seed=1)
    store = tmp_path / "m.zarr"
    mrio.to_zarr(store)
    f = tmp_path / "tech.csv"
    f.write_text(LEVERS)
    out = tmp_path / "o"
    assert main(["run", "--mrio", str(store), "--scenarios", str(f), "--out", str(out),
                 "--spa-top", "0"]) == 0
    ledger, conc = sp.demo_inputs()
    demand = ProcurementDemand.build(mrio, ledger, conc, Prices.default(), "NO")
    Y = demand.Y
    A = mrio.dense_A().copy()
    S = mrio.S_all(["CO2"]).copy()
    j = list(mrio.regions).index("CN") * len(mrio.sectors) + list(mrio.sectors).index(
        "Chemicals nec")
    A[:, j] *= 0.8
    S[0, j] *= 0.7
    ref = S @ np.linalg.solve(np.eye(mrio.n) - A, Y)  # (1, m)
    base = mrio.S_all(["CO2"]) @ np.linalg.solve(np.eye(mrio.n) - mrio.dense_A(), Y)
    with xr.open_zarr(out / "results.zarr", consolidated=None) as ds:
        cats = list(ds["category"].values)
        got = ds["scenario_footprint"].sel(scenario="Cleaner chemicals in China",
                                           stressor="CO2").values
        less = ds["scenario_footprint"].sel(scenario="Less medicines", stressor="CO2").values
    order = [list(demand.categories).index(c) for c in cats]
    np.testing.assert_allclose(got, ref[0, order], rtol=1e-9)
    k = cats.index("Pharmaceuticals - prescription medicines")
    want = base[0, order].copy()
    want[k] *= 0.9
    np.testing.assert_allclose(less, want, rtol=1e-9)
    assert (got <= base[0, order] * (1 + 1e-12)).all() and (got < base[0, order]).any()
