"""The output set of a run: the tidy category table, the merged results dataset, the report.

`write_outputs` writes every output of `spendprint.jobs.main_job` into the staging folder of an
`spendprint.io.output_folder.OutputSet` (committed as one set by the caller after ``run.json``):
``results.zarr`` (consolidated; every variable with ``units`` and ``long_name``),
``categories.parquet`` and ``categories.csv`` (the tidy layout of `category_table`),
``paths.csv``, ``concordance_used.csv``, ``report.xlsx`` and ``report.html``. The layout of
every file is documented in ``docs/outputs.md``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..core.model import MRIO
from ..io.output_folder import OutputSet
from ..procurement.demand import ProcurementDemand
from ..report.format import region_name
from ..report.html import build_report
from ..report.xlsx import write_workbook


@dataclass
class RunOutputs:
    """Everything a run computed, as handed to `write_outputs`."""

    mrio: MRIO
    demand: ProcurementDemand
    footprints: xr.Dataset
    savings: xr.Dataset
    risk: xr.Dataset
    scenarios: xr.Dataset | None
    monte_carlo: xr.Dataset | None
    paths: pd.DataFrame | None
    extra: dict[str, xr.DataArray]
    stressor: str
    buyer_region: str
    timings: dict[str, float] = field(default_factory=dict)
    #: ``run.json`` as known before writing (settings, inputs with sha256, model, versions)
    provenance: dict[str, Any] = field(default_factory=dict)
    #: per-year results of a ledger spanning several years: dims (year, stressor, category),
    #: variables ``footprint`` (stressor unit), ``spend`` (model money unit, deflated to the base
    #: year), ``spend_nominal`` (model money unit, prices of the ledger year), ``spend_original``
    #: (ledger currency); ``None`` for a one-year ledger
    years: xr.Dataset | None = None
    #: year-over-year decomposition (`spendprint.procurement.lmdi`): one row per (category,
    #: stressor, year_from, year_to) with ``change = volume + price + mix + intensity``
    yoy: pd.DataFrame | None = None
    #: the concordance the run used: category, sector, weight, origin_region, source
    #: (``user file`` or ``CPV <code>``); written to ``concordance_used.csv``
    concordance_used: pd.DataFrame | None = None
    #: report heading: ``--title`` and ``--organisation``
    title: str | None = None
    organisation: str | None = None


def write_outputs(outset: OutputSet, o: RunOutputs) -> tuple[pd.DataFrame, xr.Dataset]:
    """Write the output files into ``outset``'s staging folder; returns (category table, dataset)."""
    table = category_table(o.footprints, o.extra, o.savings)
    full = merge_results(o.footprints, o.savings, o.risk, o.scenarios, o.monte_carlo)
    if o.years is not None:
        for name, var in o.years.data_vars.items():
            full[f"year_{name}"] = var
    full = annotate(full)
    with warnings.catch_warnings():
        # Zarr 3 stores consolidated metadata as an extension; xr.open_zarr reads it silently
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        clean_for_zarr(full).to_zarr(outset.path("results.zarr"), mode="w", consolidated=True)
    period = (o.provenance.get("ledger") or {}).get("years") or []
    if period:  # the years the whole-period rows cover: nothing summed without saying so
        table["period"] = (f"{period[0]}-{period[-1]}" if len(period) > 1
                           else str(period[0]))
    table.to_parquet(outset.path("categories.parquet"), index=False)
    table.to_csv(outset.path("categories.csv"), index=False)
    if o.years is not None:
        by_year = year_table(o.years)
        by_year.to_parquet(outset.path("categories_by_year.parquet"), index=False)
        by_year.to_csv(outset.path("categories_by_year.csv"), index=False)
    if o.paths is not None:
        o.paths.to_csv(outset.path("paths.csv"), index=False)
    if o.concordance_used is not None:
        o.concordance_used.to_csv(outset.path("concordance_used.csv"), index=False)
    html = build_report(o)
    outset.path("report.html").write_bytes(html.encode("utf-8"))
    write_workbook(outset.path("report.xlsx"), o, table)
    return table, full


