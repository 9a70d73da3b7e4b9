"""``spendprint scenarios run`` end to end on a small native store and the demo ledger."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import spendprint as sp
from spendprint.cli import main


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "small.zarr"
    sp.synthetic_mrio(regions=8, sectors=60, seed=1).to_zarr(path)
    return path


def test_run_writes_zarr_and_tidy_csv(store, tmp_path, capsys):
    m = sp.read_mrio(store)
    sec = m.sectors[3]
    f = tmp_path / "s.csv"
    pd.DataFrame([["cleaner", "technology", -0.3, "NO", sec, ""],
                  ["cleaner", "stressor", -0.5, "CN", "", "CO2"],
                  ["less", "volume", -0.1, "", "", ""]],
                 columns=["scenario", "lever", "value", "region", "sector", "stressor"]
                 ).to_csv(f, index=False)
    rc = main(["scenarios", "run", str(f), "--mrio", str(store), "--out", str(tmp_path / "o"),
               "--stressor", "CO2e"])
    assert rc == 0, capsys.readouterr()
    ds = xr.open_zarr(tmp_path / "o" / "scenarios.zarr").load()
    assert list(ds.scenario.values) == ["cleaner", "less"]
    tidy = pd.read_csv(tmp_path / "o" / "scenarios.csv")
    assert set(tidy.columns) >= {"scenario", "stressor", "category", "footprint", "baseline",
                                 "change"}
    assert len(tidy) == 2 * ds.sizes["category"]
    np.testing.assert_allclose(tidy["footprint"] - tidy["baseline"], tidy["change"], rtol=1e-9,
                               atol=1e-6 * tidy["baseline"].abs().max())
    less = tidy[tidy["scenario"] == "less"]
    np.testing.assert_allclose(less["footprint"], 0.9 * less["baseline"], rtol=1e-9)
    assert (tidy[tidy["scenario"] == "cleaner"]["change"] <= 1e-9).all()


def test_bad_file_exits_2_naming_the_row(store, tmp_path, capsys):
    f = tmp_path / "bad.csv"
    f.write_text("scenario,lever,value,region\n"
                 "a,volume,0.1,\n"
                 "a,technolgy,-0.2,NO\n")
    rc = main(["scenarios", "run", str(f), "--mrio", str(store), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "bad.csv row 3" in err and "technolgy" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "scenarios.zarr").exists()


def test_run_with_samples_writes_p_lower(store, tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text("scenarios:\n  - name: less\n    levers:\n      - {lever: volume, value: -0.2}\n")
    rc = main(["scenarios", "run", str(f), "--mrio", str(store), "--out", str(tmp_path / "o"),
               "--samples", "4", "--stressor", "CO2e"])
    assert rc == 0, capsys.readouterr()
    tidy = pd.read_csv(tmp_path / "o" / "scenarios.csv")
    assert (tidy["p_lower"] == 1.0).all()  # 20 % less of everything is lower in every sample
    ds = xr.open_zarr(tmp_path / "o" / "scenarios.zarr")
    assert ds.footprint.sizes["sample"] == 4
