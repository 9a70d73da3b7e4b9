"""Factorisation of (I - A) and solves with many right-hand sides, never forming the inverse.

Dense path: LU of (I - A) in float32 (LAPACK ``sgetrf``, half the memory traffic of float64) followed
by float64 iterative refinement until the relative residual ``||B - (I - A) X|| / ||B||`` is below
``tol``; if refinement stalls, a float64 LU is computed and used instead. All BLAS/LAPACK calls go
through `scipy.linalg` so that one OpenBLAS thread pool serves the hot loop.

Sparse path: SuperLU (`scipy.sparse.linalg.splu`) of (I - A) in CSC form.

Block path (`spendprint.core.blockjacobi`): for a multi-regional A, Richardson iteration
preconditioned with the inverses of the domestic diagonal blocks ``I - A_rr``, with Anderson mixing;
no n x n factorisation. ``auto`` takes it when the model has more than one region and the estimated
contraction ``rho((I - A_D)^-1 A_O)`` is at most `BLOCK_MAX_CONTRACTION`; an iteration that does not
converge falls back to the LU path (``method_used`` tells which one ran).
"""

from __future__ import annotations

import threading

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla
from scipy.linalg import blas, lapack

from ..errors import ConvergenceError, NotProductiveError
from .blockjacobi import BLOCK_MAX_CONTRACTION, BlockJacobi

#: Right-hand sides per block-Jacobi solve: bounds the iteration's workspace (about 12 n x m).
BLOCK_CHUNK = 512
#: A block-path solve with more than n / BLOCK_WIDE right-hand sides (the whole inverse, say) goes
#: to the LU twin: ten steps of 2 n^2 m flops then cost about four times an LU and its solves.
BLOCK_WIDE = 2
#: `auto` considers the block path only from this many sectors on: measured on the synthetic
#: worlds (multipliers and 100 footprints, `benchmarks/exact_engine.py`), the LU path is faster at
#: 1,000 and 4,900 sectors (0.9 s against 1.6 s, 5.1 s against 8.2 s) and the block path at 9,800
#: (18.6 s against 24.0 s): a step costs one product with the whole A, so many right-hand sides
#: favour the factorisation until n is large.
BLOCK_MIN_N = 6000

#: Dense LU below this density, or below this size, whatever the storage of A.
SPARSE_DENSITY_THRESHOLD = 0.05
SPARSE_MIN_N = 3000


def choose_method(A: np.ndarray | sps.sparray | sps.spmatrix) -> str:
    """``"sparse"`` for a large, sparse A (density below 5 %, n >= 3,000), else ``"dense"``."""
    n = A.shape[0]
    if not sps.issparse(A) or n < SPARSE_MIN_N:
        return "dense"
    return "sparse" if A.nnz / float(n * n) < SPARSE_DENSITY_THRESHOLD else "dense"


