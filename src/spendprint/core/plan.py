"""The one cache of solved quantities of a model, and solve plans that fill it in one batch.

Two kinds of solve serve every analysis of a model (symbols as in `spendprint.core.model`):

* **adjoint**: rows of the multipliers ``M = S_all (I - A)^-1`` from ``(I - A)^T M^T = S_all^T``,
  one column per indicator; totals of any demand then follow as ``E = M Y`` without a solve;
* **forward**: outputs ``X = (I - A)^-1 Y`` of demand columns ``Y``, needed where impacts are
  wanted by the sector where they happen (``S diag(x)``) or where ``S`` changes by sector.

A `SolveCache` (one per model, ``mrio.cache``) keeps both: multiplier rows by indicator name and
outputs by a caller's key. Analyses ask the cache; a cache miss costs one solve. A `SolvePlan`
lets a caller that knows in advance what several analyses will ask (the main job) declare it all
first and fill the cache with **one** adjoint and **one** forward solve, the way flox declares a
reduction and one engine runs it::

    plan = SolvePlan(mrio)
    plan.multipliers(["CO2e", "Employment hours"])
    plan.outputs("demand-1", Y)            # (n, m)
    plan.solve()                           # 1 adjoint solve (2 rhs) + 1 forward solve (m rhs)
    mrio.cache.outputs("demand-1", Y)      # served from the cache
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .model import MRIO


class SolveCache:
    """Multiplier rows by indicator name and solved outputs by key, for one model.

    Thread-safe: concurrent callers (the HTTP API) share the rows; a row is solved once.
    """

    def __init__(self, mrio: MRIO) -> None:
        self._mrio = mrio
        self._rows: dict[str, np.ndarray] = {}
        self._outputs: dict[str, np.ndarray] = {}
        self._lock = threading.RLock()

    # ---- multipliers -------------------------------------------------------------------------
    def has_rows(self, names: Iterable[str]) -> bool:
        return all(nm in self._rows for nm in names)

    def multiplier_rows(self, names: Sequence[str]) -> np.ndarray:
        """Rows of ``M = S_all (I - A)^-1`` for ``names`` (len(names) x n), one adjoint solve for
        all rows not cached yet."""
        names = list(names)
        with self._lock:
            todo = [nm for nm in dict.fromkeys(names) if nm not in self._rows]
            if todo:
                MT = self._mrio.solver.solve_transpose(self._mrio.S_all(todo).T)
                for i, nm in enumerate(todo):
                    row = np.ascontiguousarray(MT[:, i])
                    row.flags.writeable = False
                    self._rows[nm] = row
            if not names:
                return np.zeros((0, self._mrio.n))
            return np.vstack([self._rows[nm] for nm in names])

    def vector_multipliers(self, s: np.ndarray) -> np.ndarray:
        """``m = (I - A)^-T s`` for an intensity vector that is no indicator of the model (e.g. a
        risk-weighted employment intensity), cached by the vector's digest."""
        import hashlib

        s = np.ascontiguousarray(s, dtype=np.float64)
        key = "vector:" + hashlib.blake2b(s.tobytes(), digest_size=16).hexdigest()
        with self._lock:
            if key not in self._rows:
                row = np.ascontiguousarray(self._mrio.solver.solve_transpose(s), dtype=np.float64)
                row.flags.writeable = False
                self._rows[key] = row
            return self._rows[key]

    # ---- outputs -----------------------------------------------------------------------------
    def has_outputs(self, key: str) -> bool:
        return key in self._outputs

    def outputs(self, key: str | None, Y: np.ndarray) -> np.ndarray:
        """``X = (I - A)^-1 Y`` (n x m); cached under ``key`` (``None``: not cached).

        The key names the demand: the same key must always mean the same ``Y``.
        """
        if key is not None:
            with self._lock:
                hit = self._outputs.get(key)
            if hit is not None:
                if hit.shape != np.shape(Y):
                    raise ValueError(f"cache key {key!r} holds outputs of shape {hit.shape}, "
                                     f"asked for {np.shape(Y)}")
                return hit
        X = self._mrio.solver.solve(np.ascontiguousarray(Y, dtype=np.float64))
        return X if key is None else self._store(key, X)

    def _store(self, key: str, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X)
        X.flags.writeable = False
        with self._lock:
            self._outputs[key] = X
        return X

    def forget(self, prefix: str = "") -> None:
        """Drop cached outputs whose key starts with ``prefix`` (all with ``""``)."""
        with self._lock:
            for k in [k for k in self._outputs if k.startswith(prefix)]:
                del self._outputs[k]


class SolvePlan:
    """Declare the multiplier rows and outputs several analyses need; `solve` fills the model's
    cache with one adjoint and one forward solve (see the module docstring)."""

    def __init__(self, mrio: MRIO) -> None:
        self._mrio = mrio
        self._names: list[str] = []
        self._columns: dict[str, np.ndarray] = {}

    def multipliers(self, names: Iterable[str]) -> SolvePlan:
        for nm in names:
            if nm not in self._names:
                self._names.append(nm)
        return self

    def outputs(self, key: str, Y: np.ndarray) -> SolvePlan:
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim != 2 or Y.shape[0] != self._mrio.n:
            raise ValueError(f"demand columns for {key!r} have shape {Y.shape}, expected "
                             f"({self._mrio.n}, m)")
        self._columns[key] = Y
        return self

    def solve(self) -> dict[str, int]:
        """Run the plan; returns how many right-hand sides each kind of solve had."""
        cache = self._mrio.cache
        names = [nm for nm in self._names if not cache.has_rows([nm])]
        if names:
            self._mrio.indicator_positions(names)  # unknown names raise before any solve
            cache.multiplier_rows(names)
        todo = {k: Y for k, Y in self._columns.items() if not cache.has_outputs(k)}
        cols = sum(Y.shape[1] for Y in todo.values())
        if cols:
            X = self._mrio.solver.solve(np.concatenate(list(todo.values()), axis=1))
            start = 0
            for k, Y in todo.items():
                cache._store(k, X[:, start:start + Y.shape[1]])
                start += Y.shape[1]
        return {"adjoint_rhs": len(names), "forward_rhs": int(cols)}
