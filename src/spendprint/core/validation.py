"""Validation of an `MRIO` that accepts real data: fatal problems, warnings and figures.

Real tables are not textbook tables: USEEIO and EXIOBASE have small negative coefficients (scrap,
used goods), WIOD has negative final demand (inventory changes) and zero-output sectors. None of
these makes the Leontief inverse wrong, so they are *warnings* with counts, sums and the worst
entries named by (region, sector). *Fatal* are: NaN/inf values, wrong shapes, duplicate labels and a
spectral radius of `A` at or above one (then `(I - A)^-1 = sum_k A^k` does not converge and
footprints are meaningless).

Productivity is judged by the spectral radius `rho(A)`, not by column sums: a column sum above one
with `rho(A) < 1` is fine (one USEEIO v1.2 column sums to 1.003 with `rho = 0.50`). Bounds used:
`rho(A) <= rho(|A|) <= max_j sum_i |a_ij|` (the largest column sum of `|A|`), and for any positive
vector `v` the Collatz-Wielandt bound `rho(|A|) <= max_i (|A| v)_i / v_i`.

[quick_checks][spendprint.core.validation.quick_checks] is what every load runs (cheap, fatal only);
[validate][spendprint.core.validation.validate] is the full report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sps

from ..errors import LabelMismatchError, NotProductiveError, ValidationError

if TYPE_CHECKING:
    from .model import MRIO

#: matrices up to this size get their spectral radius from dense `numpy.linalg.eigvals`
DENSE_EIG_MAX = 2000
#: fallback to dense eigenvalues after an ARPACK failure up to this size; power bounds above it
DENSE_FALLBACK_MAX = 6000


@dataclass(frozen=True)
class ValidationReport:
    """Result of [validate][spendprint.core.validation.validate].

    Attributes
    ----------
    problems : list of str
        Fatal problems (only non-empty with `raise_errors=False`; otherwise they raise).
    warnings : list of str
        Things real data often has and that do not make results wrong (negative coefficients,
        negative final demand, zero output, x not balanced with Z and Y within the tolerance).
    figures : dict
        Counts, sums, worst entries, largest column sum, `spectral_radius` and
        `spectral_radius_method`, the balance tolerance used.
    """

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No fatal problem."""
        return not self.problems

    def lines(self) -> list[str]:
        """Human-readable lines: problems, warnings, then the main figures."""
        f = self.figures
        out = [f"problem: {p}" for p in self.problems] + [f"warning: {w}" for w in self.warnings]
        if "spectral_radius" in f:
            out.append(f"spectral radius of A: {f['spectral_radius']:.6g} "
                       f"({f['spectral_radius_method']})")
        if "colsum_max" in f:
            out.append(f"largest column sum of A: {f['colsum_max']:.6g} "
                       f"({f['columns_above_one']} column(s) above 1)")
        if not self.problems and not self.warnings:
            out.insert(0, "valid: no problems, no warnings")
        return out


# ---- labels --------------------------------------------------------------------------------------
def _where(mrio: MRIO, flat: int) -> str:
    P = len(mrio.sectors)
    return f"{mrio.regions[flat // P]}/{mrio.sectors[flat % P]}"


def _fd_where(mrio: MRIO, col: int) -> str:
    f = max(1, len(mrio.fd_categories))
    return f"{mrio.regions[col // f]}/{mrio.fd_categories[col % f]}" if mrio.fd_categories else str(col)


def _check_unique(name: str, labels: tuple[str, ...]) -> None:
    seen = pd.Index(labels)
    if seen.has_duplicates:
        raise LabelMismatchError(f"{name} has duplicate labels: {sorted(set(seen[seen.duplicated()]))[:5]}")


def _check_shapes(mrio: MRIO) -> None:
    n, k = mrio.n, len(mrio.stressors)
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


def _A_values(mrio: MRIO) -> np.ndarray:
    return mrio.A.data if sps.issparse(mrio.A) else np.asarray(mrio.A)


_BLOCK = 1024  # rows per block in the dense passes, so no n x n temporary is made


def _row_blocks(arr: np.ndarray):
    if arr.ndim < 2:
        yield 0, arr
        return
    for start in range(0, arr.shape[0], _BLOCK):
        yield start, arr[start:start + _BLOCK]


def _all_finite(arr: np.ndarray) -> bool:
    return all(bool(np.isfinite(block).all()) for _, block in _row_blocks(arr))


