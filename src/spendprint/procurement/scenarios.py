"""Savings potential (b): user scenarios with levers per category, solved as one batch.

A scenario is a list of levers, applied in order to the baseline demand ``y`` (region, sector,
category) of :func:`procurement_demand`; ``category`` ``*`` means every category.

========== =============================================================================
lever      fields
========== =============================================================================
volume     ``value``: relative change of the category's demand (-0.2 = 20 % less)
substitute ``sector`` (product replaced; blank = every other product of the category),
           ``to_sector`` (new product), ``value`` (fraction moved, default 1), ``region``
           (origin of the new product; blank = the buyer's import shares)
origin     ``region`` (new origin), ``sector`` (blank = every product), ``value`` (fraction
           moved, default 1)
intensity  ``value``: fractional cut of the direct intensity ``S[:, j]`` of the supplying
           sectors ``j`` (those with ``y_c[j] > 0``, or only product ``sector``), for
           ``stressor`` (a base stressor; blank = all)
========== =============================================================================

Demand levers change the right-hand side; all scenarios x categories (plus the baseline) are
solved together: ``E = S (I - A)^-1 [y_0 y_1 ... y_N]`` (by the adjoint route ``E = M Y`` when
there are fewer indicators than columns, :func:`~spendprint.procurement.batch.batch_totals`). Intensity levers use linearity
in ``S`` with ``A`` unchanged (the supplier cuts its own emissions without changing its inputs):
with ``S' = S - S diag(d)``, ``E' = S' L y = E - S (d * x)``, ``x = L y`` (one more batched
solve, only for the scenarios that have intensity levers).
``d`` is the cut of the supplying sectors; it acts wherever those sectors appear in the category's
supply chain (their own output used upstream included), not only on the first tier. Several
intensity levers on one sector combine additively (cuts capped at 100 %).

Files: YAML ``{scenarios: [{name, description, levers: [{category, lever, ...}, ...]}, ...]}``
(or the list alone), or a table (CSV/xlsx/Parquet) with columns ``scenario, category, lever,
value, sector, to_sector, region, stressor`` (one lever per row).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..core.model import MRIO
from ..errors import LedgerError
from ..io.tabular import read_table, read_yaml
from ..labelled.footprints import _indicators
from .batch import batch_totals
from .concordance import Concordance
from .demand import build_demand, origin_shares
from .ledger import Ledger
from .prices import Prices
from .regions import map_regions

LEVERS = ("volume", "substitute", "origin", "intensity")
COLUMNS = ("scenario", "category", "lever", "value", "sector", "to_sector", "region", "stressor")


def read_scenarios(path: str | Path) -> pd.DataFrame:
    """Read a scenario file (YAML or a table) into the lever table (columns :data:`COLUMNS`,
    plus ``where``: file position for messages)."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return scenarios_from_records(read_yaml(path), source=path.name)
    df = read_table(path, as_text=True)
    df["where"] = [f"{path.name} row {r}" for r in df.index]
    return _normalise(df)


def scenarios_from_records(data: Any, source: str = "scenarios") -> pd.DataFrame:
    """Lever table from YAML-like records (see module docstring)."""
    if isinstance(data, dict):
        data = data.get("scenarios", [])
    if not isinstance(data, list):
        raise LedgerError([f"{source}: expected a list of scenarios"], source)
    rows = []
    for i, sc in enumerate(data, start=1):
        name = str(sc.get("name", f"scenario {i}")) if isinstance(sc, dict) else f"scenario {i}"
        levers = sc.get("levers", []) if isinstance(sc, dict) else []
        if not levers:
            rows.append({"scenario": name, "lever": "", "where": f"{source} scenario {i} ({name})"})
        for j, lv in enumerate(levers, start=1):
            rec = dict(lv) if isinstance(lv, dict) else {}
            rec["scenario"] = name
            rec["where"] = f"{source} scenario {i} ({name}) lever {j}"
            rows.append(rec)
    return _normalise(pd.DataFrame(rows))


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = ""
        df[c] = df[c].fillna("").astype(str).str.strip()
    df["lever"] = df["lever"].str.lower()
    if "where" not in df.columns:
        df["where"] = [f"lever {i + 1}" for i in range(len(df))]
    return df[[*COLUMNS, "where"]].reset_index(drop=True)


