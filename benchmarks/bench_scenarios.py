"""asv benchmarks of the scenario engine (`spendprint.scenarios.scenario_footprints`).

Per size: a batch of demand-only scenarios (volume and origin levers), of single-column
technology scenarios (Woodbury rank-1 updates) and of 12-product input mixes, each on 100
categories. The baseline factorisation is built in ``setup`` (it is shared by every scenario of a
run), so the timed part is the scenario work. ``benchmarks/scenario_speed.py`` is the script that
compares against refactorising per scenario and measures scenario x Monte Carlo.
"""

from __future__ import annotations

import numpy as np

from spendprint.scenarios import ScenarioSet, scenario_footprints
from spendprint.scenarios.engine import baseline_solver

from ._common import world

#: Scenarios per batch.
N_SCENARIOS = 64


def _sets(m, seed: int = 0) -> dict[str, ScenarioSet]:
    rng = np.random.default_rng(seed)
    R, P = m.regions, m.sectors
    demand = ScenarioSet.latin_hypercube(
        [{"lever": "volume", "value": (-0.3, 0.3)},
         {"lever": "origin", "region": R[min(1, len(R) - 1)], "sector": P[0],
          "value": (0.0, 1.0)}],
        n=N_SCENARIOS, seed=1)
    cols = rng.integers(0, m.n, N_SCENARIOS)
    tech = ScenarioSet([{"name": f"t{i}", "levers": [
        {"lever": "technology", "region": R[j // len(P)], "sector": P[j % len(P)],
         "value": float(rng.uniform(-0.5, 0.2))}]} for i, j in enumerate(cols)])
    mix = []
    for i in range(8):
        w = rng.dirichlet(np.ones(12))
        w[-1] = 1.0 - w[:-1].sum()
        mix.append({"name": f"mix{i}", "levers": [
            {"lever": "mix", "from_region": R[i % len(R)], "from_sector": s, "value": float(v)}
            for s, v in zip(P[:12], w, strict=True)]})
    return {"demand": demand, "technology": tech, "mix": ScenarioSet(mix)}


class ScenarioEngine:
    """Seconds per batch of scenarios (64 demand-only or technology scenarios, 8 mixes)."""

    params = ([1000, 4900], ["demand", "technology", "mix"])
    param_names = ["n", "kind"]
    timeout = 1200

    def setup(self, n: int, kind: str) -> None:
        self.m = world(n)
        rng = np.random.default_rng(n)
        self.Y = rng.random((self.m.n, 100)) * (rng.random((self.m.n, 100)) < 0.05)
        self.sets = _sets(self.m)
        baseline_solver(self.m)  # the shared baseline factorisation, outside the timing

    def time_scenarios(self, n: int, kind: str) -> None:
        scenario_footprints(self.m, self.Y, self.sets[kind], stressors=["CO2"])

    def peakmem_scenarios(self, n: int, kind: str) -> None:
        scenario_footprints(self.m, self.Y, self.sets[kind], stressors=["CO2"])
