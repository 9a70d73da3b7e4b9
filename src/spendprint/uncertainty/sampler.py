"""One Monte Carlo problem (the arrays every worker needs) and the computation of sample groups.

Sample ``s`` of a run with ``seed`` draws every random number from streams keyed by
``(seed, domain, s)`` (`spendprint.kernels.stream_key`), element by element:

=================  ==============================  ============================================
domain             element                         drives
=================  ==============================  ============================================
``DOMAIN_A``        ``i * n + j``                   factor of ``a_ij`` (independent)
``DOMAIN_A_BLOCK``  ``r_i * R + r_j``               factor of the region-pair block (block)
``DOMAIN_S``        ``k * n + j``                   factor of ``s_kj`` (independent)
``DOMAIN_S_BLOCK``  ``k * R + r_j``                 factor of (stressor, region) (block)
``DOMAIN_SPEND``    ``c``                           spend factor of category ``c``
``DOMAIN_DIRICHLET`` ``c * n + i``                  gamma variate of composition entry ``(i, c)``
=================  ==============================  ============================================

Samples are computed in aligned groups ``[g G, (g + 1) G)`` (the last one padded beyond the run),
so the result of a sample is a pure function of ``(seed, s)`` for a given group size ``G``.

Footprints per sample ``E_s = C' S_s (I - A_s)^-1 Y_s`` (indicators x categories) are computed from
the adjoint system ``(I - A_s)^T M_s^T = (W S_s)^T`` when there are no more right-hand sides than
categories, else from ``(I - A_s) X_s = Y_s``. In the adjoint system the right-hand sides are
``W S_s`` with ``C' = C_out W``: the selected indicators themselves (``W = C'``), or, when fewer,
the base stressors they are made of (an impact such as CO2e is a fixed combination of stressors,
so ``E_s = C_out M_s Y_s``: CO2, CH4, N2O, employment and CO2e need 4 solves, not 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from spendprint import kernels as K
from spendprint.kernels import random as KR

from ..errors import ValidationError
from .iteration import BaselineLU, PerturbedLeontief
from .spec import (
    Uncertainty,
    a_rsd_values,
    per_category_values,
    rsd_to_sigma,
    s_rsd_matrix,
)


@dataclass
class MCProblem:
    """Everything a worker needs to compute samples (shipped to each worker once)."""

    system: PerturbedLeontief
    a_sigma: np.ndarray
    a_uncertain: bool
    block: bool
    R: int
    P: int
    S: np.ndarray            # (k, n) base stressor intensities
    s_sigma: np.ndarray | None  # (k, n) log-sd, or None
    C_sel: np.ndarray        # (k', k): selected indicators from base stressors
    W: np.ndarray            # (r, k): right-hand sides W S_s of the adjoint system
    C_out: np.ndarray        # (k', r): indicators from the adjoint solutions, C' = C_out W
    y: np.ndarray            # (n, m) baseline demand
    y_tot: np.ndarray        # (m,)
    spend_sigma: np.ndarray  # (m,)
    alpha: np.ndarray        # (m,)
    dir_elem: np.ndarray     # uint64 elements c * n + i of composition entries with alpha > 0
    dir_row: np.ndarray
    dir_col: np.ndarray
    dir_shape: np.ndarray
    group_size: int

    @property
    def n(self) -> int:
        return self.system.n

    @property
    def shape(self) -> tuple[int, int]:
        """(indicators, categories) of one sample's footprint."""
        return self.C_sel.shape[0], self.y.shape[1]


def selection_matrix(mrio, names: list[str]) -> np.ndarray:
    """C' (k' x k) with ``C' S`` the intensities of the named indicators."""
    k = len(mrio.stressors)
    rows = []
    for name in names:
        if name in mrio.stressors:
            e = np.zeros(k)
            e[mrio.stressors.index(name)] = 1.0
            rows.append(e)
        else:
            rows.append(np.asarray(mrio.C, dtype=np.float64)[mrio.impacts.index(name)])
    return np.array(rows).reshape(len(names), k)