def _check(levers: pd.DataFrame, mrio: MRIO, categories: list[str]) -> list[str]:
    problems = []
    cats = set(categories)
    secs = set(mrio.sectors)
    rmap = map_regions([r for r in levers["region"] if r], mrio.regions)
    for rec in levers.itertuples(index=False):
        w = rec.where
        if not rec.lever:  # a scenario without levers is the baseline again
            continue
        if rec.lever not in LEVERS:
            problems.append(f"{w}, field 'lever': {rec.lever!r} is not one of {', '.join(LEVERS)}")
            continue
        if rec.category != "*" and rec.category not in cats:
            problems.append(f"{w}, field 'category': {rec.category!r} is not a category of the ledger")
        if rec.value:
            try:
                v = float(rec.value)
            except ValueError:
                problems.append(f"{w}, field 'value': {rec.value!r} is not a number")
            else:
                lo = -1.0 if rec.lever == "volume" else 0.0
                hi = np.inf if rec.lever == "volume" else 1.0
                if not lo <= v <= hi:
                    problems.append(f"{w}, field 'value': {v:g} is outside [{lo:g}, {hi:g}] for a "
                                    f"{rec.lever} lever")
        elif rec.lever in ("volume", "intensity"):
            problems.append(f"{w}, field 'value': a {rec.lever} lever needs a value")
        for fld in ("sector", "to_sector"):
            s = getattr(rec, fld)
            if s and s not in secs:
                problems.append(f"{w}, field '{fld}': {s!r} is not a product of the MRIO")
        if rec.lever == "substitute" and not rec.to_sector:
            problems.append(f"{w}, field 'to_sector': a substitute lever needs the new product")
        if rec.lever == "origin" and not rec.region:
            problems.append(f"{w}, field 'region': an origin lever needs the new region")
        if rec.region and rmap.get(rec.region) is None:
            problems.append(f"{w}, field 'region': {rec.region!r} maps to no region of the MRIO")
        if rec.stressor and rec.stressor not in mrio.stressors:
            problems.append(f"{w}, field 'stressor': {rec.stressor!r} is not a stressor of the MRIO "
                            f"(impacts follow from their stressors)")
    return problems


def apply_levers(mrio: MRIO, y: np.ndarray, categories: list[str], levers: pd.DataFrame,
                 buyer_region: str) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """Apply one scenario's demand levers to ``y`` (R, P, m); return the new demand and the
    intensity cuts as ``[(stressor or "", d (n, m))]`` (see module docstring)."""
    y = y.copy()
    R, P, m = y.shape
    rpos = {r: i for i, r in enumerate(mrio.regions)}
    spos = {s: i for i, s in enumerate(mrio.sectors)}
    cpos = {c: i for i, c in enumerate(categories)}
    rmap = map_regions([r for r in levers["region"] if r], mrio.regions)
    shares = None
    cuts: dict[str, np.ndarray] = {}
    for rec in levers.itertuples(index=False):
        if rec.lever not in LEVERS:
            continue
        cs = np.arange(m) if rec.category == "*" else np.array([cpos[rec.category]])
        val = float(rec.value) if rec.value else 1.0
        ps = np.arange(P) if not rec.sector else np.array([spos[rec.sector]])
        if rec.lever == "volume":
            y[:, :, cs] *= 1.0 + val
        elif rec.lever == "origin":
            r = rpos[str(rmap[rec.region])]
            block = y[:, ps][:, :, cs]                                # (R, |ps|, |cs|)
            moved = val * block.sum(axis=0)
            block *= 1.0 - val
            block[r] += moved
            y[np.ix_(np.arange(R), ps, cs)] = block
        elif rec.lever == "substitute":
            t = spos[rec.to_sector]
            ps = ps[ps != t]
            block = y[:, ps][:, :, cs]
            moved = val * block.sum(axis=(0, 1))                      # (|cs|,)
            y[np.ix_(np.arange(R), ps, cs)] = block * (1.0 - val)
            if rec.region:
                y[rpos[str(rmap[rec.region])], int(t), cs] += moved
            else:
                if shares is None:
                    shares = origin_shares(mrio, buyer_region)
                y[:, t, cs] += shares[:, t][:, None] * moved[None, :]
        else:  # intensity: recorded now, applied to the final demand's supplying sectors
            d = cuts.setdefault(rec.stressor, np.zeros((R * P, m)))
            mask = np.zeros((P, m), dtype=bool)
            mask[np.ix_(ps, cs)] = True
            d += val * np.broadcast_to(mask[None], (R, P, m)).reshape(R * P, m)
    out = []
    for s, d in cuts.items():
        supplying = y.reshape(R * P, m) > 0
        out.append((s, np.minimum(d, 1.0) * supplying))
    return y, out


