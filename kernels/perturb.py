"""Perturbation of technical coefficients and products with the perturbed matrices.

Every nonzero ``a_ij`` of ``A`` gets, in sample ``s``, the mean-preserving lognormal factor

    f_ij(s) = exp(sigma_ij z_ij(s) - sigma_ij^2 / 2),   sigma_ij = sqrt(log(1 + rsd_ij^2)),

so that ``E[f] = 1`` and ``sd[f] = rsd``. ``z_ij(s)`` is the standard normal of the counter-based
stream ``key(s)`` at element ``i * n + j`` (independent elements; the float32 stream
`std_normal_f32`), or the normal
``zblock[s, (i // P) * R + j // P]`` shared by a whole region-pair block (``block_P = P > 0``).
Factors and perturbed values are float32: the perturbed matrix of a sample *is* its float32
values (the solver's residuals are computed in float64 against exactly these numbers), and
rounding to float32 (relative 6e-8) is six orders of magnitude below any RSD worth sampling.
The element numbering is that of ``A`` in every storage, so dense and CSR kernels draw the same
factors, and a kernel that stores ``A^T`` (``transposed=True``) still numbers ``a_ij`` as
``i * n + j``.

Two ways to use the factors, whose trade-off is measured in ``benchmarks/mc_speed.py``:

* materialise: `perturb_csr` / `perturb_dense` write the perturbed values of a batch of
  samples once into reused buffers; `csr_matmat` then serves every solver step with plain
  memory passes (samples in pairs: one pass over the index arrays serves two samples);
* fused: `csr_perturb_matmat` / `dense_perturb_matmat` regenerate the factors inside
  the product (no buffer, but the random numbers are recomputed in every solver step).

``sigma`` is an array of one value (the same for every element) or one value per stored entry.
All kernels write into a preallocated ``out``; none allocates per row or segment (scratch is
per chunk of work). The factor and
product kernels contract ``a * b + c`` to FMA. They compile serial
(the Monte Carlo runs one single-threaded worker per core); `parallel` gives a
multi-threaded build of any of them (``prange`` over chunks of rows or segments) for
single-process use.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

from .random import GOLDEN, _top32, exp_f32, mix64, std_normal, std_normal_f32, z_from_top32

_PARALLEL: dict = {}


def parallel(kernel):
    """A ``parallel=True`` build of a kernel of this module (compiled lazily, kept)."""
    if kernel not in _PARALLEL:
        _PARALLEL[kernel] = nb.njit(cache=False, nogil=True, parallel=True)(kernel.py_func)
    return _PARALLEL[kernel]


_HALF32 = np.float32(0.5)
_CHUNK = 8192  # entries per unit of work of perturb_csr (its scratch stays in L2)
_fkw = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})


@nb.njit(inline="always", **_fkw)
def _factor(a, s, z):
    """``a exp(s z - s^2 / 2)`` in float32 (a, s, z float32)."""
    return a * exp_f32(s * z - _HALF32 * s * s)


@nb.njit(**_fkw)
def _row_factors(key, eg, a, sg, per_elem, m, hb, out):
    """``out[t] = a[t] f_t`` for a block of m entries with ``eg[t] = e_t GOLDEN`` (two SIMD
    passes: the hash into hb, then normal, exp and product in float32)."""
    for t in range(m):
        hb[t] = _top32(mix64(np.uint64(key) + eg[t]))
    s0 = sg[0]
    for t in range(m):
        s = sg[t] if per_elem else s0
        out[t] = _factor(a[t], s, z_from_top32(hb[t]))


@nb.njit(**_fkw)
def _row_factors_block(zrow, bi, a, sg, per_elem, m, out):
    """``out[t] = a[t] exp(s_t z - s_t^2 / 2)`` with ``z = zrow[bi[t]]`` (block correlation)."""
    s0 = sg[0]
    for t in range(m):
        s = sg[t] if per_elem else s0
        out[t] = _factor(a[t], s, np.float32(zrow[bi[t]]))


@nb.njit(cache=True, nogil=True)
def perturb_csr(indptr, rows, indices, data, sigma, n, transposed, block_P, block_R, zblock, keys,
                out):
    """Perturbed values (float32) of a (segmented) CSR matrix for a batch of samples.

    Segment by segment, the element numbers (times GOLDEN), the float32 values and sigmas are
    formed once and serve all samples; each sample's factors come from two SIMD passes
    (`_row_factors`).

    Parameters
    ----------
    indptr, rows, indices, data : segmented CSR arrays of the stored matrix ``T`` (``A`` itself,
        or ``A^T`` when ``transposed``): segment r holds the entries ``indptr[r]:indptr[r + 1]``
        of row ``rows[r]`` of ``T``, with columns ``indices`` (any integer type) and float64
        values ``data``. Plain CSR is ``rows = arange(n_rows)``; see `segment_layout`.
    sigma : float array, shape (1,) or (nnz,)
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
    out : float32 array, shape (B, nnz)
        ``out[b, k] = float32(data[k]) * f_k(sample b)``.
    """
    nseg = indptr.shape[0] - 1
    nb_ = keys.shape[0]
    per_elem = sigma.shape[0] > 1
    # units of work: runs of consecutive segments of about _CHUNK entries (contiguous in
    # storage), so that the SIMD passes of each sample run over thousands of entries even when
    # segments are short (~90 entries in a column block of 256 at n = 9,800)
    cut = np.empty(nseg + 1, dtype=np.int64)
    n_chunks = 0
    cut[0] = 0
    for r in range(nseg):
        if r > cut[n_chunks] and indptr[r + 1] - indptr[cut[n_chunks]] > _CHUNK:
            n_chunks += 1
            cut[n_chunks] = r
    n_chunks += 1
    cut[n_chunks] = nseg
    for ch in nb.prange(n_chunks):
        e0 = indptr[cut[ch]]
        m = indptr[cut[ch + 1]] - e0
        eg = np.empty(m, dtype=np.uint64)
        bi = np.empty(m, dtype=np.int64)
        hb = np.empty(m, dtype=np.uint32)
        a = np.empty(m, dtype=np.float32)
        sg = np.empty(m, dtype=np.float32)
        for r in range(cut[ch], cut[ch + 1]):
            rr = np.int64(rows[r])
            for k in range(indptr[r], indptr[r + 1]):
                t = k - e0
                c = np.int64(indices[k])
                i = c if transposed else rr
                j = rr if transposed else c
                if block_P > 0:
                    bi[t] = (i // block_P) * block_R + j // block_P
                else:
                    eg[t] = (np.uint64(i) * np.uint64(n) + np.uint64(j)) * GOLDEN
                a[t] = np.float32(data[k])
                sg[t] = np.float32(sigma[k] if per_elem else sigma[0])
        for b in range(nb_):
            if block_P > 0:
                _row_factors_block(zblock[b], bi, a, sg, per_elem, m, out[b, e0:e0 + m])
            else:
                _row_factors(keys[b], eg, a, sg, per_elem, m, hb, out[b, e0:e0 + m])


@nb.njit(cache=True, nogil=True)
def perturb_dense(A, sigma, block_P, block_R, zblock, keys, out):
    """Perturbed copies (float32) of a dense ``A`` (n x n) for a batch: ``out[b] = A * F(b)``.

    Zeros of ``A`` stay zero and draw nothing; the factors are those of `perturb_csr`.
    ``sigma`` has shape (1,) or (n * n,) (row-major). Other parameters as in `perturb_csr`;
    ``out`` has shape (B, n, n), float32.
    """
    n = A.shape[0]
    nb_ = keys.shape[0]
    per_elem = sigma.shape[0] > 1
    for i in nb.prange(n):
        eg = np.empty(n, dtype=np.uint64)
        bi = np.empty(n, dtype=np.int64)
        cols = np.empty(n, dtype=np.int64)
        a = np.empty(n, dtype=np.float32)
        sg = np.empty(n, dtype=np.float32)
        hb = np.empty(n, dtype=np.uint32)
        fb = np.empty(n, dtype=np.float32)
        m = 0
        for j in range(n):
            if A[i, j] != 0.0:
                cols[m] = j
                a[m] = np.float32(A[i, j])
                sg[m] = np.float32(sigma[i * n + j] if per_elem else sigma[0])
                if block_P > 0:
                    bi[m] = (i // block_P) * block_R + j // block_P
                else:
                    eg[m] = (np.uint64(i) * np.uint64(n) + np.uint64(j)) * GOLDEN
                m += 1
        for b in range(nb_):
            if block_P > 0:
                _row_factors_block(zblock[b], bi, a, sg, True, m, fb)
            else:
                _row_factors(keys[b], eg, a, sg, True, m, hb, fb)
            for j in range(n):
                out[b, i, j] = 0.0
            for t in range(m):
                out[b, i, cols[t]] = fb[t]


# ---- SIMD row kernel for groups of 4 or 5 columns ----------------------------------------------
# numba's indexing (wraparound of signed indices, runtime strides) keeps the gather loop of
# csr_matmat scalar; this LLVM function does one row with a <4 x double> FMA for columns 0-3 and a
# scalar FMA for column 4 per stored entry (one broadcast of the value, one unaligned load). The
# loop is unrolled by 4 with 4 independent accumulator sets: one accumulator chain is bound by the
# FMA latency (4-5 cycles an entry), four chains by the loads. The function serves one sample or
# two (then unrolled by 2: still 4 chains, and one index load per entry for both). Values may be
# float32 (widened to float64 on load: half the memory traffic) or float64; column numbers int32,
# int64, uint16 or uint32; the row stride of X a runtime argument or a constant.
_F64 = ir.DoubleType()
_F32 = ir.FloatType()
_V4 = ir.VectorType(_F64, 4)
_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_UNROLL = 4
_SEGS = 1024  # segments per unit of work of csr_matmat


def _row_function(module, idx_bits, idx_signed, val_bits, width, nsamp, stride):
    """LLVM function of one row for 4 (``width=4``) or 5 columns, for ``nsamp`` (1 or 2) samples
    sharing the row's column numbers (one index load and address per entry serves both).
    ``stride``: the row stride of X when known at compile time (0: the argument ``m``)."""
    tail = width == 5
    name = (f"spendprint_csr_row{width}x{nsamp}_{'i' if idx_signed else 'u'}{idx_bits}"
            f"_v{val_bits}_s{stride}")
    ity = ir.IntType(idx_bits)
    vty = _F32 if val_bits == 32 else _F64
    fnty = ir.FunctionType(ir.VoidType(), [vty.as_pointer()] * nsamp + [ity.as_pointer(), _I64, _I64]
                           + [_F64.as_pointer()] * nsamp + [_I64] + [_F64.as_pointer()] * nsamp)
    fn = cgutils.get_or_insert_function(module, fnty, name)
    if not fn.is_declaration:
        return fn
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    args = list(fn.args)
    vals, args = args[:nsamp], args[nsamp:]
    idx, k0, k1, args = args[0], args[1], args[2], args[3:]
    Xs, args = args[:nsamp], args[nsamp:]
    m, outs = args[0], args[1:]
    unroll = _UNROLL // nsamp  # independent FMA chains in flight: unroll x nsamp
    blocks = {x: fn.append_basic_block(x) for x in ("entry", "loop", "mid", "tail", "done")}
    b = ir.IRBuilder(blocks["entry"])
    fma4 = cgutils.get_or_insert_function(module, ir.FunctionType(_V4, [_V4] * 3),
                                          "llvm.fma.v4f64")
    fma1 = cgutils.get_or_insert_function(module, ir.FunctionType(_F64, [_F64] * 3),
                                          "llvm.fma.f64")
    zero4 = ir.Constant(_V4, [0.0] * 4)
    zero = ir.Constant(_F64, 0.0)
    four = ir.Constant(ir.VectorType(_I32, 4), [0, 0, 0, 0])
    nacc = 2 * nsamp  # per unrolled entry: a <4 x double> and a scalar accumulator per sample

    def entry_term(bld, k, acc):
        """acc[2s] += vals_s[k] X_s[idx[k], 0:4]; acc[2s + 1] += vals_s[k] X_s[idx[k], 4]."""
        c = bld.load(bld.gep(idx, [k]), align=idx_bits // 8)
        if idx_bits < 64:
            c = bld.sext(c, _I64) if idx_signed else bld.zext(c, _I64)
        off = bld.mul(c, ir.Constant(_I64, stride) if stride else m)
        new = []
        for q in range(nsamp):
            v = bld.load(bld.gep(vals[q], [k]), align=val_bits // 8)
            xp = bld.gep(Xs[q], [off])
            xv = bld.load(bld.bitcast(xp, _V4.as_pointer()), align=8)
            # splat, then widen (vbroadcastss from memory + vcvtps2pd: one FP operation)
            vt = ir.VectorType(vty, 4)
            vv = bld.insert_element(ir.Constant(vt, ir.Undefined), v, ir.Constant(_I32, 0))
            vv = bld.shuffle_vector(vv, vv, four)
            if val_bits == 32:
                vv = bld.fpext(vv, _V4)
                v = bld.fpext(v, _F64)
            new.append(bld.call(fma4, [vv, xv, acc[2 * q]]))
            if tail:
                x4 = bld.load(bld.gep(xp, [ir.Constant(_I64, 4)]), align=8)
                new.append(bld.call(fma1, [v, x4, acc[2 * q + 1]]))
            else:
                new.append(acc[2 * q + 1])
        return new

    def zeros():
        return [zero4 if i % 2 == 0 else zero for i in range(nacc)]

    def typ(i):
        return _V4 if i % 2 == 0 else _F64

    # entry: k1u = k0 + unroll floor((k1 - k0) / unroll)
    cnt = b.sub(k1, k0)
    k1u = b.add(k0, b.mul(b.sdiv(cnt, ir.Constant(_I64, unroll)), ir.Constant(_I64, unroll)))
    b.cbranch(b.icmp_signed("<", k0, k1u), blocks["loop"], blocks["mid"])
    # unrolled loop with `unroll` accumulator sets
    b.position_at_end(blocks["loop"])
    k = b.phi(_I64)
    accs = [[b.phi(typ(i)) for i in range(nacc)] for _ in range(unroll)]
    new_accs = [entry_term(b, b.add(k, ir.Constant(_I64, u)), accs[u]) for u in range(unroll)]
    k_n = b.add(k, ir.Constant(_I64, unroll))
    k.add_incoming(k0, blocks["entry"])
    k.add_incoming(k_n, blocks["loop"])
    for u in range(unroll):
        for i in range(nacc):
            accs[u][i].add_incoming(zeros()[i], blocks["entry"])
            accs[u][i].add_incoming(new_accs[u][i], blocks["loop"])
    b.cbranch(b.icmp_signed("<", k_n, k1u), blocks["loop"], blocks["mid"])
    # mid: reduce the accumulator sets, then the remaining < unroll entries
    b.position_at_end(blocks["mid"])
    phis = []
    for i in range(nacc):  # every phi first: they must lead the block
        parts = []
        for u in range(unroll):
            ph = b.phi(typ(i))
            ph.add_incoming(zeros()[i], blocks["entry"])
            ph.add_incoming(new_accs[u][i], blocks["loop"])
            parts.append(ph)
        phis.append(parts)
    red = []
    for parts in phis:
        while len(parts) > 1:
            parts = [b.fadd(parts[j], parts[j + 1]) if j + 1 < len(parts) else parts[j]
                     for j in range(0, len(parts), 2)]
        red.append(parts[0])
    b.cbranch(b.icmp_signed("<", k1u, k1), blocks["tail"], blocks["done"])
    b.position_at_end(blocks["tail"])
    kt = b.phi(_I64)
    tacc = [b.phi(typ(i)) for i in range(nacc)]
    tnew = entry_term(b, kt, tacc)
    kt_n = b.add(kt, ir.Constant(_I64, 1))
    kt.add_incoming(k1u, blocks["mid"])
    kt.add_incoming(kt_n, blocks["tail"])
    for i in range(nacc):
        tacc[i].add_incoming(red[i], blocks["mid"])
        tacc[i].add_incoming(tnew[i], blocks["tail"])
    b.cbranch(b.icmp_signed("<", kt_n, k1), blocks["tail"], blocks["done"])
    b.position_at_end(blocks["done"])
    res = []
    for i in range(nacc):
        ph = b.phi(typ(i))
        ph.add_incoming(red[i], blocks["mid"])
        ph.add_incoming(tnew[i], blocks["tail"])
        res.append(ph)
    for q in range(nsamp):
        b.store(res[2 * q], b.bitcast(outs[q], _V4.as_pointer()), align=8)
        if tail:
            b.store(res[2 * q + 1], b.gep(outs[q], [ir.Constant(_I64, 4)]), align=8)
    b.ret_void()
    return fn


def _is_c1d(a, dtypes) -> bool:
    return isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C" and a.dtype in dtypes


_VAL_T = (types.float32, types.float64)
_IDX_T = (types.int32, types.int64, types.uint16, types.uint32)


def _row_typing(width, nsamp, stride, args):
    """Signature and code generator of a row intrinsic, or None when the types do not fit."""
    vals, idx, Xs, outs = args[:nsamp], args[nsamp], args[nsamp + 3:2 * nsamp + 3], \
        args[2 * nsamp + 4:]
    ok = (all(_is_c1d(v, _VAL_T) and v.dtype == vals[0].dtype for v in vals)
          and _is_c1d(idx, _IDX_T)
          and all(_is_c1d(a, (types.float64,)) for a in Xs + outs))
    if not ok:
        return None
    sig = types.void(*vals, idx, types.int64, types.int64, *Xs, types.int64, *outs)

    def codegen(context, builder, signature, llargs):
        ptr = [context.make_array(t)(context, builder, a).data if isinstance(t, types.Array)
               else a for t, a in zip(signature.args, llargs, strict=True)]
        fn = _row_function(builder.module, idx.dtype.bitwidth, idx.dtype.signed,
                           vals[0].dtype.bitwidth, width, nsamp, stride)
        builder.call(fn, ptr)
        return context.get_dummy_value()

    return sig, codegen


def _row_intrinsic(width, nsamp, stride=0):
    """Numba intrinsic ``_row(vals_1..vals_S, idx, k0, k1, X_1..X_S, m, out_1..out_S)``:
    ``out_s[0:width] = sum_(k0 <= k < k1) vals_s[k] X_s[idx[k] m : idx[k] m + width]``."""
    if nsamp == 1:
        @intrinsic
        def _row(typingctx, v0, idx, k0, k1, x0, m, o0):
            return _row_typing(width, 1, stride, (v0, idx, k0, k1, x0, m, o0))
    else:
        @intrinsic
        def _row(typingctx, v0, v1, idx, k0, k1, x0, x1, m, o0, o1):
            return _row_typing(width, 2, stride, (v0, v1, idx, k0, k1, x0, x1, m, o0, o1))
    return _row


_row4 = _row_intrinsic(4, 1)
_row5 = _row_intrinsic(5, 1)
_row4x2 = _row_intrinsic(4, 2)
_row5x2 = _row_intrinsic(5, 2)
_row4x2_m4 = _row_intrinsic(4, 2, 4)  # X of exactly 4 (5) columns: the stride is a constant
_row5x2_m5 = _row_intrinsic(5, 2, 5)


@nb.njit(cache=True, nogil=True, fastmath={"contract"})
def csr_matmat(indptr, rows, indices, values, X, active, out):
    """``out[b] = T_b @ X[b]`` for (segmented) CSR matrices sharing one pattern, active samples.

    Parameters
    ----------
    indptr, rows, indices : segmented CSR pattern of ``T`` (as in `perturb_csr`); a row may
        be split over several segments (column blocks, `segment_layout`), whose sums add up.
    values : float32 or float64 array, shape (B, nnz) or (1, nnz)
        The values of each sample's matrix (e.g. from `perturb_csr`), widened to float64
        in the products; a single row serves every sample.
    X : float64 array, shape (B, n_cols, m), C-contiguous
        Row-major block of m vectors per sample (one gather of m contiguous values per entry).
        Groups of 4 columns, and a last group of 5, go through SIMD row kernels (one 4-wide FMA,
        and one scalar FMA for a fifth column, per entry; 4 accumulator sets); the rest is
        scalar. Rows of X 32-byte aligned (m = 4 and an aligned base) avoid split loads.
    active : bool array, shape (B,)
        Samples to compute; inactive ones are left untouched in ``out``.
    out : float64 array, shape (B, n_rows, m)
        ``out[b, r, q] = sum_k values[b, k] X[b, indices[k], q]`` over the entries k of row r.

    The samples go in pairs over the segments: both samples of a pair share each segment's
    index loads (one LLVM row function for two samples), and with segments of one column block at
    a time (`segment_layout`) the rows of X they gather stay in the L1 cache. A pair with an
    inactive sample, and an odd last sample, go one sample at a time. Not for `parallel`
    when a row spans several segments (their sums would race).
    """
    nb_ = X.shape[0]
    m = X.shape[2]
    for b in range(nb_):
        if active[b]:
            ob = out[b]
            for r in range(ob.shape[0]):
                for q in range(m):
                    ob[r, q] = 0.0
    for b0 in range(0, nb_, 2):
        _csr_matmat_pass(indptr, rows, indices, values, X, active, out, b0, min(b0 + 2, nb_))


@nb.njit(cache=True, nogil=True, fastmath={"contract"})
def _csr_matmat_pass(indptr, rows, indices, values, X, active, out, b_lo, b_hi):
    nseg = indptr.shape[0] - 1
    shared = values.shape[0] == 1
    m = X.shape[2]
    n_cols = X.shape[1]
    pair = b_hi - b_lo == 2 and active[b_lo] and active[b_lo + 1]
    for ch in nb.prange((nseg + _SEGS - 1) // _SEGS):
        acc = np.empty(5)   # scratch per chunk of segments (not per segment: 380k at 9,800)
        acc2 = np.empty(5)
        for s in range(ch * _SEGS, min(nseg, (ch + 1) * _SEGS)):
            k0 = np.int64(indptr[s])
            k1 = np.int64(indptr[s + 1])
            r = rows[s]
            if pair:
                # both samples in one pass over the segment: one index load serves both
                b = b_lo
                v0 = values[0 if shared else b]
                v1 = values[0 if shared else b + 1]
                X0 = X[b].reshape(n_cols * m)
                X1 = X[b + 1].reshape(n_cols * m)
                q0 = 0
                while q0 < m:
                    w = m - q0 if m - q0 <= 5 else 4
                    if w == 5 and m == 5:
                        _row5x2_m5(v0, v1, indices, k0, k1, X0, X1, m, acc, acc2)
                    elif w == 5:
                        _row5x2(v0, v1, indices, k0, k1, X0[q0:], X1[q0:], m, acc, acc2)
                    elif w == 4 and m == 4:
                        _row4x2_m4(v0, v1, indices, k0, k1, X0, X1, m, acc, acc2)
                    elif w == 4:
                        _row4x2(v0, v1, indices, k0, k1, X0[q0:], X1[q0:], m, acc, acc2)
                    else:
                        _row_scalar(v0, indices, k0, k1, X[b], q0, w, acc)
                        _row_scalar(v1, indices, k0, k1, X[b + 1], q0, w, acc2)
                    for q in range(w):
                        out[b, r, q0 + q] += acc[q]
                        out[b + 1, r, q0 + q] += acc2[q]
                    q0 += w
                continue
            for b in range(b_lo, b_hi):
                if not active[b]:
                    continue
                vb = values[0 if shared else b]
                Xb = X[b].reshape(n_cols * m)
                # columns in groups of 4 (the last group takes up to 5): one pass per group
                q0 = 0
                while q0 < m:
                    w = m - q0 if m - q0 <= 5 else 4
                    if w == 5:
                        _row5(vb, indices, k0, k1, Xb[q0:], m, acc)
                    elif w == 4:
                        _row4(vb, indices, k0, k1, Xb[q0:], m, acc)
                    else:
                        _row_scalar(vb, indices, k0, k1, X[b], q0, w, acc)
                    for q in range(w):
                        out[b, r, q0 + q] += acc[q]
                    q0 += w


@nb.njit(inline="always", cache=True, nogil=True, fastmath={"contract"})
def _row_scalar(vb, indices, k0, k1, Xb, q0, w, acc):
    """``acc[0:w] = sum_k vb[k] Xb[indices[k], q0:q0 + w]`` (fewer than 4 columns)."""
    for q in range(w):
        acc[q] = 0.0
    for k in range(k0, k1):
        v = vb[k]
        c = indices[k]
        for q in range(w):
            acc[q] += v * Xb[c, q0 + q]


@nb.njit(**_fkw)
def csr_perturb_matmat(indptr, rows, indices, data, sigma, n, transposed, block_P, block_R, zblock,
                       keys, X, out):
    """Fused: ``out[b] = T_b @ X[b]`` with ``T_b`` the perturbed ``T``, factors regenerated.

    Same factors as `perturb_csr` followed by `csr_matmat` (same layouts: X of shape
    (B, n_cols, m), out (B, n_rows, m)); no (B, nnz) buffer, the factors are recomputed (with the
    scalar `std_normal_f32`) in every call.
    """
    nseg = indptr.shape[0] - 1
    nb_ = keys.shape[0]
    m = X.shape[2]
    per_elem = sigma.shape[0] > 1
    for b in range(nb_):
        for r in range(out.shape[1]):
            for q in range(m):
                out[b, r, q] = 0.0
    for sg in range(nseg):
        rr = np.int64(rows[sg])
        for k in range(indptr[sg], indptr[sg + 1]):
            c = np.int64(indices[k])
            i = c if transposed else rr
            j = rr if transposed else c
            s = np.float32(sigma[k] if per_elem else sigma[0])
            a = np.float32(data[k])
            e = np.uint64(i) * np.uint64(n) + np.uint64(j)
            blk = (i // block_P) * block_R + j // block_P if block_P > 0 else 0
            for b in range(nb_):
                z = np.float32(zblock[b, blk]) if block_P > 0 else std_normal_f32(keys[b], e)
                v = _factor(a, s, z)
                for q in range(m):
                    out[b, rr, q] += v * X[b, c, q]


@nb.njit(**_fkw)
def dense_perturb_matmat(A, sigma, transposed, block_P, block_R, zblock, keys, X, out):
    """Fused dense product with regenerated factors.

    ``out[b] = A_b @ X[b]``, or ``A_b^T @ X[b]`` when ``transposed``, where ``A_b`` is
    ``A`` perturbed as in `perturb_dense`. X and out have shape (B, n, m).
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
            s = np.float32(sigma[i * n + j] if per_elem else sigma[0])
            e = np.uint64(i) * np.uint64(n) + np.uint64(j)
            blk = (i // block_P) * block_R + j // block_P if block_P > 0 else 0
            a = np.float32(a)
            for b in range(nb_):
                z = np.float32(zblock[b, blk]) if block_P > 0 else std_normal_f32(keys[b], e)
                v = _factor(a, s, z)
                for q in range(m):
                    out[b, r, q] += v * X[b, c, q]


@nb.njit(cache=True, nogil=True)
def lognormal_factors(key, elements, sigma, out):
    """``out[i] = exp(sigma[i] z - sigma[i]^2 / 2)``, z the normal of ``key`` at ``elements[i]``."""
    for i in range(elements.shape[0]):
        s = sigma[i]
        out[i] = math.exp(s * std_normal(key, elements[i]) - 0.5 * s * s)


def segment_layout(indptr, indices, n_cols, width=256):
    """Split a CSR matrix into column blocks of ``width``: the segmented layout of the kernels.

    Segments are the nonempty (column block, row) pieces, ordered block by block and by row
    within a block, so that a pass of `csr_matmat` over one block gathers from only
    ``width`` rows of X (8 KiB per sample for 4 float64 columns and width 256: they stay in L1).
    Column numbers must be sorted within each row (``scipy.sparse``'s ``sort_indices``).

    Returns
    -------
    ptr : int64 (n_seg + 1,), rows : int32 (n_seg,), order : int64 (nnz,)
        Segment s holds the entries ``order[ptr[s]:ptr[s + 1]]`` of the CSR arrays (take
        ``indices[order]`` and ``data[order]``), all of row ``rows[s]``.
    """
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices)
    width = int(width)
    if width < 1:
        raise ValueError(f"width must be at least 1, not {width}")
    n_blocks = max(1, -(-int(n_cols) // width))
    seg_len, rows, order, ok = _segment_order(indptr, indices, width, n_blocks)
    if not ok:
        raise ValueError("segment_layout needs column numbers sorted within each row")
    ptr = np.zeros(seg_len.size + 1, dtype=np.int64)
    np.cumsum(seg_len, out=ptr[1:])
    return ptr, rows, order


@nb.njit(cache=True, nogil=True)
def _segment_order(indptr, indices, width, n_blocks):
    """Counting sort of the entries by column block (stable: rows stay in order), O(nnz)."""
    n_rows = indptr.shape[0] - 1
    n_ent = np.zeros(n_blocks + 1, dtype=np.int64)   # entries per block (offset by one)
    n_seg = np.zeros(n_blocks + 1, dtype=np.int64)   # segments per block (offset by one)
    for r in range(n_rows):
        last = -1
        prev = -1
        for k in range(indptr[r], indptr[r + 1]):
            c = np.int64(indices[k])
            if c < prev:
                return (np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64),
                        False)
            prev = c
            b = c // width
            n_ent[b + 1] += 1
            if b != last:
                n_seg[b + 1] += 1
                last = b
    ent_pos = np.cumsum(n_ent)[:n_blocks]
    seg_pos = np.cumsum(n_seg)[:n_blocks]
    total_seg = n_seg.sum()
    order = np.empty(indptr[n_rows], dtype=np.int64)
    rows = np.empty(total_seg, dtype=np.int32)
    seg_len = np.zeros(total_seg, dtype=np.int64)
    for r in range(n_rows):
        last = -1
        s = -1
        for k in range(indptr[r], indptr[r + 1]):
            b = np.int64(indices[k]) // width
            if b != last:
                s = seg_pos[b]
                seg_pos[b] += 1
                rows[s] = r
                last = b
            seg_len[s] += 1
            order[ent_pos[b]] = k
            ent_pos[b] += 1
    return seg_len, rows, order, True


@nb.njit(cache=True, nogil=True)
def dense_to_csr(M, transposed):
    """CSR arrays (indptr int64, indices int32, data float64) of the nonzeros of a C-ordered
    dense matrix ``M``, or of ``M^T`` when ``transposed`` (without forming ``M^T``: one
    row-major pass counts, one fills); columns sorted within rows."""
    n_rows, n_cols = M.shape
    n_out = n_cols if transposed else n_rows
    indptr = np.zeros(n_out + 1, dtype=np.int64)
    for i in range(n_rows):
        for j in range(n_cols):
            if M[i, j] != 0.0:
                indptr[(j if transposed else i) + 1] += 1
    for r in range(n_out):
        indptr[r + 1] += indptr[r]
    indices = np.empty(indptr[n_out], dtype=np.int32)
    data = np.empty(indptr[n_out], dtype=np.float64)
    nxt = indptr[:n_out].copy()
    for i in range(n_rows):
        for j in range(n_cols):
            v = M[i, j]
            if v != 0.0:
                r = j if transposed else i
                k = nxt[r]
                indices[k] = i if transposed else j
                data[k] = v
                nxt[r] = k + 1
    return indptr, indices, data
