"""Block-Jacobi preconditioned iteration for ``(I - A) X = B`` and ``(I - A)^T X = B``.

An MRIO is nearly block-diagonal: with regions ``r = 0 .. R-1`` of ``P`` sectors each (sector order
region-major, ``i = r P + p``), split ``A = A_D + A_O`` into the domestic diagonal blocks ``A_rr``
(P x P each) and the off-diagonal (trade) part. With the preconditioner

    P = I - A_D = diag(I - A_00, ..., I - A_(R-1)(R-1)),

the Richardson iteration on ``(I - A) X = B`` is block Jacobi::

    X_0 = P^-1 B  (or a warm start x0);   repeat:  R_k = B - (I - A) X_k;   X_(k+1) = X_k + P^-1 R_k

and converges at the rate of the spectral radius ``rho(P^-1 A_O)`` (the same for the transposed
system, whose iteration matrix ``P^-T A_O^T`` has the same eigenvalues). On the synthetic
EXIOBASE-shaped world rho is about 0.08 and on the two-region USEEIO state model 0.07, so 8 to 11
steps reach a relative residual of 1e-13. Anderson mixing over the last ``depth`` steps (default
3) saves a quarter of the steps there (12 to 9) and more where a few eigenvalues dominate.

The residual is the true one, formed in float64 against A at every step:
``R = B + A_O X - (X - A_D X)``, and the stopping test is the one of the LU path: the relative
residual ``max_q ||R_q||_inf / ||B_q||_inf`` over the columns q is at most ``tol``.

Preconditioner: the inverses ``(I - A_rr)^-1`` of the R blocks, computed in one batched
`numpy.linalg.inv` call and applied by one ``dgemm`` per block to all right-hand sides at once.
Inverses rather than LU factors because the blocks are small (P <= 200: R P^2 values, 15 MiB at
49 x 200) and a matrix product is several times faster than triangular solves; their rounding
(about ``cond(I - A_rr) eps``) changes only the rate, never the accuracy, since the residual is
formed against A itself. A block whose 1-norm condition number exceeds 1e15 is singular
(`NotProductiveError`).

Products: for a dense (C-ordered) A, ``A X`` by one BLAS ``dgemm`` with the whole A (its
transpose is an F-ordered view: no copy; the off-diagonal share of an MRIO's A is dense in
pattern, a third of all entries in the synthetic world, so a sparse layout of it would cost more
to build than it saves); for a scipy sparse A, ``A_O X`` through the project's segmented CSR kernel
`spendprint.kernels.csr_matmat` (the Monte Carlo solver's product), one layout per orientation,
built on first use. The small block products run on one BLAS thread. No n x n factorisation is
ever formed.
"""

from __future__ import annotations

import threading

import numpy as np
import scipy.sparse as sps
from scipy.linalg import blas
from threadpoolctl import ThreadpoolController

from spendprint import kernels as K

from ..errors import ConvergenceError, NotProductiveError

#: `auto` uses block Jacobi when the estimated contraction rho(P^-1 A_O) is at most this.
BLOCK_MAX_CONTRACTION = 0.5


_CONTROLLER: ThreadpoolController | None = None


