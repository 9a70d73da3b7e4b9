"""Savings potential in two kinds: the theoretical bound and a realistic lever.

* **Theoretical bound** (``best_origin``, ``savings``): every product comes from the
  lowest-intensity region that already supplies it (market share above ``min_market_share``,
  default: any share above zero). It is an upper bound on what switching origins can save, not a
  plan: it assumes the cleanest supplier can deliver all of it, at the same price and quality.
* **Realistic lever** (``lever_footprint``, ``lever_savings``): the product is shifted only to
  origins that already hold at least ``lever_min_share`` (default 10 %) of the market, i.e.
  established suppliers that could plausibly take more of it, and only where the cleanest of
  them is below the category's current average for that product (`lever_demand`).

Each comes with the region that receives most of the moved spend per category
(``best_region_main``, ``lever_region_main``). Details of the move:

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
    held = (shares >= min_market_share) & (shares > 0)
    cand = held[:, :, None] | (y > 0)                            # (R, P, m)
    score = np.where(cand, M[:, :, None], np.inf)
    best = np.argmin(score, axis=0)                              # (P, m)
    tot = y.sum(axis=0)                                          # (P, m)
    y_best = np.zeros_like(y)
    P, m = tot.shape
    pp, cc = np.meshgrid(np.arange(P), np.arange(m), indexing="ij")
    y_best[best, pp, cc] = tot
    return y_best, np.where(tot > 0, best, -1)


def lever_demand(mrio: MRIO, y: np.ndarray, shares: np.ndarray, target: str = "CO2e",
                 min_share: float = 0.10) -> tuple[np.ndarray, np.ndarray]:
    """The realistic lever: each product moved to its cleanest established origin, if that helps.

    For product ``p`` of category ``c`` the established origins are the regions holding at least
    ``min_share`` of the market (``shares``, (R, P)). The whole amount goes to the one with the
    lowest multiplier of ``target`` when that multiplier is below the category's current average
    for ``p`` (``sum_r M[r, p] y[r, p, c] / sum_r y[r, p, c]``); otherwise the product stays as
    bought, so the lever never raises the target's footprint.

    Returns
    -------
    y_lever : ndarray (R, P, m)
        Same product totals as ``y``.
    best : ndarray (P, m) of int
        Region the product moved to, -1 where it stays as bought (or is not bought).
    """
    M = mrio.cache.multiplier_rows([target])[0].reshape(y.shape[0], y.shape[1])  # (R, P)
    score = np.where(shares >= min_share, M, np.inf)
    best = np.argmin(score, axis=0)                                   # (P,)
    best_m = score[best, np.arange(y.shape[1])]                       # (P,)
    tot = y.sum(axis=0)                                               # (P, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = np.einsum("rp,rpm->pm", M, y) / tot
    move = (tot > 0) & np.isfinite(best_m)[:, None] & (best_m[:, None] < avg * (1 - 1e-12))
    y_lev = np.where(move[None, :, :], 0.0, y)
    pp, cc = np.nonzero(move)
    y_lev[best[pp], pp, cc] = tot[pp, cc]
    return y_lev, np.where(move, best[:, None], -1)


def savings_potential(mrio: MRIO, demand: ProcurementDemand | Ledger,
                      concordance: Concordance | None = None, prices: Prices | None = None,
                      buyer_region: str = "NO", stressors: str | Sequence[str] | None = None,
                      target: str = "CO2e",
                      min_market_share: float = 0.0, market: str = "buyer",
                      lever_min_share: float = 0.10) -> xr.Dataset:
    """Footprint per category if every product came from its best available origin.

    Parameters
    ----------
    target : str
        Indicator whose multiplier picks the best origin (default ``CO2e``).
    min_market_share : float
        Minimum share (0-1) of the market (see ``market``) a region must hold to count as an
        available origin for the theoretical bound; default 0: any region that supplies it.
    lever_min_share : float
        Minimum market share (0-1, default 10 %) of the origins the realistic lever may shift
        spend to.
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
        MRIO money unit moved to another region), ``best_region_main`` (category; the region
        receiving most of the moved spend, "" when nothing moves); the realistic lever in the
        same form: ``lever_footprint``, ``lever_savings``, ``lever_savings_share``,
        ``lever_region``, ``lever_moved_spend``, ``lever_region_main``. The method is
        described in the module docstring.
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
    shares = (build.origin_shares if market == "buyer" and build.origin_shares is not None
              else origin_shares(mrio, build.buyer_region) if market == "buyer"
              else export_shares(mrio))
    y_lev, best_lev = lever_demand(mrio, y, shares, target, lever_min_share)
    Y2 = np.concatenate([y.reshape(R * P, m), y_best.reshape(R * P, m),
                         y_lev.reshape(R * P, m)], axis=1)
    E = mrio.cache.multiplier_rows(names) @ Y2                  # (k, 3m): E = M Y, no solve
    base, bo, lev = E[:, :m].T, E[:, m:2 * m].T, E[:, 2 * m:].T
    regions = np.array(list(mrio.regions) + [""], dtype=object)

    def main_region(yb: np.ndarray) -> np.ndarray:
        gain = np.clip(yb - y, 0, None).sum(axis=1)            # (R, m): spend moved in
        top = np.argmax(gain, axis=0)
        return np.where(gain.max(axis=0) > 0, regions[top], "").astype(str)

    best_region = regions[best].T.astype(str)                  # (m, P), -1 -> ""
    lever_region = regions[best_lev].T.astype(str)
    moved = np.abs(y_best - y).sum(axis=(0, 1)) / 2.0
    moved_lev = np.abs(y_lev - y).sum(axis=(0, 1)) / 2.0
    units = [dict(zip(mrio.indicators, mrio.indicator_units, strict=True))[s] for s in names]
    cs = ("category", "stressor")

    def share_of(saved: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(base != 0, saved / np.where(base != 0, base, 1), 0.0)

    money = build.attrs["money_unit"]
    return xr.Dataset(
        {"baseline": (cs, base), "best_origin": (cs, bo), "savings": (cs, base - bo),
         "savings_share": (cs, share_of(base - bo), {"units": "1"}),
         "best_region": (("category", "sector"), best_region),
         "moved_spend": ("category", moved, {"units": money}),
         "best_region_main": ("category", main_region(y_best)),
         "lever_footprint": (cs, lev), "lever_savings": (cs, base - lev),
         "lever_savings_share": (cs, share_of(base - lev), {"units": "1"}),
         "lever_region": (("category", "sector"), lever_region),
         "lever_moved_spend": ("category", moved_lev, {"units": money}),
         "lever_region_main": ("category", main_region(y_lev))},
        coords={"category": list(build.categories), "stressor": names, "unit": ("stressor", units),
                "sector": list(mrio.sectors)},
        attrs={**build.attrs, "target": target, "min_market_share": float(min_market_share),
               "lever_min_share": float(lever_min_share), "market": market},
    )