def _check_finite(mrio: MRIO) -> None:
    for name in ("A", "x", "S", "Y", "F_Y", "C"):
        arr = _A_values(mrio) if name == "A" else getattr(mrio, name)
        if arr is None or _all_finite(np.asarray(arr)):
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            if name == "A" and sps.issparse(mrio.A):
                coo = mrio.A.tocoo()
                i = int(np.flatnonzero(~np.isfinite(coo.data))[0])
                pos: tuple[int, ...] = (int(coo.row[i]), int(coo.col[i]))
            else:
                pos = tuple(int(p) for p in np.argwhere(bad)[0])
            raise ValidationError(f"{name} contains {int(bad.sum())} NaN/inf value(s) at index {pos}")


# ---- spectral radius -------------------------------------------------------------------------
def _abs_colsum(A: Any) -> np.ndarray:
    """Column sums of `|A|` (dense: block by block, no n x n temporary)."""
    return _abs_rmatvec(A, np.ones(A.shape[0]))


def _abs_rmatvec(A: Any, v: np.ndarray) -> np.ndarray:
    """`|A|^T v` (dense: block by block)."""
    if sps.issparse(A):
        return np.asarray(abs(sps.csr_array(A)).T @ v).ravel()
    A = np.asarray(A)
    out = np.zeros(A.shape[1])
    for start, block in _row_blocks(A):
        out += np.abs(block).T @ v[start:start + block.shape[0]]
    return out


def power_bounds(A: Any, iterations: int = 200) -> tuple[float, float]:
    """Bounds `(lower, upper)` on `rho(|A|)` by power iteration and Collatz-Wielandt.

    For a non-negative `B = |A|` and any positive `v`, `min_i (Bv)_i / v_i <= rho(B) <=
    max_i (Bv)_i / v_i`; the iteration `v <- B v` (kept strictly positive) tightens both. The upper
    bound also bounds `rho(A)`; the lower bound is a bound on `rho(A)` only when `A >= 0`.
    Each iteration costs one product with `|A|^T` (O(nnz)).
    """
    if sps.issparse(A):
        Bt = abs(sps.csr_array(A)).T.tocsr()  # iterate on columns: rho(B^T) = rho(B)

        def step(v: np.ndarray) -> np.ndarray:
            return Bt @ v
    else:
        def step(v: np.ndarray) -> np.ndarray:
            return _abs_rmatvec(A, v)
    v = np.ones(A.shape[0])
    lo, hi = 0.0, float("inf")
    for _ in range(iterations):
        w = step(v)
        ratio = w / v
        lo, hi = max(lo, float(ratio.min())), min(hi, float(ratio.max()))
        if hi - lo <= 1e-10 * max(hi, 1e-300):
            break
        top = float(w.max())
        if top == 0.0:
            return 0.0, 0.0
        v = np.maximum(w / top, 1e-12)
    return lo, hi


def spectral_radius(A: Any, *, dense_max: int = DENSE_EIG_MAX, arpack_maxiter: int = 5000
                    ) -> tuple[float, str]:
    """The spectral radius `rho(A) = max |lambda_i(A)|` and the method that gave it.

    Dense `numpy.linalg.eigvals` up to `dense_max` sectors; above, ARPACK (`scipy.sparse.linalg.eigs`,
    largest magnitude). When ARPACK fails, dense eigenvalues up to `DENSE_FALLBACK_MAX` sectors, else
    the power-iteration upper bound on `rho(|A|)` (see
    [power_bounds][spendprint.core.validation.power_bounds]). The method string says which, and
    why the fallback was taken. Never returns NaN.
    """
    n = A.shape[0]
    if n == 0:
        return 0.0, "empty"
    if n <= dense_max:
        dense = A.toarray() if sps.issparse(A) else np.asarray(A)
        return float(np.max(np.abs(np.linalg.eigvals(dense)))), "dense eigenvalues (numpy)"
    import scipy.sparse.linalg as spla

    try:
        vals = spla.eigs(sps.csr_array(A) if sps.issparse(A) else np.asarray(A), k=1, which="LM",
                         return_eigenvectors=False, maxiter=arpack_maxiter, tol=1e-8)
        rho = float(np.abs(vals[0]))
        if np.isfinite(rho):
            return rho, "ARPACK (scipy.sparse.linalg.eigs)"
        why = "ARPACK returned a non-finite value"
    except Exception as exc:  # ArpackNoConvergence, ArpackError, ...
        why = f"ARPACK failed: {type(exc).__name__}"
    if n <= DENSE_FALLBACK_MAX:
        dense = A.toarray() if sps.issparse(A) else np.asarray(A)
        return float(np.max(np.abs(np.linalg.eigvals(dense)))), f"dense eigenvalues ({why})"
    lo, hi = power_bounds(A, iterations=2000)
    return hi, f"power-iteration upper bound on rho(|A|), lower {lo:.6g} ({why})"