def run_scenarios(mrio: MRIO, ledger: Ledger, concordance: Concordance,
                  scenarios: str | Path | pd.DataFrame | list | dict,
                  prices: Prices | None = None, buyer_region: str = "NO",
                  stressors: str | Sequence[str] | None = None) -> xr.Dataset:
    """Footprints of every scenario and category, all in one batched solve.

    Parameters
    ----------
    scenarios : path, DataFrame (lever table) or YAML-like records
        See the module docstring for the levers and file layouts.
    mrio, ledger, concordance, prices, buyer_region, stressors
        As in `procurement_footprint`.

    Returns
    -------
    xarray.Dataset
        dims (scenario, category, stressor): ``footprint`` (stressor units in coord ``unit``),
        ``change`` = footprint - baseline, ``change_share`` = change / baseline; ``baseline``
        (category, stressor); ``spend`` (scenario, category, MRIO money unit at basic prices
        after the levers); ``total`` (scenario, stressor) and ``baseline_total`` (stressor).

    Raises
    ------
    LedgerError
        Every problem of the scenario file at once (with its row or scenario/lever number).
    """
    if isinstance(scenarios, (str, Path)):
        levers = read_scenarios(scenarios)
    elif isinstance(scenarios, pd.DataFrame):
        levers = _normalise(scenarios)
    else:
        levers = scenarios_from_records(scenarios)
    build = build_demand(mrio, ledger, concordance, prices, buyer_region)
    problems = _check(levers, mrio, build.categories)
    if problems:
        raise LedgerError(problems, "scenarios")
    names = _indicators(mrio, stressors)
    y = build.y
    R, P, m = y.shape
    n = R * P
    snames = list(dict.fromkeys(levers["scenario"]))
    ys, cuts = [], []
    for s in snames:
        ys_, cuts_ = apply_levers(mrio, y, build.categories, levers[levers["scenario"] == s],
                                  buyer_region)
        ys.append(ys_.reshape(n, m))
        cuts.append(cuts_)
    Y2 = np.concatenate([y.reshape(n, m), *ys], axis=1)          # (n, (1 + N) m)
    E = batch_totals(mrio, Y2, names)                           # (k, (1 + N) m), one solve
    k_base = len(mrio.stressors)
    pos = mrio.indicator_positions(names)
    with_cuts = [i for i, cut in enumerate(cuts) if cut]
    if with_cuts:  # x = L y of the scenarios with intensity levers, one more batched solve
        cols = np.concatenate([np.arange((i + 1) * m, (i + 2) * m) for i in with_cuts])
        Xc = mrio.solver.solve(np.ascontiguousarray(Y2[:, cols]))
        for a, i in enumerate(with_cuts):
            Xi = Xc[:, a * m:(a + 1) * m]
            for stressor, d in cuts[i]:
                dF = np.zeros((k_base, m))
                rows = range(k_base) if not stressor else [mrio.stressors.index(stressor)]
                for r in rows:
                    dF[r] = mrio.S[r] @ (d * Xi)
                full = dF if mrio.C is None or not mrio.impacts else np.vstack([dF, mrio.C @ dF])
                E[:, (i + 1) * m:(i + 2) * m] -= full[pos]
    base = E[:, :m].T
    fp = E[:, m:].reshape(len(names), len(snames), m).transpose(1, 2, 0)  # (N, m, k)
    units = [dict(zip(mrio.indicators, mrio.indicator_units, strict=True))[s] for s in names]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(base[None] != 0, (fp - base[None]) / np.where(base != 0, base, 1)[None], 0.0)
    spend = np.stack([yy.sum(axis=0) for yy in ys]) if ys else np.zeros((0, m))
    scs = ("scenario", "category", "stressor")
    return xr.Dataset(
        {"footprint": (scs, fp), "change": (scs, fp - base[None]),
         "change_share": (scs, share, {"units": "1"}),
         "baseline": (("category", "stressor"), base),
         "spend": (("scenario", "category"), spend, {"units": build.attrs["money_unit"]}),
         "total": (("scenario", "stressor"), fp.sum(axis=1)),
         "baseline_total": ("stressor", base.sum(axis=0))},
        coords={"scenario": snames, "category": build.categories, "stressor": names,
                "unit": ("stressor", units)},
        attrs={**build.attrs, "method": "one batched solve; intensity levers by linearity in S"},
    )
