"""asv benchmarks of structural path analysis and production layers (spendprint.labelled.structural_paths).

Each class builds its seeded world (``_common.world``) in ``setup`` and compiles the Numba kernel
there on a tiny model, outside the timed part. The demand is one category: Norway buying
1 M EUR of rubber and plastic products (the product behind 'Examination gloves') with the import
shares of its households. ``python_spa`` is the peer: a straightforward pure-Python recursive
depth-first search with the same pruning rule (also used by ``spa_speed.py``).
"""

from __future__ import annotations

import time

import numpy as np

import spendprint as sp
from spendprint.labelled.structural_paths import (
    _multipliers,
    production_layers,
    structural_paths,
    structural_paths_by_category,
)

from ._common import SIZES, world

DEPTH = 8


class OutOfTime(Exception):
    """The pure-Python search ran past its time budget."""


def python_spa(A: np.ndarray, s: np.ndarray, m: np.ndarray, y: np.ndarray, threshold: float,
               max_depth: int, budget_s: float = 60.0) -> dict:
    """Pure-Python recursive SPA: visit ``(j, v)`` if ``v A[k, j] m_k >= threshold * E``, list the
    path if ``s_j v >= threshold * E``; every visited node scans all ``n`` entries of its column.

    Returns a dict with ``paths`` ({path tuple: value}), ``visited``, ``seconds`` and ``finished``
    (False when ``budget_s`` ran out; the counts are then those reached so far).
    """
    n = len(y)
    total = float(m @ y)
    thr = threshold * total
    s_l, m_l = s.tolist(), m.tolist()
    paths: dict[tuple, float] = {}
    state = {"visited": 0}
    t0 = time.perf_counter()
    deadline = t0 + budget_s

    def visit(path: list[int], v: float) -> None:
        state["visited"] += 1
        if state["visited"] % 16 == 0 and time.perf_counter() > deadline:
            raise OutOfTime
        j = path[-1]
        e = s_l[j] * v
        if e >= thr and e > 0.0:
            paths[tuple(path)] = e
        if len(path) <= max_depth:
            col = A[:, j].tolist()
            for k in range(n):
                a = col[k]
                if a != 0.0:
                    cb = v * (a * m_l[k])
                    if cb >= thr and cb > 0.0:
                        path.append(k)
                        visit(path, v * a)
                        path.pop()

    finished = True
    try:
        for i in range(n):
            if y[i] > 0.0 and m_l[i] * y[i] >= thr and m_l[i] * y[i] > 0.0:
                visit([i], float(y[i]))
    except OutOfTime:
        finished = False
    return {"paths": paths, "visited": state["visited"], "seconds": time.perf_counter() - t0,
            "finished": finished}


def gloves_demand(mrio: sp.MRIO) -> np.ndarray:
    """1 M EUR of rubber and plastic products bought in Norway, by origin (households' shares)."""
    P = len(mrio.sectors)
    j = mrio.sectors.index("Rubber and plastic products (25)")
    col = mrio.Y[:, mrio.regions.index("NO") * len(mrio.fd_categories)]
    y = np.zeros(mrio.n)
    y[j::P] = col[j::P] / col[j::P].sum()
    return y


def warm_up() -> None:
    """Compile the kernel outside the timed part."""
    tiny = sp.synthetic_mrio(2, 5, seed=0)
    structural_paths(tiny, np.ones(tiny.n), threshold=1e-2, max_depth=3)


class StructuralPaths:
    """One category, depth 8, thresholds 1e-3 and 1e-4 of the total; the multipliers are solved
    in the timed call (``_multipliers`` cache cleared), the factorisation and ``A^T`` are not."""

    params = [SIZES]
    param_names = ["n"]
    timeout = 600

    def setup(self, n: int) -> None:
        self.mrio = world(n)
        self.y = gloves_demand(self.mrio)
        _ = self.mrio.solver
        warm_up()
        structural_paths(self.mrio, self.y, "CO2e", threshold=1e-2, max_depth=2)  # A^T copy

    def _run(self, threshold: float):
        # time the multiplier solve too: a fresh cache for every call
        self.mrio.__dict__.pop("cache", None)
        return structural_paths(self.mrio, self.y, "CO2e", threshold=threshold, max_depth=DEPTH)

    def time_threshold_1e3(self, n: int) -> None:
        self._run(1e-3)

    def time_threshold_1e4(self, n: int) -> None:
        self._run(1e-4)

    def peakmem_threshold_1e4(self, n: int) -> None:
        self._run(1e-4)

    def track_paths_1e4(self, n: int) -> int:
        return len(self._run(1e-4))

    def track_coverage_1e4(self, n: int) -> float:
        return float(self._run(1e-4).attrs["coverage"])

    def time_pure_python_peer_1e4(self, n: int) -> None:
        s = self.mrio.S_all(["CO2e"])[0]
        python_spa(np.ascontiguousarray(self.mrio.dense_A()), s, _multipliers(self.mrio, s),
                   self.y, 1e-4, DEPTH, budget_s=300.0)


class ByCategory:
    """Eight categories in parallel with dask threads (the model enters the graph once)."""

    params = [SIZES]
    param_names = ["n"]
    timeout = 600

    def setup(self, n: int) -> None:
        self.mrio = world(n)
        _ = self.mrio.solver
        rng = np.random.default_rng(0)
        cols = rng.choice(self.mrio.Y.shape[1], min(8, self.mrio.Y.shape[1]), replace=False)
        self.demand = sp.as_demand(self.mrio, np.abs(self.mrio.Y[:, cols])).rename(
            demand="category")
        warm_up()

    def time_by_category(self, n: int) -> None:
        structural_paths_by_category(self.mrio, self.demand, "CO2e", threshold=1e-4,
                                     max_depth=DEPTH)


class ProductionLayers:
    """Tiers 0..10 and the rest, 5 indicators, by repeated products with A."""

    params = [SIZES]
    param_names = ["n"]
    timeout = 600

    def setup(self, n: int) -> None:
        self.mrio = world(n)
        self.y = gloves_demand(self.mrio)
        _ = self.mrio.solver

    def time_production_layers(self, n: int) -> None:
        production_layers(self.mrio, self.y, max_tier=10)
