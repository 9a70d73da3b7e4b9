"""Savings potential (b): user scenarios with levers per category, solved as one batch.

A scenario is a list of levers, applied in order to the baseline demand ``y`` (region, sector,
category) of `procurement_demand`; ``category`` ``*`` means every category.

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

Demand levers change the right-hand side; all scenarios x categories (plus the baseline) follow
from the model's cached multipliers: ``E = M [y_0 y_1 ... y_N]``, no solve. Intensity levers use linearity
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..core.model import MRIO
from ..errors import LedgerError, ValidationError
from ..io.tabular import read_table, read_yaml
from ..labelled.footprints import _indicators
from .demand import ProcurementDemand, origin_shares
from .regions import map_regions

LEVERS = ("volume", "substitute", "origin", "intensity")
COLUMNS = ("scenario", "category", "lever", "value", "sector", "to_sector", "region", "stressor")


def read_scenarios(path: str | Path) -> pd.DataFrame:
    """Read a scenario file (YAML or a table) into the lever table (columns `COLUMNS`,
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


def apply_levers(mrio: MRIO, y: np.ndarray, categories: Sequence[str], levers: pd.DataFrame,
                 buyer_region: str, buyer_shares: np.ndarray | None = None,
                 ) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """Apply one scenario's demand levers to ``y`` (R, P, m); return the new demand and the
    intensity cuts as ``[(stressor or "", d (n, m))]`` (see module docstring)."""
    y = y.copy()
    R, P, m = y.shape
    rpos = {r: i for i, r in enumerate(mrio.regions)}
    spos = {s: i for i, s in enumerate(mrio.sectors)}
    cpos = {c: i for i, c in enumerate(categories)}
    rmap = map_regions([r for r in levers["region"] if r], mrio.regions)
    shares = buyer_shares
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


@dataclass
class ScenarioBatch:
    """Scenario demands built from the baseline demand, before anything is solved.

    ``ys[i]`` (n, m) is scenario ``names[i]``'s demand; ``cuts[i]`` its intensity levers
    ``[(stressor or "", d (n, m))]``. Scenarios with intensity levers need the outputs
    ``x = L y_i`` (`output_columns`); everything else follows from the multipliers.
    """

    names: list[str]
    ys: list[np.ndarray]
    cuts: list[list[tuple[str, np.ndarray]]]
    demand_key: str

    def output_key(self, i: int) -> str:
        return f"{self.demand_key}/scenario/{i}"

    def output_columns(self) -> dict[str, np.ndarray]:
        """Cache key -> demand columns of the scenarios whose intensity levers need ``L y``."""
        return {self.output_key(i): self.ys[i] for i, cut in enumerate(self.cuts) if cut}


def lever_table(scenarios: pd.DataFrame | list | dict) -> pd.DataFrame:
    """The lever table of scenarios given as a table or as YAML-like records (files are read by
    `read_scenarios`)."""
    if isinstance(scenarios, (str, Path)):
        raise ValidationError("scenarios are a lever table or records; read a file with "
                              "spendprint.procurement.read_scenarios(path)")
    if isinstance(scenarios, pd.DataFrame):
        return _normalise(scenarios)
    return scenarios_from_records(scenarios)


def prepare_scenarios(mrio: MRIO, demand: ProcurementDemand,
                      scenarios: pd.DataFrame | list | dict) -> ScenarioBatch:
    """Check every lever against model and demand (all problems at once) and build the scenario
    demands; no solve."""
    demand.check_model(mrio)
    levers = lever_table(scenarios)
    problems = _check(levers, mrio, list(demand.categories))
    if problems:
        raise LedgerError(problems, "scenarios")
    R, P, m = demand.y.shape
    names = list(dict.fromkeys(levers["scenario"]))
    ys, cuts = [], []
    for s in names:
        y_s, cut_s = apply_levers(mrio, np.array(demand.y), demand.categories,
                                  levers[levers["scenario"] == s], demand.buyer_region,
                                  buyer_shares=demand.origin_shares)
        ys.append(y_s.reshape(R * P, m))
        cuts.append(cut_s)
    return ScenarioBatch(names=names, ys=ys, cuts=cuts, demand_key=demand.key)


def run_scenarios(mrio: MRIO, demand: ProcurementDemand,
                  scenarios: pd.DataFrame | list | dict | ScenarioBatch,
                  stressors: str | Sequence[str] | None = None) -> xr.Dataset:
    """Footprints of every scenario and category, from the model's cached solves.

    Totals are ``E = M [y_0 y_1 ... y_N]`` with the cached multiplier rows (no solve for
    demand levers); scenarios with intensity levers take ``x = L y_i`` from the cache (one
    forward solve for all of them, or none when the main job's `SolvePlan` solved them already).

    Parameters
    ----------
    demand : ProcurementDemand
        The baseline demand.
    scenarios : DataFrame (lever table), YAML-like records, or a `ScenarioBatch`
        See the module docstring for the levers; read files with `read_scenarios`.
    stressors : str or list of str, optional
        Indicators; default all of the model's.

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
    batch = scenarios if isinstance(scenarios, ScenarioBatch) else prepare_scenarios(
        mrio, demand, scenarios)
    if batch.demand_key != demand.key:
        raise ValidationError("this ScenarioBatch was prepared for another demand")
    names = _indicators(mrio, stressors)
    y = demand.y
    R, P, m = y.shape
    n = R * P
    snames, ys, cuts = batch.names, batch.ys, batch.cuts
    Y2 = np.concatenate([y.reshape(n, m), *ys], axis=1)          # (n, (1 + N) m)
    E = mrio.cache.multiplier_rows(names) @ Y2                  # (k, (1 + N) m), E = M Y
    k_base = len(mrio.stressors)
    pos = mrio.indicator_positions(names)
    for i, cut in enumerate(cuts):
        if not cut:
            continue
        Xi = mrio.cache.outputs(batch.output_key(i), ys[i])
        for stressor, d in cut:
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
         "spend": (("scenario", "category"), spend, {"units": demand.attrs["money_unit"]}),
         "total": (("scenario", "stressor"), fp.sum(axis=1)),
         "baseline_total": ("stressor", base.sum(axis=0))},
        coords={"scenario": snames, "category": list(demand.categories), "stressor": names,
                "unit": ("stressor", units)},
        attrs={**demand.attrs,
               "method": "E = M Y with the cached multipliers; intensity levers by linearity in S"},
    )
