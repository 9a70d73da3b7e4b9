"""Large scenario sets on A, S and y, solved exactly in batches (`ScenarioSet`,
`scenario_footprints`); see docs/scenarios.md."""

from .engine import ScenarioStore, scenario_footprints, solve_chunk
from .sets import A_LEVERS, COLUMNS, DEMAND_LEVERS, LEVERS, S_LEVERS, ScenarioSet

__all__ = ["A_LEVERS", "COLUMNS", "DEMAND_LEVERS", "LEVERS", "S_LEVERS", "ScenarioSet",
           "ScenarioStore", "scenario_footprints", "solve_chunk"]
