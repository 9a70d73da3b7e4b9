"""Turn the results of a run into the HTML report (sections, charts, tables)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..core.model import MRIO
from . import charts as rp


def _per_category(ds: xr.Dataset, stressor: str) -> pd.DataFrame:
    d = ds.sel(stressor=stressor)
    return pd.DataFrame({
        "spend": d["spend"].values, "footprint": d["footprint"].values, "share": d["share"].values,
        "cumulative_share": d["cumulative_share"].values, "intensity": d["intensity"].values,
        "rank": d["rank"].values,
    }, index=[str(c) for c in d["category"].values])


def build_report(mrio: MRIO, ds: xr.Dataset, sav: xr.Dataset, risk: xr.Dataset,
                 scen: xr.Dataset | None, mc: xr.Dataset | None, paths: pd.DataFrame | None, *,
                 stressor: str, buyer_region: str, timings: dict[str, float]) -> str:
    """HTML text of the report (self-contained; charts are inline SVG)."""
    unit = str(ds["unit"].sel(stressor=stressor).values)
    money = str(ds.attrs.get("money_unit", mrio.meta.get("money_unit")))
    cat = _per_category(ds, stressor)
    total = float(cat["footprint"].sum())
    sections: list[tuple[str, str]] = []

    top = cat.sort_values("footprint", ascending=False).head(10)
    summary = (f"<p>{len(cat)} categories, total spend {cat['spend'].sum():,.2f} {html.escape(money)} "
               f"(basic prices, {mrio.meta.get('year')}), total footprint "
               f"{total / 1e6:,.2f} million {html.escape(unit)}. The ten largest categories carry "
               f"{100 * top['footprint'].sum() / total:.1f} % of it.</p>")
    tab = top.assign(share=100 * top["share"], cumulative_share=100 * top["cumulative_share"])
    tab = tab.rename(columns={"spend": f"spend [{money}]", "footprint": f"footprint [{unit}]",
                              "share": "share %", "cumulative_share": "cumulative %",
                              "intensity": f"intensity [{unit}/{money}]"})
    sections.append(("Hotspots", summary + rp.table_block(tab)))
    sections.append(("Pareto of footprints", rp.chart_block(
        rp.chart_pareto(cat, unit), "Largest categories and the cumulative share of the total.")))
    sections.append(("Spend share vs emission share", rp.chart_block(
        rp.chart_spend_vs_emission(cat),
        "Categories above the diagonal emit more than their share of spend.")))
    if "by_origin_region" in ds:
        names = list(top.index[:12])
        origin = ds["by_origin_region"].sel(stressor=stressor, category=names).to_pandas()
        sections.append(("Where the emissions happen", rp.chart_block(
            rp.chart_origin(origin, unit), "Footprint of the largest categories by region of emission.")))

    s = sav["savings"].sel(stressor=stressor).to_series()
    base = sav["baseline"].sel(stressor=stressor).to_series() if "baseline" in sav else cat["footprint"]
    savdf = pd.DataFrame({"baseline": base, "saving": s}).fillna(0.0)
    savdf.index = savdf.index.astype(str)
    best = savdf.sort_values("saving", ascending=False).head(10)
    sections.append(("Carbon-savings potential", rp.chart_block(
        rp.chart_savings(savdf, unit),
        "Footprint saved if every product came from the lowest-intensity region that already "
        "supplies it (above the minimum market share).")
        + rp.table_block(best.assign(saving_pct=100 * best["saving"] / best["baseline"]))))
    if scen is not None and "total" in scen:
        t = scen["total"].sel(stressor=stressor).to_series()
        b = float(scen["baseline_total"].sel(stressor=stressor)) if "baseline_total" in scen else total
        sdf = pd.DataFrame({f"total [{unit}]": t, "change %": 100 * (t - b) / b})
        sections.append(("Scenarios", rp.table_block(sdf, f"Baseline total {b:,.4g} {unit}.")))

    rh = risk["risk_hours_by_origin_region"].to_pandas()
    rh.index = rh.index.astype(str)
    rtop = risk["risk_hours"].to_series().sort_values(ascending=False).head(15).index.astype(str)
    regions = rh.loc[rtop].sum(axis=0).sort_values(ascending=False).index[:12]
    heat = rh.loc[rtop, regions]
    flags = risk["flag"].to_series()
    flagged = [str(c) for c in flags[flags.astype(bool)].index]
    hot = []
    if "hotspot_region" in risk:
        for c in flagged[:15]:
            hot.append({"category": c, "region": str(risk["hotspot_region"].sel(category=c).values[0]),
                        "sector": str(risk["hotspot_sector"].sel(category=c).values[0]),
                        "risk-weighted hours": float(risk["hotspot_risk_hours"].sel(category=c).values[0])})
    body = rp.chart_block(rp.chart_heatmap(heat, "Risk-weighted worker hours by origin region",
                                           "risk-weighted hours"),
                          "Employment hours embodied in each category, weighted by the country x "
                          "sector risk table (the shipped table is illustrative).")
    body += (f"<p>{len(flagged)} categories flagged for due diligence: "
             f"{html.escape(', '.join(flagged[:20]))}{' ...' if len(flagged) > 20 else ''}</p>")
    if hot:
        body += rp.table_block(pd.DataFrame(hot).set_index("category"), "Top origin hotspot per flagged category.")
    sections.append(("Labour-risk screen", body))

    if mc is not None:
        mcdf = pd.DataFrame({k: mc[k].sel(stressor=stressor).to_series()
                             for k in ("mean", "sd", "p2.5", "p5", "p50", "p95", "p97.5", "p_top5",
                                       "p_top10") if k in mc})
        mcdf.index = mcdf.index.astype(str)
        nsamp = int(mc.sizes.get("sample", mc.attrs.get("samples", 0)))
        flagged = int(mc.attrs.get("flagged_samples", 0) or 0)
        quality = (f"<p><strong>{flagged} of {nsamp} samples flagged</strong> "
                   f"({int(mc.attrs.get('fallbacks', 0) or 0)} solver fallbacks, "
                   f"{int(mc.attrs.get('nonfinite_samples', 0) or 0)} non-finite, "
                   f"{int(mc.attrs.get('negative_samples', 0) or 0)} negative footprints where "
                   f"the baseline is positive); they are kept in the statistics.</p>"
                   if flagged else f"<p>All {nsamp} samples converged to the solver's tolerance "
                                   f"with finite, physical footprints.</p>")
        sections.append(("Uncertainty (Monte Carlo)", quality + rp.chart_block(
            rp.chart_intervals(mcdf, unit), f"{nsamp or mc.attrs.get('samples')} samples.")
            + rp.chart_block(rp.chart_rank_probability(mcdf), "Probability that a category ranks "
                             "among the 5 or 10 largest.")
            + rp.table_block(mcdf.sort_values("mean", ascending=False).head(15))))
    if paths is not None and len(paths):
        from ..labelled.structural_paths import path_tree

        body = ""
        for c, grp in paths.groupby("category", sort=False):
            tree = path_tree(grp, top=12)
            body += rp.chart_block(rp.chart_path_tree(tree, unit, str(c)),
                                   f"{c}: the largest supply-chain paths; a line's width is the "
                                   "footprint that flows through it.")
        sections.append(("Supply-chain paths of the hotspots", body))

    synthetic = str(mrio.meta.get("source")) == "synthetic"
    banner = ("SYNTHETIC WORLD: this report uses spendprint's generated demo world, not real data. "
              "Run with --mrio on an EXIOBASE 3 store for real results.") if synthetic else None
    meta: dict[str, Any] = {"model": repr(mrio), "buyer region": buyer_region, "indicator": stressor,
                            "run time": f"{sum(timings.values()):.1f} s"}
    return rp.render(sections, "spendprint procurement footprint report", meta, banner)


__all__ = ["build_report", "np"]
