"""``report.xlsx``: the report's tables as an Excel workbook (openpyxl), one sheet per part.

Sheets: ``Summary`` (key figures with units), ``Categories`` (the tidy table of
``categories.csv``), ``Origins`` (footprint by category and region where it is emitted),
``Savings`` (realistic lever and theoretical bound per category), ``Scenarios`` (totals and
per-category changes), ``Due diligence`` (labour-risk hotspots of flagged categories) and
``Method`` (model, prices, inputs with sha256, versions from ``run.json``). Every sheet is one
header row and plain rows (a filter on the header, the header row frozen); numbers are numbers
with a display format, units are in their own columns or in the header.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import format as fm

SHEETS = ("Summary", "Categories", "Origins", "Savings", "Scenarios", "Due diligence", "Method")


def _sheet(wb, name: str, frame: pd.DataFrame) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(name)
    ws.append([str(c) for c in frame.columns])
    for row in frame.itertuples(index=False):
        vals = []
        for v in row:
            if isinstance(v, (np.bool_, bool)):
                vals.append(bool(v))
            elif isinstance(v, (np.integer,)):
                vals.append(int(v))
            elif isinstance(v, (float, np.floating)):
                vals.append(None if not np.isfinite(v) else float(v))
            elif v is None or (isinstance(v, float) and np.isnan(v)):
                vals.append(None)
            else:
                vals.append(v if isinstance(v, (int, str)) else str(v))
        ws.append(vals)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="F4F6F8")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for j, col in enumerate(frame.columns, start=1):
        letter = get_column_letter(j)
        series = frame[col]
        if pd.api.types.is_float_dtype(series):
            share = "share" in str(col) or str(col).startswith("p_top")
            for cell in ws[letter][1:]:
                cell.number_format = "0.0%" if share else "#,##0.###"
        width = max([len(str(col))] + [len(str(v)) for v in series.head(200)]) + 2
        ws.column_dimensions[letter].width = min(max(width, 10), 60)
    ws.freeze_panes = "A2"
    if len(frame.columns):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"


def summary_frame(o: Any) -> pd.DataFrame:
    """Key figures of the run: figure, value, unit, and the same as text for people."""
    ds, sav, risk, stressor = o.footprints, o.savings, o.risk, o.stressor
    unit = str(ds["unit"].sel(stressor=stressor).values)
    money = str(ds.attrs.get("money_unit", "M EUR"))
    fp = ds["footprint"].sel(stressor=stressor)
    total = float(fp.sum())
    rows: list[tuple[str, Any, str]] = [
        ("title", o.title or "Procurement footprint report", ""),
        ("organisation", o.organisation or "", ""),
        ("indicator", stressor, ""),
        ("buyer region", fm.region_label(o.buyer_region), ""),
        ("categories", int(ds.sizes["category"]), "1"),
        ("total footprint", total, unit),
        ("total spend (model prices)", float(ds["spend"].sum()), money),
    ]
    if "spend_original" in ds:
        rows.append(("total spend (as booked)", float(ds["spend_original"].sum()),
                     str(ds.attrs.get("original_currency", ""))))
    if getattr(o, "years", None) is not None and "footprint" in o.years:
        per = o.years["footprint"].sel(stressor=stressor).sum("category").to_series()
        rows += [(f"footprint {int(y)}", float(v), unit) for y, v in per.items()]
    if "lever_savings" in sav:
        rows.append(("realistic lever: savings", float(sav["lever_savings"].sel(
            stressor=stressor).sum()), unit))
    rows.append(("theoretical bound: savings", float(sav["savings"].sel(stressor=stressor).sum()),
                 unit))
    rows.append(("categories flagged for due diligence", int(risk["flag"].values.sum()), "1"))
    mc = o.monte_carlo
    if mc is not None and "footprint" in mc and "sample" in mc["footprint"].dims:
        tot = mc["footprint"].sel(stressor=stressor).sum("category").values
        rows += [("total footprint, 5th percentile", float(np.quantile(tot, 0.05)), unit),
                 ("total footprint, 95th percentile", float(np.quantile(tot, 0.95)), unit),
                 ("Monte Carlo samples", int(mc.attrs.get("samples", len(tot))), "1")]
    frame = pd.DataFrame(rows, columns=["figure", "value", "unit"])
    frame["as text"] = [fm.quantity(v, u) if isinstance(v, float) and u == unit
                        else fm.money(v, u) if isinstance(v, float) and u
                        else str(v) for v, u in zip(frame["value"], frame["unit"], strict=True)]
    frame["value"] = frame["value"].astype(object)
    return frame


def _origins(o: Any) -> pd.DataFrame:
    ds = o.footprints
    if "by_origin_region" not in ds:
        return pd.DataFrame(columns=["category", "origin_region", "region_name", "footprint"])
    d = ds["by_origin_region"].sel(stressor=o.stressor).to_dataframe(name="footprint")
    d = d.reset_index()[["category", "origin_region", "footprint"]]
    d = d[d["footprint"] != 0]
    d.insert(2, "region_name", d["origin_region"].map(fm.region_name))
    d["unit"] = str(ds["unit"].sel(stressor=o.stressor).values)
    return d.sort_values(["category", "footprint"], ascending=[True, False])


def _savings(o: Any) -> pd.DataFrame:
    sav, s = o.savings, o.stressor
    d = pd.DataFrame({"category": sav["category"].values.astype(str),
                      "footprint_today": sav["baseline"].sel(stressor=s).values})
    if "lever_savings" in sav:
        d["lever_savings"] = sav["lever_savings"].sel(stressor=s).values
        d["lever_savings_share"] = sav["lever_savings_share"].sel(stressor=s).values
        d["lever_region"] = sav["lever_region_main"].values.astype(str)
        d["lever_region_name"] = [fm.region_name(r) if r else "" for r in d["lever_region"]]
    d["bound_savings"] = sav["savings"].sel(stressor=s).values
    d["bound_savings_share"] = sav["savings_share"].sel(stressor=s).values
    if "best_region_main" in sav:
        d["bound_region"] = sav["best_region_main"].values.astype(str)
        d["bound_region_name"] = [fm.region_name(r) if r else "" for r in d["bound_region"]]
    d["unit"] = str(o.footprints["unit"].sel(stressor=s).values)
    return d.sort_values("bound_savings", ascending=False)


def _scenarios(o: Any) -> pd.DataFrame:
    scen = o.scenarios
    if scen is None or "change" not in scen:
        return pd.DataFrame(columns=["scenario", "category", "footprint", "change", "unit"])
    d = scen[["footprint", "change"]].sel(stressor=o.stressor).to_dataframe().reset_index()
    d = d[["scenario", "category", "footprint", "change"]]
    base = o.footprints["footprint"].sel(stressor=o.stressor).to_series()
    base.index = base.index.astype(str)
    d["change_share"] = d["change"] / d["category"].astype(str).map(base).replace(0, np.nan)
    d["unit"] = str(o.footprints["unit"].sel(stressor=o.stressor).values)
    return d


def _due_diligence(o: Any) -> pd.DataFrame:
    risk = o.risk
    rows = []
    if "hotspot_region" in risk:
        flags = risk["flag"].to_series()
        for c in flags[flags.astype(bool)].index:
            for h in risk["hotspot"].values:
                hr = float(risk["hotspot_risk_hours"].sel(category=c, hotspot=h))
                if not hr > 0:
                    continue
                reg = str(risk["hotspot_region"].sel(category=c, hotspot=h).values)
                rows.append({"category": str(c), "hotspot": int(h),
                             "product": str(risk["hotspot_sector"].sel(category=c,
                                                                       hotspot=h).values),
                             "country": reg, "country_name": fm.region_name(reg),
                             "risk_weighted_hours": hr,
                             "risk_score": float(risk["hotspot_score"].sel(category=c,
                                                                           hotspot=h))})
    return pd.DataFrame(rows, columns=["category", "hotspot", "product", "country",
                                       "country_name", "risk_weighted_hours", "risk_score"])


def _flatten(prefix: str, v: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), x, out)
    else:
        out.append((prefix, v if isinstance(v, str) else json.dumps(v, default=str)))


def _method(o: Any) -> pd.DataFrame:
    rows: list[tuple[str, str]] = []
    prov = dict(o.provenance or {})
    _flatten("model", {k: v for k, v in (prov.get("model") or {}).items() if k != "solve_plan"},
             rows)
    _flatten("inputs", prov.get("inputs") or {}, rows)
    _flatten("settings", prov.get("settings") or {}, rows)
    _flatten("versions", prov.get("versions") or {}, rows)
    for k, v in o.footprints.attrs.items():
        rows.append((f"results.{k}", str(v)))
    return pd.DataFrame(rows, columns=["key", "value"])


def write_workbook(path: str | Path, o: Any, categories: pd.DataFrame) -> None:
    """Write ``report.xlsx`` for the run ``o`` (`spendprint.jobs.outputs.RunOutputs`)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    _sheet(wb, "Summary", summary_frame(o))
    _sheet(wb, "Categories", categories)
    _sheet(wb, "Origins", _origins(o))
    _sheet(wb, "Savings", _savings(o))
    _sheet(wb, "Scenarios", _scenarios(o))
    _sheet(wb, "Due diligence", _due_diligence(o))
    _sheet(wb, "Method", _method(o))
    wb.save(str(path))