def year_table(years: xr.Dataset) -> pd.DataFrame:
    """One row per (category, stressor, year): ``categories_by_year.parquet``/``.csv``.

    Columns: category, stressor, unit, year, footprint (stressor unit), spend_model and
    spend_model_nominal (model money unit, deflated to the base year and at the prices of the
    year), spend_model_unit, spend_ledger (ledger currency, as booked net of credit notes and
    VAT), spend_ledger_unit.
    """
    fp = years["footprint"].transpose("year", "stressor", "category").to_dataframe(
        name="footprint")["footprint"].reset_index()
    units = dict(zip(years["stressor"].values, years["unit"].values, strict=True))
    spend = pd.DataFrame({
        "year": np.repeat(years["year"].values, years.sizes["category"]),
        "category": np.tile(years["category"].values, years.sizes["year"]),
        "spend_model": years["spend"].transpose("year", "category").values.ravel(),
        "spend_model_nominal": years["spend_nominal"].transpose("year", "category").values.ravel(),
        "spend_ledger": years["spend_original"].transpose("year", "category").values.ravel(),
    })
    out = fp.merge(spend, on=["year", "category"], how="left")
    out.insert(2, "unit", out["stressor"].map(units).astype(str))
    out["spend_model_unit"] = str(years.attrs.get("money_unit", ""))
    out["spend_ledger_unit"] = str(years.attrs.get("original_currency", ""))
    cols = ["category", "stressor", "unit", "year", "footprint", "spend_model",
            "spend_model_nominal", "spend_model_unit", "spend_ledger", "spend_ledger_unit"]
    return out[cols].sort_values(["year", "stressor", "category"], kind="stable",
                                 ignore_index=True)


#: leading columns of categories.csv, in this order; the rest follow as computed
LEAD = ["category", "stressor", "unit", "footprint", "direct", "supply_chain", "share",
        "cumulative_share", "rank", "intensity", "intensity_unit", "spend_model",
        "spend_model_unit", "spend_ledger", "spend_ledger_unit"]


def category_table(ds: xr.Dataset, extra: dict[str, xr.DataArray],
                   sav: xr.Dataset | None = None) -> pd.DataFrame:
    """One row per (category, stressor): the tidy table of ``categories.parquet``/``.csv``.

    Every amount has its unit in a column next to it: ``unit`` (the stressor's unit, of
    ``footprint``, ``direct``, ``supply_chain``, the savings and Monte Carlo columns),
    ``intensity_unit``, ``spend_model_unit`` (the model's money unit, e.g. ``M EUR``, at the
    model's prices and base year) and ``spend_ledger_unit`` (the ledger currency as booked).
    Region codes come with ``*_region_name`` columns (CLDR names). See ``docs/outputs.md``.
    """
    cols = ["spend", "spend_original", "footprint", "direct", "supply_chain", "intensity", "share",
            "cumulative_share", "rank"]
    parts = {c: ds[c] for c in cols if c in ds}
    parts.update(extra)
    if sav is not None:
        for name, var in (("lever_footprint", "lever_footprint"),
                          ("lever_savings", "lever_savings"),
                          ("lever_savings_share", "lever_savings_share"),
                          ("lever_moved_spend", "lever_moved_spend"),
                          ("lever_region", "lever_region_main"),
                          ("best_origin_moved_spend", "moved_spend"),
                          ("best_origin_region", "best_region_main")):
            if var in sav and name not in parts:
                parts[name] = sav[var]
    frame = xr.Dataset(parts).to_dataframe()
    frame = frame.drop(columns=[c for c in frame.columns if c == "unit"], errors="ignore")
    frame = frame.reset_index()
    units = dict(zip(ds["stressor"].values, ds["unit"].values, strict=True))
    money = str(ds.attrs.get("money_unit", ds["spend"].attrs.get("units", "")))
    frame.insert(2, "unit", frame["stressor"].map(units).astype(str))
    frame = frame.rename(columns={"spend": "spend_model", "spend_original": "spend_ledger"})
    frame["spend_model_unit"] = money
    if "spend_ledger" in frame:
        frame["spend_ledger_unit"] = str(ds.attrs.get("original_currency",
                                                      ds["spend_original"].attrs.get("units", "")))
    if "intensity" in frame:
        frame["intensity_unit"] = frame["unit"] + " per " + money
    for col in ("lever_region", "best_origin_region"):
        if col in frame:
            frame[col] = frame[col].astype(str).replace({"nan": ""})
            frame[f"{col}_name"] = [region_name(c) if c else "" for c in frame[col]]
    for col in frame.columns:
        if frame[col].dtype == bool:
            frame[col] = frame[col].astype(bool)
    order = [c for c in LEAD if c in frame] + [c for c in frame.columns if c not in LEAD]
    return frame[order]


