"""One ledger through several MRIO models: the footprint per category in each, and the spread.

Different MRIO databases give different footprints for the same spend: they differ in sector
detail, base data, balancing, price basis and environmental extensions. The spread between them
is part of the uncertainty of a footprint (see the "Comparing databases" section of the
databases page). [compare_models][spendprint.procurement.compare.compare_models] runs the same
ledger (and a concordance written for one classification, projected onto the others with
[project_concordance][spendprint.procurement.bridges.project_concordance]) through each model.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.model import MRIO
from ..errors import LabelMismatchError, ValidationError
from .analysis import procurement_footprint
from .bridges import canonical_system, classification_of, project_concordance, system_of_labels
from .concordance import Concordance
from .ledger import Ledger
from .prices import Prices
from .regions import _converter, map_regions

#: Region labels taken as "rest of the world" when a model has no region for the buyer.
_ROW = re.compile(r"(?i)^(row|rest of (the )?world|wa|we|wl|wf|wm|zrow|xx)$")

#: Name of the all-categories row of the comparison table.
TOTAL = "(total)"

#: Columns of the comparison table besides the one per model.
STAT_COLUMNS = ("min", "max", "mean", "std", "cv", "max_over_min")


def buyer_region_for(code: str, regions: Sequence[str]) -> tuple[str, str]:
    """The region of a model standing for a buyer country, and how it was found.

    In order: the code itself (case-insensitive); its ISO-2 / ISO-3 forms (country_converter);
    its EXIOBASE 3 region (which is a rest-of-world region such as `WE` for a country EXIOBASE
    does not resolve); a region labelled as the rest of the world (`ROW`, `RoW`, `WA`...); the
    only region of a single-region model (e.g. USEEIO's `US`).

    Returns
    -------
    (region, how)
        `how` is `"exact"`, `"ISO2"`, `"ISO3"`, `"EXIO3"`, `"rest of world"` or
        `"only region"`.

    Raises
    ------
    LabelMismatchError
        No region fits; the message lists the model's regions.
    """
    regs = [str(r) for r in regions]
    upper = {r.upper(): r for r in regs}
    c = str(code).strip()
    if c.upper() in upper:
        return upper[c.upper()], "exact"
    for scheme in ("ISO2", "ISO3"):
        out = _converter().convert([c], to=scheme, not_found=None)
        v = out[0] if isinstance(out, list) else out
        if isinstance(v, str) and v.upper() in upper:
            return upper[v.upper()], scheme
    hit = map_regions([c], regs).get(c)
    if hit is not None:
        return hit, "EXIO3"
    for r in regs:
        if _ROW.match(r):
            return r, "rest of world"
    if len(regs) == 1:
        return regs[0], "only region"
    raise LabelMismatchError(f"buyer region {code!r} maps to no region of the model and it has no "
                             f"rest-of-world region (regions: {', '.join(regs[:20])}"
                             f"{' ...' if len(regs) > 20 else ''})")


def _localise(ledger: Ledger, conc: Concordance, regions: Sequence[str], name: str,
              notes: list[str]) -> tuple[Ledger, Concordance]:
    """Ledger supplier countries and concordance origin regions rewritten as the model's own
    region labels (see [buyer_region_for][spendprint.procurement.compare.buyer_region_for]), so
    models labelled `NOR`/`ROW` (ICIO, GLORIA) or `NO`/`FIGW1` (FIGARO) take the same inputs.
    A country the model does not have goes to its rest-of-world region, noted in `notes`."""
    mapping: dict[str, str] = {}
    for v in {*ledger.frame["supplier_country"], *conc.frame["origin_region"]}:
        if not str(v).strip():
            continue
        try:
            reg, how = buyer_region_for(str(v), regions)
        except LabelMismatchError:
            continue  # left as written: procurement_footprint names the row
        mapping[str(v)] = reg
        if how in ("rest of world", "only region"):
            notes.append(f"{name}: supplier/origin country {v!r} has no region; {reg!r} ({how}) "
                         f"stands for it")
    if not mapping:
        return ledger, conc
    lf = ledger.frame.copy()
    sc = [mapping.get(str(v), v) for v in lf["supplier_country"]]
    lf["supplier_country"] = (pd.Categorical(sc) if isinstance(lf["supplier_country"].dtype,
                                                               pd.CategoricalDtype) else sc)
    cf = conc.frame.copy()
    cf["origin_region"] = [mapping.get(str(v), v) for v in cf["origin_region"]]
    return Ledger(frame=lf, source=ledger.source), Concordance(frame=cf, source=conc.source)


def _unit_of(mrio: MRIO, stressor: str, name: str) -> str:
    lookup = dict(zip(mrio.indicators, mrio.indicator_units, strict=True))
    if stressor not in lookup:
        raise LabelMismatchError(f"model {name!r} has no indicator {stressor!r}; available: "
                                 f"{', '.join(list(mrio.indicators)[:20])}")
    return str(lookup[stressor])


def compare_models(models: Mapping[str, MRIO], ledger: Ledger, concordance: Concordance,
                   concordance_system: str | None = None, stressor: str = "CO2e",
                   buyer_region: str = "NO", prices: Prices | None = None,
                   stressors: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Footprint of one ledger per category in each of several models, and their spread.

    For each model `m` the concordance is projected onto the model's classification when that
    differs from `concordance_system`, the buyer region is mapped to one of the model's regions
    ([buyer_region_for][spendprint.procurement.compare.buyer_region_for]), and
    `E_m[c] = M_m y_{m,c}` is computed with
    [procurement_footprint][spendprint.procurement.analysis.procurement_footprint].

    Parameters
    ----------
    models : mapping of str to MRIO
        Name -> model, at least one (two for a spread).
    ledger, concordance, prices
        As for `procurement_footprint`.
    concordance_system : str, optional
        Classification the concordance is written in; default: detected from its sector labels.
    stressor : str
        Indicator compared, the same name in every model (default `CO2e`).
    buyer_region : str
        Buyer country code or name, mapped to each model's regions.
    stressors : mapping of str to str, optional
        Per-model indicator name where a model calls it differently (name -> indicator).

    Returns
    -------
    DataFrame
        Index `category` (the ledger's categories in concordance order) and a last row `(total)`; one column per model
        (footprint in the stressor's unit) and `min`, `max`, `mean`, `std` (population, ddof 0),
        `cv = std / mean` (coefficient of variation, NaN where the mean is 0) and
        `max_over_min`. `attrs`: `stressor`, `units` (per model), `regions` (the region used
        for the buyer and how it was found, per model; the ledger's supplier countries and the
        concordance's origin regions are mapped the same way), `systems` (per model),
        `projected` (models whose concordance was projected), `notes` (e.g. a model with no
        region for the buyer uses its rest-of-world region; units that differ between models).
    """
    if not models:
        raise ValidationError("compare_models needs at least one model")
    if concordance_system is None:
        found = system_of_labels(concordance.sectors)
        if found is None:
            raise ValidationError(f"cannot tell which classification {concordance.source} is "
                                  f"written in; pass concordance_system")
        conc_sys = found
    else:
        conc_sys = canonical_system(concordance_system)
    cols: dict[str, pd.Series] = {}
    units: dict[str, str] = {}
    regions: dict[str, dict[str, str]] = {}
    systems: dict[str, str] = {}
    projected: list[str] = []
    notes: list[str] = []
    for name, m in models.items():
        ind = (stressors or {}).get(name, stressor)
        units[name] = _unit_of(m, ind, name)
        sys_m = classification_of(m)
        systems[name] = sys_m
        conc = concordance
        if sys_m != conc_sys:
            conc = project_concordance(concordance, conc_sys, m)
            projected.append(name)
        reg, how = buyer_region_for(buyer_region, m.regions)
        regions[name] = {"region": reg, "how": how}
        if how in ("rest of world", "EXIO3", "only region") and \
                reg.upper() != buyer_region.upper():
            notes.append(f"{name}: no region for buyer {buyer_region!r}; its region {reg!r} "
                         f"({how}) stands for it")
        led, conc = _localise(ledger, conc, m.regions, name, notes)
        ds = procurement_footprint(m, led, conc, prices=prices, buyer_region=reg,
                                   stressors=[ind], by_origin=False)
        fp = ds["footprint"].sel(stressor=ind).to_series()
        cols[name] = fp.astype(np.float64)
    if len(set(units.values())) > 1:
        notes.append(f"units differ between models: {units}")
    cats = list(next(iter(cols.values())).index)       # ledger categories, concordance order
    df = pd.DataFrame({k: v.reindex(cats).to_numpy() for k, v in cols.items()},
                      index=pd.Index(cats, name="category"))
    df.loc[TOTAL] = df.sum(axis=0)
    v = df[list(models)].to_numpy()
    mean = v.mean(axis=1)
    std = v.std(axis=1, ddof=0)
    mn, mx = v.min(axis=1), v.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["min"], df["max"], df["mean"], df["std"] = mn, mx, mean, std
        df["cv"] = np.where(mean != 0, std / np.abs(mean), np.nan)
        df["max_over_min"] = np.where(mn > 0, mx / mn, np.nan)
    df.attrs.update({"stressor": stressor, "units": units, "regions": regions,
                     "systems": systems, "concordance_system": conc_sys,
                     "projected": projected, "notes": notes, "models": list(models)})
    return df


def spread_chart(table: pd.DataFrame, top: int = 25, title: str | None = None) -> str:
    """SVG of the spread: per category (largest mean first), a bar from min to max and one
    marker per model. Returns the SVG text (matplotlib, no display needed)."""
    from matplotlib.figure import Figure

    models = list(table.attrs.get("models") or [c for c in table.columns
                                                  if c not in STAT_COLUMNS])
    t = table.drop(index=TOTAL, errors="ignore").sort_values("mean", ascending=False).head(top)
    t = t.iloc[::-1]
    h = max(2.5, 0.32 * len(t) + 1.2)
    fig = Figure(figsize=(8.5, h))
    ax = fig.add_subplot()
    y = np.arange(len(t))
    ax.hlines(y, t["min"], t["max"], color="#999999", linewidth=5, alpha=0.6, label="range")
    markers = "osD^vP*X"
    for i, mname in enumerate(models):
        ax.plot(t[mname], y, markers[i % len(markers)], label=str(mname), markersize=5)
    ax.set_yticks(y, [str(c)[:48] for c in t.index], fontsize=7)
    units = table.attrs.get("units") or {}
    unit = next(iter(units.values()), "") if len(set(units.values())) == 1 else "see units"
    ax.set_xlabel(f"{table.attrs.get('stressor', '')} [{unit}]")
    ax.set_title(title or "Footprint per category in each model", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()