def _not_productive(rho: float, method: str, A: Any, labels: MRIO | None) -> NotProductiveError:
    colsum = np.asarray(A.sum(axis=0)).ravel()
    j = int(np.argmax(colsum))
    where = f" ({_where(labels, j)})" if labels is not None else ""
    return NotProductiveError(
        f"(I - A) is not productive: spectral radius of A is {rho:.6g} by {method} (must be < 1); "
        f"the largest column sum is {colsum[j]:.6g} at column {j}{where}. Check the units of Z and "
        f"x, and that A = Z diag(x)^-1 was formed with the right x.")


def check_productive(A: Any, labels: MRIO | None = None, *, exact: bool = False,
                     dense_max: int = DENSE_EIG_MAX, arpack_maxiter: int = 5000) -> tuple[float, str]:
    """Raise `NotProductiveError` unless `rho(A) < 1`; return `(radius or bound, method)`.

    Cheap first: the largest column sum of `|A|` bounds `rho(A)`; then power-iteration bounds on
    `|A|`; only when these are inconclusive (or `exact=True`) the radius itself by
    [spectral_radius][spendprint.core.validation.spectral_radius].
    """
    if A.shape[0] == 0:
        return 0.0, "empty"
    if not exact:
        bound = float(_abs_colsum(A).max())
        if bound < 1.0:
            return bound, "upper bound: largest column sum of |A|"
        lo, hi = power_bounds(A)
        if hi < 1.0:
            return hi, "upper bound: power iteration on |A|"
    rho, method = spectral_radius(A, dense_max=dense_max, arpack_maxiter=arpack_maxiter)
    if not (rho < 1.0 - 1e-12):
        raise _not_productive(rho, method, A, labels)
    return rho, method


def quick_checks(mrio: MRIO) -> tuple[float, str]:
    """The cheap fatal checks every load runs, whatever the import flags.

    Shapes and label counts, finite values in `A`, `x`, `S`, `Y`, `F_Y`, `C`, and productivity by
    the column-sum and power-iteration bounds (the exact radius only when they are inconclusive).
    Returns `(radius or bound, method)`; raises `ValidationError`/`LabelMismatchError`/
    `NotProductiveError`.
    """
    _check_shapes(mrio)
    _check_finite(mrio)
    return check_productive(mrio.A, labels=mrio)


# ---- warnings --------------------------------------------------------------------------------
def _worst_negatives(mrio: MRIO, A: Any, top: int = 3) -> tuple[int, float, list[dict[str, Any]]]:
    if sps.issparse(A):
        coo = sps.coo_array(A)
        vals, rows, cols = coo.data, coo.row, coo.col
        neg = vals < 0
        vals, rows, cols = vals[neg], rows[neg], cols[neg]
    else:
        arr = np.asarray(A)
        parts = [(start + r, c) for start, block in _row_blocks(arr)
                 for r, c in [np.nonzero(block < 0)]]
        rows = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        cols = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
        vals = arr[rows, cols]
    order = np.argsort(vals, kind="stable")[:top]
    worst = [{"row": _where(mrio, int(rows[i])), "column": _where(mrio, int(cols[i])),
              "value": float(vals[i])} for i in order]
    return int(vals.size), float(vals.sum()), worst


