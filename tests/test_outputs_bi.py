"""Tables for BI tools: the tidy categories table with units and region names, report.xlsx, and a
results.zarr whose variables all carry units and long names and that opens without warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from spendprint.jobs import main_job as mj
from spendprint.jobs.outputs import LEAD
from spendprint.procurement import demo_paths
from spendprint.report import format as fm


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, mj.RunResult]:
    out = tmp_path_factory.mktemp("bi") / "out"
    res = mj.run_job(mj.RunConfig(out=str(out), samples=8, workers=1, spa_top=0,
                                  synthetic={"regions": 8, "sectors": 60, "seed": 1}))
    return out, res


def test_categories_table_is_tidy_with_units(run):
    out, res = run
    table = pd.read_parquet(out / "categories.parquet")
    csv = pd.read_csv(out / "categories.csv", keep_default_na=False)
    assert list(table.columns[:len(LEAD)]) == LEAD and list(csv.columns) == list(table.columns)
    # one row per (category, stressor), the unit of each stressor next to it
    assert not table.duplicated(["category", "stressor"]).any()
    ds = res.dataset
    units = dict(zip(ds["stressor"].values, ds["unit"].values, strict=True))
    assert (table["unit"] == table["stressor"].map(units)).all()
    assert (table["spend_model_unit"] == ds.attrs["money_unit"]).all()
    assert (table["intensity_unit"] == table["unit"] + " per " + ds.attrs["money_unit"]).all()
    # spend in the ledger currency: the demo ledger's amounts by category (all in NOK)
    ledger = pd.read_csv(demo_paths()["ledger"])
    assert set(ledger["currency"]) == {"NOK"} and (table["spend_ledger_unit"] == "NOK").all()
    # the ledger's amounts are booked at purchasers' prices; spend_ledger is the same money
    booked = ledger.groupby("category")["amount"].sum()
    got = table.query("stressor == 'CO2e'").set_index("category")["spend_ledger"]
    np.testing.assert_allclose(got.reindex(booked.index).to_numpy(), booked.to_numpy(), rtol=1e-9)
    # intensity = footprint / spend_model
    np.testing.assert_allclose(table["intensity"], table["footprint"] / table["spend_model"],
                               rtol=1e-9)
    # a region code always comes with its name
    for col in ("lever_region", "best_origin_region"):
        named = table[table[col] != ""]
        assert len(named) and (named[f"{col}_name"] == named[col].map(fm.region_name)).all()
        assert (table.loc[table[col] == "", f"{col}_name"] == "").all()
    assert "enough_samples" in table.columns and "converged" not in table.columns
    # the CSV holds the same numbers
    np.testing.assert_allclose(csv["footprint"], table["footprint"], rtol=1e-12)


def test_results_zarr_units_long_names_and_no_warnings(run):
    out, _ = run
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_zarr(out / "results.zarr")   # consolidated: no fallback warning
        ds.load()
    missing = [n for n in ds.variables if not ds[n].attrs.get("units")
               or not ds[n].attrs.get("long_name")]
    assert not missing, missing
    assert ds["spend"].attrs["units"] == ds.attrs["money_unit"]
    assert ds["spend_original"].attrs["units"] == "NOK"
    assert ds["share"].attrs["units"] == "1" and ds["labour_hours"].attrs["units"] == "h"
    fp = ds["footprint"].attrs
    assert fp["units"].startswith("per stressor") and "CO2e: kg CO2e" in fp["units_by_stressor"]
    assert "lever_savings" in ds and "best_origin_region_main" in ds
    assert "mc_enough_samples" in ds


def test_report_xlsx_sheets_and_numbers(run):
    from openpyxl import load_workbook

    out, res = run
    wb = load_workbook(out / "report.xlsx", read_only=True)
    assert wb.sheetnames == ["Summary", "Categories", "Origins", "Savings", "Scenarios",
                             "Due diligence", "Method"]
    table = pd.read_parquet(out / "categories.parquet")
    rows = list(wb["Categories"].values)
    assert list(rows[0]) == list(table.columns) and len(rows) == len(table) + 1
    col = rows[0].index("footprint")
    np.testing.assert_allclose([r[col] for r in rows[1:]], table["footprint"], rtol=1e-12)
    summary = {r[0]: r for r in wb["Summary"].values}
    total = float(res.dataset["footprint"].sel(stressor="CO2e").sum())
    assert summary["total footprint"][2] == "kg CO2e"
    np.testing.assert_allclose(summary["total footprint"][1], total, rtol=1e-12)
    assert summary["total footprint"][3] == fm.quantity(total, "kg CO2e")
    origins = pd.DataFrame(list(wb["Origins"].values)[1:],
                           columns=list(wb["Origins"].values)[0])
    by = origins.groupby("category")["footprint"].sum()
    want = res.dataset["by_origin_region"].sel(stressor="CO2e").sum("origin_region").to_series()
    np.testing.assert_allclose(by.reindex(want.index.astype(str)).to_numpy(), want.to_numpy(),
                               rtol=1e-9)
    method = {r[0]: r[1] for r in list(wb["Method"].values)[1:]}
    assert method["inputs.ledger.sha256"] == res.provenance["inputs"]["ledger"]["sha256"]
