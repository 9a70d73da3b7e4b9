"""Footprints per procurement category, Pareto ranking and hotspots."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.linalg import blas

from ..core.model import MRIO
from ..errors import LabelMismatchError
from ..labelled.footprints import _indicators
from .concordance import Concordance
from .demand import ProcurementDemand, as_procurement_demand
from .ledger import Ledger
from .prices import Prices


def pareto(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Share, cumulative share and rank of ``values`` (category, stressor) along axis 0.

    ``share = v / sum(v)``; categories sorted by ``v`` descending (ties in original order) get
    ``rank`` 1, 2, ...; ``cumulative_share`` of a category is the sum of the shares of all
    categories ranked at or above it (the Pareto curve).
    """
    v = np.asarray(values, dtype=np.float64)
    tot = v.sum(axis=0, keepdims=True)
    share = np.divide(v, tot, out=np.zeros_like(v), where=tot != 0)
    order = np.argsort(-v, axis=0, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(1, v.shape[0] + 1)[:, None].repeat(v.shape[1], 1), 0)
    cum_sorted = np.cumsum(np.take_along_axis(share, order, axis=0), axis=0)
    cum = np.empty_like(share)
    np.put_along_axis(cum, order, cum_sorted, axis=0)
    return share, cum, rank


def category_footprints(mrio: MRIO, demand: ProcurementDemand, names: list[str],
                        by_origin: bool) -> dict[str, np.ndarray]:
    """Totals, direct and (optionally) by-origin-region footprints of every category.

    Without origin breakdown ``E = M Y`` from the model's cached multiplier rows (k adjoint
    right-hand sides, shared with every other analysis). With it, ``x_c = L y_c`` from the
    cache (one forward solve for all categories, shared with the labour-risk screen) and
    ``E_origin[k, r, c] = sum_p S[k, (r, p)] x_c[(r, p)]``, ``E = sum_r E_origin``.
    """
    R, P, k, m = len(mrio.regions), len(mrio.sectors), len(names), demand.n_categories
    S = mrio.S_all(names)
    Y = demand.Y
    direct = blas.dgemm(1.0, S, Y)
    if not by_origin:
        return {"total": blas.dgemm(1.0, mrio.cache.multiplier_rows(names), Y), "direct": direct}
    X = mrio.cache.outputs(demand.key, Y)                                  # (n, m)
    total = blas.dgemm(1.0, S, X)
    by_region = np.matmul(S.reshape(k, R, P).transpose(1, 0, 2), X.reshape(R, P, m))  # (R, k, m)
    return {"total": total, "direct": direct, "by_origin_region": by_region.transpose(1, 2, 0)}


