"""Perturbation of technical coefficients and products with the perturbed matrices.

Every nonzero ``a_ij`` of ``A`` gets, in sample ``s``, the mean-preserving lognormal factor

    f_ij(s) = exp(sigma_ij z_ij(s) - sigma_ij^2 / 2),   sigma_ij = sqrt(log(1 + rsd_ij^2)),

so that ``E[f] = 1`` and ``sd[f] = rsd``. ``z_ij(s)`` is the standard normal of the counter-based
stream ``key(s)`` at element ``i * n + j`` (independent elements), or the normal
``zblock[s, (i // P) * R + j // P]`` shared by a whole region-pair block (``block_P = P > 0``).
The element numbering is that of ``A`` in every storage, so dense and CSR kernels draw the same
factors, and a kernel that stores ``A^T`` (``transposed=True``) still numbers ``a_ij`` as
``i * n + j``.

Two ways to use the factors, whose trade-off is measured in ``benchmarks/mc_speed.py``:

* materialise: :func:`perturb_csr` / :func:`perturb_dense` write the perturbed values of a batch of
  samples once into reused buffers; :func:`csr_matmat` then serves every solver step with plain
  memory passes (one pass over the index arrays serves all samples of the batch);
* fused: :func:`csr_perturb_matmat` / :func:`dense_perturb_matmat` regenerate the factors inside
  the product (no buffer, but the random numbers are recomputed in every solver step).

``sigma`` is an array of one value (the same for every element) or one value per stored entry.
All kernels write into a preallocated ``out``; none allocates in its loops. The factor and
product kernels contract ``a * b + c`` to FMA. They compile serial
(the Monte Carlo runs one single-threaded worker per core); :func:`parallel` gives a
multi-threaded build of any of them (``prange`` over rows) for single-process use.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

from .random import exp_block, normals_block, std_normal

_PARALLEL: dict = {}


def parallel(kernel):
    """A ``parallel=True`` build of a kernel of this module (compiled lazily, kept)."""
    if kernel not in _PARALLEL:
        _PARALLEL[kernel] = nb.njit(cache=False, nogil=True, parallel=True)(kernel.py_func)
    return _PARALLEL[kernel]


@nb.njit(cache=False, nogil=True)
def _factor(a, s, z):
    return a * math.exp(s * z - 0.5 * s * s)


@nb.njit(cache=False, nogil=True, error_model="numpy", fastmath={"contract"})
def _row_factors(a, sigma, per_elem, off, z, m, out, kb):
    """``out[t] = a[t] exp(s_t z[t] - s_t^2 / 2)`` for a block of m entries (SIMD passes; z is
    overwritten)."""
    s0 = sigma[0]
    for t in range(m):
        s = sigma[off + t] if per_elem else s0
        z[t] = s * z[t] - 0.5 * s * s
    # z -> out, not in place: LLVM's runtime overlap check sends in-place loops to scalar code
    exp_block(z, m, out, kb)
    for t in range(m):
        out[t] *= a[t]


@nb.njit(cache=False, nogil=True)
def perturb_csr(indptr, indices, data, sigma, n, transposed, block_P, block_R, zblock, keys, out):
    """Perturbed values of a CSR matrix for a batch of samples.

    Row by row, the element numbers of the row are formed once and serve all samples; each
    sample's normals come from :func:`normals_block` and its factors from :func:`exp_block`
    (SIMD passes over the row; the hash is the only scalar pass).

    Parameters
    ----------
    indptr, indices, data : CSR arrays (int32/int64, int32/int64, float64) of the stored matrix
        ``T``: ``A`` itself, or ``A^T`` when ``transposed``.
    sigma : float64 array, shape (1,) or (nnz,)
        Log-scale standard deviation of each stored entry (dimensionless).
    n : int
        Order of A (the element of ``a_ij`` is ``i * n + j``).
    transposed : bool
        Whether ``T = A^T`` (row ``r`` of ``T`` is column ``r`` of ``A``).
    block_P, block_R : int
        Sectors and regions per block (``block_P = 0``: independent elements).
    zblock : float64 array, shape (B, R * R)
        Block normals (read only when ``block_P > 0``).
    keys : uint64 array, shape (B,)
        Stream key of each sample of the batch.
    out : float64 array, shape (B, nnz)
        ``out[b, k] = data[k] * f_k(sample b)``.
    """
    nrow = indptr.shape[0] - 1
    nb_ = keys.shape[0]
    per_elem = sigma.shape[0] > 1
    maxrow = 0
    for r in range(nrow):
        maxrow = max(maxrow, indptr[r + 1] - indptr[r])
    for r in nb.prange(nrow):
        start = indptr[r]
        m = indptr[r + 1] - start
        eb = np.empty(maxrow, dtype=np.uint64)
        kb = np.empty(maxrow, dtype=np.int64)
        qb = np.empty(maxrow)
        zb = np.empty(maxrow)
        rr = np.int64(r)
        for t in range(m):
            c = np.int64(indices[start + t])
            i = c if transposed else rr
            j = rr if transposed else c
            if block_P > 0:
                eb[t] = np.uint64((i // block_P) * block_R + j // block_P)
            else:
                eb[t] = np.uint64(i) * np.uint64(n) + np.uint64(j)
        a = data[start:start + m]
        for b in range(nb_):
            if block_P > 0:
                for t in range(m):
                    zb[t] = zblock[b, np.int64(eb[t])]
            else:
                normals_block(keys[b], eb, m, kb, qb, zb)
            _row_factors(a, sigma, per_elem, start, zb, m, out[b, start:start + m], kb)


@nb.njit(cache=False, nogil=True)
def perturb_dense(A, sigma, block_P, block_R, zblock, keys, out):
    """Perturbed copies of a dense ``A`` (n x n) for a batch: ``out[b] = A * F(b)``.

    Zeros of ``A`` stay zero and draw nothing; the factors are those of :func:`perturb_csr`.
    ``sigma`` has shape (1,) or (n * n,) (row-major). Other parameters as in :func:`perturb_csr`;
    ``out`` has shape (B, n, n).
    """
    n = A.shape[0]
    nb_ = keys.shape[0]
    per_elem = sigma.shape[0] > 1
    for i in nb.prange(n):
        eb = np.empty(n, dtype=np.uint64)
        cols = np.empty(n, dtype=np.int64)
        a = np.empty(n)
        sb = np.empty(n)
        kb = np.empty(n, dtype=np.int64)
        qb = np.empty(n)
        zb = np.empty(n)
        fb = np.empty(n)
        m = 0
        for j in range(n):
            if A[i, j] != 0.0:
                cols[m] = j
                a[m] = A[i, j]
                sb[m] = sigma[i * n + j] if per_elem else sigma[0]
                if block_P > 0:
                    eb[m] = np.uint64((i // block_P) * block_R + j // block_P)
                else:
                    eb[m] = np.uint64(i) * np.uint64(n) + np.uint64(j)
                m += 1
        for b in range(nb_):
            if block_P > 0:
                for t in range(m):
                    zb[t] = zblock[b, np.int64(eb[t])]
            else:
                normals_block(keys[b], eb, m, kb, qb, zb)
            _row_factors(a, sb, True, 0, zb, m, fb, kb)
            for j in range(n):
                out[b, i, j] = 0.0
            for t in range(m):
                out[b, i, cols[t]] = fb[t]


# ---- SIMD row kernel for groups of 5 columns ---------------------------------------------------
# numba's indexing (wraparound of signed indices, runtime strides) keeps the gather loop of
# csr_matmat scalar; this LLVM function does one row with a <4 x double> FMA for columns 0-3 and a
# scalar FMA for column 4 per stored entry (one broadcast of the value, one unaligned load).
_F64 = ir.DoubleType()
_V4 = ir.VectorType(_F64, 4)
_I64 = ir.IntType(64)
_I32 = ir.IntType(32)


def _row5_function(module, idx_bits):
    name = f"spendprint_csr_row5_i{idx_bits}"
    ity = ir.IntType(idx_bits)
    fnty = ir.FunctionType(ir.VoidType(), [_F64.as_pointer(), ity.as_pointer(), _I64, _I64,
                                           _F64.as_pointer(), _I64, _F64.as_pointer()])
    fn = cgutils.get_or_insert_function(module, fnty, name)
    if not fn.is_declaration:
        return fn
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    vals, idx, k0, k1, X, m, out = fn.args
    entry, loop, done = (fn.append_basic_block(x) for x in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    fma4 = cgutils.get_or_insert_function(module, ir.FunctionType(_V4, [_V4] * 3),
                                          "llvm.fma.v4f64")
    fma1 = cgutils.get_or_insert_function(module, ir.FunctionType(_F64, [_F64] * 3),
                                          "llvm.fma.f64")
    zero4 = ir.Constant(_V4, [0.0] * 4)
    zero = ir.Constant(_F64, 0.0)
    b.cbranch(b.icmp_signed("<", k0, k1), loop, done)
    b.position_at_end(loop)
    k = b.phi(_I64)
    acc = b.phi(_V4)
    acc1 = b.phi(_F64)
    v = b.load(b.gep(vals, [k]), align=8)
    c = b.load(b.gep(idx, [k]), align=idx_bits // 8)
    c = b.sext(c, _I64) if idx_bits < 64 else c
    xp = b.gep(X, [b.mul(c, m)])
    xv = b.load(b.bitcast(xp, _V4.as_pointer()), align=8)
    x4 = b.load(b.gep(xp, [ir.Constant(_I64, 4)]), align=8)
    vv = b.insert_element(ir.Constant(_V4, ir.Undefined), v, ir.Constant(_I32, 0))
    vv = b.shuffle_vector(vv, vv, ir.Constant(ir.VectorType(_I32, 4), [0, 0, 0, 0]))
    acc_n = b.call(fma4, [vv, xv, acc])
    acc1_n = b.call(fma1, [v, x4, acc1])
    k_n = b.add(k, ir.Constant(_I64, 1))
    k.add_incoming(k0, entry)
    k.add_incoming(k_n, loop)
    acc.add_incoming(zero4, entry)
    acc.add_incoming(acc_n, loop)
    acc1.add_incoming(zero, entry)
    acc1.add_incoming(acc1_n, loop)
    b.cbranch(b.icmp_signed("<", k_n, k1), loop, done)
    b.position_at_end(done)
    r4 = b.phi(_V4)
    r4.add_incoming(zero4, entry)
    r4.add_incoming(acc_n, loop)
    r1 = b.phi(_F64)
    r1.add_incoming(zero, entry)
    r1.add_incoming(acc1_n, loop)
    b.store(r4, b.bitcast(out, _V4.as_pointer()), align=8)
    b.store(r1, b.gep(out, [ir.Constant(_I64, 4)]), align=8)
    b.ret_void()
    return fn


@intrinsic
def _row5(typingctx, vals, idx, k0, k1, X, m, out):
    """``out[0:5] = sum_{k0 <= k < k1} vals[k] X[idx[k] m : idx[k] m + 5]`` (1-D C arrays)."""
    ok = (all(isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
              for a in (vals, idx, X, out))
          and vals.dtype == X.dtype == out.dtype == types.float64
          and idx.dtype in (types.int32, types.int64))
    if not ok:
        return None
    sig = types.void(vals, idx, types.int64, types.int64, X, types.int64, out)

    def codegen(context, builder, signature, args):
        va, ia, k0_, k1_, xa, m_, oa = args
        vt, it, _, _, xt, _, ot = signature.args
        ptrs = [context.make_array(t)(context, builder, a).data
                for t, a in ((vt, va), (it, ia), (xt, xa), (ot, oa))]
        fn = _row5_function(builder.module, it.dtype.bitwidth)
        builder.call(fn, [ptrs[0], ptrs[1], k0_, k1_, ptrs[2], m_, ptrs[3]])
        return context.get_dummy_value()

    return sig, codegen



@nb.njit(cache=False, nogil=True, fastmath={"contract"})
def csr_matmat(indptr, indices, values, X, active, out):
    """``out[b] = T_b @ X[b]`` for CSR matrices sharing one pattern, for active samples.

    Parameters
    ----------
    indptr, indices : CSR pattern of ``T``, shapes (n_rows + 1,), (nnz,)
    values : float64 array, shape (B, nnz)
        The values of each sample's matrix (e.g. from :func:`perturb_csr`).
    X : float64 array, shape (B, n_cols, m), C-contiguous
        Row-major block of m vectors per sample (one gather of m contiguous values per entry).
        The last group of 5 columns (m = 5: all of them) goes through a SIMD row kernel
        (:func:`_row5`: one 4-wide FMA and one scalar FMA per entry); other groups are scalar.
    active : bool array, shape (B,)
        Samples to compute; inactive ones are left untouched in ``out``.
    out : float64 array, shape (B, n_rows, m)
        ``out[b, r, q] = sum_k values[b, k] X[b, indices[k], q]`` over the entries k of row r.
    """
    nrow = indptr.shape[0] - 1
    nb_ = values.shape[0]
    m = X.shape[2]
    n_cols = X.shape[1]
    for r in nb.prange(nrow):
        k0 = np.int64(indptr[r])
        k1 = np.int64(indptr[r + 1])
        acc5 = np.empty(5)
        for b in range(nb_):
            if not active[b]:
                continue
            vb = values[b]
            Xb = X[b].reshape(n_cols * m)
            # columns in groups of 4 (the last group takes up to 5) with scalar accumulators
            # kept in registers: one pass over the row per group
            q0 = 0
            while q0 < m:
                w = m - q0 if m - q0 <= 5 else 4
                a0 = 0.0
                a1 = 0.0
                a2 = 0.0
                a3 = 0.0
                a4 = 0.0
                if w == 5:
                    _row5(vb, indices, k0, k1, Xb[q0:], m, acc5)
                    a0 = acc5[0]
                    a1 = acc5[1]
                    a2 = acc5[2]
                    a3 = acc5[3]
                    a4 = acc5[4]
                elif w == 4:
                    c0 = 0.0
                    c1 = 0.0
                    c2 = 0.0
                    c3 = 0.0
                    k = k0
                    while k + 1 < k1:
                        v = values[b, k]
                        c = indices[k]
                        u = values[b, k + 1]
                        d = indices[k + 1]
                        a0 += v * X[b, c, q0]
                        a1 += v * X[b, c, q0 + 1]
                        a2 += v * X[b, c, q0 + 2]
                        a3 += v * X[b, c, q0 + 3]
                        c0 += u * X[b, d, q0]
                        c1 += u * X[b, d, q0 + 1]
                        c2 += u * X[b, d, q0 + 2]
                        c3 += u * X[b, d, q0 + 3]
                        k += 2
                    if k < k1:
                        v = values[b, k]
                        c = indices[k]
                        a0 += v * X[b, c, q0]
                        a1 += v * X[b, c, q0 + 1]
                        a2 += v * X[b, c, q0 + 2]
                        a3 += v * X[b, c, q0 + 3]
                    a0 += c0
                    a1 += c1
                    a2 += c2
                    a3 += c3
                elif w == 3:
                    for k in range(k0, k1):
                        v = values[b, k]
                        c = indices[k]
                        a0 += v * X[b, c, q0]
                        a1 += v * X[b, c, q0 + 1]
                        a2 += v * X[b, c, q0 + 2]
                elif w == 2:
                    for k in range(k0, k1):
                        v = values[b, k]
                        c = indices[k]
                        a0 += v * X[b, c, q0]
                        a1 += v * X[b, c, q0 + 1]
                else:
                    for k in range(k0, k1):
                        a0 += values[b, k] * X[b, indices[k], q0]
                out[b, r, q0] = a0
                if w > 1:
                    out[b, r, q0 + 1] = a1
                if w > 2:
                    out[b, r, q0 + 2] = a2
                if w > 3:
                    out[b, r, q0 + 3] = a3
                if w > 4:
                    out[b, r, q0 + 4] = a4
                q0 += w


@nb.njit(cache=False, nogil=True)
def csr_perturb_matmat(indptr, indices, data, sigma, n, transposed, block_P, block_R, zblock,
                       keys, X, out):
    """Fused: ``out[b] = T_b @ X[b]`` with ``T_b`` the perturbed ``T``, factors regenerated.

    Same factors as :func:`perturb_csr` followed by :func:`csr_matmat` (same layouts: X of shape
    (B, n_cols, m), out (B, n_rows, m)); no (B, nnz) buffer, the factors are recomputed (with the
    scalar :func:`std_normal`) in every call.
    """
    nrow = indptr.shape[0] - 1
    nb_ = keys.shape[0]
    m = X.shape[2]
    per_elem = sigma.shape[0] > 1
    for r in nb.prange(nrow):
        for b in range(nb_):
            for q in range(m):
                out[b, r, q] = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            c = np.int64(indices[k])
            rr = np.int64(r)
            i = c if transposed else rr
            j = rr if transposed else c
            s = sigma[k] if per_elem else sigma[0]
            a = data[k]
            e = np.uint64(i) * np.uint64(n) + np.uint64(j)
            blk = (i // block_P) * block_R + j // block_P if block_P > 0 else 0
            for b in range(nb_):
                z = zblock[b, blk] if block_P > 0 else std_normal(keys[b], e)
                v = _factor(a, s, z)
                for q in range(m):
                    out[b, r, q] += v * X[b, c, q]


@nb.njit(cache=False, nogil=True)
def dense_perturb_matmat(A, sigma, transposed, block_P, block_R, zblock, keys, X, out):
    """Fused dense product with regenerated factors.

    ``out[b] = A_b @ X[b]``, or ``A_b^T @ X[b]`` when ``transposed``, where ``A_b`` is
    ``A`` perturbed as in :func:`perturb_dense`. X and out have shape (B, n, m).
    """
    n = A.shape[0]
    nb_ = keys.shape[0]
    m = X.shape[2]
    per_elem = sigma.shape[0] > 1
    for r in nb.prange(n):
        for b in range(nb_):
            for q in range(m):
                out[b, r, q] = 0.0
        for c in range(n):
            rr = np.int64(r)
            i = np.int64(c) if transposed else rr
            j = rr if transposed else np.int64(c)
            a = A[i, j]
            if a == 0.0:
                continue
            s = sigma[i * n + j] if per_elem else sigma[0]
            e = np.uint64(i) * np.uint64(n) + np.uint64(j)
            blk = (i // block_P) * block_R + j // block_P if block_P > 0 else 0
            for b in range(nb_):
                z = zblock[b, blk] if block_P > 0 else std_normal(keys[b], e)
                v = _factor(a, s, z)
                for q in range(m):
                    out[b, r, q] += v * X[b, c, q]


@nb.njit(cache=False, nogil=True)
def lognormal_factors(key, elements, sigma, out):
    """``out[i] = exp(sigma[i] z - sigma[i]^2 / 2)``, z the normal of ``key`` at ``elements[i]``."""
    for i in range(elements.shape[0]):
        s = sigma[i]
        out[i] = math.exp(s * std_normal(key, elements[i]) - 0.5 * s * s)
