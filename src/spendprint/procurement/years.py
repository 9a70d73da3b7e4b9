"""Results per ledger year: one demand per year on a common category axis, their footprints, and
the year-over-year decomposition (`spendprint.procurement.lmdi`).

Each year's rows are converted with that year's exchange rate and deflated to the model's base
year with that year's price index, exactly as a ledger holding only that year would be (the
demand of year ``t`` equals ``ProcurementDemand.build`` of the ledger filtered to ``t``), so the
per-year footprints equal separate one-year runs and add up to the whole-ledger footprint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ..core.model import MRIO
from ..labelled.footprints import _indicators
from .concordance import Concordance
from .demand import ProcurementDemand
from .ledger import Ledger
from .lmdi import yoy_table
from .prices import Prices


@dataclass(frozen=True)
class YearResults:
    """Per-year demands, their footprints and the year-over-year decomposition."""

    years: list[int]
    demands: list[ProcurementDemand]
    dataset: xr.Dataset
    yoy: pd.DataFrame


def ledger_years(ledger: Ledger) -> list[int]:
    """The distinct years of a ledger, ascending."""
    return sorted(int(y) for y in pd.unique(ledger.frame["year"]))


def results_by_year(mrio: MRIO, ledger: Ledger, concordance: Concordance,
                    prices: Prices | None = None, buyer_region: str = "NO",
                    categories: Sequence[str] | None = None,
                    stressors: str | Sequence[str] | None = None) -> YearResults:
    """Footprints per (year, stressor, category) and the year-over-year decomposition.

    Parameters
    ----------
    categories : sequence of str, optional
        The category axis (default: the order of the whole-ledger demand); categories without
        rows in a year get zeros there.
    stressors : str or list of str, optional
        Indicators (default all of ``mrio.indicators``).

    Returns
    -------
    YearResults
        ``dataset`` has dims (year, stressor, category) with ``footprint`` (stressor unit, coord
        ``unit``), ``spend`` (model money unit, basic prices of the base year), ``spend_nominal``
        (model money unit, prices of the ledger year) and ``spend_original`` (ledger currency);
        ``yoy`` is `spendprint.procurement.lmdi.yoy_table`.
    """
    names = _indicators(mrio, stressors)
    years = ledger_years(ledger)
    if categories is None:
        categories = ProcurementDemand.build(mrio, ledger, concordance, prices,
                                             buyer_region).categories
    cats = list(categories)
    demands = [ProcurementDemand.build(mrio, ledger, concordance, prices, buyer_region, year=y,
                                       categories=cats) for y in years]
    M = mrio.cache.multiplier_rows(names)  # (k, n): one model for every year
    fp = np.stack([M @ d.Y for d in demands])  # (years, k, m)
    lookup = dict(zip(mrio.indicators, mrio.indicator_units, strict=True))
    units = [lookup[s] for s in names]
    d0 = demands[0]
    money = d0.attrs["money_unit"]
    ds = xr.Dataset(
        {
            "footprint": (("year", "stressor", "category"), fp,
                          {"long_name": "footprint of the year's purchases (M y)"}),
            "spend": (("year", "category"), np.stack([d.spend for d in demands]),
                      {"units": money, "price_basis": "basic",
                       "long_name": "spend deflated to the model's base year"}),
            "spend_nominal": (("year", "category"), np.stack([d.spend_nominal for d in demands]),
                              {"units": money, "price_basis": "basic",
                               "long_name": "spend at the prices of the ledger year"}),
            "spend_original": (("year", "category"),
                               np.stack([d.spend_original for d in demands]),
                               {"units": d0.original_currency,
                                "long_name": "ledger amounts (excluding VAT)"}),
        },
        coords={"year": np.asarray(years, dtype=np.int64), "stressor": list(names),
                "category": cats, "unit": ("stressor", units)},
        attrs={"money_unit": money, "original_currency": d0.original_currency,
               "base_year": d0.attrs.get("base_year", -1)},
    )
    yoy = yoy_table(years, demands, [M] * len(years), names, units)
    return YearResults(years=years, demands=demands, dataset=ds, yoy=yoy)
