"""Monte Carlo of a buyer's demand: the uncertainty layer's `monte_carlo` on a
`ProcurementDemand` (the procurement layer calls down into the uncertainty layer, not the
other way round)."""

from __future__ import annotations

from typing import Any

import xarray as xr

from ..core.model import MRIO
from ..uncertainty.montecarlo import monte_carlo
from ..uncertainty.spec import Uncertainty
from .concordance import Concordance
from .demand import ProcurementDemand, as_procurement_demand
from .ledger import Ledger
from .prices import Prices


def procurement_monte_carlo(mrio: MRIO, demand: ProcurementDemand | Ledger,
                            concordance: Concordance | None = None,
                            uncertainty: Uncertainty | None = None, prices: Prices | None = None,
                            buyer_region: str = "NO", **kwargs: Any) -> xr.Dataset:
    """`monte_carlo` of a procurement demand (region, sector, category).

    ``demand`` is a `ProcurementDemand`, or a `Ledger` with ``concordance``, ``prices`` and
    ``buyer_region`` to build it; ``kwargs`` go to `monte_carlo`. Spend RSD and Dirichlet
    concentrations are per ledger category.
    """
    d = as_procurement_demand(mrio, demand, concordance, prices, buyer_region)
    return monte_carlo(mrio, d.to_dataarray(), uncertainty, **kwargs)
