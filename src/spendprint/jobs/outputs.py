"""The output set of a run: the tidy category table, the merged results dataset, the report.

`write_outputs` writes every output of `spendprint.jobs.main_job` into the staging folder of an
`spendprint.io.output_folder.OutputSet` (committed as one set by the caller after ``run.json``):
``results.zarr``, ``categories.parquet``, ``categories.csv``, ``paths.csv`` and ``report.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..core.model import MRIO
from ..io.output_folder import OutputSet
from ..procurement.demand import ProcurementDemand
from ..report.html import build_report


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
    table = category_table(o.footprints, o.extra)
    full = merge_results(o.footprints, o.savings, o.risk, o.scenarios, o.monte_carlo)
    clean_for_zarr(full).to_zarr(outset.path("results.zarr"), mode="w", consolidated=False)
    table.to_parquet(outset.path("categories.parquet"), index=False)
    table.to_csv(outset.path("categories.csv"), index=False)
    if o.paths is not None:
        o.paths.to_csv(outset.path("paths.csv"), index=False)
    html = build_report(o.mrio, o.footprints, o.savings, o.risk, o.scenarios, o.monte_carlo, o.paths,
                        stressor=o.stressor, buyer_region=o.buyer_region, timings=o.timings)
    outset.path("report.html").write_bytes(html.encode("utf-8"))
    return table, full


def category_table(ds: xr.Dataset, extra: dict[str, xr.DataArray]) -> pd.DataFrame:
    """One row per (category, stressor) with the per-category results as columns."""
    cols = ["spend", "spend_original", "footprint", "direct", "supply_chain", "intensity", "share",
            "cumulative_share", "rank"]
    parts = {c: ds[c] for c in cols if c in ds}
    parts.update(extra)
    frame = xr.Dataset(parts).to_dataframe()
    frame = frame.drop(columns=[c for c in frame.columns if c == "unit"], errors="ignore")
    frame = frame.reset_index()
    order = ["category", "stressor"] + [c for c in frame.columns if c not in ("category", "stressor")]
    frame = frame[order]
    frame.insert(2, "unit", frame["stressor"].map(dict(zip(ds["stressor"].values, ds["unit"].values,
                                                           strict=True))).astype(str))
    return frame


def merge_results(ds, sav, risk, scen, mc) -> xr.Dataset:
    full = ds.copy()
    # the same names as the columns of categories.csv: one name, one quantity
    for name, var in (("best_origin_footprint", "best_origin"), ("best_origin_savings", "savings"),
                      ("best_origin_savings_share", "savings_share"),
                      ("best_origin_region", "best_region"),
                      ("best_origin_moved_spend", "moved_spend")):
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
