"""Structural path analysis (SPA) kernel: depth-first path enumeration with subtree-bound pruning.

Notation (units in brackets; "money" is the model's money unit, e.g. M EUR):

* ``A`` (n x n) technical coefficients [money / money]; ``A[k, j]`` is the input from sector ``k``
  per unit output of sector ``j``;
* ``s`` (n) intensity of the traced stressor [stressor unit / money];
* ``m`` (n) total multipliers, ``m^T = s^T (I - A)^-1`` [stressor unit / money], so that
  ``m_j = s_j + sum_k m_k A[k, j]``;
* ``y`` (n) final demand [money]; the total ``E = m^T y`` [stressor unit].

A path ``p = (i_0, i_1, ..., i_d)`` starts at the final-demand sector ``i_0`` (stage 0) and climbs
the supply chain to ``i_d`` (stage ``d``, where the impact happens). Its flow and value are

$$
    v_p = A_{i_d i_{d-1}} \\cdots A_{i_1 i_0} \\, y_{i_0} \\; [\\text{money}], \\qquad
    e_p = s_{i_d} \\, v_p \\; [\\text{stressor unit}],
$$

and its subtree (the path together with every path that extends it) is worth exactly
``m_{i_d} v_p``, which is the pruning bound. With threshold ``t = tau E`` the enumeration

* visits a node only if its subtree value ``m_j v >= t``; a pruned child's subtree value is added
  to the remainder of its stage;
* lists the path ending at a visited node if ``e_p >= t`` and ``e_p > 0``; otherwise ``e_p`` is
  added to the remainder of its stage;
* stops at ``max_depth``: the children of a node at that stage go to remainder ``max_depth + 1``.

The first visit of a column ``j`` with flow ``v`` scans it once and keeps, in a pool, its
candidate children ``k`` with ``key = A[k, j] m_k >= max(t / (8 v), (tau / 2) m_j)`` sorted by key
(descending); a later visit walks them and stops at the first one below ``t / v``. A visit with
more than 8 times the flow rebuilds the column's run with a lower cut; no entry below
``(tau / 2) m_j`` is ever needed, since a visited node's subtree ``v m_j`` is at most ``E``.
The pruned rest of a column is
worth ``v (m_j - s_j) - sum(visited children's bounds)``, so the listed values plus all
remainders add up to ``E`` by construction (up to rounding). With ``tau > 0`` at most ``1 / tau``
paths are listed and at most ``(max_depth + 1) / tau`` nodes are visited (the subtree values of
one stage are disjoint parts of ``E``); the work is a few scans per distinct column visited plus,
per visited node, the candidates it tries (its visited children and one more), whatever the size
of the model.

Columns are read contiguously: from ``A^T`` in C order (dense) or from ``A`` in CSC form
(``indptr`` over columns, ``indices`` = rows), which is the CSR form of ``A^T``. All arrays are
contiguous float64 / int64 (the wrapper in `spendprint.labelled.structural_paths` casts).
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit

#: On-disk caching of the compiled kernels is opt-in: ``SPENDPRINT_NUMBA_CACHE=1``.
_CACHE = os.environ.get("SPENDPRINT_NUMBA_CACHE", "0") == "1"
_TILE = 64
#: A column's candidates are kept down to 1/_SLACK of the key the visit that builds them needs,
#: so that visits with up to _SLACK times more flow reuse them (else the column is rebuilt).
_SLACK = 8.0


@njit(nogil=True, cache=_CACHE)
def transpose_into(A, out):
    """``out = A^T`` for a C-ordered ``A`` (n0 x n1) and ``out`` (n1 x n0), in 64 x 64 tiles so
    that reads and writes both stay in cache (a plain strided copy is several times slower)."""
    n0, n1 = A.shape
    for i0 in range(0, n0, _TILE):
        i1 = min(n0, i0 + _TILE)
        for j0 in range(0, n1, _TILE):
            j1 = min(n1, j0 + _TILE)
            for i in range(i0, i1):
                for j in range(j0, j1):
                    out[j, i] = A[i, j]


@njit(nogil=True, cache=_CACHE)
def _build_column(AT, indptr, indices, data, dense, m, j, cut, rows, coef, key, used):
    """Append the candidates of column ``j`` (``key = A[k, j] m_k >= cut``, ``> 0``) to the pool
    at ``used``, sorted by key descending, ties by row ascending (Shell sort, no allocation);
    return the new end of the pool."""
    start = used
    if dense:
        for k in range(AT.shape[1]):
            a = AT[j, k]
            if a != 0.0:
                kk = a * m[k]
                if kk > 0.0 and kk >= cut:
                    rows[used] = k
                    coef[used] = a
                    key[used] = kk
                    used += 1
    else:
        for p in range(indptr[j], indptr[j + 1]):
            a = data[p]
            if a != 0.0:
                k = indices[p]
                kk = a * m[k]
                if kk > 0.0 and kk >= cut:
                    rows[used] = k
                    coef[used] = a
                    key[used] = kk
                    used += 1
    size = used - start
    gap = 1
    while gap < size // 3:
        gap = 3 * gap + 1
    while gap > 0:
        for i in range(start + gap, used):
            ki, ri, ci = key[i], rows[i], coef[i]
            b = i
            while b - gap >= start and (key[b - gap] < ki or (key[b - gap] == ki and rows[b - gap] > ri)):
                key[b] = key[b - gap]
                rows[b] = rows[b - gap]
                coef[b] = coef[b - gap]
                b -= gap
            key[b] = ki
            rows[b] = ri
            coef[b] = ci
        gap //= 3
    return used


@njit(nogil=True, cache=_CACHE)
def spa_dfs(AT, indptr, indices, data, dense, y, s, m, thr, rel_cut, max_depth, paths, values,
            depths, subtree, remainder, rows, coef, key, col_start, col_end, col_cut):
    """Enumerate supply-chain paths depth-first with an explicit stack (see module docstring).

    Writes the first ``len(values)`` listed paths into the output buffers and counts the rest, so
    that a caller whose buffers were too small can size them exactly and call again; the same for
    the pool of column candidates (`enumerate_paths` does both).

    Parameters
    ----------
    AT : ndarray (n, n) float64, C order
        ``A^T`` (row ``j`` = column ``j`` of ``A``) [money / money]; used if ``dense``.
    indptr, indices, data : ndarray int64, int64, float64
        ``A`` in CSC form; used if not ``dense``.
    dense : bool
        Which of the two forms of ``A`` to read (the other may be a dummy of size 1).
    y : ndarray (n,) float64
        Final demand [money], non-negative.
    s, m : ndarray (n,) float64
        Direct intensities and total multipliers [stressor unit / money], ``0 <= s <= m``.
    thr : float
        Absolute threshold ``t = tau E`` [stressor unit].
    rel_cut : float
        Column ``j`` keeps the candidates ``A[k, j] m_k >= rel_cut m_j``; any ``rel_cut <= tau``
        is exact, since a visited node's subtree ``v m_j`` is at most ``E`` (``tau / 2`` leaves room
        for rounding; 0 keeps every non-zero entry).
    max_depth : int
        Deepest stage enumerated (stage 0 is the final-demand sector).
    paths : ndarray (cap, max_depth + 1) int64, out
        Sector indices of each listed path by stage, ``-1`` past its depth.
    values : ndarray (cap,) float64, out
        ``e_p = s_{i_d} v_p`` [stressor unit].
    depths : ndarray (cap,) int64, out
        ``d``, the stage where the impact happens.
    subtree : ndarray (cap,) float64, out
        ``m_{i_d} v_p``: the path and everything upstream of its last node [stressor unit].
    remainder : ndarray (max_depth + 2,) float64, out
        Value not in listed paths, by the stage at which it was cut off [stressor unit].
    rows, coef, key : ndarray (pool,) int64, float64, float64, scratch
        Pool of the candidates of the columns visited so far: supplier ``k``, ``A[k, j]``, and
        ``A[k, j] m_k``, each column's run sorted by key, descending.
    col_start, col_end : ndarray (n,) int64, scratch
        Run of column ``j`` in the pool.
    col_cut : ndarray (n,) float64, scratch
        Smallest key kept in column ``j``'s run (``inf`` until first needed).

    Returns
    -------
    npaths : int
        Number of listed paths (only ``min(npaths, cap)`` written).
    visited : int
        Number of nodes visited.
    pool_used : int
        Pool entries used; ``-1`` if the pool was too small (the results are then incomplete).
    """
    n = y.shape[0]
    D = max_depth + 1
    cap = values.shape[0]
    pool = rows.shape[0]
    paths[:] = -1
    remainder[:] = 0.0
    col_cut[:] = np.inf
    node = np.empty(D, dtype=np.int64)
    flow = np.empty(D, dtype=np.float64)
    pos = np.empty(D, dtype=np.int64)      # next candidate of the node's column
    taken = np.empty(D, dtype=np.float64)  # sum of the bounds of the visited children
    npaths = 0
    visited = 0
    used = 0
    for root in range(n):
        yr = y[root]
        if yr == 0.0:
            continue
        bound = m[root] * yr
        if bound <= 0.0 or bound < thr:
            remainder[0] += bound
            continue
        depth = 0
        node[0] = root
        flow[0] = yr
        taken[0] = 0.0
        entering = True
        while depth >= 0:
            j = node[depth]
            v = flow[depth]
            if entering:  # first time at this node: list or book its own path value
                entering = False
                visited += 1
                e = s[j] * v
                if e >= thr and e > 0.0:
                    if npaths < cap:
                        for t in range(depth + 1):
                            paths[npaths, t] = node[t]
                        values[npaths] = e
                        depths[npaths] = depth
                        subtree[npaths] = m[j] * v
                    npaths += 1
                else:
                    remainder[depth] += e
                if depth < max_depth:
                    need = thr / v  # smallest key a child of this visit can pass with
                    if need < col_cut[j]:  # not built yet, or built for smaller flows: (re)build
                        if pool - used < n:
                            return npaths, visited, -1
                        cut = max(need / _SLACK, rel_cut * m[j])
                        col_start[j] = used
                        used = _build_column(AT, indptr, indices, data, dense, m, j, cut, rows,
                                             coef, key, used)
                        col_end[j] = used
                        col_cut[j] = cut
                    pos[depth] = col_start[j]
            if depth < max_depth:
                p = pos[depth]
                if p < col_end[j]:
                    cb = v * key[p]
                    if cb >= thr and cb > 0.0:
                        pos[depth] = p + 1
                        taken[depth] += cb
                        depth += 1
                        node[depth] = rows[p]
                        flow[depth] = v * coef[p]
                        taken[depth] = 0.0
                        entering = True
                        continue
                    pos[depth] = col_end[j]  # sorted: no later candidate passes either
            # column done: the children below the threshold (or beyond max_depth) are pruned
            remainder[depth + 1] += v * (m[j] - s[j]) - taken[depth]
            depth -= 1
    return npaths, visited, used


def enumerate_paths(A, y, s, m, thr, max_depth, capacity, rel_cut=None, pool=None):
    """Run `spa_dfs` with preallocated buffers, grown (and run again) when too small.

    Parameters
    ----------
    A : ndarray (n, n) or tuple
        ``A^T`` in C order (dense), or ``(indptr, indices, data)`` of ``A`` in CSC form.
    y, s, m, thr, max_depth
        As in `spa_dfs`.
    capacity : int
        Initial number of rows. With a threshold ``t = tau E > 0`` at most ``1 / tau`` paths are
        listed (each is worth at least ``t``, together at most ``E``), so ``1 / tau + 1`` rows never
        need a second run.
    rel_cut : float, optional
        As in `spa_dfs`; default ``tau / 2`` with ``tau = thr / (m^T y)``.
    pool : int, optional
        Initial size of the candidate pool (default ``max(4 n, 2^18)``; multiplied by 4 and run
        again when too small).

    Returns
    -------
    paths, values, depths, subtree, remainder, visited
        As in `spa_dfs`, trimmed to the listed paths.
    """
    dense = not isinstance(A, tuple)
    if dense:
        AT = A
        indptr = indices = np.zeros(1, dtype=np.int64)
        data = np.zeros(1, dtype=np.float64)
    else:
        AT = np.zeros((1, 1), dtype=np.float64)
        indptr, indices, data = A
    n = y.shape[0]
    if rel_cut is None:
        total = float(m @ y)
        rel_cut = 0.5 * thr / total if total > 0 else 0.0
    D = int(max_depth) + 1
    cap = max(int(capacity), 1)
    pool = max(4 * n, 1 << 18) if pool is None else max(int(pool), 1)
    col_start = np.empty(n, dtype=np.int64)
    col_end = np.empty(n, dtype=np.int64)
    col_cut = np.empty(n, dtype=np.float64)
    while True:
        paths = np.empty((cap, D), dtype=np.int64)
        values = np.empty(cap, dtype=np.float64)
        depths = np.empty(cap, dtype=np.int64)
        subtree = np.empty(cap, dtype=np.float64)
        remainder = np.empty(D + 1, dtype=np.float64)
        rows = np.empty(pool, dtype=np.int64)
        coef = np.empty(pool, dtype=np.float64)
        key = np.empty(pool, dtype=np.float64)
        npaths, visited, used = spa_dfs(AT, indptr, indices, data, dense, y, s, m, float(thr),
                                        float(rel_cut), int(max_depth), paths, values, depths,
                                        subtree, remainder, rows, coef, key, col_start, col_end,
                                        col_cut)
        if used < 0:
            pool *= 4
            continue
        if npaths <= cap:
            return (paths[:npaths], values[:npaths], depths[:npaths], subtree[:npaths], remainder,
                    int(visited))
        cap = int(npaths)
