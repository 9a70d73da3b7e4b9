"""Monte Carlo uncertainty of footprints over the whole MRIO and the spend mapping.

>>> import spendprint as sp
>>> mrio = sp.synthetic_mrio(regions=3, sectors=10)
>>> unc = sp.Uncertainty(a_rsd=0.1, s_rsd={"CO2": 0.04})

See `monte_carlo` (sampling, solving, storing), `Uncertainty` (what is uncertain),
`summarise` (statistics of samples) and `PerturbedLeontief` (batched perturbed solves
from the baseline factorisation, reusable for scenario sweeps).
"""

from __future__ import annotations

from ..runtime.cluster import local_client
from .iteration import BaselineLU, PerturbedLeontief
from .montecarlo import (
    DEFAULT_MEMORY_BUDGET,
    MonteCarloQualityError,
    UnguardedMainWarning,
    estimate_memory,
    monte_carlo,
)
from .spec import SCHULTE_2024_S_RSD, Uncertainty, rsd_to_sigma
from .summary import QUANTILES, percentile_columns, summarise

__all__ = [
    "DEFAULT_MEMORY_BUDGET", "MonteCarloQualityError", "UnguardedMainWarning", "estimate_memory",
    "QUANTILES", "SCHULTE_2024_S_RSD", "BaselineLU", "PerturbedLeontief", "Uncertainty",
    "local_client", "monte_carlo", "percentile_columns", "rsd_to_sigma",
    "summarise",
]
