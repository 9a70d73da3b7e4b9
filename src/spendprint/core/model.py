"""The MRIO container and its validation.

An environmentally-extended multi-regional input-output model with ``n = R x P`` sectors:

* ``A`` (n x n) technical coefficients, ``A = Z diag(x)^-1`` (money per money);
* ``x`` (n) gross output (``meta["money_unit"]``, e.g. ``M EUR``);
* ``S`` (k x n) stressor intensities, ``S = F diag(x)^-1`` (stressor unit per money unit);
* ``Y`` (n x R*f) final demand, columns region-major ``(region, fd_category)``;
* ``F_Y`` (k x R*f) direct stressors of final demand;
* ``C`` (m x k) optional characterisation of stressors into impacts (e.g. GWP100 -> CO2e).

Sector order is region-major: sector ``i = r * P + p``. The container is immutable; the maths lives in
:mod:`spendprint.labelled.footprints`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sps

from ..errors import LabelMismatchError, NotProductiveError, ValidationError

if TYPE_CHECKING:
    from .leontief import LeontiefSolver

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
        """The factorisation of (I - A), computed once on first use and kept with the model."""
        from .leontief import LeontiefSolver

        return LeontiefSolver(self.A)

    def replace(self, **changes: Any) -> MRIO:
        """A copy with some fields changed (the cached factorisation is not carried over)."""
        return replace(self, **changes)

    def validate(self, *, balance_rtol: float = 1e-6) -> MRIO:
        """Check shapes, labels, values and productivity; return self or raise.

        Raises :class:`ValidationError`, :class:`LabelMismatchError` or
        :class:`NotProductiveError` with a message that names the field and where it is wrong.
        """
        validate(self, balance_rtol=balance_rtol)
        return self

    def to_zarr(self, path: str | Any) -> None:
        """Write the model to a native Zarr store (atomic; see :func:`spendprint.open_mrio`)."""
        from ..io.native_store import write_mrio

        write_mrio(self, path)

    def __repr__(self) -> str:
        return (f"<MRIO {self.meta.get('source')} {self.meta.get('year')}: "
                f"{len(self.regions)} regions x {len(self.sectors)} sectors = {self.n}, "
                f"{len(self.indicators)} indicators, A {'sparse' if self.is_sparse else 'dense'}>")


def _where(mrio: MRIO, flat: int) -> str:
    P = len(mrio.sectors)
    return f"{mrio.regions[flat // P]}/{mrio.sectors[flat % P]}"


def _check_unique(name: str, labels: tuple[str, ...]) -> None:
    seen = pd.Index(labels)
    if seen.has_duplicates:
        raise LabelMismatchError(f"{name} has duplicate labels: {sorted(set(seen[seen.duplicated()]))[:5]}")


def validate(mrio: MRIO, *, balance_rtol: float = 1e-6) -> None:
    """Validate an :class:`MRIO` (see :meth:`MRIO.validate`)."""
    n, k = mrio.n, len(mrio.stressors)
    for name in ("regions", "sectors", "stressors", "fd_categories", "impacts"):
        _check_unique(name, getattr(mrio, name))
    if n == 0:
        raise ValidationError("the model has no sectors")
    if mrio.A.shape != (n, n):
        raise LabelMismatchError(
            f"A has shape {mrio.A.shape}, expected ({n}, {n}) from {len(mrio.regions)} regions x "
            f"{len(mrio.sectors)} sectors")
    if mrio.x.shape != (n,):
        raise LabelMismatchError(f"x has shape {mrio.x.shape}, expected ({n},)")
    if mrio.S.shape != (k, n):
        raise LabelMismatchError(f"S has shape {mrio.S.shape}, expected ({k}, {n}) for stressors "
                                 f"{list(mrio.stressors)[:5]}...")
    if len(mrio.stressor_units) != k:
        raise LabelMismatchError(f"{len(mrio.stressor_units)} stressor units for {k} stressors")
    nfd = len(mrio.regions) * len(mrio.fd_categories)
    if mrio.Y is not None and mrio.Y.shape != (n, nfd):
        raise LabelMismatchError(f"Y has shape {mrio.Y.shape}, expected ({n}, {nfd}) = sectors x "
                                 f"(regions x final-demand categories)")
    if mrio.F_Y is not None and mrio.F_Y.shape != (k, nfd):
        raise LabelMismatchError(f"F_Y has shape {mrio.F_Y.shape}, expected ({k}, {nfd})")
    if mrio.C is not None and mrio.C.shape != (len(mrio.impacts), k):
        raise LabelMismatchError(f"C has shape {mrio.C.shape}, expected ({len(mrio.impacts)}, {k})")
    if len(mrio.impact_units) != len(mrio.impacts):
        raise LabelMismatchError(f"{len(mrio.impact_units)} impact units for {len(mrio.impacts)} impacts")

    Avals = mrio.A.data if sps.issparse(mrio.A) else np.asarray(mrio.A)
    for name, arr in (("A", Avals), ("x", mrio.x), ("S", mrio.S), ("Y", mrio.Y), ("F_Y", mrio.F_Y)):
        if arr is None:
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            pos = np.argwhere(bad)[0]
            where = "" if name == "A" and sps.issparse(mrio.A) else f" at index {tuple(int(p) for p in pos)}"
            raise ValidationError(f"{name} contains {int(bad.sum())} NaN/inf value(s){where}")
    if (Avals < 0).any():
        if sps.issparse(mrio.A):
            coo = mrio.A.tocoo()
            i = int(np.flatnonzero(coo.data < 0)[0])
            r, c = int(coo.row[i]), int(coo.col[i])
        else:
            r, c = (int(v) for v in np.argwhere(Avals < 0)[0])
        raise ValidationError(
            f"A has {int((Avals < 0).sum())} negative coefficient(s), first at row {r} "
            f"({_where(mrio, r)}), column {c} ({_where(mrio, c)}); technical coefficients must be >= 0")
    if (mrio.x < 0).any():
        i = int(np.flatnonzero(mrio.x < 0)[0])
        raise ValidationError(f"x has negative gross output at {i} ({_where(mrio, i)})")
    check_productive(mrio.A, labels=mrio)
    if mrio.Y is not None:
        Ax = mrio.A @ mrio.x
        resid = mrio.x - Ax - mrio.Y.sum(axis=1)
        scale = np.maximum(np.abs(mrio.x), 1e-12 * max(float(np.abs(mrio.x).max()), 1.0))
        rel = np.abs(resid) / scale
        worst = int(np.argmax(rel))
        if rel[worst] > balance_rtol and abs(resid[worst]) > balance_rtol * float(np.abs(mrio.x).max()) * 1e-3:
            raise ValidationError(
                f"x is not consistent with Z and Y: x - Z1 - Y1 = {resid[worst]:.4g} at {worst} "
                f"({_where(mrio, worst)}), relative {rel[worst]:.2e} > tolerance {balance_rtol:g}")


def check_productive(A: np.ndarray | sps.spmatrix | sps.sparray, labels: MRIO | None = None) -> None:
    """Raise :class:`NotProductiveError` unless the spectral radius of A is below 1.

    Column sums below one are sufficient (Hawkins-Simon for a non-negative A); otherwise the
    spectral radius is estimated with ARPACK.
    """
    colsum = np.asarray(A.sum(axis=0)).ravel()
    if colsum.size == 0 or colsum.max() < 1.0:
        return
    import scipy.sparse.linalg as spla

    n = A.shape[0]
    try:
        if n <= 500:
            rho = float(np.max(np.abs(np.linalg.eigvals(A.toarray() if sps.issparse(A) else A))))
        else:
            vals = spla.eigs(sps.csr_array(A) if sps.issparse(A) else A, k=1, which="LM",
                             return_eigenvectors=False, maxiter=5000, tol=1e-8)
            rho = float(np.abs(vals[0]))
    except Exception as exc:  # ARPACK failure: fall back to the column-sum verdict
        rho = float("nan")
        _ = exc
    if not (rho < 1.0 - 1e-12):
        j = int(np.argmax(colsum))
        where = f" ({_where(labels, j)})" if labels is not None else ""
        raise NotProductiveError(
            f"(I - A) is not productive: spectral radius of A is {rho:.6g} (must be < 1); the largest "
            f"column sum is {colsum[j]:.6g} at column {j}{where}. Check the units of Z and x, and "
            f"that A = Z diag(x)^-1 was formed with the right x.")
