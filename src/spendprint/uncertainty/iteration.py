"""Solve batches of perturbed Leontief systems from the baseline factorisation.

For a batch of matrices ``A_b`` sharing the pattern of ``A`` the systems

    (I - T_b) X_b = B_b,   T_b = A_b^T (adjoint, multipliers) or A_b (primal, outputs),

are solved by preconditioned Richardson iteration (iterative refinement) with the baseline LU of
``(I - A)`` as preconditioner ``P``::

    X <- P^-1 B;   repeat:  R = B - X + T_b X;   X <- X + P^-1 R

until the relative residual ``max_q ||R_q||_inf / ||B_q||_inf`` of every sample is at most
``tol``. The iteration converges when the spectral radius of ``P^-1 (T_b - T)`` is below 1, which
holds for the RSDs of MRIO uncertainty (6 to 11 plain steps to 1e-9 at RSD 0.2 and n = 9,800; 6 or
7 with the Anderson acceleration below). A sample that has not
converged after ``max_iter`` steps, or whose residual grows, falls back to a fresh factorisation
of its own ``(I - T_b)``; fallbacks are counted.

Vectors are kept as (G, m, n) arrays (the Fortran-ordered (n, G m) block LAPACK solves) and
transposed to (G, n, m) for the sparse products (one gather of m contiguous values per nonzero,
into a 64-byte aligned buffer so that rows of 4 values never straddle a cache line). The sparse
storage is CSR of ``T`` split into column blocks of 256 (`spendprint.kernels.segment_layout`):
the product then gathers from 256 rows of X at a time, which stay in the L1 cache (measured
figures: docs/performance.md).

The perturbed values are float32 (`spendprint.kernels.perturb`): a sample's matrix *is* its
float32 values, and the residuals are formed in float64 against exactly those numbers, so the
tolerance is met for the sampled system itself. Unperturbed values (A certain) stay float64.
Steps are accelerated by Anderson mixing over the last few steps (``depth``, default 3), which
removes the few eigenvalues that dominate the Richardson error. The preconditioner solves all
columns of a batch in one LAPACK call (BLAS-3). LAPACK's result for
one column depends in the last bits on the other columns in the call, so the batch (a *group* of
samples) must be a fixed set for results to be reproducible bit for bit: the sampler always
groups samples ``[g G, (g + 1) G)``. BLAS runs single-threaded inside `solve_group` for
the same reason.

This class is meant to serve scenario sweeps too: any batch of changes to A with the same pattern.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps
import scipy.sparse.linalg as spla
from scipy.linalg import lapack

from spendprint import kernels as K

from ..core.leontief import LeontiefSolver


def _own_arrays(state: dict) -> dict:
    """Copy the unpickled arrays of a state into fresh numpy allocations.

    Arrays unpickled by dask are views of the received network frames; on a worker the kernels
    ran markedly slower over them than over arrays numpy allocated itself (numpy advises the
    kernel to back large allocations with transparent huge pages, and aligns them). One copy per
    worker buys that back (figures in docs/performance.md).
    """
    for k, v in state.items():
        if isinstance(v, np.ndarray) and v.nbytes >= 1 << 20:
            state[k] = np.array(v, copy=True, order="F" if v.flags.f_contiguous and v.ndim > 1
                                else "C")
    return state


def aligned_empty(shape, dtype=np.float64, align: int = 64) -> np.ndarray:
    """An uninitialised C-ordered array whose data starts on an ``align``-byte boundary."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(size + align, dtype=np.uint8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + size].view(dtype).reshape(shape)