def default_group_size(nnz: int, n: int, storage: str) -> int:
    """Samples per group: 16, or fewer when the float32 value buffers would exceed about 2.4 GB.

    A group is solved together: one LAPACK call applies the baseline LU to the right-hand sides
    of all its samples, and such a call costs little more for 64 columns than for 32 (measured
    in docs/performance.md), so larger groups make each sample's
    preconditioner cheaper, at 4 bytes per stored entry and sample of buffer.
    """
    per = 4.0 * (nnz if storage == "csr" else n * n)
    return int(max(1, min(16, 2.4e9 // max(per, 1.0))))


def build_problem(mrio, y: np.ndarray, spec: Uncertainty, names: list[str],
                  categories: list[str], *, tol: float,
                  storage: str = "auto", orientation: str = "auto",
                  group_size: int | None = None) -> MCProblem:
    """Resolve the specification against the model and demand (y of shape (n, m))."""
    n = mrio.n
    R, P = len(mrio.regions), len(mrio.sectors)
    m = y.shape[1]
    if (y < 0).any():
        raise ValidationError("Monte Carlo needs non-negative demand (the composition of a "
                              "category is drawn from a Dirichlet distribution)")
    C_sel = selection_matrix(mrio, names)
    A = mrio.A
    nnz = int(A.nnz) if hasattr(A, "nnz") else int(np.count_nonzero(A))
    if storage == "auto":
        storage = "csr" if nnz < 0.5 * n * n else "dense"
    if orientation == "auto":
        n_rhs = min(C_sel.shape[0], int(np.any(C_sel != 0, axis=0).sum()))
        orientation = "adjoint" if n_rhs <= m else "primal"
    if orientation not in ("adjoint", "primal"):
        raise ValidationError(f"orientation must be 'auto', 'adjoint' or 'primal', not {orientation!r}")
    system = PerturbedLeontief(A, BaselineLU(mrio.solver), adjoint=orientation == "adjoint",
                               storage=storage, tol=tol)
    a_vals = system.data if storage == "csr" else system.A[system.rows_A, system.cols_A]
    rsd = a_rsd_values(spec, mrio, system.rows_A, system.cols_A, a_vals)
    a_uncertain = rsd is not None and bool(np.any(rsd > 0))
    if a_uncertain and np.ptp(rsd) == 0:
        rsd = rsd[:1]
    a_sigma = system.sigma_for_storage(rsd_to_sigma(rsd) if a_uncertain else None)
    s_rsd = s_rsd_matrix(spec, mrio)
    s_sigma = rsd_to_sigma(s_rsd) if s_rsd is not None and np.any(s_rsd > 0) else None
    spend_rsd, alpha = per_category_values(spec, [str(c) for c in categories])
    y_tot = y.sum(axis=0)
    rows, cols, shapes = [], [], []
    for c in np.flatnonzero(alpha > 0):
        idx = np.flatnonzero(y[:, c] > 0)
        if idx.size > 1:
            rows.append(idx)
            cols.append(np.full(idx.size, c))
            shapes.append(alpha[c] * y[idx, c] / y_tot[c])
    dir_row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    dir_col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    # right-hand sides of the adjoint system: the indicators, or the base stressors they use
    used = np.flatnonzero(np.any(C_sel != 0, axis=0))
    if used.size < C_sel.shape[0]:
        W = np.eye(C_sel.shape[1])[used]
        C_out = C_sel[:, used]
    else:
        W, C_out = C_sel, np.eye(C_sel.shape[0])
    G = int(group_size) if group_size else default_group_size(system.nnz, n, storage)
    system.rows_A = system.cols_A = None  # only needed to resolve sigmas; not shipped to workers
    return MCProblem(
        system=system, a_sigma=a_sigma, a_uncertain=a_uncertain,
        block=spec.correlation == "block", R=R, P=P,
        S=np.ascontiguousarray(mrio.S, dtype=np.float64), s_sigma=s_sigma, C_sel=C_sel,
        W=np.ascontiguousarray(W), C_out=np.ascontiguousarray(C_out),
        y=np.ascontiguousarray(y, dtype=np.float64), y_tot=y_tot,
        spend_sigma=rsd_to_sigma(spend_rsd), alpha=alpha,
        dir_elem=(dir_col.astype(np.uint64) * np.uint64(n) + dir_row.astype(np.uint64)),
        dir_row=dir_row.astype(np.int64), dir_col=dir_col.astype(np.int64),
        dir_shape=np.concatenate(shapes) if shapes else np.zeros(0), group_size=G,
    )


# ---- per-sample inputs --------------------------------------------------------------------------
def perturbed_S(p: MCProblem, seed: int, s: int) -> np.ndarray:
    """``S_s`` (k x n): base intensities times lognormal factors."""
    if p.s_sigma is None:
        return p.S
    k, n = p.S.shape
    sig = p.s_sigma
    if p.block:
        z = np.empty(k * p.R)
        K.fill_std_normal(K.stream_key(seed, KR.DOMAIN_S_BLOCK, s), np.arange(k * p.R, dtype=np.uint64), z)
        zf = np.repeat(z.reshape(k, p.R), p.P, axis=1)
        return p.S * np.exp(sig * zf - 0.5 * sig * sig)
    f = np.empty(k * n)
    K.lognormal_factors(K.stream_key(seed, KR.DOMAIN_S, s), np.arange(k * n, dtype=np.uint64),
                        np.ascontiguousarray(sig.ravel()), f)
    return p.S * f.reshape(k, n)


def perturbed_y(p: MCProblem, seed: int, s: int) -> np.ndarray:
    """``Y_s`` (n x m): Dirichlet composition and lognormal spend per category."""
    if not p.dir_elem.size and not np.any(p.spend_sigma > 0):
        return p.y
    y = p.y.copy()
    if p.dir_elem.size:
        g = np.empty(p.dir_elem.size)
        K.fill_gamma_log(K.stream_key(seed, KR.DOMAIN_DIRICHLET, s), p.dir_elem, p.dir_shape, g)
        # normalise per category in logs: w'_i = exp(g_i - logsumexp(g))
        cols = p.dir_col
        gmax = np.full(p.y.shape[1], -np.inf)
        np.maximum.at(gmax, cols, g)
        w = np.exp(g - gmax[cols])
        tot = np.zeros(p.y.shape[1])
        np.add.at(tot, cols, w)
        y[p.dir_row, cols] = p.y_tot[cols] * (w / tot[cols])
    if np.any(p.spend_sigma > 0):
        z = np.empty(p.y.shape[1])
        K.fill_std_normal(K.stream_key(seed, KR.DOMAIN_SPEND, s),
                          np.arange(p.y.shape[1], dtype=np.uint64), z)
        sig = p.spend_sigma
        y *= np.exp(sig * z - 0.5 * sig * sig)[None, :]
    return y


def sample_group(p: MCProblem, seed: int, g: int, buffer: np.ndarray | None = None):
    """Footprints of the samples of group g: ``[g G, (g + 1) G)``.

    Returns
    -------
    E : ndarray (G, k', m)
        Footprint per sample, indicator unit (e.g. kg CO2e) per category.
    iterations, residual, fallback : ndarrays (G,)
    """
    G = p.group_size
    samples = np.arange(g * G, (g + 1) * G, dtype=np.int64)
    sys = p.system
    if buffer is None:
        buffer = sys.value_buffer(G)
    if p.a_uncertain:
        keys = np.array([K.stream_key(seed, KR.DOMAIN_A, int(s)) for s in samples], dtype=np.uint64)
        if p.block:
            zblock = np.empty((G, p.R * p.R))
            for b, s in enumerate(samples):
                K.fill_std_normal(K.stream_key(seed, KR.DOMAIN_A_BLOCK, int(s)),
                                  np.arange(p.R * p.R, dtype=np.uint64), zblock[b])
        else:
            zblock = np.zeros((G, 1))
        values = sys.perturb(p.a_sigma, p.P if p.block else 0, p.R, zblock, keys, buffer)
    else:
        values = sys.unperturbed()
    kk, m = p.shape
    Ss = [perturbed_S(p, seed, int(s)) for s in samples]             # (k, n) each
    Ys = [perturbed_y(p, seed, int(s)) for s in samples]             # (n, m) each
    if sys.adjoint:
        B = np.ascontiguousarray(np.stack([p.W @ S for S in Ss]))    # (G, r, n)
    else:
        B = np.ascontiguousarray(np.stack([Y.T for Y in Ys]))          # (G, m, n)
    X, info = sys.solve(values, B)
    E = np.empty((G, kk, m))
    for b in range(G):
        E[b] = p.C_out @ (X[b] @ Ys[b]) if sys.adjoint else (p.C_sel @ Ss[b]) @ X[b].T
    return E, info.iterations, info.residual, info.fallback


def run_samples(p: MCProblem, seed: int, start: int, stop: int):
    """Samples ``[start, stop)`` (start a multiple of G) computed group by group, BLAS on 1 thread.

    Returns (E (stop - start, k', m), iterations, residual, fallback).
    """
    G = p.group_size
    if start % G:
        raise ValueError(f"start {start} is not a multiple of the group size {G}")
    outs = []
    buffer = p.system.value_buffer(G)
    with threadpool_limits(limits=1):
        for g in range(start // G, -(-stop // G)):
            outs.append(sample_group(p, seed, g, buffer))
    E = np.concatenate([o[0] for o in outs])[: stop - start]
    it = np.concatenate([o[1] for o in outs])[: stop - start]
    res = np.concatenate([o[2] for o in outs])[: stop - start]
    fb = np.concatenate([o[3] for o in outs])[: stop - start]
    return E, it, res, fb
