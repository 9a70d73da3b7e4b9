"""Savings potential (a): the footprint if each product came from its best available origin.

For product ``p`` bought by category ``c`` (``y[:, p, c]``), the candidate origins are the
regions whose market share in supplying ``p`` is at least ``min_market_share`` -- in the buyer
region's purchases (``market="buyer"``, the default: regions that already sell ``p`` to the
buyer, `origin_shares`) or in world exports of ``p`` (``market="world"``) -- together with
the regions the category buys ``p`` from today. The whole amount ``sum_r y[r, p, c]`` is moved to
the candidate with the lowest multiplier ``M[target, r, p]``. Because today's origins are
candidates, the best-origin footprint of the target indicator is never above the baseline.
Trade and transport margins are products like any other and move too. Baseline and best-origin
footprints of all categories follow from the model's cached multipliers, ``E = M [y, y_best]``,
without a further solve.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from ..core.model import MRIO
from ..errors import ValidationError
from ..labelled.footprints import _indicators
from .concordance import Concordance
from .demand import ProcurementDemand, as_procurement_demand, origin_shares
from .ledger import Ledger
from .prices import Prices


def export_shares(mrio: MRIO) -> np.ndarray:
    """Share of each region in world exports of each product, shape (R, P).

    Exports of sector ``(r, p)``: its intermediate (``Z``) and final (``Y``) deliveries to all
    other regions. Columns sum to 1 (all zero for a product nobody exports).
    """
    R, P, n = len(mrio.regions), len(mrio.sectors), mrio.n
    own = np.repeat(np.arange(R), P)
    exports = np.zeros(n)
    f = len(mrio.fd_categories)
    for s in range(R):
        cols = np.arange(s * P, (s + 1) * P)
        flow = np.asarray(mrio.A[:, cols] @ mrio.x[cols]).ravel()
        if mrio.Y is not None and f:
            flow = flow + np.clip(np.asarray(mrio.Y)[:, s * f:(s + 1) * f], 0, None).sum(axis=1)
        exports += np.where(own != s, flow, 0.0)
    ex = exports.reshape(R, P)
    tot = ex.sum(axis=0, keepdims=True)
    return np.divide(ex, tot, out=np.zeros_like(ex), where=tot > 0)


def best_origin_demand(mrio: MRIO, y: np.ndarray, buyer_region: str, target: str = "CO2e",
                       min_market_share: float = 0.01, market: str = "buyer",
                       buyer_shares: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Move every product's demand to its lowest-multiplier candidate origin.

    Parameters
    ----------
    y : ndarray (R, P, m)
        Demand per category (MRIO money unit).
    buyer_shares : ndarray (R, P), optional
        The buyer region's import structure when already at hand (`origin_shares`).

    Returns
    -------
    y_best : ndarray (R, P, m)
        Same column and product totals as ``y``, each product from one region.
    best : ndarray (P, m) of int
        Index of the chosen region per product and category (-1 where the product is not bought).
    """
    if market == "buyer":
        shares = origin_shares(mrio, buyer_region) if buyer_shares is None else buyer_shares
    elif market == "world":
        shares = export_shares(mrio)
    else:
        raise ValidationError(f"market must be 'buyer' or 'world', not {market!r}")
    M = mrio.cache.multiplier_rows([target])[0].reshape(y.shape[0], y.shape[1])  # (R, P)
    cand = (shares >= min_market_share)[:, :, None] | (y > 0)    # (R, P, m)
    score = np.where(cand, M[:, :, None], np.inf)
    best = np.argmin(score, axis=0)                              # (P, m)
    tot = y.sum(axis=0)                                          # (P, m)
    y_best = np.zeros_like(y)
    P, m = tot.shape
    pp, cc = np.meshgrid(np.arange(P), np.arange(m), indexing="ij")
    y_best[best, pp, cc] = tot
    return y_best, np.where(tot > 0, best, -1)


def savings_potential(mrio: MRIO, demand: ProcurementDemand | Ledger,
                      concordance: Concordance | None = None, prices: Prices | None = None,
                      buyer_region: str = "NO", stressors: str | Sequence[str] | None = None,
                      target: str = "CO2e",
                      min_market_share: float = 0.01, market: str = "buyer") -> xr.Dataset:
    """Footprint per category if every product came from its best available origin.

    Parameters
    ----------
    target : str
        Indicator whose multiplier picks the best origin (default ``CO2e``).
    min_market_share : float
        Minimum share (0-1, default 1 %) of the market (see ``market``) a region must hold to
        count as an available origin.
    market : {"buyer", "world"}
        Market shares in the buyer region's purchases of the product, or in world exports.
    mrio, demand, concordance, prices, buyer_region, stressors
        As in `procurement_footprint`.

    Returns
    -------
    xarray.Dataset
        dims (category, stressor, sector): ``baseline`` and ``best_origin`` (footprints today
        and with every product from its best origin), ``savings`` = baseline - best_origin
        (category, stressor; stressor units in coord ``unit``),
        ``savings_share`` = savings / baseline; ``best_region`` (category, sector; region
        code, "" where the category does not buy the product), ``moved_spend`` (category;
        MRIO money unit moved to another region). The method is described in the module
        docstring.
    """
    if target not in mrio.indicators:
        raise ValidationError(f"target {target!r} is not an indicator of the MRIO "
                              f"({list(mrio.indicators)[:10]})")
    build = as_procurement_demand(mrio, demand, concordance, prices, buyer_region)
    names = _indicators(mrio, stressors)
    y = build.y
    R, P, m = y.shape
    y_best, best = best_origin_demand(mrio, y, build.buyer_region, target, min_market_share,
                                      market, buyer_shares=build.origin_shares)
    Y2 = np.concatenate([y.reshape(R * P, m), y_best.reshape(R * P, m)], axis=1)
    E = mrio.cache.multiplier_rows(names) @ Y2                  # (k, 2m): E = M Y, no solve
    base, bo = E[:, :m].T, E[:, m:].T
    regions = np.array(list(mrio.regions) + [""], dtype=object)
    best_region = regions[best].T.astype(str)                  # (m, P), -1 -> ""
    moved = np.abs(y_best - y).sum(axis=(0, 1)) / 2.0
    units = [dict(zip(mrio.indicators, mrio.indicator_units, strict=True))[s] for s in names]
    cs = ("category", "stressor")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(base != 0, (base - bo) / np.where(base != 0, base, 1), 0.0)
    return xr.Dataset(
        {"baseline": (cs, base), "best_origin": (cs, bo), "savings": (cs, base - bo),
         "savings_share": (cs, share, {"units": "1"}),
         "best_region": (("category", "sector"), best_region),
         "moved_spend": ("category", moved, {"units": build.attrs["money_unit"]})},
        coords={"category": list(build.categories), "stressor": names, "unit": ("stressor", units),
                "sector": list(mrio.sectors)},
        attrs={**build.attrs, "target": target, "min_market_share": float(min_market_share),
               "market": market},
    )
