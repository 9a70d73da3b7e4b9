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
from .io.exiobase import read_exiobase3
from .io.pymrio_interop import from_pymrio, to_pymrio
from .solver import LeontiefSolver
from .mrio import MRIO, validate
from .procurement import (
    Concordance,
    Ledger,
    Prices,
    demo_inputs,
    hotspots,
    labour_risk,
    procurement_demand,
    procurement_footprint,
    run_scenarios,
    savings_potential,
)
from .synthetic import synthetic_mrio
from .transform import aggregate

__version__ = "0.1.0"

__all__ = [
    "MRIO", "LeontiefSolver", "SpendprintError", "ValidationError", "LabelMismatchError",
    "NotProductiveError", "InputFileError", "LedgerError", "ConvergenceError", "aggregate",
    "as_demand", "footprint", "leontief", "multipliers", "open_mrio", "synthetic_mrio", "validate",
]
__all__ += [
    "Ledger", "Concordance", "Prices", "procurement_demand", "procurement_footprint", "hotspots",
    "savings_potential", "run_scenarios", "labour_risk", "demo_inputs",
]

from .uncertainty import Uncertainty, monte_carlo, summarise  # noqa: E402

__all__ += ["Uncertainty", "monte_carlo", "summarise"]
__all__ += ["read_exiobase3", "from_pymrio", "to_pymrio"]

from .spa import production_layers, structural_paths  # noqa: E402

__all__ += ["structural_paths", "production_layers"]