class BaselineLU:
    """The baseline factorisation of ``(I - A)`` as a picklable preconditioner.

    Dense: the (float32 or float64) LU of ``(I - A)^T`` held by `LeontiefSolver`, shipped
    as arrays. Sparse: SuperLU objects cannot be pickled, so a worker refactorises ``(I - A)``
    once, on first use after unpickling (never per sample).
    """

    def __init__(self, solver: LeontiefSolver) -> None:
        solver = solver.lu_solver()  # the factors themselves (a block-Jacobi solver has none)
        self.method = solver.method
        self.n = solver.n
        if self.method == "dense":
            self.lu = solver._lu
            self.piv = solver._piv
            self.dtype = np.dtype(solver._lu_dtype)
            self._splu = None
            self.A_csc = None
        else:
            self.A_csc = sps.csc_array(solver._A)
            self._splu = solver._lu

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_splu"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(_own_arrays(state))

    def _sparse_lu(self):
        if self._splu is None:
            M = sps.eye_array(self.n, format="csc") - self.A_csc
            self._splu = spla.splu(M.tocsc())
        return self._splu

    def apply(self, R: np.ndarray, transpose: bool) -> np.ndarray:
        """``P^-1 R`` with ``P = (I - A)`` (or its transpose); R of shape (n, c), float64 out."""
        if self.method == "sparse":
            return self._sparse_lu().solve(np.asfortranarray(R), trans="T" if transpose else "N")
        getrs = lapack.sgetrs if self.dtype == np.float32 else lapack.dgetrs
        Rl = np.asfortranarray(R, dtype=self.dtype)
        # the LU is of (I - A)^T: trans=0 solves with (I - A)^T, trans=1 with (I - A)
        out, info = getrs(self.lu, self.piv, Rl, trans=0 if transpose else 1, overwrite_b=True)
        return np.asarray(out, dtype=np.float64)


@dataclass
class SolveInfo:
    """Per-sample solver outcome of one group: steps, final relative residual, fallback flag."""

    iterations: np.ndarray
    residual: np.ndarray
    fallback: np.ndarray
    extra: dict = field(default_factory=dict)


