"""Year-over-year change of a category's footprint, split into volume, price, mix and intensity.

For category ``c`` in year ``t`` the footprint is a sum over the products ``k = (region, sector)``
it buys::

    F_t = sum_k N_t * D_t * s_(k,t) * I_(k,t)

with

* ``N_t``, the **volume**: the category's spend in the MRIO money unit at the prices of year
  ``t`` (nominal; converted with the exchange rates of year ``t``, margins moved, taxes out:
  ``ProcurementDemand.spend_nominal``);
* ``D_t = Y_t / N_t``, the **price** factor: real over nominal spend, the deflation to the model's
  base year (``I_m(b) / I_m(t)``; it falls when prices rise, so the same money buys less);
* ``s_(k,t) = y_(k,t) / Y_t``, the **mix** across products and origins (``Y_t = sum_k y_(k,t)``,
  the real demand at basic prices);
* ``I_(k,t)``, the **intensity**: the total multiplier of product ``k`` (stressor per money unit,
  ``S (I - A)^-1``). With one model for every year it is the same in each year and its effect is
  zero; with one model per year (a batch over MRIO years) it carries the change of technology and
  emission factors.

The additive logarithmic mean Divisia index (LMDI-I; Ang 2004, *Energy Policy* 32, 1131-1139;
Ang 2015, *Energy Policy* 86, 233-238) gives each factor ``X`` the effect::

    Delta_X = sum_k L(F_(k,T), F_(k,0)) ln(X_(k,T) / X_(k,0)),   L(a, b) = (a - b) / (ln a - ln b)

(``L(a, a) = a``). Because ``L(a, b) ln(a / b) = a - b`` and the log ratios of the four factors
add up to ``ln(F_(k,T) / F_(k,0))``, the effects add up to the change ``F_T - F_0`` exactly, term
by term. Zero values follow the limit of Ang and Liu (2007, *Energy Policy* 35, 238-246): a
product bought in only one of the two years contributes its whole ``F_(k,T)`` (or ``-F_(k,0)``) to
the mix effect; a category bought in only one of the two years is all volume. Products whose
footprint changes sign (possible only with per-year models that have negative coefficients) go to
the intensity effect.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Columns of the decomposition table.
COLUMNS = ("category", "stressor", "unit", "year_from", "year_to", "footprint_from",
           "footprint_to", "change", "volume", "price", "mix", "intensity")


def logmean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The logarithmic mean ``(a - b) / (ln a - ln b)`` of same-sign arrays (``a`` where a == b)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / np.log(a / b)
    return np.where(np.isclose(a, b, rtol=1e-12, atol=0.0), 0.5 * (a + b), out)


def decompose(y0: np.ndarray, y1: np.ndarray, n0: float, n1: float, m0: np.ndarray,
              m1: np.ndarray) -> dict[str, float]:
    """LMDI-I effects of one category between two years (module docstring).

    Parameters
    ----------
    y0, y1 : ndarray (n,)
        Real demand by product (model money unit, base-year basic prices) in the two years.
    n0, n1 : float
        Nominal spend (model money unit, prices of each year).
    m0, m1 : ndarray (n,)
        Total multipliers of the products in each year (equal with one model).

    Returns
    -------
    dict
        ``footprint_from``, ``footprint_to``, ``change``, ``volume``, ``price``, ``mix``,
        ``intensity``; ``volume + price + mix + intensity == change`` to rounding.
    """
    y0 = np.asarray(y0, dtype=np.float64)
    y1 = np.asarray(y1, dtype=np.float64)
    f0, f1 = m0 * y0, m1 * y1
    F0, F1 = float(f0.sum()), float(f1.sum())
    out = {"footprint_from": F0, "footprint_to": F1, "change": F1 - F0,
           "volume": 0.0, "price": 0.0, "mix": 0.0, "intensity": 0.0}
    Y0, Y1 = float(y0.sum()), float(y1.sum())
    if n0 <= 0 or n1 <= 0 or Y0 <= 0 or Y1 <= 0:
        out["volume"] = F1 - F0  # the category is bought in one of the years only
        return out
    both = (f0 != 0) & (f1 != 0) & (np.sign(f0) == np.sign(f1))
    enter = (f0 == 0) & (f1 != 0)
    leave = (f0 != 0) & (f1 == 0)
    flip = (f0 != 0) & (f1 != 0) & ~both
    w = logmean(f1[both], f0[both])
    s0, s1 = y0[both] / Y0, y1[both] / Y1
    out["volume"] = float(w.sum() * np.log(n1 / n0))
    out["price"] = float(w.sum() * np.log((Y1 / n1) / (Y0 / n0)))
    out["mix"] = float((w * np.log(s1 / s0)).sum() + f1[enter].sum() - f0[leave].sum())
    out["intensity"] = float((w * np.log(m1[both] / m0[both])).sum()
                             + (f1[flip] - f0[flip]).sum())
    return out


def yoy_table(years: Sequence[int], demands: Sequence, multipliers: Sequence[np.ndarray],
              stressors: Sequence[str], units: Sequence[str]) -> pd.DataFrame:
    """The decomposition of every category and stressor between consecutive years.

    Parameters
    ----------
    years : sequence of int
        The ledger years, ascending.
    demands : sequence of ProcurementDemand
        One per year, on one category axis (`ProcurementDemand.build` with ``year`` and
        ``categories``).
    multipliers : sequence of ndarray (k, n)
        Total multiplier rows of ``stressors`` for each year's model (the same array for one
        model).
    stressors, units : sequence of str
        Indicator names and units (rows of the multipliers).

    Returns
    -------
    DataFrame
        Columns `COLUMNS`: one row per (category, stressor, year_from, year_to).
    """
    rows = []
    for i in range(len(years) - 1):
        d0, d1 = demands[i], demands[i + 1]
        M0, M1 = multipliers[i], multipliers[i + 1]
        Y0, Y1 = d0.Y, d1.Y
        for c, cat in enumerate(d0.categories):
            for k, (s, u) in enumerate(zip(stressors, units, strict=True)):
                eff = decompose(Y0[:, c], Y1[:, c], float(d0.spend_nominal[c]),
                                float(d1.spend_nominal[c]), M0[k], M1[k])
                rows.append({"category": cat, "stressor": s, "unit": u,
                             "year_from": int(years[i]), "year_to": int(years[i + 1]), **eff})
    return pd.DataFrame(rows, columns=list(COLUMNS))
