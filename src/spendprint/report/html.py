"""Turn the results of a run into the HTML report a procurement manager reads.

`build_report` takes the run's outputs (`spendprint.jobs.outputs.RunOutputs`, or any object with
the same fields) and writes one self-contained page: an executive summary first, then hotspots,
per-year results, where the footprint is emitted, savings (realistic lever and theoretical bound),
scenarios, labour-risk due diligence, uncertainty, supply-chain paths, and "Method and data" from
``run.json``. Every number goes through `spendprint.report.format` (SI prefixes, fixed
significant digits, percentages); regions are named, category names are shown in full.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from . import charts as ch
from . import format as fm
from .page import Column, chart, esc, render, table

#: references cited in "Method and data"
CITATIONS = {
    "leontief": "Leontief, W. (1970). Environmental repercussions and the economic structure: an "
                "input-output approach. Review of Economics and Statistics 52(3), 262-271.",
    "exiobase": "Stadler, K. et al. (2018). EXIOBASE 3: developing a time series of detailed "
                "environmentally extended multi-regional input-output tables. Journal of "
                "Industrial Ecology 22(3), 502-515.",
    "lenzen": "Lenzen, M., Wood, R., Wiedmann, T. (2010). Uncertainty analysis for multi-region "
              "input-output models: a case study of the UK's carbon footprint. Economic Systems "
              "Research 22(1), 43-63.",
    "schulte": "Schulte, S., Jakobs, A., Pauliuk, S. (2024). Estimating the uncertainty of the "
               "greenhouse gas emission accounts in global multi-regional input-output "
               "analysis. Earth System Science Data 16.",
    "spa": "Lenzen, M. (2007). Structural path analysis of ecosystem networks. Ecological "
           "Modelling 200, 334-342.",
}


def _cat_frame(ds: xr.Dataset, stressor: str) -> pd.DataFrame:
    d = ds.sel(stressor=stressor)
    cols = {k: d[k].values for k in ("spend", "footprint", "share", "cumulative_share",
                                      "intensity", "rank", "direct", "supply_chain") if k in d}
    if "spend_original" in ds:
        cols["spend_original"] = ds["spend_original"].values
    return pd.DataFrame(cols, index=[str(c) for c in d["category"].values])


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    return getattr(obj, name, default)


def _top_until(cat: pd.DataFrame, share: float = 0.5, most: int = 5) -> pd.DataFrame:
    d = cat.sort_values("footprint", ascending=False)
    n = int(np.searchsorted(d["cumulative_share"].to_numpy(), share) + 1)
    return d.head(max(1, min(n, most)))


def _inputs(prov: dict) -> list[tuple[str, str, str]]:
    out = []
    for role, v in (prov.get("inputs") or {}).items():
        if v:
            out.append((role, Path(str(v.get("path", ""))).name, str(v.get("sha256", ""))[:12]))
    return out


def _period(ds: xr.Dataset, years: xr.Dataset | None) -> str:
    if years is not None and "year" in years.dims and years.sizes["year"]:
        ys = sorted(int(y) for y in years["year"].values)
        return f"{ys[0]}–{ys[-1]}" if len(ys) > 1 else str(ys[0])
    y = ds.attrs.get("ledger_year")
    try:
        y = int(y)
    except (TypeError, ValueError):
        y = -1
    return str(y) if y > 0 else "several years"


def build_report(o: Any) -> str:
    """HTML text of the report (self-contained: inline SVG charts, inline CSS and JavaScript).

    Parameters
    ----------
    o : RunOutputs
        The run's results (`spendprint.jobs.outputs.RunOutputs`); ``years``, ``yoy``,
        ``concordance_used``, ``scenarios``, ``monte_carlo`` and ``paths`` may be None.
    """
    mrio, ds, sav, risk = o.mrio, o.footprints, o.savings, o.risk
    scen, mc, paths = o.scenarios, o.monte_carlo, o.paths
    stressor = o.stressor
    prov = _attr(o, "provenance") or {}
    years, yoy = _attr(o, "years"), _attr(o, "yoy")
    unit = str(ds["unit"].sel(stressor=stressor).values)
    money = str(ds.attrs.get("money_unit", mrio.meta.get("money_unit", "M EUR")))
    ledger_cur = str(ds.attrs.get("original_currency", "")) if "spend_original" in ds else ""
    cat = _cat_frame(ds, stressor)
    total = float(cat["footprint"].sum())
    q = lambda v: fm.quantity(v, unit)  # noqa: E731
    sections: list[tuple[str, str, str]] = []

    # ---------------------------------------------------------------- numbers used twice
    sv = pd.DataFrame({
        "baseline": sav["baseline"].sel(stressor=stressor).to_series(),
        "bound": sav["savings"].sel(stressor=stressor).to_series(),
        "bound_share": sav["savings_share"].sel(stressor=stressor).to_series(),
    })
    has_lever = "lever_savings" in sav
    if has_lever:
        sv["lever"] = sav["lever_savings"].sel(stressor=stressor).to_series()
        sv["lever_share"] = sav["lever_savings_share"].sel(stressor=stressor).to_series()
        sv["lever_region"] = sav["lever_region_main"].to_series().astype(str)
        sv["bound_region"] = sav["best_region_main"].to_series().astype(str)
    else:
        sv["lever"], sv["lever_share"] = np.nan, np.nan
        sv["lever_region"], sv["bound_region"] = "", ""
    sv.index = sv.index.astype(str)
    sv = sv.fillna({"bound": 0.0})
    lever_min = float(sav.attrs.get("lever_min_share", 0.10))
    flags = risk["flag"].to_series()
    flagged = [str(c) for c in flags[flags.astype(bool)].index]
    scen_tot = None
    if scen is not None and "total" in scen:
        t = scen["total"].sel(stressor=stressor).to_series()
        b = float(scen["baseline_total"].sel(stressor=stressor)) if "baseline_total" in scen else total
        scen_tot = pd.DataFrame({"total": t, "change": t - b, "share": (t - b) / b})
        scen_tot.index = scen_tot.index.astype(str)
    mc_total = None
    if mc is not None and "footprint" in mc and "sample" in mc["footprint"].dims:
        tot_s = mc["footprint"].sel(stressor=stressor).sum("category").values
        mc_total = np.quantile(tot_s, [0.05, 0.5, 0.95])

    # ---------------------------------------------------------------- executive summary
    items = []
    inputs = _inputs(prov)
    org = _attr(o, "organisation")
    who = f"Organisation: {org}. " if org else ""
    items.append(f"{who}Period: {_period(ds, years)} (prices of "
                 f"{ds.attrs.get('base_year', mrio.meta.get('year'))}); {len(cat)} spend "
                 f"categories bought in {fm.region_name(o.buyer_region)}. Inputs: "
                 + ", ".join(f"{n} ({r})" for r, n, _ in inputs) + ".")
    spend_txt = fm.money(cat["spend"].sum(), money)
    if ledger_cur:
        spend_txt += f" ({fm.money(cat['spend_original'].sum(), ledger_cur)} as booked)"
    line = (f"Total footprint {q(total)} ({stressor}) on spend of {spend_txt}: "
            f"{fm.intensity(total, cat['spend'].sum(), unit, money)}")
    if ledger_cur:
        line += f", {fm.intensity(total, cat['spend_original'].sum(), unit, ledger_cur)}"
    line += "."
    if years is not None and "footprint" in years:
        per = years["footprint"].sel(stressor=stressor).sum("category").to_series()
        line += " Per year: " + "; ".join(f"{int(y)}: {q(v)}" for y, v in per.items()) + "."
    items.append(line)
    top = _top_until(cat)
    items.append(f"The {len(top)} largest categor{'y carries' if len(top) == 1 else 'ies carry'} "
                 f"{fm.percent(top['footprint'].sum() / total)} of it: "
                 + "; ".join(f"{c} {q(r.footprint)} ({fm.percent(r.share)})"
                             for c, r in top.iterrows()) + ".")
    if mc_total is not None:
        items.append(f"Uncertainty: the total lies between {q(mc_total[0])} and {q(mc_total[2])} "
                     f"(90 % interval, median {q(mc_total[1])}, "
                     f"{int(mc.attrs.get('samples', mc.sizes.get('sample', 0)))} Monte Carlo "
                     "samples).")
    else:
        items.append("Uncertainty was not sampled: every number is a point estimate "
                     "(run with --samples N for ranges).")
    if flagged:
        hs = risk["hotspot_risk_hours"].sel(category=flagged).isel(hotspot=0).to_series()
        worst = str(hs.idxmax())
        reg = str(risk["hotspot_region"].sel(category=worst).values[0])
        sec = str(risk["hotspot_sector"].sel(category=worst).values[0])
        items.append(f"Due diligence: {len(flagged)} of {len(cat)} categories have at least "
                     f"{fm.percent(float(risk.attrs.get('flag_share', 0.25)))} of their embodied "
                     f"work hours in high-risk country-sectors; the largest hotspot is {sec} in "
                     f"{fm.region_name(reg)} for {worst} "
                     f"({fm.quantity(float(hs.max()), 'h')} risk-weighted).")
    else:
        items.append("Due diligence: no category is flagged by the labour-risk screen.")
    if has_lever and sv["lever"].sum() > 0:
        lv = sv.sort_values("lever", ascending=False).iloc[0]
        items.append(f"Realistic lever: buying each product from established suppliers (at least "
                     f"{fm.percent(lever_min)} market share) with the lowest intensity saves "
                     f"{q(sv['lever'].sum())} ({fm.percent(sv['lever'].sum() / total)}); most in "
                     f"{lv.name}: {q(lv['lever'])}, mainly by buying from "
                     f"{fm.region_name(lv['lever_region'])}.")
    items.append(f"Theoretical bound: if every product came from the cleanest region that already "
                 f"supplies it, the footprint would fall by {q(sv['bound'].sum())} "
                 f"({fm.percent(sv['bound'].sum() / total)}); an upper limit, not a plan.")
    if scen_tot is not None and len(scen_tot):
        best = scen_tot.sort_values("change").iloc[0]
        items.append(f"Best scenario: “{best.name}” changes the total by {q(best['change'])} "
                     f"({fm.percent(best['share'])}).")
    sections.append(("summary", "Summary",
                     "<ul class='summary'>" + "".join(f"<li>{esc(t)}</li>" for t in items)
                     + "</ul>"))

    # ---------------------------------------------------------------- hotspots
    rows = [{"rank": int(r["rank"]), "category": c, "spend": r["spend"],
             "spend_original": r.get("spend_original", np.nan), "footprint": r["footprint"],
             "share": r["share"], "cum": r["cumulative_share"],
             "int_model": r["footprint"] / r["spend"] if r["spend"] else np.nan,
             "int_ledger": (r["footprint"] / r["spend_original"]
                            if ledger_cur and r.get("spend_original") else np.nan)}
            for c, r in cat.sort_values("footprint", ascending=False).iterrows()]
    mscale, mcur = fm.money_unit(money)
    cols = [Column("Rank", "rank", str), Column("Category", "category", str, numeric=False),
            Column("Spend", "spend", lambda v: fm.money(v, money), f"model prices, {mcur}")]
    if ledger_cur:
        cols.append(Column("Spend as booked", "spend_original",
                           lambda v: fm.money(v, ledger_cur), ledger_cur))
    fm_, fl_ = fm.intensity_scale([r["int_model"] for r in rows], unit, money)
    cols += [Column("Footprint", "footprint", q, unit),
             Column("Share", "share", fm.percent, "of the total"),
             Column("Cumulative share", "cum", fm.percent, "largest first"),
             Column("Intensity", "int_model", lambda v: fm.number(v * fm_), fl_)]
    if ledger_cur:
        lf_, ll_ = fm.intensity_scale([r["int_ledger"] for r in rows], unit, ledger_cur)
        cols.append(Column("Intensity as booked", "int_ledger", lambda v: fm.number(v * lf_),
                           ll_))
    body = (f"<p>Every category of the ledger, largest footprint first (click a header to sort). "
            f"Spend at model prices is in {mcur} of {ds.attrs.get('base_year', mrio.meta.get('year'))} "
            f"({ds.attrs.get('price_basis', 'basic')} prices)"
            + (f"; spend as booked is in the ledger currency, {ledger_cur}." if ledger_cur else ".")
            + "</p>" + table(rows, cols, category_key="category"))
    sections.append(("hotspots", "Hotspots", body))

    # ---------------------------------------------------------------- per year
    if years is not None and "footprint" in years:
        yb = years.sel(stressor=stressor) if "stressor" in years.dims else years
        yrows = []
        for y in yb["year"].values:
            d = yb.sel(year=y)
            r = {"year": int(y), "footprint": float(d["footprint"].sum())}
            for k in ("spend", "spend_nominal", "spend_original"):
                if k in d:
                    r[k] = float(d[k].sum())
            yrows.append(r)
        ycols = [Column("Year", "year", str), Column("Footprint", "footprint", q, unit)]
        if "spend" in yb:
            ycols.append(Column("Spend, base-year prices", "spend", lambda v: fm.money(v, money),
                                mcur))
        if "spend_nominal" in yb:
            ycols.append(Column("Spend, prices of the year", "spend_nominal",
                                lambda v: fm.money(v, money), mcur))
        if "spend_original" in yb and ledger_cur:
            ycols.append(Column("Spend as booked", "spend_original",
                                lambda v: fm.money(v, ledger_cur), ledger_cur))
        body = table(yrows, ycols)
        if yoy is not None and len(yoy):
            d = yoy[yoy["stressor"] == stressor] if "stressor" in yoy else yoy
            parts = [k for k in ("volume", "price", "mix", "intensity") if k in d]
            tot = (d.groupby(["year_from", "year_to"])[["change", *parts]].sum().reset_index()
                   .assign(category="All categories (total)"))
            d = d.reindex(d["change"].abs().sort_values(ascending=False).index).head(25)
            d = pd.concat([tot, d], ignore_index=True)
            # effects below a millionth of the largest change are rounding noise of the split
            tol = 1e-6 * float(d["change"].abs().max() or 1.0)
            qn = lambda v: q(0.0 if abs(v) < tol else v)  # noqa: E731
            yc = [Column("Category", "category", str, numeric=False),
                  Column("From", "year_from", str), Column("To", "year_to", str),
                  Column("Change", "change", qn, unit)]
            yc += [Column(k.capitalize() + " effect", k, qn, unit) for k in parts]
            body += ("<h3>Year over year: what drove the change</h3><p>The total and the largest "
                     "changes per category, "
                     "split into volume (more or less spend), price (inflation), mix (what was "
                     "bought) and intensity (how it was produced); the parts add up to the "
                     "change.</p>" + table(d.to_dict("records"), yc))
        sections.append(("years", "Per year", body))

    # ---------------------------------------------------------------- charts
    sections.append(("pareto", "Pareto of footprints", chart(
        ch.chart_pareto(cat, unit), "The largest categories and the cumulative share of the "
        "total.", "chart-pareto")))
    sections.append(("spend-vs", "Spend share vs emission share", chart(
        ch.chart_spend_vs_emission(cat), "Categories above the diagonal emit more than their "
        "share of spend.", "chart-spend")))
    if "by_origin_region" in ds:
        names = list(cat.sort_values("footprint", ascending=False).index[:12])
        origin = ds["by_origin_region"].sel(stressor=stressor, category=names).to_pandas()
        sections.append(("origin", "Where the emissions happen", chart(
            ch.chart_origin(origin, unit), "Footprint of the largest categories by the region "
            "where it is emitted (anywhere in the supply chain).", "chart-origin")))

    # ---------------------------------------------------------------- savings
    d = sv.sort_values("bound", ascending=False)
    d = d[d["bound"] > 0].head(20)
    srows = [{"category": c, "baseline": r["baseline"], "lever": r["lever"],
              "lever_share": r["lever_share"], "lever_region": fm.region_name(r["lever_region"])
              if r["lever_region"] else "no change", "bound": r["bound"],
              "bound_share": r["bound_share"],
              "bound_region": fm.region_name(r["bound_region"]) if r["bound_region"] else "no change"}
             for c, r in d.iterrows()]
    scol = [Column("Category", "category", str, numeric=False),
            Column("Footprint today", "baseline", q, unit),
            Column("Realistic lever: saving", "lever", q, unit),
            Column("Lever: share", "lever_share", fm.percent, "of the category"),
            Column("Lever: buy more from", "lever_region", str, numeric=False),
            Column("Theoretical bound: saving", "bound", q, unit),
            Column("Bound: share", "bound_share", fm.percent, "of the category"),
            Column("Bound: buy from", "bound_region", str, numeric=False)]
    body = (f"<p>Two kinds of saving from buying the same products from other origins, at the "
            f"same spend. <strong>Realistic lever</strong>: each product is bought from the "
            f"lowest-intensity origin among established suppliers, those that already hold at "
            f"least {fm.percent(lever_min)} of the market. <strong>Theoretical bound</strong>: "
            f"every product from the lowest-intensity region that supplies it at all; an upper "
            f"limit that assumes unlimited capacity at equal price and quality, not a plan.</p>")
    if len(d):
        body += chart(ch.chart_savings(d, unit), "The categories with the largest theoretical "
                      "bound, with the realistic lever next to it.", "chart-savings")
    body += table(srows, scol, category_key="category")
    sections.append(("savings", "Carbon-savings potential", body))

    # ---------------------------------------------------------------- scenarios
    if scen_tot is not None:
        trows = [{"scenario": n, "total": r["total"], "change": r["change"], "share": r["share"]}
                 for n, r in scen_tot.iterrows()]
        body = table(trows, [Column("Scenario", "scenario", str, numeric=False),
                             Column("Total footprint", "total", q, unit),
                             Column("Change", "change", q, unit),
                             Column("Change", "share", fm.percent, "of the baseline total")],
                     caption=f"Baseline total {q(total)}.")
        if "change" in scen:
            chg = scen["change"].sel(stressor=stressor).to_pandas()   # scenario x category
            chg.index, chg.columns = chg.index.astype(str), chg.columns.astype(str)
            touched = chg.columns[(chg.abs() > 0).any(axis=0)]
            base_c = cat["footprint"]
            crow = []
            for c in touched:
                r = {"category": c, "baseline": float(base_c[c])}
                for s in chg.index:
                    r[f"c:{s}"] = float(chg.loc[s, c])
                    r[f"p:{s}"] = float(chg.loc[s, c]) / float(base_c[c]) if base_c[c] else np.nan
                crow.append(r)
            ccols = [Column("Category", "category", str, numeric=False),
                     Column("Footprint today", "baseline", q, unit)]
            for s in chg.index:
                ccols += [Column(s, f"c:{s}", q, unit), Column(s, f"p:{s}", fm.percent,
                                                                 "change of the category")]
            body += ("<h3>Change per category</h3>"
                     + table(crow, ccols, category_key="category"))
        sections.append(("scenarios", "Scenarios", body))

    # ---------------------------------------------------------------- labour risk
    rh = risk["risk_hours_by_origin_region"].to_pandas()
    rh.index = rh.index.astype(str)
    rtop = risk["risk_hours"].to_series().sort_values(ascending=False).head(15).index.astype(str)
    regions = rh.loc[rtop].sum(axis=0).sort_values(ascending=False).index[:12]
    scale, hl = fm.scale_for(float(rh.loc[rtop, regions].to_numpy().max()), "h")
    body = chart(ch.chart_heatmap(rh.loc[rtop, regions] / scale, "Risk-weighted work hours by "
                                  "origin region", f"risk-weighted {hl}"),
                 "Work hours embodied in each category, weighted by the country x sector risk "
                 "table (the shipped table is illustrative).", "chart-risk")
    if "hotspot_region" in risk and flagged:
        tiers = hotspot_tiers(o, flagged)
        drows = []
        for c in flagged:
            tot_c = float(risk["risk_hours"].sel(category=c))
            for h in risk["hotspot"].values:
                hr = float(risk["hotspot_risk_hours"].sel(category=c, hotspot=h))
                if not hr > 0:
                    continue
                drows.append({"category": c, "product": str(risk["hotspot_sector"].sel(
                    category=c, hotspot=h).values), "country": fm.region_label(str(
                        risk["hotspot_region"].sel(category=c, hotspot=h).values)),
                    "tier": tiers.get((c, int(h)), "–"), "hours": hr,
                    "share": hr / tot_c if tot_c else np.nan})
        body += (f"<p>{len(flagged)} categories flagged for due diligence (at least "
                 f"{fm.percent(float(risk.attrs.get('flag_share', 0.25)))} of their embodied hours "
                 f"in country-sectors with a risk score of "
                 f"{fm.number(float(risk.attrs.get('threshold', 0.7)), 2)} or more). Their "
                 "largest hotspots:</p>")
        body += table(drows, [Column("Category", "category", str, numeric=False),
                              Column("Product", "product", str, numeric=False),
                              Column("Country", "country", str, numeric=False),
                              Column("Tier", "tier", str, "with most of its hours"),
                              Column("Risk-weighted hours", "hours",
                                     lambda v: fm.quantity(v, "h"), "h"),
                              Column("Share", "share", fm.percent,
                                     "of the category's risk-weighted hours")],
                      category_key="category")
    sections.append(("labour", "Labour-risk screen", body))

    # ---------------------------------------------------------------- Monte Carlo
    if mc is not None:
        sections.append(("uncertainty", "Uncertainty (Monte Carlo)", _mc_section(mc, cat, stressor,
                                                                                 unit)))

    # ---------------------------------------------------------------- paths
    if paths is not None and len(paths):
        from ..labelled.structural_paths import path_tree

        body = ("<p>The largest supply-chain paths of the hotspot categories: the product as "
                "bought (by origin) and, indented, the suppliers behind it. A bar is the share of "
                "the category's footprint on the listed paths through that step (its own emission "
                "and that of the listed suppliers behind it); the grey bar is everything on paths "
                "too small to list. Where the largest paths are short (emitted by the producer "
                "itself), the chain is one step deep.</p>")
        for i, (c, grp) in enumerate(paths.groupby("category", sort=False)):
            tree = path_tree(grp, top=12)
            tot_c = float(cat.loc[str(c), "footprint"]) if str(c) in cat.index else float(
                tree["value"].max())
            body += chart(ch.chart_path_tree(tree, unit, tot_c, str(c)),
                          f"{c}: footprint {q(tot_c)}.", f"chart-path-{i}")
        sections.append(("paths", "Supply-chain paths of the hotspots", body))

    sections.append(("method", "Method and data", _method(o, ds, mc, prov, money, ledger_cur)))

    banners: list[tuple[str, str]] = []
    if str(mrio.meta.get("source")) == "synthetic":
        banners.append(("banner", "SYNTHETIC WORLD: this report uses spendprint's generated demo "
                                  "world, not real data. Run with --mrio on an EXIOBASE 3 store "
                                  "for real results."))
    if mc is not None and int(mc.attrs.get("certain", 0) or 0):
        banners.append(("warn", "The uncertainty specification leaves everything certain: the "
                                "Monte Carlo ranges are zero by construction."))
    title = _attr(o, "title") or "Procurement footprint report"
    return render(sections, title, org, banners)


def hotspot_tiers(o: Any, categories: list[str], max_tier: int = 6) -> dict[tuple[str, int], str]:
    """The supply-chain tier where most of each hotspot's work hours are, for ``categories``.

    Hours of node ``i`` for demand ``y`` split by tier: tier 1 (the producer of what is bought)
    ``s_i y_i``, tier 2 ``s_i (A y)_i``, ..., tier ``k`` ``s_i (A^(k-1) y)_i`` (the power series of
    the Leontief inverse, ``max_tier - 1`` products with ``A``); the rest of the node's hours
    (from the labour-risk screen: risk-weighted hours / score) counts as ``"tier 7+"``. Returns
    ``{(category, hotspot): "tier 2 (62 %)"}``; empty when the model's employment is unknown.
    """
    mrio, risk, demand = o.mrio, o.risk, o.demand
    name = str(risk.attrs.get("employment", ""))
    try:
        s = np.asarray(mrio.S_all([name]))[0]
    except Exception:  # noqa: BLE001 - a model without the employment row: no tiers
        return {}
    cats = [str(c) for c in demand.categories]
    idx = [cats.index(c) for c in categories if c in cats]
    if not idx:
        return {}
    R, P, _ = demand.y.shape
    Y = demand.y.reshape(R * P, -1)[:, idx]
    layers, v = [], np.ascontiguousarray(Y, dtype=np.float64)
    for t in range(max_tier):
        layers.append(s[:, None] * v)
        if t + 1 < max_tier:
            v = np.asarray(mrio.A @ v)
    layers = np.stack(layers)                                   # (tier, n, k)
    regions, sectors = list(mrio.regions), list(mrio.sectors)
    out: dict[tuple[str, int], str] = {}
    for j, ci in enumerate(idx):
        c = cats[ci]
        for h in risk["hotspot"].values:
            reg = str(risk["hotspot_region"].sel(category=c, hotspot=h).values)
            sec = str(risk["hotspot_sector"].sel(category=c, hotspot=h).values)
            if reg not in regions or sec not in sectors:
                continue
            i = regions.index(reg) * P + sectors.index(sec)
            # all tiers together: the screen's hours of the node (risk-weighted / score)
            score = float(risk["hotspot_score"].sel(category=c, hotspot=h))
            hr = float(risk["hotspot_risk_hours"].sel(category=c, hotspot=h))
            whole = hr / score if score > 0 else float(layers[:, i, j].sum())
            parts = np.append(layers[:, i, j], max(whole - layers[:, i, j].sum(), 0.0))
            if parts.sum() <= 0:
                continue
            k = int(np.argmax(parts))
            label = f"tier {k + 1}" if k < max_tier else f"tier {max_tier + 1}+"
            out[(c, int(h))] = f"{label} ({fm.percent(parts[k] / parts.sum())})"
    return out


def _mc_section(mc: xr.Dataset, cat: pd.DataFrame, stressor: str, unit: str) -> str:
    names = ("mean", "sd", "p2.5", "p5", "p50", "p95", "p97.5", "p_top5", "p_top10", "rank_lo",
             "rank_hi", "rel_mcse", "enough_samples", "samples_needed")
    mcdf = pd.DataFrame({k: mc[k].sel(stressor=stressor).to_series() for k in names if k in mc})
    mcdf.index = mcdf.index.astype(str)
    mcdf["rank"] = cat["rank"].reindex(mcdf.index)
    nsamp = int(mc.attrs.get("samples", mc.sizes.get("sample", 0)) or 0)
    flagged = int(mc.attrs.get("flagged_samples", 0) or 0)
    target = float(mc.attrs.get("mcse_target", 0.01))
    body = ""
    if "enough_samples" in mcdf and not bool(mcdf["enough_samples"].astype(bool).all()):
        short = mcdf[~mcdf["enough_samples"].astype(bool)]
        need = float(np.nanmax(short["samples_needed"])) if "samples_needed" in short else np.nan
        body += (f"<p class='warn'><strong>Too few samples for the stated precision.</strong> For "
                 f"{len(short)} of {len(mcdf)} categories the Monte Carlo error of the mean is "
                 f"above {fm.percent(target)} of the mean with {nsamp} samples"
                 + (f"; about {fm.number(need)} samples would reach it" if need == need else "")
                 + ". Treat their intervals as indicative.</p>")
    body += (f"<p><strong>{flagged} of {nsamp} samples flagged</strong> (solver fallbacks, "
             "non-finite or negative footprints); they are kept in the statistics.</p>"
             if flagged else f"<p>All {nsamp} samples reached the solver's tolerance with finite, "
                             "physical footprints.</p>")
    body += chart(ch.chart_intervals(mcdf, unit), f"{nsamp} samples; categories in the order of "
                  "their footprint rank.", "chart-intervals")
    body += chart(ch.chart_rank_probability(mcdf), "Probability that a category ranks among the "
                  "5 or 10 largest, most robust first.", "chart-rank")
    d = mcdf.sort_values("rank").head(20)
    rows = [{"category": c, **r.to_dict()} for c, r in d.iterrows()]
    qq = lambda v: fm.quantity(v, unit)  # noqa: E731
    body += table(rows, [Column("Rank", "rank", lambda v: str(int(v))),
                         Column("Category", "category", str, numeric=False),
                         Column("Median", "p50", qq, unit),
                         Column("5th percentile", "p5", qq, unit),
                         Column("95th percentile", "p95", qq, unit),
                         Column("Rank range", "rank_lo", lambda v: str(int(v)), "90 % interval"),
                         Column("to", "rank_hi", lambda v: str(int(v))),
                         Column("P(among 5 largest)", "p_top5", fm.percent),
                         Column("P(among 10 largest)", "p_top10", fm.percent),
                         Column("Enough samples", "enough_samples",
                                lambda v: "yes" if bool(v) else "no", f"error ≤ {fm.percent(target)}",
                                numeric=False)],
                  category_key="category")
    return body


def _method(o: Any, ds: xr.Dataset, mc: xr.Dataset | None, prov: dict, money: str,
            ledger_cur: str) -> str:
    mrio = o.mrio
    meta = dict(mrio.meta)
    synthetic = str(meta.get("source")) == "synthetic"
    li = [f"Model: {meta.get('source', 'unknown')}"
          + (f" {meta.get('version')}" if meta.get("version") else "")
          + f", year {meta.get('year')}, {meta.get('system', '')} system, "
          f"{len(mrio.regions)} regions x {len(mrio.sectors)} sectors"
          + (" — a synthetic world generated for demonstration, not real data" if synthetic
             else "") + "."]
    li.append(f"Prices: spend is converted to the model's {money} at "
              f"{ds.attrs.get('price_basis', 'basic')} prices of {ds.attrs.get('base_year')} "
              f"({ds.attrs.get('prices_source', 'default tables')}); margins: "
              f"{ds.attrs.get('margins_kept_on_product', 'none')}."
              + (f" The ledger is booked in {ledger_cur}." if ledger_cur else ""))
    cu = getattr(o, "concordance_used", None)
    if cu is not None and len(cu) and "source" in cu:
        spend = ds["spend"].to_series()
        spend.index = spend.index.astype(str)
        src = cu.assign(kind=np.where(cu["source"].astype(str).str.startswith("CPV"), "CPV",
                                      "user file")).groupby("category")["kind"].first()
        tot = float(spend.sum()) or 1.0
        by = spend.groupby(src.reindex(spend.index).fillna("unmapped")).sum() / tot
        by = by.reindex(["user file", "CPV", "unmapped"], fill_value=0.0)
        li.append("Concordance coverage (share of spend): mapped through the user's concordance "
                  f"file {fm.percent(by['user file'])}, through CPV codes "
                  f"{fm.percent(by['CPV'])}, unmapped {fm.percent(by['unmapped'])}.")
    else:
        li.append(f"Concordance: every category mapped through the user file "
                  f"({ds.attrs.get('concordance_source', 'concordance')}).")
    if mc is not None:
        spec = ((prov.get("inputs") or {}).get("uncertainty") or {}).get("path") or ""
        default = not spec or Path(str(spec)).name == "uncertainty_default.yaml"
        covered = ("the shipped default specification, which covers the technology matrix (size "
                   "rule of Lenzen et al. 2010), emission intensities (Schulte et al. 2024), "
                   "spend (5 %) and the composition of demand (Dirichlet)" if default
                   else f"the specification {Path(str(spec)).name}")
        li.append(f"Uncertainty: {int(mc.attrs.get('samples', 0) or 0)} Monte Carlo samples "
                  f"(seed {mc.attrs.get('seed')}) with {covered}; what the specification does "
                  "not list is certain.")
    else:
        li.append("Uncertainty: not sampled in this run.")
    li.append("Limitations: a spend-based environmentally extended input-output estimate "
              "(Leontief 1970): every euro spent on a product of a country is assumed to carry "
              "the average footprint of that product (homogeneity within product groups); the "
              "import shares come from the MRIO's trade structure, unless the ledger names the "
              "origin; supplier-specific data (EPDs, supplier inventories) are not used.")
    ins = _inputs(prov)
    ins_html = ""
    if ins:
        ins_html = table([{"role": r, "file": n, "sha": s} for r, n, s in ins],
                         [Column("Input", "role", str, numeric=False),
                          Column("File", "file", str, numeric=False),
                          Column("SHA-256", "sha", str, "first 12 hex digits", numeric=False)])
    vers = prov.get("versions") or {}
    ver = ", ".join(f"{k} {v}" for k, v in vers.items() if k in ("spendprint", "python", "numpy"))
    refs = "".join(f"<li>{esc(t)}</li>" for t in CITATIONS.values())
    return ("<ul>" + "".join(f"<li>{esc(t)}</li>" for t in li) + "</ul>" + ins_html
            + (f"<p class='meta'>Software: {esc(ver)}.</p>" if ver else "")
            + f"<h3>References</h3><ol class='note'>{refs}</ol>")


__all__ = ["build_report"]