def validate(mrio: MRIO, *, strict: bool = False, balance_rtol: float = 1e-6,
             raise_errors: bool = True, dense_max: int = DENSE_EIG_MAX) -> ValidationReport:
    """Validate an `MRIO` for real data: fatal problems raise, the rest is reported.

    Parameters
    ----------
    mrio : MRIO
    strict : bool
        Raise `ValidationError` on warnings too.
    balance_rtol : float
        Tolerance of the balance `x = A x + Y 1` (= `Z 1 + Y 1`): sector `i` is flagged when
        `|x_i - (A x)_i - (Y 1)_i| > balance_rtol * max(|x_i|, 1e-12 max|x|)`. Only with `Y`.
    raise_errors : bool
        With `False`, fatal problems are collected in `problems` instead of raised.
    dense_max : int
        Largest size whose spectral radius comes from dense eigenvalues (ARPACK above).

    Returns
    -------
    ValidationReport
        `warnings`: negative coefficients of `A` (count, sum, worst 3 as (region/sector row,
        region/sector column)), negative final demand, negative or zero gross output, x not
        balanced with Z and Y; `figures`: the same numbers plus the largest column sum of `A`, the
        number of columns summing above one, `spectral_radius` and `spectral_radius_method`.

    Raises
    ------
    ValidationError
        NaN/inf; with `strict=True` also any warning.
    LabelMismatchError
        Wrong shapes, duplicate labels.
    NotProductiveError
        `rho(A) >= 1`.
    """
    problems: list[str] = []
    warnings: list[str] = []
    fig: dict[str, Any] = {"n": mrio.n, "balance_rtol": balance_rtol}

    def fatal(check: Any, *args: Any) -> bool:
        try:
            check(*args)
        except ValidationError as exc:
            if raise_errors:
                raise
            problems.append(str(exc))
            return False
        return True

    for name in ("regions", "sectors", "stressors", "fd_categories", "impacts"):
        fatal(_check_unique, name, getattr(mrio, name))
    if not (fatal(_check_shapes, mrio) and fatal(_check_finite, mrio)):
        return ValidationReport(problems, warnings, fig)

    A = mrio.A
    colsum = np.asarray(A.sum(axis=0)).ravel()
    fig["nnz_A"] = int(A.nnz if sps.issparse(A) else np.count_nonzero(A))
    fig["colsum_max"] = float(colsum.max())
    fig["columns_above_one"] = int((colsum > 1.0).sum())
    fig["zero_columns_A"] = int((_abs_colsum(A) == 0).sum())

    def radius() -> None:
        rho, method = spectral_radius(A, dense_max=dense_max)
        fig["spectral_radius"], fig["spectral_radius_method"] = rho, method
        if not (rho < 1.0 - 1e-12):
            raise _not_productive(rho, method, A, mrio)

    fatal(radius)

    count, total, worst = _worst_negatives(mrio, A)
    fig.update(negative_A_count=count, negative_A_sum=total, negative_A_worst=worst)
    if count:
        names = "; ".join(f"{w['row']} <- {w['column']} = {w['value']:.4g}" for w in worst)
        warnings.append(f"A has {count} negative coefficient(s), sum {total:.6g}; most negative "
                        f"(row <- column): {names}")
    if mrio.Y is not None:
        Y = np.asarray(mrio.Y)
        neg = Y < 0
        fig["negative_Y_count"], fig["negative_Y_sum"] = int(neg.sum()), float(Y[neg].sum())
        if neg.any():
            r, c = np.nonzero(neg)
            order = np.argsort(Y[r, c], kind="stable")[:3]
            names = "; ".join(f"{_where(mrio, int(r[i]))} in {_fd_where(mrio, int(c[i]))} = "
                              f"{Y[r[i], c[i]]:.4g}" for i in order)
            warnings.append(f"Y has {int(neg.sum())} negative final-demand entr(y/ies), sum "
                            f"{float(Y[neg].sum()):.6g}; most negative: {names}")
    x = np.asarray(mrio.x)
    for label, mask in (("negative", x < 0), ("zero", x == 0)):
        fig[f"{label}_x_count"] = int(mask.sum())
        if mask.any():
            idx = np.flatnonzero(mask)
            shown = ", ".join(_where(mrio, int(i)) for i in idx[:5]) + (" ..." if idx.size > 5 else "")
            warnings.append(f"x has {idx.size} {label}-output sector(s): {shown}")
    if mrio.Y is not None:
        resid = x - A @ x - np.asarray(mrio.Y).sum(axis=1)
        scale = np.maximum(np.abs(x), 1e-12 * max(float(np.abs(x).max()), 1.0))
        rel = np.abs(resid) / scale
        bad = rel > balance_rtol
        worst_i = int(np.argmax(rel))
        fig["balance_max_rel"], fig["balance_count"] = float(rel[worst_i]), int(bad.sum())
        if bad.any():
            warnings.append(
                f"x is not consistent with Z and Y in {int(bad.sum())} sector(s) (tolerance "
                f"{balance_rtol:g} relative): worst x - Z1 - Y1 = {resid[worst_i]:.4g} at "
                f"{worst_i} ({_where(mrio, worst_i)}), relative {rel[worst_i]:.2e}")
    report = ValidationReport(problems, warnings, fig)
    if strict and warnings:
        raise ValidationError("strict validation: " + " | ".join(warnings))
    return report
