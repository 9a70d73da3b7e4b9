"""The procurement layer: ledgers, prices, concordances, category footprints, savings, labour risk.

Row numbers in every message are spreadsheet rows (header = row 1, first data row = row 2).
"""

from __future__ import annotations

from .analysis import category_footprints, hotspots, pareto, procurement_footprint
from .concordance import Concordance
from .demand import ProcurementDemand, as_procurement_demand, origin_shares, procurement_demand
from .demo import demo_inputs, demo_paths
from .labour import labour_risk, read_risk_table, risk_intensity, risk_scores
from .ledger import Ledger
from .prices import Prices
from .regions import map_regions
from .sampled import procurement_monte_carlo
from .savings import best_origin_demand, export_shares, savings_potential
from .scenarios import ScenarioBatch, lever_table, prepare_scenarios, read_scenarios, run_scenarios

__all__ = [
    "Concordance", "Ledger", "Prices", "ProcurementDemand", "ScenarioBatch",
    "as_procurement_demand", "best_origin_demand", "category_footprints", "lever_table",
    "prepare_scenarios", "procurement_monte_carlo", "demo_inputs", "demo_paths",
    "export_shares", "hotspots", "labour_risk", "map_regions", "origin_shares", "pareto",
    "procurement_demand", "procurement_footprint", "read_risk_table", "read_scenarios",
    "risk_intensity", "risk_scores", "run_scenarios", "savings_potential",
]