def _one_blas_thread():
    """Context with one BLAS thread: the batches of small block GEMMs (P x P by P x m) run
    fastest so (two OpenBLAS threads that wait on each other were 40x slower on a loaded
    2-core host), while the n x n products outside keep every thread."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def _aligned_empty(shape, align: int = 64) -> np.ndarray:
    """An uninitialised C-ordered float64 array whose data starts on an ``align``-byte boundary."""
    size = int(np.prod(shape)) * 8
    raw = np.empty(size + align, dtype=np.uint8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + size].view(np.float64).reshape(shape)


def block_apply(blocks: np.ndarray, X: np.ndarray, transpose: bool = False) -> np.ndarray:
    """``diag(blocks) @ X`` (or with every block transposed) for X of shape (R P, m) or (R P,).

    One BLAS ``dgemm`` per block through `scipy.linalg.blas`, the thread pool the LU path and
    the footprints use (numpy's own pool beside it is slow on few cores).

    Parameters
    ----------
    blocks : ndarray (R, P, P)
        The diagonal blocks.
    X : ndarray (R P, m) or (R P,)
        Right-hand sides, region-major rows.
    transpose : bool
        Use ``blocks[r].T`` for every block.
    """
    R, P, _ = blocks.shape
    vec = X.ndim == 1
    Xb = np.ascontiguousarray(X, dtype=np.float64).reshape(R, P, -1)
    out = np.empty_like(Xb)
    with _one_blas_thread():
        for r in range(R):
            # row-major arrays are their transposes in Fortran order: out_r^T = X_r^T B_r^T
            out[r] = blas.dgemm(1.0, Xb[r].T, blocks[r].T, trans_b=1 if transpose else 0).T
    return out.reshape(R * P) if vec else out.reshape(R * P, -1)


def _slab_csr(slab: np.ndarray, col0: int, col1: int):
    """CSR arrays of a dense row slab with its columns [col0, col1) set to zero (a copy)."""
    s = np.array(slab, dtype=np.float64, order="C", copy=True)
    s[:, col0:col1] = 0.0
    return K.dense_to_csr(s, False)


def offdiag_csr(A, P: int, transpose: bool):
    """CSR arrays (indptr, indices, data) of ``A_O`` or ``A_O^T``: A without its diagonal blocks.

    Built slab by slab (P rows of the result at a time) for dense A, so that no n x n copy is made.
    Column numbers are sorted within each row.
    """
    n = A.shape[0]
    R = n // P
    if sps.issparse(A):
        C = sps.coo_array(A)
        keep = (C.row // P != C.col // P) & (C.data != 0)
        r, c, v = C.row[keep], C.col[keep], C.data[keep].astype(np.float64)
        if transpose:
            r, c = c, r
        M = sps.csr_array((v, (r, c)), shape=(n, n))
        M.sum_duplicates()
        M.sort_indices()
        return (M.indptr.astype(np.int64), M.indices.astype(np.int32), M.data)
    Ad = np.asarray(A)
    ptrs, idxs, vals = [np.zeros(1, dtype=np.int64)], [], []
    base = 0
    for b in range(R):
        lo, hi = b * P, (b + 1) * P
        slab = Ad[:, lo:hi].T if transpose else Ad[lo:hi, :]
        p, i, d = _slab_csr(slab, lo, hi)
        ptrs.append(p[1:] + base)
        idxs.append(i)
        vals.append(d)
        base += int(p[-1])
    return (np.concatenate(ptrs), np.concatenate(idxs) if idxs else np.zeros(0, np.int32),
            np.concatenate(vals) if vals else np.zeros(0))


class _Layout:
    """Segmented CSR of one orientation of ``A_O`` for `spendprint.kernels.csr_matmat`."""

    def __init__(self, A, P: int, transpose: bool, width: int = 256) -> None:
        n = A.shape[0]
        indptr, indices, data = offdiag_csr(A, P, transpose)
        ptr, rows, order = K.segment_layout(indptr, indices, n, width)
        self.indptr, self.rows = ptr, rows
        self.indices = indices[order].astype(np.uint16 if n <= 1 << 16 else np.int32)
        self.values = np.ascontiguousarray(data[order], dtype=np.float64)[None, :]
        self.nnz = int(self.values.shape[1])
        self._active = np.ones(1, dtype=bool)

    def matmat(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = T X`` for X, out of shape (n, m), C-ordered float64."""
        K.csr_matmat(self.indptr, self.rows, self.indices, self.values, X[None], self._active,
                     out[None])
        return out


class BlockJacobi:
    """Block-Jacobi preconditioned Richardson (with Anderson mixing) for ``(I - A)``.

    Parameters
    ----------
    A : ndarray or scipy sparse, shape (n, n)
        Technical coefficients; a reference is kept (never copied whole) to build the products.
    blocks : int
        Block size P (sectors per region); n must be a multiple of P.
    tol : float
        Relative residual ``max_q ||B_q - (I - A) X_q||_inf / ||B_q||_inf`` to reach.
    max_iter : int
        Steps before giving up (`ConvergenceError`).
    depth : int
        Anderson mixing over the last ``depth`` steps (0: plain block Jacobi).

    Raises
    ------
    NotProductiveError
        When a diagonal block ``I - A_rr`` is singular.
    """

    def __init__(self, A, blocks: int, tol: float = 1e-13, max_iter: int = 100,
                 depth: int = 3) -> None:
        n = int(A.shape[0])
        P = int(blocks)
        if P < 1 or n % P:
            raise ValueError(f"block size {blocks} does not divide n = {n}")
        self.n, self.P, self.R = n, P, n // P
        self.tol, self.max_iter, self.depth = float(tol), int(max_iter), int(depth)
        self._A = A
        R = self.R
        if sps.issparse(A):
            Ac = sps.csr_array(A, dtype=np.float64)
            self.A_D = np.stack([Ac[r * P:(r + 1) * P, r * P:(r + 1) * P].toarray()
                                 for r in range(R)])
        else:
            Ad = np.asarray(A, dtype=np.float64)
            ar = np.arange(R)
            self.A_D = np.ascontiguousarray(Ad.reshape(R, P, R, P)[ar, :, ar, :])
        M = -self.A_D
        M[:, np.arange(P), np.arange(P)] += 1.0
        try:
            with _one_blas_thread():
                self.inv = np.linalg.inv(M)
        except np.linalg.LinAlgError as exc:
            raise NotProductiveError(f"a diagonal block (I - A_rr) is singular: {exc}") from exc
        # condition number in the 1-norm from the inverse: rounding leaves a singular block's
        # inverse finite but huge
        cond = np.abs(M).sum(axis=1).max(axis=1) * np.abs(self.inv).sum(axis=1).max(axis=1)
        bad = ~np.isfinite(cond) | (cond > 1e15)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise NotProductiveError(
                f"the diagonal block (I - A_rr) of region {r} (rows {r * P} to {(r + 1) * P - 1}) "
                f"is singular (condition number {cond[r]:.3g})")
        # dense A: products with the whole A by BLAS (A^T of the C-ordered A is an F-ordered view,
        # no copy); sparse A: the off-diagonal part in the segmented CSR kernel
        self._dense = None if sps.issparse(A) else Ad.T if Ad.flags.c_contiguous else None
        self._layouts: dict[bool, _Layout] = {}
        self._lock = threading.Lock()
        self.last = {"iterations": 0, "max_residual": 0.0}

    # ---- products --------------------------------------------------------------------------------
    def layout(self, transpose: bool) -> _Layout:
        """The segmented CSR of ``A_O`` (or ``A_O^T``), built on first use."""
        lay = self._layouts.get(transpose)
        if lay is None:
            with self._lock:
                lay = self._layouts.get(transpose)
                if lay is None:
                    lay = self._layouts[transpose] = _Layout(self._A, self.P, transpose)
        return lay

    def offdiag(self, X: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``A_O X`` (or ``A_O^T X``), X of shape (n, m)."""
        if self._dense is not None:
            return self._full(X, transpose) - block_apply(self.A_D, X, transpose)
        Xc = _aligned_empty(X.shape)
        Xc[...] = X
        out = _aligned_empty(X.shape)
        return self.layout(transpose).matmat(Xc, out)

    def _full(self, X: np.ndarray, transpose: bool) -> np.ndarray:
        """``A X`` (or ``A^T X``) by BLAS for dense A; X of shape (n, m)."""
        Xf = np.asfortranarray(X, dtype=np.float64)
        # self._dense is A^T in F order: trans_a=1 gives A X, trans_a=0 gives A^T X
        return blas.dgemm(1.0, self._dense, Xf, trans_a=0 if transpose else 1)

    def matvec(self, X: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``A X`` (or ``A^T X``) in float64, X of shape (n,) or (n, m)."""
        X = np.asarray(X, dtype=np.float64)
        X2 = X[:, None] if X.ndim == 1 else X
        if self._dense is not None:
            out = self._full(X2, transpose)
        else:
            out = self.offdiag(X2, transpose) + block_apply(self.A_D, X2, transpose)
        return out[:, 0] if X.ndim == 1 else out

    def precondition(self, R: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``P^-1 R`` (or ``P^-T R``) with ``P = I - A_D``."""
        return block_apply(self.inv, R, transpose)

    def contraction(self, steps: int = 6, transpose: bool = True) -> float:
        """Estimate ``rho(P^-1 A_O)`` by ``steps`` power steps from the vector of ones.

        The ratio of max-norms of the last two iterates (a power-method estimate of the spectral
        radius; for non-negative A it is bracketed by the Collatz-Wielandt bounds). Cost:
        ``steps`` products with A_O, on one vector.
        """
        v = np.ones((self.n, 1))
        ratio = 0.0
        return self._power(v, ratio, steps, transpose)

    def _power(self, v: np.ndarray, ratio: float, steps: int, transpose: bool) -> float:
        for _ in range(steps):
            w = self.precondition(self.offdiag(v, transpose), transpose)
            nv, nw = np.abs(v).max(), np.abs(w).max()
            if not np.isfinite(nw):
                return float("inf")
            if nw == 0.0 or nv == 0.0:
                return 0.0
            ratio = nw / nv
            v = w / nw
        return float(ratio)

    # ---- solve -----------------------------------------------------------------------------------
    def _anderson(self, X, D, hist: dict):
        """Anderson step: ``g_k - sum_i gamma_i (g_(i+1) - g_i)``, gamma per column by least
        squares of ``f_k = D`` on the differences ``f_(i+1) - f_i``; ``g = X + D``.

        ``hist`` keeps the last g and f and at most ``depth`` differences of each (no stacking:
        the small Gram matrices come from pairwise column dot products)."""
        g = X + D
        if "g" in hist:
            hist["dG"].append(g - hist["g"])
            hist["dF"].append(D - hist["f"])
            del hist["dG"][:-self.depth], hist["dF"][:-self.depth]
        else:
            hist["dG"], hist["dF"] = [], []
        hist["g"], hist["f"] = g, D
        dF, dG = hist["dF"], hist["dG"]
        k = len(dF)
        if k == 0:
            return g
        m = D.shape[1]
        M = np.empty((m, k, k))
        rhs = np.empty((m, k))
        for i in range(k):
            rhs[:, i] = np.einsum("nm,nm->m", dF[i], D)
            for j in range(i + 1):
                M[:, i, j] = M[:, j, i] = np.einsum("nm,nm->m", dF[i], dF[j])
        M += (1e-14 * np.trace(M, axis1=1, axis2=2) + np.finfo(float).tiny)[:, None, None] \
            * np.eye(k)
        gamma = np.linalg.solve(M, rhs[..., None])[..., 0]  # (m, k)
        out = g - dG[0] * gamma[None, :, 0]  # a new array: g stays in the history
        for i in range(1, k):
            out -= dG[i] * gamma[None, :, i]
        return out

    def solve(self, B: np.ndarray, transpose: bool = False,
              x0: np.ndarray | None = None) -> np.ndarray:
        """X with ``(I - A) X = B`` (or the transpose); B of shape (n,) or (n, m).

        ``x0`` (same shape as B) is a warm start, e.g. the solution of a nearby system.

        Raises
        ------
        ConvergenceError
            When the residual does not reach ``tol`` within ``max_iter`` steps, grows tenfold
            above its best value, or turns non-finite.
        """
        B = np.asarray(B, dtype=np.float64)
        vec = B.ndim == 1
        B2 = B[:, None] if vec else B
        if B2.shape[0] != self.n:
            raise ValueError(f"right-hand side has {B2.shape[0]} rows, expected {self.n}")
        if B2.shape[1] == 0:
            return B.copy()
        X = self._solve(B2, transpose, x0)
        return X[:, 0] if vec else X

    def _solve(self, B2: np.ndarray, transpose: bool, x0: np.ndarray | None) -> np.ndarray:
        colmax = np.abs(B2).max(axis=0)
        zero = colmax == 0
        scale = np.where(zero, 1.0, colmax)
        Bs = _aligned_empty(B2.shape)
        Bs[...] = B2 / scale[None, :]
        if x0 is not None:
            X = np.array(np.asarray(x0, dtype=np.float64).reshape(B2.shape) / scale[None, :])
        else:
            X = self.precondition(Bs, transpose)
        denom = np.where(zero, np.finfo(float).tiny, 1.0)
        hist: dict = {}
        best, prev, rel = np.inf, np.inf, np.inf
        for it in range(self.max_iter + 1):
            # the true residual B - (I - A) X, in float64 against A itself
            Rres = Bs - X + self.matvec(X, transpose)
            rel = float((np.abs(Rres).max(axis=0) / denom).max())
            self.last = {"iterations": it, "max_residual": rel}
            if rel <= self.tol:
                break
            if not np.isfinite(rel) or (it >= 3 and rel > 10.0 * best):
                raise ConvergenceError(
                    f"block-Jacobi iteration diverged at step {it} (relative residual {rel:.3g}, "
                    f"best {best:.3g}): the off-diagonal blocks of A are too large for this "
                    f"preconditioner")
            if it == self.max_iter:
                break
            if self.depth and rel > prev:
                hist.clear()  # a step that did not help: restart the acceleration
            best, prev = min(best, rel), rel
            D = self.precondition(Rres, transpose)
            X = self._anderson(X, D, hist) if self.depth else X + D
        if rel > self.tol:
            raise ConvergenceError(
                f"block-Jacobi iteration reached relative residual {rel:.3g} after "
                f"{self.max_iter} steps (tolerance {self.tol:g})")
        return X * scale[None, :]