def merge_results(ds, sav, risk, scen, mc) -> xr.Dataset:
    """The footprints with savings, labour risk, scenarios and Monte Carlo summaries as one set."""
    full = ds.copy()
    # the same names as the columns of categories.csv: one name, one quantity
    for name, var in (("best_origin_footprint", "best_origin"), ("best_origin_savings", "savings"),
                      ("best_origin_savings_share", "savings_share"),
                      ("best_origin_region", "best_region"),
                      ("best_origin_moved_spend", "moved_spend"),
                      ("best_origin_region_main", "best_region_main"),
                      ("lever_footprint", "lever_footprint"), ("lever_savings", "lever_savings"),
                      ("lever_savings_share", "lever_savings_share"),
                      ("lever_region", "lever_region"), ("lever_moved_spend", "lever_moved_spend"),
                      ("lever_region_main", "lever_region_main")):
        if var in sav:
            full[name] = sav[var]
    for name, var in risk.data_vars.items():
        full[f"labour_{name}"] = var
    if scen is not None:
        for name in ("footprint", "change", "total"):
            if name in scen:
                full[f"scenario_{name}"] = scen[name]
    if mc is not None:
        for name, var in mc.data_vars.items():
            if "sample" not in var.dims and "." not in name:
                full[f"mc_{name}"] = var.reindex(stressor=ds["stressor"].values)
    return full


#: long names of the variables of results.zarr (``mc_``, ``labour_``, ``scenario_``, ``year_``
#: prefixes are added to the name of the part)
LONG_NAMES = {
    "spend": "spend at model prices (base year, model price basis)",
    "spend_purchaser": "spend at purchasers' prices in the model's money unit",
    "spend_original": "spend as booked in the ledger currency",
    "spend_nominal": "spend at prices of the ledger year in the model's money unit",
    "spend_share": "share of total spend", "taxes": "product taxes removed",
    "margins": "trade and transport margins", "footprint": "footprint",
    "direct": "footprint emitted by the direct suppliers (tier 1)",
    "supply_chain": "footprint emitted upstream of the direct suppliers",
    "intensity": "footprint per unit of spend", "share": "share of the total footprint",
    "cumulative_share": "cumulative share of the total footprint, largest category first",
    "rank": "rank of the category by footprint (1 = largest)",
    "by_origin_region": "footprint by region where it is emitted",
    "best_origin_footprint": "footprint if every product came from its cleanest current supplier",
    "best_origin_savings": "theoretical bound of savings from switching origin",
    "best_origin_savings_share": "theoretical bound of savings as a share of the footprint",
    "best_origin_region": "cleanest current supplier region of each product",
    "best_origin_moved_spend": "spend moved to another region (theoretical bound)",
    "best_origin_region_main": "region receiving most of the moved spend (theoretical bound)",
    "lever_footprint": "footprint with the realistic lever (established suppliers only)",
    "lever_savings": "savings of the realistic lever",
    "lever_savings_share": "savings of the realistic lever as a share of the footprint",
    "lever_region": "lowest-intensity established supplier region of each product",
    "lever_moved_spend": "spend moved to another region (realistic lever)",
    "lever_region_main": "region receiving most of the moved spend (realistic lever)",
    "hours": "embodied work hours", "risk_hours": "risk-weighted embodied work hours",
    "mean_risk": "hours-weighted mean risk score", "high_risk_hours": "hours in high-risk cells",
    "high_risk_share": "share of hours in high-risk cells",
    "flag": "flagged for due diligence (1 = yes)",
    "risk_hours_by_origin_region": "risk-weighted hours by region where they are worked",
    "hotspot_region": "region of the hotspot", "hotspot_sector": "product (sector) of the hotspot",
    "hotspot_risk_hours": "risk-weighted hours of the hotspot",
    "hotspot_score": "risk score of the hotspot", "change": "change against the baseline",
    "change_share": "change as a share of the baseline", "total": "total footprint",
    "baseline": "baseline footprint", "baseline_total": "baseline total footprint",
    "mean": "Monte Carlo mean", "sd": "Monte Carlo standard deviation",
    "percentiles": "Monte Carlo percentiles", "p_top5": "probability of ranking among the 5 largest",
    "p_top10": "probability of ranking among the 10 largest",
    "rank_lo": "5th percentile of the rank", "rank_hi": "95th percentile of the rank",
    "mcse": "Monte Carlo standard error of the mean",
    "rel_mcse": "Monte Carlo standard error relative to the mean",
    "enough_samples": "sample count enough for the precision target (1 = yes)",
    "samples_needed": "samples needed for the precision target",
    "deterministic": "deterministic footprint", "p2_5": "2.5th percentile",
    "p5": "5th percentile", "p50": "median", "p95": "95th percentile",
    "p97_5": "97.5th percentile", "iterations": "solver iterations per sample",
    "residual": "final relative residual per sample", "fallback": "solver fallback (1 = yes)",
    "flagged": "sample flagged (1 = yes)",
}
_DIMENSIONLESS = ("share", "score", "risk", "p_top5", "p_top10", "rel_mcse", "flag",
                  "enough_samples", "fallback", "flagged", "residual", "rank")
