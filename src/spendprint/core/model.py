"""The MRIO container (its validation is in `spendprint.core.validation`).

An environmentally-extended multi-regional input-output model with ``n = R x P`` sectors:

* ``A`` (n x n) technical coefficients, ``A = Z diag(x)^-1`` (money per money);
* ``x`` (n) gross output (``meta["money_unit"]``, e.g. ``M EUR``);
* ``S`` (k x n) stressor intensities, ``S = F diag(x)^-1`` (stressor unit per money unit);
* ``Y`` (n x R*f) final demand, columns region-major ``(region, fd_category)``;
* ``F_Y`` (k x R*f) direct stressors of final demand;
* ``C`` (m x k) optional characterisation of stressors into impacts (e.g. GWP100 -> CO2e).

Sector order is region-major: sector ``i = r * P + p``. The container is immutable; the maths lives in
`spendprint.labelled.footprints`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sps

from ..errors import LabelMismatchError

if TYPE_CHECKING:
    from .leontief import LeontiefSolver
    from .plan import SolveCache

#: Writers of the I/O layer by format, registered by the modules that implement them.
WRITERS: dict[str, Callable[[MRIO, Any], None]] = {}

META_DEFAULTS: dict[str, Any] = {
    "source": "unknown",
    "year": None,
    "currency": "EUR",
    "money_unit": "M EUR",
    "price_basis": "basic",
    "system": "pxp",
}


@dataclass(frozen=True, eq=False)
class MRIO:
    """An immutable EE-MRIO model (see module docstring for the symbols and units)."""

    A: np.ndarray | sps.csr_array
    x: np.ndarray
    S: np.ndarray
    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    stressors: tuple[str, ...]
    stressor_units: tuple[str, ...]
    Y: np.ndarray | None = None
    fd_categories: tuple[str, ...] = ()
    F_Y: np.ndarray | None = None
    C: np.ndarray | None = None
    impacts: tuple[str, ...] = ()
    impact_units: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("regions", "sectors", "stressors", "stressor_units", "fd_categories",
                     "impacts", "impact_units"):
            object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)))
        object.__setattr__(self, "meta", {**META_DEFAULTS, **dict(self.meta)})
        for name in ("A", "x", "S", "Y", "F_Y", "C"):  # immutable container: arrays are read-only
            arr = getattr(self, name)
            if isinstance(arr, np.ndarray) and arr.flags.writeable:
                arr = np.asarray(arr)
                if arr.base is not None or arr.flags.owndata:
                    arr = arr.view()
                arr.flags.writeable = False
                object.__setattr__(self, name, arr)

    # ---- sizes and labels -------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of sectors, ``R * P``."""
        return len(self.regions) * len(self.sectors)

    @property
    def is_sparse(self) -> bool:
        return sps.issparse(self.A)

    @property
    def indicators(self) -> tuple[str, ...]:
        """Stressors followed by characterised impacts: the ``stressor`` axis of results."""
        return self.stressors + self.impacts

    @property
    def indicator_units(self) -> tuple[str, ...]:
        return self.stressor_units + self.impact_units

    @property
    def sector_index(self) -> pd.MultiIndex:
        """(region, sector) labels of the n sectors, region-major."""
        return pd.MultiIndex.from_product([self.regions, self.sectors], names=["region", "sector"])

    @property
    def fd_index(self) -> pd.MultiIndex:
        return pd.MultiIndex.from_product([self.regions, self.fd_categories],
                                          names=["region", "category"])

    def S_all(self, indicators: list[str] | tuple[str, ...] | None = None) -> np.ndarray:
        """Intensities of all indicators, ``[S; C S]`` (k+m x n), optionally a subset by name."""
        S = self.S if self.C is None or not self.impacts else np.vstack([self.S, self.C @ self.S])
        if indicators is None:
            return np.ascontiguousarray(S)
        return np.ascontiguousarray(S[self.indicator_positions(indicators)])

    def indicator_positions(self, indicators: list[str] | tuple[str, ...] | str) -> list[int]:
        if isinstance(indicators, str):
            indicators = [indicators]
        lookup = {name: i for i, name in enumerate(self.indicators)}
        missing = [s for s in indicators if s not in lookup]
        if missing:
            raise LabelMismatchError(
                f"unknown stressor(s) {missing}; this model has {list(self.indicators)[:20]}"
                + (" ..." if len(self.indicators) > 20 else "")
            )
        return [lookup[s] for s in indicators]

    def dense_A(self) -> np.ndarray:
        return self.A.toarray() if sps.issparse(self.A) else np.asarray(self.A)

    @property
    def Z(self) -> np.ndarray:
        """Inter-industry flows ``Z = A diag(x)`` (dense)."""
        return self.dense_A() * self.x[None, :]

    @property
    def F(self) -> np.ndarray:
        """Stressors of production ``F = S diag(x)``."""
        return self.S * self.x[None, :]

    # ---- derived, cached ---------------------------------------------------------------------
    @functools.cached_property
    def solver(self) -> LeontiefSolver:
        """The solver of (I - A), set up once on first use and kept with the model.

        Block Jacobi over the regions' domestic blocks where it converges fast, else an LU
        factorisation (`spendprint.core.leontief.LeontiefSolver` with ``method="auto"``).
        """
        from .leontief import LeontiefSolver

        return LeontiefSolver(self.A, blocks=len(self.sectors))

    @functools.cached_property
    def cache(self) -> SolveCache:
        """The model's one cache of multiplier rows and solved outputs (`spendprint.core.plan`)."""
        from .plan import SolveCache

        return SolveCache(self)

    def replace(self, **changes: Any) -> MRIO:
        """A copy with some fields changed (the cached factorisation is not carried over)."""
        return replace(self, **changes)

    def validate(self, *, strict: bool = False, balance_rtol: float = 1e-6) -> MRIO:
        """Check shapes, labels, values and productivity; return self or raise.

        Fatal problems (NaN/inf, shapes, labels, spectral radius of A >= 1) raise
        `ValidationError`, `LabelMismatchError` or `NotProductiveError` with a message that names
        the field and where it is wrong; warnings (negative coefficients, negative final demand,
        zero output, x not balanced within `balance_rtol`) raise only with `strict=True`. For the
        report itself use [validate][spendprint.core.validation.validate].
        """
        from .validation import validate as _validate

        _validate(self, strict=strict, balance_rtol=balance_rtol)
        return self

    def to_zarr(self, path: str | Any) -> None:
        """Write the model to a native Zarr store (atomic; see `spendprint.open_mrio`).

        The writer lives in the I/O layer (`spendprint.io.native_store.write_mrio`), which
        registers itself in `WRITERS` when imported (``import spendprint`` does), so that the
        core never imports the layers above it.
        """
        writer = WRITERS.get("zarr")
        if writer is None:
            raise RuntimeError("no native store writer registered: import spendprint first")
        writer(self, path)

    def __repr__(self) -> str:
        return (f"<MRIO {self.meta.get('source')} {self.meta.get('year')}: "
                f"{len(self.regions)} regions x {len(self.sectors)} sectors = {self.n}, "
                f"{len(self.indicators)} indicators, A {'sparse' if self.is_sparse else 'dense'}>")
