"""spendprint: supply-chain emissions and labour-risk footprints of procurement with MRIO models.

>>> import spendprint as sp
>>> mrio = sp.synthetic_mrio(regions=4, sectors=30, seed=1)
>>> M = sp.multipliers(mrio, "CO2e")
"""

from __future__ import annotations

from .engine import as_demand, footprint, leontief, multipliers
from .errors import (
    ConvergenceError,
    InputFileError,
    LabelMismatchError,
    LedgerError,
    NotProductiveError,
    SpendprintError,
    ValidationError,
)
from .io.store import open_mrio
from .solver import LeontiefSolver
from .mrio import MRIO, validate
from .synthetic import synthetic_mrio
from .transform import aggregate

__version__ = "0.1.0"

__all__ = [
    "MRIO", "LeontiefSolver", "SpendprintError", "ValidationError", "LabelMismatchError",
    "NotProductiveError", "InputFileError", "LedgerError", "ConvergenceError", "aggregate",
    "as_demand", "footprint", "leontief", "multipliers", "open_mrio", "synthetic_mrio", "validate",
]