class PerturbedLeontief:
    """Perturb ``A`` and solve ``(I - T_b) X_b = B_b`` for a group of samples.

    Parameters
    ----------
    A : ndarray or scipy sparse (n, n)
        Baseline technical coefficients.
    precond : BaselineLU
        Baseline factorisation.
    adjoint : bool
        ``T_b = A_b^T`` (solve for multipliers ``M^T``) or ``T_b = A_b`` (solve for outputs).
    storage : {"csr", "dense"}
        Perturbed values as CSR of T (nonzeros only) or dense (n, n) copies of ``A_b``.
    tol : float
        Relative residual target (dimensionless).
    max_iter : int
        Steps before the refactorisation fallback.
    depth : int
        Anderson acceleration over the last ``depth`` steps (0: plain Richardson). The error of
        the Richardson iteration is dominated by a few eigenvalues of ``P^-1 (T_b - T)`` (at
        n = 9,800 the first step cuts the residual 40-fold, later ones only 7- to 12-fold);
        depth 3 removes them and saves about a fifth of the steps. The residual of every step is
        the true one, so the tolerance test does not depend on the acceleration.
    segment_width : int
        Columns per block of the segmented CSR storage (`spendprint.kernels.segment_layout`).
    """

    def __init__(self, A, precond: BaselineLU, adjoint: bool, storage: str = "csr",
                 tol: float = 1e-9, max_iter: int = 60, depth: int = 3,
                 segment_width: int = 256) -> None:
        self.n = A.shape[0]
        self.depth = int(depth)
        self.precond = precond
        self.adjoint = bool(adjoint)
        self.storage = storage
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        if storage == "csr":
            if sps.issparse(A):
                As = sps.csr_array(A, dtype=np.float64)
                As.eliminate_zeros()
                T = sps.csr_array(As.T) if self.adjoint else As
                T.sort_indices()
                t_ptr, t_idx, t_data = T.indptr, T.indices, T.data
            else:  # dense A: CSR of T straight from the array (scipy goes through COO)
                M = np.ascontiguousarray(A, dtype=np.float64)
                t_ptr, t_idx, t_data = K.dense_to_csr(M, self.adjoint)
            # column blocks of 256 (segmented CSR): each pass of the product gathers from 256
            # rows of X at a time (L1-resident); 16-bit column numbers while n allows
            ptr, rows, order = K.segment_layout(t_ptr, t_idx, self.n, segment_width)
            self.indptr, self.rows = ptr, rows
            cols = t_idx[order].astype(np.int64)
            self.indices = cols.astype(np.uint16 if self.n <= 1 << 16 else np.int32)
            self.data = np.ascontiguousarray(t_data[order], dtype=np.float64)
            self.nnz = int(self.data.size)
            # (row, col) of A for every stored entry, in storage order
            r = np.repeat(rows.astype(np.int64), np.diff(ptr))
            self.rows_A, self.cols_A = (cols, r) if self.adjoint else (r, cols)
        elif storage == "dense":
            self.A = np.ascontiguousarray(A.toarray() if sps.issparse(A) else A, dtype=np.float64)
            self.nnz = int(np.count_nonzero(self.A))
            self.rows_A, self.cols_A = (v.astype(np.int64) for v in np.nonzero(self.A))
        else:
            raise ValueError(f"storage must be 'csr' or 'dense', not {storage!r}")

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_buffers", None)  # per-process scratch, never shipped
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(_own_arrays(state))

    # ---- perturbation ----------------------------------------------------------------------------
    def value_buffer(self, G: int) -> np.ndarray:
        """A reusable float32 buffer for the perturbed values of G samples.

        Kept on the instance, one per thread, and handed out again for the same G: a fresh
        buffer of G x nnz values (GBs at EXIOBASE size) costs a page fault per 4 KiB on first
        touch, as much as the perturbation itself (docs/performance.md).
        """
        shape = (G, self.nnz) if self.storage == "csr" else (G, self.n, self.n)
        buffers = self.__dict__.setdefault("_buffers", {})
        key = threading.get_ident()
        buf = buffers.get(key)
        if buf is None or buf.shape != shape:
            buffers.pop(key, None)
            buf = buffers[key] = np.empty(shape, dtype=np.float32)
        return buf

    def sigma_for_storage(self, sigma_nz: np.ndarray | None) -> np.ndarray:
        """Map per-nonzero sigmas given in the order of ``(rows_A, cols_A)`` to the storage."""
        if sigma_nz is None:
            return np.zeros(1)
        if np.ndim(sigma_nz) == 0 or np.size(sigma_nz) == 1:
            return np.full(1, float(np.ravel(sigma_nz)[0]))
        if self.storage == "csr":
            return np.ascontiguousarray(sigma_nz, dtype=np.float64)
        dense = np.zeros(self.n * self.n)
        dense[self.rows_A * self.n + self.cols_A] = sigma_nz
        return dense

    def perturb(self, sigma: np.ndarray, block_P: int, block_R: int, zblock: np.ndarray,
                keys: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` with the perturbed values of the samples with stream ``keys``."""
        G = keys.shape[0]
        if self.storage == "csr":
            K.perturb_csr(self.indptr, self.rows, self.indices, self.data, sigma, self.n, self.adjoint,
                          block_P, block_R, zblock, keys, out[:G])
        else:
            K.perturb_dense(self.A, sigma, block_P, block_R, zblock, keys, out[:G])
        return out[:G]

    def unperturbed(self) -> np.ndarray:
        """The baseline values (float64) as one matrix shared by every sample (A certain)."""
        return self.data[None, :] if self.storage == "csr" else self.A[None, :, :]

    # ---- products and solves ---------------------------------------------------------------------
    def matmat(self, values: np.ndarray, X: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        """``out[b] = T_b X[b]`` for active samples; X, out of shape (G, n, m) (C order).

        ``values`` holds one matrix per sample, or a single matrix shared by all (first dim 1).
        """
        if self.storage == "csr":
            K.csr_matmat(self.indptr, self.rows, self.indices, values, X, active, out)
            return
        for b in range(X.shape[0]):
            if active[b]:
                Ab = values[b if values.shape[0] > 1 else 0].astype(np.float64, copy=False)
                out[b] = Ab.T @ X[b] if self.adjoint else Ab @ X[b]

    def _residual(self, values, X, B, active, TX, Xr=None) -> np.ndarray:
        """``B - X + T_b X`` for arrays in the solver layout (G, m, n)."""
        if Xr is None:
            Xr = aligned_empty(TX.shape)
        Xr[...] = X.transpose(0, 2, 1)
        self.matmat(values, Xr, active, TX)
        return B - X + TX.transpose(0, 2, 1)

    def matrix(self, values_b: np.ndarray):
        """``T_b`` (float64) from one sample's values: scipy CSR, or a dense array."""
        v = np.asarray(values_b, dtype=np.float64)
        if self.storage == "dense":
            return v.T if self.adjoint else v
        r = np.repeat(self.rows.astype(np.int64), np.diff(self.indptr))
        return sps.csr_array((v, (r, self.indices.astype(np.int64))), shape=(self.n, self.n))

    def _direct(self, values_b: np.ndarray, B_b: np.ndarray) -> np.ndarray:
        """Fallback: factorise ``(I - T_b)`` afresh and solve (B_b of shape (m, n))."""
        n = self.n
        if self.storage == "csr":
            T = self.matrix(values_b)
            M = sps.eye_array(n, format="csc") - T.tocsc()
            if n <= 4000:
                X = sla.solve(M.toarray(), B_b.T)
            else:
                X = spla.splu(M.tocsc()).solve(np.asfortranarray(B_b.T))
        else:
            X = sla.solve(np.eye(n) - self.matrix(values_b), B_b.T)
        return np.ascontiguousarray(X.T)

    def _anderson(self, X, D, idx, hist_g, hist_f, G) -> np.ndarray:
        """Anderson-accelerated step for the active samples ``idx``: X, D of shape (a, m, n).

        With ``g(X) = X + D`` the Richardson map and ``f = D`` its residual, the new iterate is
        ``g_k - sum_i gamma_i (g_(i+1) - g_i)`` over the last ``depth`` steps, with gamma the
        least-squares fit of ``f_k`` by the differences ``f_(i+1) - f_i``, per sample and column.
        """
        g = np.zeros((G,) + X.shape[1:])
        f = np.zeros_like(g)
        g[idx] = X + D
        f[idx] = D
        hist_g.append(g)
        hist_f.append(f)
        del hist_g[:-(self.depth + 1)], hist_f[:-(self.depth + 1)]
        k = len(hist_f) - 1
        if k == 0:
            return g[idx]
        dF = np.stack([hist_f[i + 1][idx] - hist_f[i][idx] for i in range(k)], axis=-1)
        dG = np.stack([hist_g[i + 1][idx] - hist_g[i][idx] for i in range(k)], axis=-1)
        M = np.einsum("amni,amnj->amij", dF, dF)
        M += (1e-14 * np.trace(M, axis1=2, axis2=3) + np.finfo(float).tiny)[..., None, None] \
            * np.eye(k)
        rhs = np.einsum("amni,amn->ami", dF, D)
        gamma = np.linalg.solve(M, rhs[..., None])[..., 0]
        return g[idx] - np.einsum("amni,ami->amn", dG, gamma)

    def solve(self, values: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, SolveInfo]:
        """Solve ``(I - T_b) X_b = B_b`` for a group; B of shape (G, m, n), returns X (G, m, n)."""
        G, m, n = B.shape
        scale = np.maximum(np.abs(B).max(axis=2), np.finfo(float).tiny)  # (G, m)
        X = self.precond.apply(B.reshape(G * m, n).T, self.adjoint).T.reshape(G, m, n).copy()
        TX = np.zeros((G, n, m))
        Xr = aligned_empty((G, n, m))
        active = np.ones(G, dtype=bool)
        iters = np.zeros(G, dtype=np.int64)
        resid = np.full(G, np.inf)
        fallback = np.zeros(G, dtype=bool)
        hist_g: list[np.ndarray] = []  # g(X_j) = X_j + P^-1 R_j of the last steps (Anderson)
        hist_f: list[np.ndarray] = []  # P^-1 R_j
        for it in range(self.max_iter + 1):
            R = self._residual(values, X, B, active, TX, Xr)
            rel = (np.abs(R).max(axis=2) / scale).max(axis=1)
            rel = np.where(np.isfinite(rel), rel, np.inf)
            grew = (it >= 3) & (rel > 10.0 * resid) & active
            if self.depth and np.any(active & (rel > resid)):
                hist_g.clear()  # a step that did not help: restart the acceleration
                hist_f.clear()
            resid = np.where(active, rel, resid)
            done = active & (rel <= self.tol)
            active &= ~done
            if grew.any():  # diverging: stop iterating these, fall back below
                active &= ~grew
                resid[grew] = np.inf
            if not active.any() or it == self.max_iter:
                break
            # one preconditioner call over all columns still iterating (the set of active samples
            # depends on the group only, so results stay reproducible)
            idx = np.flatnonzero(active)
            Rb = R[idx].reshape(idx.size * m, n).T
            D = self.precond.apply(Rb, self.adjoint).T.reshape(idx.size, m, n)
            if self.depth:
                X[idx] = self._anderson(X[idx], D, idx, hist_g, hist_f, G)
            else:
                X[idx] += D
            iters[idx] += 1
        bad = np.flatnonzero(~(resid <= self.tol))
        for b in bad:
            fallback[b] = True
            vb = values[b:b + 1] if values.shape[0] > 1 else values[:1]
            X[b] = self._direct(vb[0].astype(np.float64), B[b])
            Rb = self._residual(vb, X[b:b + 1], B[b:b + 1], np.ones(1, dtype=bool),
                                np.zeros((1, n, m)))[0]
            resid[b] = float((np.abs(Rb).max(axis=1) / scale[b]).max())
        return X, SolveInfo(iterations=iters, residual=resid, fallback=fallback)