_STRESSOR_UNIT = ("footprint", "direct", "supply_chain", "by_origin_region", "savings", "change",
                  "total", "baseline", "mean", "sd", "percentiles", "mcse", "deterministic",
                  "lever_footprint", "lever_savings", "best_origin_footprint",
                  "best_origin_savings")


def _units_for(name: str, part: str, var: xr.DataArray, ds: xr.Dataset, money: str) -> str:
    stressor_units = ({str(s): str(u) for s, u in zip(ds["stressor"].values, ds["unit"].values,
                                                      strict=True)}
                      if "stressor" in ds.coords and "unit" in ds.coords else {})
    if (part in _STRESSOR_UNIT or part == "intensity" or part.startswith("p")
            and part[1:2].isdigit()) and "stressor" in var.dims and stressor_units:
        distinct = set(stressor_units.values())
        base = (next(iter(distinct)) if len(distinct) == 1
                else "per stressor (coordinate unit)")
        return base + (f" per {money}" if part == "intensity" else "")
    units = var.attrs.get("units")
    if units and "coord unit" not in str(units):
        return str(units)
    if var.dtype.kind in "USOT":
        return "none (label)"
    if part in ("hours", "high_risk_hours"):
        return "h"
    if "risk_hours" in part:
        return "risk-weighted h"
    if "moved_spend" in part or part.startswith("spend") or part in ("taxes", "margins"):
        return money
    if part == "samples_needed":
        return "samples"
    return "1"


def annotate(ds: xr.Dataset) -> xr.Dataset:
    """Give every variable and coordinate ``units`` and ``long_name`` (CF attributes).

    Variables over stressors whose units differ get ``units = "per stressor (coordinate
    unit)"`` and ``units_by_stressor`` (``"CO2: kg; ...; CO2e: kg CO2e"``).
    """
    out = ds.copy()
    money = str(ds.attrs.get("money_unit", "M EUR"))
    stressor_units = ""
    if "stressor" in ds.coords and "unit" in ds.coords:
        stressor_units = "; ".join(f"{s}: {u}" for s, u in zip(ds["stressor"].values,
                                                               ds["unit"].values, strict=True))
    for name in list(out.variables):
        var = out[name]
        part = name
        for prefix in ("mc_", "labour_", "scenario_", "year_"):
            if name.startswith(prefix) and name[len(prefix):] in LONG_NAMES:
                part = name[len(prefix):]
                break
        # dataset-level attrs copied onto a variable upstream are noise there (money_unit on a
        # footprint); the dataset keeps them
        attrs = {k: v for k, v in var.attrs.items()
                 if not (k in ds.attrs and k != "units" and str(ds.attrs[k]) == str(v))}
        if name in out.coords:
            attrs.setdefault("units", "none (label)" if var.dtype.kind in "USO" else "1")
            attrs.setdefault("long_name", {"category": "spend category of the ledger",
                                           "stressor": "indicator", "unit": "unit of the indicator",
                                           "origin_region": "region where the impact happens",
                                           "sector": "product (sector) of the model",
                                           "scenario": "scenario", "hotspot": "hotspot number",
                                           "quantile": "quantile", "year": "ledger year",
                                           "sample": "Monte Carlo sample"}.get(name, name))
        else:
            attrs["units"] = _units_for(name, part, var, ds, money)
            if part in ("rank_lo", "rank_hi"):
                attrs["units"] = "1"
            if "per stressor" in attrs["units"]:
                attrs["units_by_stressor"] = stressor_units
            long = LONG_NAMES.get(part, part.replace("_", " "))
            if name.startswith("scenario_"):
                long = "scenario: " + long
            elif name.startswith("year_"):
                long = "per year: " + long
            elif name.startswith("mc_") and part not in ("mean", "sd"):
                long = "Monte Carlo: " + long
            attrs["long_name"] = long
        out[name].attrs = attrs
    return out


def clean_for_zarr(ds: xr.Dataset) -> xr.Dataset:
    """Object/unicode arrays as plain str, attrs JSON-safe: what Zarr v3 stores reliably."""
    out = ds.copy()
    for name in list(out.variables):
        v = out[name]
        if v.dtype == object or v.dtype.kind == "U":
            out[name] = v.astype(str).astype(object)
        if v.dtype == bool:
            out[name] = v.astype(np.int8)
    out.attrs = {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in out.attrs.items()}
    for name in out.variables:
        out[name].attrs = {k: (v if isinstance(v, (int, float, str)) else str(v))
                           for k, v in out[name].attrs.items()}
    return out
