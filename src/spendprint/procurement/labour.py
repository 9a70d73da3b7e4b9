"""Labour-risk screen: employment hours embodied in purchases, weighted by a risk table.

For risk scores ``rho`` (0-1 per sector, from a region x product table) and employment
intensities ``s_h`` (hours per MRIO money unit of output)::

    h_c     = s_h (I - A)^-1 y_c                    embodied hours of category c
    risk_c  = (rho * s_h) (I - A)^-1 y_c            risk-weighted hours
    by origin sector j: s_h[j] x_c[j] and rho[j] s_h[j] x_c[j], with x_c = (I - A)^-1 y_c

``rho * s_h`` is the risk intensity vector (`risk_intensity`), usable wherever a stressor
row is (e.g. structural path analysis).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..core.model import MRIO
from ..errors import LabelMismatchError, LedgerError, ValidationError
from ..io.tabular import read_package_table, read_table
from ..labelled.footprints import as_demand
from .demand import ProcurementDemand
from .regions import map_regions

DEFAULT_EMPLOYMENT = "Employment hours"


def read_risk_table(path: str | Path | None = None) -> pd.DataFrame:
    """Read a risk table (columns region, sector, risk; ``*`` wildcards); default: the shipped
    illustrative ``labour_risk_example.csv``."""
    if path is None:
        return read_package_table("labour_risk_example.csv")
    path = Path(path)
    return read_table(path, as_text=True, comment="#" if path.suffix.lower() == ".csv" else None)


def risk_scores(mrio: MRIO, risk_table: pd.DataFrame | None = None) -> np.ndarray:
    """Risk score (0-1) of every sector, shape (R, P).

    The most specific matching row wins: (region, sector) > (region, ``*``) > (``*``, sector) >
    (``*``, ``*``); no match scores 0. Regions may be given as MRIO codes, country names or
    ISO codes (a country scores its whole MRIO region). Rows naming a region or product the MRIO
    does not have are ignored (a table can serve several MRIOs).
    """
    if isinstance(risk_table, (str, Path)):
        raise ValidationError("risk_table is a DataFrame (or None for the shipped example); read "
                              "a file with spendprint.procurement.read_risk_table(path)")
    df = risk_table if isinstance(risk_table, pd.DataFrame) else read_risk_table(None)
    missing = [c for c in ("region", "sector", "risk") if c not in df.columns]
    if missing:
        raise LedgerError([f"risk table, field '{c}': required column is missing" for c in missing],
                          "risk table")
    risk = pd.to_numeric(df["risk"], errors="coerce")
    bad = (risk.isna() | (risk < 0) | (risk > 1)).to_numpy()
    if bad.any():
        raise LedgerError([f"risk table row {r}, field 'risk': {v!r} is not a number in [0, 1]"
                           for r, v in zip(df.index[bad], df["risk"].to_numpy()[bad], strict=True)],
                          "risk table")
    reg = df["region"].astype(str).str.strip()
    sec = df["sector"].astype(str).str.strip()
    rmap = map_regions([r for r in set(reg) if r != "*"], mrio.regions)
    rpos = {r: i for i, r in enumerate(mrio.regions)}
    spos = {s: i for i, s in enumerate(mrio.sectors)}
    R, P = len(mrio.regions), len(mrio.sectors)
    out = np.zeros((R, P))
    level = np.full((R, P), -1)

    def put(mask: np.ndarray, value: float, lev: int) -> None:
        sel = mask & (level <= lev)
        out[sel] = value
        level[sel] = lev

    # apply in order of specificity so that more specific rows overwrite less specific ones
    keyed = sorted(zip(reg, sec, risk.to_numpy(), strict=True),
                   key=lambda t: (t[0] != "*") * 2 + (t[1] != "*"))
    for r, s, v in keyed:
        lev = (r != "*") * 2 + (s != "*")
        rows = np.ones(R, dtype=bool) if r == "*" else np.zeros(R, dtype=bool)
        if r != "*":
            region = rmap.get(r)
            if region is None:
                continue
            rows[rpos[region]] = True
        cols = np.ones(P, dtype=bool) if s == "*" else np.zeros(P, dtype=bool)
        if s != "*":
            if s not in spos:
                continue
            cols[spos[s]] = True
        put(rows[:, None] & cols[None, :], float(v), lev)
    return out


def _employment_row(mrio: MRIO, employment: str | Sequence[str]) -> np.ndarray:
    names = [employment] if isinstance(employment, str) else list(employment)
    missing = [n for n in names if n not in mrio.indicators]
    if missing:
        emp = [s for s in mrio.indicators if "employ" in s.lower()]
        raise LabelMismatchError(f"employment stressor(s) {missing} not in the MRIO; pass "
                                 f"employment=... (candidates: {emp[:10]})")
    return mrio.S_all(names).sum(axis=0)


def risk_intensity(mrio: MRIO, risk_table: pd.DataFrame | None = None,
                   employment: str | Sequence[str] = DEFAULT_EMPLOYMENT) -> np.ndarray:
    """Risk-weighted employment intensity ``rho * s_h`` per sector, shape (n,).

    Units: risk-weighted hours per MRIO money unit of output. ``employment`` names the
    employment stressor(s) (several, e.g. EXIOBASE's hours by skill level, are summed).
    """
    return risk_scores(mrio, risk_table).ravel() * _employment_row(mrio, employment)


def labour_risk(mrio: MRIO, demand: ProcurementDemand | xr.DataArray,
                risk_table: pd.DataFrame | None = None,
                employment: str | Sequence[str] = DEFAULT_EMPLOYMENT, threshold: float = 0.7,
                flag_share: float = 0.25, top: int = 5) -> xr.Dataset:
    """Labour-risk screen of a demand (region, sector, category), one batched solve.

    Parameters
    ----------
    demand : ProcurementDemand, or DataArray (region, sector, category)
        MRIO money unit. A `ProcurementDemand` shares its outputs ``x = L y`` with the
        footprints through the model's solve cache.
    risk_table : DataFrame, optional
        region, sector, risk (see `risk_scores`); default: the shipped illustrative table.
    employment : str or list of str
        Employment stressor(s) of the MRIO, in hours.
    threshold : float
        Risk score from which a sector counts as high-risk.
    flag_share : float
        A category is flagged for due diligence when at least this share of its embodied hours
        is worked in high-risk sectors.
    top : int
        Number of origin hotspots (region, sector) kept per category.

    Returns
    -------
    xarray.Dataset
        ``hours`` (category, h), ``risk_hours`` (category, risk-weighted h), ``mean_risk``
        (category, hours-weighted risk score), ``high_risk_hours``, ``high_risk_share``,
        ``flag`` (category, bool), ``risk_hours_by_origin_region`` (category, origin_region),
        hotspots ``hotspot_region``, ``hotspot_sector`` (str), ``hotspot_risk_hours`` and
        ``hotspot_score`` (category, hotspot); attrs threshold, flag_share, indicator note.
    """
    R, P, n = len(mrio.regions), len(mrio.sectors), mrio.n
    if isinstance(demand, ProcurementDemand):
        demand.check_model(mrio)
        cats, m = list(demand.categories), demand.n_categories
        xy = mrio.cache.outputs(demand.key, demand.Y)     # (n, m) x_c = L y_c, shared
    else:
        ya = as_demand(mrio, demand)
        if "category" not in ya.dims:
            ya = ya.expand_dims(category=["total"], axis=-1)
        ya = ya.transpose("region", "sector", "category")
        cats = [str(c) for c in ya["category"].values]
        m = ya.sizes["category"]
        y2 = np.ascontiguousarray(np.asarray(ya.values, dtype=np.float64).reshape(n, m))
        xy = mrio.cache.outputs(None, y2)                  # (n, m) output needed, x_c = L y_c
    sh = _employment_row(mrio, employment)                  # (n,) h per money unit
    rho = risk_scores(mrio, risk_table).ravel()             # (n,)
    hours_by = sh[:, None] * xy                             # (n, m)
    risk_by = (rho * sh)[:, None] * xy
    hours = hours_by.sum(axis=0)
    risk_h = risk_by.sum(axis=0)
    high = (rho >= threshold)[:, None]
    high_h = (hours_by * high).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_risk = np.where(hours > 0, risk_h / np.where(hours > 0, hours, 1), 0.0)
        high_share = np.where(hours > 0, high_h / np.where(hours > 0, hours, 1), 0.0)
    top = max(1, min(int(top), n))
    order = np.argsort(-risk_by, axis=0, kind="stable")[:top]          # (top, m)
    regions = np.array(mrio.regions, dtype=object)
    sectors = np.array(mrio.sectors, dtype=object)
    names = [employment] if isinstance(employment, str) else list(employment)
    hunit = dict(zip(mrio.indicators, mrio.indicator_units, strict=True))[names[0]]
    ds = xr.Dataset(
        {
            "hours": ("category", hours, {"units": hunit}),
            "risk_hours": ("category", risk_h, {"units": f"risk-weighted {hunit}"}),
            "mean_risk": ("category", mean_risk, {"units": "1"}),
            "high_risk_hours": ("category", high_h, {"units": hunit}),
            "high_risk_share": ("category", high_share, {"units": "1"}),
            "flag": ("category", high_share >= flag_share),
            "risk_hours_by_origin_region": (("category", "origin_region"),
                                            risk_by.reshape(R, P, m).sum(axis=1).T,
                                            {"units": f"risk-weighted {hunit}"}),
            "hotspot_region": (("category", "hotspot"),
                               regions[order // P].T.astype(str)),
            "hotspot_sector": (("category", "hotspot"), sectors[order % P].T.astype(str)),
            "hotspot_risk_hours": (("category", "hotspot"),
                                   np.take_along_axis(risk_by, order, axis=0).T,
                                   {"units": f"risk-weighted {hunit}"}),
            "hotspot_score": (("category", "hotspot"), rho[order].T, {"units": "1"}),
        },
        coords={"category": cats, "origin_region": list(mrio.regions),
                "hotspot": np.arange(1, top + 1)},
        attrs={"threshold": float(threshold), "flag_share": float(flag_share),
               "employment": ", ".join(names),
               "indicator": "hours x risk score (0-1); see the risk table's documentation",
               "money_unit": str(mrio.meta.get("money_unit", ""))},
    )
    return ds