def procurement_footprint(mrio: MRIO, demand: ProcurementDemand | Ledger,
                          concordance: Concordance | None = None, prices: Prices | None = None,
                          buyer_region: str = "NO", stressors: str | Sequence[str] | None = None,
                          by_origin: bool = True) -> xr.Dataset:
    """Footprints of a buyer's demand per procurement category.

    ``E[:, c] = M y_c = S (I - A)^-1 y_c`` for every category column ``y_c`` of the demand, all
    categories at once (`category_footprints`).

    Parameters
    ----------
    mrio : MRIO
        The model.
    demand : ProcurementDemand, or Ledger
        The demand (`ProcurementDemand.build`); a `Ledger` with ``concordance``, ``prices`` and
        ``buyer_region`` builds it here (a convenience: the main job builds it once).
    stressors : str or list of str, optional
        Indicators (stressors and impacts, e.g. ``"CO2e"``); default all of ``mrio.indicators``.
    by_origin : bool
        Also compute ``by_origin_region`` (where in the world the impacts happen).

    Returns
    -------
    xarray.Dataset
        dims ``category`` (concordance order), ``stressor`` (with coord ``unit``) and
        ``origin_region``. Money is in the MRIO money unit (attrs ``money_unit``) at basic prices
        of the MRIO base year unless stated.

        * ``spend`` (category): demand at basic prices incl. re-allocated margins, excl. taxes;
        * ``spend_purchaser`` (category): converted ledger spend before taxes were stripped;
        * ``taxes``, ``margins`` (category): product taxes removed; margins moved to trade and
          transport products;
        * ``spend_original`` (category): ledger amounts, in ``attrs['original_currency']`` (the
          ledger currency if there is one, else the MRIO currency in whole units, not deflated);
        * ``spend_share`` (category): share of total ``spend``;
        * ``footprint`` (category, stressor): ``M y``, in the stressor's unit;
        * ``direct`` (category, stressor): ``S y``, emitted by the supplying sectors themselves;
        * ``supply_chain`` (category, stressor): ``footprint - direct``;
        * ``intensity`` (category, stressor): ``footprint / spend`` (unit per MRIO money unit);
        * ``share``, ``cumulative_share`` (category, stressor): share of the total footprint and
          the Pareto curve over categories sorted by footprint; ``rank`` (1 = largest);
        * ``by_origin_region`` (category, stressor, origin_region): ``S diag(L y)`` summed over
          origin sectors (only with ``by_origin``).
    """
    build = as_procurement_demand(mrio, demand, concordance, prices, buyer_region)
    names = _indicators(mrio, stressors)
    fp = category_footprints(mrio, build, names, by_origin)
    cats = list(build.categories)
    money = build.attrs["money_unit"]
    spend = build.spend
    total = fp["total"].T
    direct = fp["direct"].T
    share, cum, rank = pareto(total)
    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = np.where(spend[:, None] > 0, total / spend[:, None], 0.0)
    lookup = dict(zip(mrio.indicators, mrio.indicator_units, strict=True))
    units = [lookup[s] for s in names]
    cs = ("category", "stressor")
    ds = xr.Dataset(
        {
            "spend": ("category", spend, {"units": money, "price_basis": "basic"}),
            "spend_purchaser": ("category", build.spend_purchaser, {"units": money}),
            "taxes": ("category", build.taxes, {"units": money}),
            "margins": ("category", build.margins, {"units": money}),
            "spend_original": ("category", build.spend_original,
                               {"units": build.original_currency}),
            "spend_share": ("category", spend / spend.sum() if spend.sum() > 0 else spend * 0,
                            {"units": "1"}),
            "footprint": (cs, total, {"units": "see coord unit"}),
            "direct": (cs, direct, {"units": "see coord unit"}),
            "supply_chain": (cs, total - direct, {"units": "see coord unit"}),
            "intensity": (cs, intensity, {"units": f"coord unit per {money}"}),
            "share": (cs, share, {"units": "1"}),
            "cumulative_share": (cs, cum, {"units": "1"}),
            "rank": (cs, rank.astype(np.int64), {"units": "1 = largest footprint"}),
        },
        coords={"category": cats, "stressor": names, "unit": ("stressor", units)},
        attrs={**build.attrs, "original_currency": build.original_currency,
               "mrio_source": str(mrio.meta.get("source")),
               "note": str(mrio.meta.get("note", ""))},
    )
    if by_origin:
        bo = fp["by_origin_region"].transpose(1, 0, 2)                 # (category, stressor, R)
        ds["by_origin_region"] = (("category", "stressor", "origin_region"), bo,
                                  {"units": "see coord unit"})
        ds = ds.assign_coords(origin_region=list(mrio.regions))
    return ds


def hotspots(ds: xr.Dataset, stressor: str = "CO2e", top: int | None = 10) -> pd.DataFrame:
    """Categories ranked by footprint for one stressor.

    Returns
    -------
    DataFrame
        One row per category (``top`` largest, all with ``top=None``) sorted by ``rank``:
        ``rank, category, footprint, unit, share, cumulative_share, spend, spend_share,
        intensity, direct, supply_chain`` and, when ``ds`` has ``by_origin_region``,
        ``top_origin_region`` and ``top_origin_share`` (share of the category's footprint that
        occurs in that region).
    """
    if stressor not in ds["stressor"].values:
        raise LabelMismatchError(f"stressor {stressor!r} is not in the results; available: "
                                 f"{[str(s) for s in ds['stressor'].values]}")
    d = ds.sel(stressor=stressor)
    df = pd.DataFrame({
        "rank": d["rank"].to_numpy(), "category": d["category"].to_numpy().astype(str),
        "footprint": d["footprint"].to_numpy(), "unit": str(d["unit"].values),
        "share": d["share"].to_numpy(), "cumulative_share": d["cumulative_share"].to_numpy(),
        "spend": ds["spend"].to_numpy(), "spend_share": ds["spend_share"].to_numpy(),
        "intensity": d["intensity"].to_numpy(), "direct": d["direct"].to_numpy(),
        "supply_chain": d["supply_chain"].to_numpy(),
    })
    if "by_origin_region" in ds:
        bo = d["by_origin_region"].transpose("category", "origin_region").to_numpy()
        j = bo.argmax(axis=1)
        regions = ds["origin_region"].to_numpy().astype(str)
        fpv = df["footprint"].to_numpy()
        df["top_origin_region"] = regions[j]
        df["top_origin_share"] = np.divide(bo[np.arange(len(j)), j], fpv,
                                           out=np.zeros(len(j)), where=fpv != 0)
    df = df.sort_values("rank").reset_index(drop=True)
    return df if top is None else df.head(int(top))
