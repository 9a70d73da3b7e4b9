"""spendprint: supply-chain emissions and labour-risk footprints of procurement with MRIO models.

>>> import spendprint as sp
>>> mrio = sp.synthetic_mrio(regions=4, sectors=30, seed=1)
>>> M = sp.multipliers(mrio, "CO2e")
"""

from __future__ import annotations

from .core.leontief import LeontiefSolver
from .core.model import MRIO
from .core.plan import SolveCache, SolvePlan
from .core.synthetic import synthetic_mrio
from .core.validation import ValidationReport, validate
from .errors import (
    ConvergenceError,
    InputFileError,
    LabelMismatchError,
    LedgerError,
    NotProductiveError,
    SpendprintError,
    ValidationError,
)
from .io.detect import read_mrio
from .io.download import download
from .io.eora import read_eora26
from .io.exiobase import read_exiobase3
from .io.figaro import read_figaro
from .io.gloria import read_gloria
from .io.icio import read_oecd_icio
from .io.native_store import open_mrio
from .io.pymrio_interop import from_pymrio, to_pymrio
from .io.useeio import read_useeio, read_useeio_demands
from .io.wiod import read_wiod
from .labelled.aggregation import aggregate
from .labelled.footprints import as_demand, footprint, leontief, multipliers
from .labelled.structural_paths import (
    path_tree,
    production_layers,
    risk_paths,
    structural_paths,
    structural_paths_by_category,
)
from .procurement import (
    Concordance,
    Ledger,
    Prices,
    ProcurementDemand,
    demo_inputs,
    hotspots,
    labour_risk,
    prepare_scenarios,
    procurement_demand,
    procurement_footprint,
    procurement_monte_carlo,
    read_risk_table,
    read_scenarios,
    risk_intensity,
    run_scenarios,
    savings_potential,
)
from .procurement.bridges import classification_of, load_bridge, project_concordance
from .procurement.compare import compare_models, spread_chart
from .scenarios import ScenarioSet, scenario_footprints
from .uncertainty import (
    MonteCarloQualityError,
    Uncertainty,
    estimate_memory,
    monte_carlo,
    summarise,
)

__version__ = "0.1.0"

__all__ = [
    # model, solver, engine, I/O
    "MRIO", "LeontiefSolver", "SolveCache", "SolvePlan", "aggregate", "as_demand", "footprint",
    "leontief", "multipliers", "open_mrio", "read_exiobase3", "from_pymrio", "to_pymrio",
    "synthetic_mrio", "validate", "ValidationReport", "download", "read_mrio", "read_useeio",
    "read_useeio_demands", "read_gloria", "read_oecd_icio", "read_figaro", "read_eora26",
    "read_wiod",
    # procurement
    "Ledger", "Concordance", "Prices", "ProcurementDemand", "procurement_demand",
    "procurement_footprint", "hotspots", "savings_potential", "prepare_scenarios",
    "read_scenarios", "run_scenarios", "labour_risk", "read_risk_table", "risk_intensity",
    "demo_inputs",
    # scenario sets on A, S and y
    "ScenarioSet", "scenario_footprints",
    # several models
    "classification_of", "load_bridge", "project_concordance", "compare_models", "spread_chart",
    # uncertainty and supply-chain paths
    "Uncertainty", "monte_carlo", "estimate_memory", "MonteCarloQualityError", "procurement_monte_carlo", "summarise", "structural_paths",
    "structural_paths_by_category", "risk_paths", "path_tree", "production_layers",
    # errors
    "SpendprintError", "ValidationError", "LabelMismatchError", "NotProductiveError",
    "InputFileError", "LedgerError", "ConvergenceError",
]