class LeontiefSolver:
    """Solve ``(I - A) X = B`` and ``(I - A)^T X = B`` from one factorisation.

    Parameters
    ----------
    A : ndarray or scipy sparse, shape (n, n)
        Technical coefficients.
    method : {"auto", "dense", "sparse", "block"}
        ``dense``/``sparse``: storage of the LU factorisation. ``block``: block-Jacobi iteration
        (needs ``blocks``). ``auto``: ``block`` when ``blocks`` gives more than one region, n is
        at least ``block_min_n`` and the estimated contraction is at most
        `BLOCK_MAX_CONTRACTION`, else `choose_method`.
    precision : {"mixed", "double"}
        Dense path only: float32 LU + float64 refinement (default), or float64 LU.
    tol : float
        Relative residual (max-norm per column) the refined solution must reach.
    max_refine : int
        Refinement steps of the dense LU path before the float64 fallback.
    blocks : int, optional
        Sectors per region (block size of the region-major A); None: one region.
    block_min_n : int, optional
        Smallest n for which ``auto`` considers the block path (default `BLOCK_MIN_N`).

    Attributes
    ----------
    method : str
        The method in use: ``"block"``, ``"dense"`` or ``"sparse"`` (after a fallback of the block
        iteration, the LU method that replaced it). ``method_used`` is the same.
    contraction : float or None
        The estimated ``rho((I - A_D)^-1 A_O)`` when the block path was considered.
    stats : dict
        ``refinement_steps`` (last solve; block-Jacobi steps on the block path), ``max_residual``
        (last solve), ``fallbacks`` (float32 to float64 LU), ``block_fallbacks`` (block iteration
        to LU), ``lu_solves`` (block path: solves with more than n / `BLOCK_WIDE` right-hand
        sides, done by the LU twin of `lu_solver`), ``factorisations`` (the block path's batched
        block inverses count as one, its LU twin as another),
        ``forward_solves`` and ``adjoint_solves`` (calls of `solve` and `solve_transpose`; one
        call serves any number of right-hand sides).

    Raises
    ------
    ConvergenceError
        When refinement stalls even on the float64 factorisation (an ill-conditioned (I - A)).

    Notes
    -----
    Solves may run from several threads (LAPACK ``getrs`` reads the factors only); the float64
    fallback swaps the factors under a lock. OpenBLAS must not run multi-threaded BLAS calls from
    several Python threads at once on some builds: callers that serve concurrent requests
    serialise BLAS work (the HTTP API does).
    """

    def __init__(self, A, method: str = "auto", precision: str = "mixed", tol: float = 1e-13,
                 max_refine: int = 12, blocks: int | None = None,
                 block_min_n: int | None = None) -> None:
        if method not in ("auto", "dense", "sparse", "block"):
            raise ValueError(f"method must be 'auto', 'dense', 'sparse' or 'block', not {method!r}")
        self.n = A.shape[0]
        self.requested_method = method
        self.precision = precision
        self.tol = tol
        self.max_refine = max_refine
        self.blocks = int(blocks) if blocks else None
        self.contraction: float | None = None
        self.fallback_reason: str | None = None
        self.stats: dict[str, float] = {"refinement_steps": 0, "max_residual": 0.0, "fallbacks": 0,
                                        "block_fallbacks": 0, "factorisations": 0,
                                        "forward_solves": 0, "adjoint_solves": 0}
        self._lock = threading.Lock()
        self._source = A  # kept (not copied) for a fallback from the block path
        self._bj: BlockJacobi | None = None
        self._lu_twin: LeontiefSolver | None = None
        if method == "block":
            if self.blocks is None:
                raise ValueError("method='block' needs blocks= (sectors per region)")
            self._bj = BlockJacobi(A, self.blocks, tol=tol)
            self.stats["factorisations"] += 1
            self.method = "block"
            return
        min_n = BLOCK_MIN_N if block_min_n is None else int(block_min_n)
        if method == "auto" and self._multi_region() and int(A.shape[0]) >= min_n:
            try:
                bj = BlockJacobi(A, self.blocks, tol=tol)
                self.contraction = bj.contraction()
                self.stats["contraction"] = self.contraction
            except NotProductiveError:
                bj = None  # a singular domestic block: the LU path decides about (I - A)
            if bj is not None and self.contraction <= BLOCK_MAX_CONTRACTION:
                self._bj = bj
                self.stats["factorisations"] += 1
                self.method = "block"
                return
        self._init_lu(A, choose_method(A) if method in ("auto", "block") else method)

    def _multi_region(self) -> bool:
        P = self.blocks
        return P is not None and 0 < P < self.n and self.n % P == 0

    @property
    def method_used(self) -> str:
        """The method that serves the solves: ``"block"``, ``"dense"`` or ``"sparse"``."""
        return self.method

    def _init_lu(self, A, method: str) -> None:
        self.method = method
        if self.method == "sparse":
            As = sps.csc_array(A, dtype=np.float64)
            self._A = sps.csr_array(As)
            M = sps.eye_array(self.n, format="csc") - As
            self.stats["factorisations"] += 1
            try:
                self._lu = spla.splu(M.tocsc())
            except RuntimeError as exc:
                raise NotProductiveError(f"(I - A) is singular: {exc}") from exc
        else:
            Ad = A.toarray() if sps.issparse(A) else np.asarray(A, dtype=np.float64)
            self._A = np.ascontiguousarray(Ad, dtype=np.float64)
            # A.T of a C-ordered array is an F-ordered view: BLAS reads it without a copy.
            self._AT = self._A.T
            self._factorise(np.float32 if self.precision == "mixed" else np.float64)

    def lu_solver(self) -> LeontiefSolver:
        """A solver on the LU path for the same A: self, or (block path) one built on first call.

        For callers that need the factors themselves (the Monte Carlo preconditioner).
        """
        if self._bj is None:
            return self
        with self._lock:
            if self._lu_twin is None:
                self.stats["factorisations"] += 1
                self._lu_twin = LeontiefSolver(self._source, method=choose_method(self._source),
                                               precision=self.precision, tol=self.tol,
                                               max_refine=self.max_refine)
        return self._lu_twin

    def _fall_back(self, exc: ConvergenceError) -> None:
        """Replace the block iteration by the LU path (after it failed to converge)."""
        with self._lock:
            if self._bj is None:
                return
            self.stats["block_fallbacks"] += 1
            self.fallback_reason = str(exc)
            self._init_lu(self._source, choose_method(self._source))
            self._bj = None

    # ---- factorisation -------------------------------------------------------------------------
    def _factorise(self, dtype) -> None:
        # Factorise (I - A)^T: a plain cast-copy of A's memory (A^T in Fortran order), no transpose
        # pass. Solves with (I - A) then use LAPACK's trans=1 and vice versa.
        M = np.array(self._AT, dtype=dtype, order="F")
        np.negative(M, out=M)
        M.flat[:: self.n + 1] += 1
        getrf = lapack.sgetrf if dtype == np.float32 else lapack.dgetrf
        self.stats["factorisations"] += 1
        lu, piv, info = getrf(M, overwrite_a=True)
        if info > 0:
            raise NotProductiveError(f"(I - A) is singular: zero pivot at position {info - 1}")
        self._lu, self._piv = lu, piv
        self._getrs = lapack.sgetrs if dtype == np.float32 else lapack.dgetrs
        self._lu_dtype = dtype

    # ---- products with A -----------------------------------------------------------------------
    def matvec(self, X: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``A @ X`` (or ``A.T @ X``) in float64."""
        bj = self._bj
        if bj is not None:
            return bj.matvec(X, transpose)
        if self.method == "sparse":
            return self._A.T @ X if transpose else self._A @ X
        Xf = np.asfortranarray(X, dtype=np.float64)
        # self._AT is A^T in F order: gemm(trans_a=1) gives A @ X, trans_a=0 gives A^T @ X.
        return blas.dgemm(1.0, self._AT, Xf, trans_a=0 if transpose else 1)

    def residual(self, X: np.ndarray, B: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``B - (I - A) X`` (or with the transpose)."""
        return B - X + self.matvec(X, transpose)

    # ---- solves --------------------------------------------------------------------------------
    def _lu_solve(self, R: np.ndarray, transpose: bool) -> np.ndarray:
        if self.method == "sparse":
            return self._lu.solve(R, trans="T" if transpose else "N")
        Rl = np.asfortranarray(R, dtype=self._lu_dtype)
        out, info = self._getrs(self._lu, self._piv, Rl, trans=0 if transpose else 1)
        return out.astype(np.float64, copy=False)

    def _block_solve(self, bj: BlockJacobi, B: np.ndarray, transpose: bool) -> np.ndarray:
        B = np.asarray(B, dtype=np.float64)
        if B.ndim == 1 or B.shape[1] <= BLOCK_CHUNK:
            X = bj.solve(B, transpose)
            steps, rel = bj.last["iterations"], bj.last["max_residual"]
        else:
            X = np.empty_like(B)
            steps, rel = 0, 0.0
            for a in range(0, B.shape[1], BLOCK_CHUNK):
                X[:, a:a + BLOCK_CHUNK] = bj.solve(B[:, a:a + BLOCK_CHUNK], transpose)
                steps = max(steps, bj.last["iterations"])
                rel = max(rel, bj.last["max_residual"])
        self.stats["refinement_steps"] = steps
        self.stats["max_residual"] = rel
        return X

    def _solve(self, B: np.ndarray, transpose: bool, _retry: bool = False) -> np.ndarray:
        if not _retry:
            self.stats["adjoint_solves" if transpose else "forward_solves"] += 1
        bj = self._bj
        if bj is not None and np.ndim(B) == 2 and np.shape(B)[1] * BLOCK_WIDE > self.n:
            twin = self.lu_solver()
            self.stats["lu_solves"] = self.stats.get("lu_solves", 0) + 1
            X = twin.solve_transpose(B) if transpose else twin.solve(B)
            self.stats["refinement_steps"] = twin.stats["refinement_steps"]
            self.stats["max_residual"] = twin.stats["max_residual"]
            return X
        if bj is not None:
            try:
                return self._block_solve(bj, B, transpose)
            except ConvergenceError as exc:
                self._fall_back(exc)
        B = np.asarray(B, dtype=np.float64)
        vec = B.ndim == 1
        B2 = np.asfortranarray(B[:, None] if vec else B)
        if B2.shape[0] != self.n:
            raise ValueError(f"right-hand side has {B2.shape[0]} rows, expected {self.n}")
        # scale every column to max-norm 1: float32 neither under- nor overflows, whatever the units
        colmax = np.abs(B2).max(axis=0) if B2.size else np.ones(B2.shape[1])
        colscale = np.where(colmax > 0, colmax, 1.0)
        B2 = B2 / colscale[None, :]
        X = self._lu_solve(B2, transpose)
        steps, rel = 0, 0.0
        if self.method == "dense" and B2.size:
            scale = np.where(colmax > 0, 1.0, np.finfo(float).tiny)
            while True:
                R = self.residual(X, B2, transpose)
                rel = float((np.abs(R).max(axis=0) / scale).max())
                if rel <= self.tol or steps == self.max_refine:
                    break
                X = X + self._lu_solve(R, transpose)
                steps += 1
            if rel > max(self.tol * 1e3, 1e-10):
                with self._lock:  # refinement stalled: fall back to a float64 LU, once
                    stalled_in_double = self._lu_dtype == np.float64
                    if not stalled_in_double:
                        self.stats["fallbacks"] += 1
                        self._factorise(np.float64)
                if stalled_in_double or _retry:
                    raise ConvergenceError(
                        f"iterative refinement of the float64 LU of (I - A) stalled at relative "
                        f"residual {rel:.3g} after {steps} steps (tolerance {self.tol:g}): (I - A) "
                        f"is too ill-conditioned for an accurate solve. Check A for near-singular "
                        f"blocks (sectors that use almost all of their own output).")
                return self._solve(B, transpose, _retry=True)
        self.stats["refinement_steps"] = steps
        self.stats["max_residual"] = rel
        X = X * colscale[None, :]
        return X[:, 0] if vec else X

    def solve(self, B: np.ndarray) -> np.ndarray:
        """X with ``(I - A) X = B``; B of shape (n,) or (n, m)."""
        return self._solve(B, transpose=False)

    def solve_transpose(self, B: np.ndarray) -> np.ndarray:
        """X with ``(I - A)^T X = B``; used for multipliers ``M^T = (I - A)^-T S^T``."""
        return self._solve(B, transpose=True)
