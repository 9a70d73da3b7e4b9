"""Counter-based random numbers: a pure function of (seed, stream, sample, element).

Nothing here advances a state. A *key* is derived once per (seed, domain, sample) with
`stream_key`; the ``e``-th variate of that stream is ``mix64(key + e * GOLDEN)``, i.e. the
``e``-th output of SplitMix64 (Steele, Lea & Flood 2014) started at ``key``. Any element of any
sample can therefore be regenerated anywhere, in any order, on any worker.

* `uniform` maps the top 53 bits ``k`` to ``(k + 1/2) 2^-53``, in the open interval (0, 1).
* `std_normal` is the exact inverse normal CDF of that uniform, Wichura's algorithm AS241
  (PPND16, relative accuracy about 1e-16). Its central branch (``|p - 1/2| <= 0.425``, 85 % of the
  draws) is a rational function with no logarithm; the tails use one ``log`` (`log_pos`,
  fdlibm's algorithm inlined branch-free, no libm call) and one ``sqrt``. The tail probability
  ``min(p, 1 - p)`` is formed from the integer, so both tails are resolved to ``2^-53``
  (``|z| <= 8.3``). `normals_block` evaluates a block in SIMD passes (central branch for
  all, tails on a compacted list) with the same bits as the scalar `std_normal`; the
  kernels contract ``a * b + c`` to FMA.
* `gamma_log` draws ``log G`` for ``G ~ Gamma(shape, 1)`` by Marsaglia & Tsang (2000) with
  the counter extended by the attempt number, and the ``U^(1/a)`` boost for ``a < 1`` done in logs
  so that tiny shapes do not underflow.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO53M1 = np.int64((1 << 53) - 1)
_HALF53 = np.int64(1 << 52)
_INV53 = 1.0 / 9007199254740992.0  # 2^-53
_MANT = np.int64((1 << 52) - 1)
_ONE_BITS = np.int64(0x3FF0000000000000)
_EXP52 = np.uint64(0x4330000000000000)
_LO32 = np.uint64(0xFFFFFFFF)
_TWO52 = 4503599627370496.0
_MAGIC_BITS = np.int64(0x4338000000000000)

#: Stream domains: disjoint random streams for the different uncertain inputs.
DOMAIN_A = 1
DOMAIN_A_BLOCK = 2
DOMAIN_S = 3
DOMAIN_S_BLOCK = 4
DOMAIN_SPEND = 5
DOMAIN_DIRICHLET = 6

_jit = nb.njit(cache=True, nogil=True)
#: helpers inlined into their callers (numba IR inlining), so that loops over them vectorise and
#: take the caller's floating-point flags
_ijit = nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
#: kernels: ``a * b + c`` contracted to FMA (fewer roundings and half the floating-point
#: instructions; scalar and SIMD loops contract alike, so they give the same bits)
_fjit = nb.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})


@_ijit
def mix64(z):
    """SplitMix64 finaliser (a bijection of uint64 with full avalanche)."""
    z = np.uint64(z)
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@nb.njit(cache=True, nogil=True)
def stream_key_jit(seed, domain, sample):
    """Key of the random stream of one (seed, domain, sample); all arguments non-negative ints."""
    k = mix64(np.uint64(seed) * GOLDEN + np.uint64(0x632BE59BD9B4E019))
    k = mix64(k ^ (np.uint64(domain) * _M1))
    return mix64(k + np.uint64(sample) * GOLDEN)


def stream_key(seed: int, domain: int, sample: int) -> np.uint64:
    """Key of the random stream of one (seed, domain, sample), as ``numpy.uint64``.

    ``key = mix64(mix64(mix64(seed G + c) ^ domain M1) + sample G)`` with G the golden-ratio
    increment of SplitMix64; all arguments are non-negative integers.
    """
    return np.uint64(stream_key_jit(int(seed), int(domain), int(sample)))


@_ijit
def bits(key, element):
    """The ``element``-th 64-bit output of the stream ``key``."""
    return mix64(np.uint64(key) + np.uint64(element) * GOLDEN)


@_ijit
def uniform(key, element):
    """Uniform variate in (0, 1): ``((bits >> 11) + 1/2) 2^-53``."""
    return (np.float64(bits(key, element) >> _S11) + 0.5) * _INV53


@_ijit
def _ppnd16_central(q):
    r = 0.180625 - q * q
    num = (((((((2509.0809287301226727 * r + 33430.575583588128105) * r
                + 67265.770927008700853) * r + 45921.953931549871457) * r
              + 13731.693765509461125) * r + 1971.5909503065514427) * r
            + 133.14166789178437745) * r + 3.387132872796366608)
    den = (((((((5226.495278852545925 * r + 28729.085735721942674) * r
                + 39307.89580009271061) * r + 21213.794301586595867) * r
              + 5394.1960214247511077) * r + 687.1870074920579083) * r
            + 42.313330701600911252) * r + 1.0)
    return q * num / den


_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951


@_ijit
def _log_core(m, e):
    """``log(m 2^e)`` for ``m`` in [1, 2) (fdlibm's ``__ieee754_log`` core, error below 1 ulp).

    Branch-free (the reduction to ``[sqrt(2)/2, sqrt(2))`` is a select), so loops over it
    vectorise; `log_pos` supplies ``m`` and ``e`` from the IEEE-754 bits.
    """
    big = m > _SQRT2
    m = 0.5 * m if big else m
    ef = e + 1.0 if big else e
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    return ef * _LN2_HI - ((hfsq - (s * (hfsq + r) + ef * _LN2_LO)) - f)


@_ijit
def _ppnd16_tail_r(r):
    """AS241 tail rational of ``r = sqrt(-log t)`` (both ranges, the choice a select)."""
    lo = r <= 5.0
    u = r - 1.6 if lo else r - 5.0
    if lo:
        num = (((((((7.7454501427834140764e-4 * u + 0.0227238449892691845833) * u
                    + 0.24178072517745061177) * u + 1.27045825245236838258) * u
                  + 3.64784832476320460504) * u + 5.7694972214606914055) * u
                + 4.6303378461565452959) * u + 1.42343711074968357734)
        den = (((((((1.05075007164441684324e-9 * u + 5.475938084995344946e-4) * u
                    + 0.0151986665636164571966) * u + 0.14810397642748007459) * u
                  + 0.68976733498510000455) * u + 1.6763848301838038494) * u
                + 2.05319162663775882187) * u + 1.0)
    else:
        num = (((((((2.01033439929228813265e-7 * u + 2.71155556874348757815e-5) * u
                    + 0.0012426609473880784386) * u + 0.026532189526576123093) * u
                  + 0.29656057182850489123) * u + 1.7848265399172913358) * u
                + 5.4637849111641143699) * u + 6.6579046435011037772)
        den = (((((((2.04426310338993978564e-15 * u + 1.4215117583164458887e-7) * u
                    + 1.8463183175100546818e-5) * u + 7.868691311456132591e-4) * u
                  + 0.0148753612908506148525) * u + 0.13692988092273580531) * u
                + 0.59983220655588793769) * u + 1.0)
    return num / den


@_ijit
def log_pos(x):
    """``log(x)`` for a positive float64 (fdlibm's algorithm, branch-free, < 1 ulp).

    Subnormal ``x`` is scaled by ``2^54`` first (a select, so SIMD loops stay branch-free).
    """
    sub = x < 2.2250738585072014e-308
    xs = x * 18014398509481984.0 if sub else x
    bb = np.float64(xs).view(np.int64)
    m = np.int64((bb & _MANT) | _ONE_BITS).view(np.float64)
    e = np.float64((bb >> 52) - 1023) - (54.0 if sub else 0.0)
    return _log_core(m, e)


@_ijit
def _ppnd16_tail(t):
    """Upper-tail quantile ``z > 0`` with ``P(Z > z) = t`` for ``0 < t < 0.075``."""
    return _ppnd16_tail_r(math.sqrt(-log_pos(t)))


@_fjit
def ppf_from_bits(b):
    """Standard normal quantile of the uniform ``((b >> 11) + 1/2) 2^-53`` (AS241)."""
    k = np.int64(b >> _S11)
    p = (np.float64(k) + 0.5) * _INV53
    q = p - 0.5
    if abs(q) <= 0.425:
        return _ppnd16_central(q)
    # tail probability formed from the integer: exact for both tails
    if k < _HALF53:
        return -_ppnd16_tail((np.float64(k) + 0.5) * _INV53)
    return _ppnd16_tail((np.float64(_TWO53M1 - k) + 0.5) * _INV53)


@_fjit
def std_normal(key, element):
    """Standard normal variate of stream ``key`` at ``element`` (exact inverse CDF)."""
    return ppf_from_bits(bits(key, element))


@_fjit
def ndtri(p):
    """AS241 inverse normal CDF of a float ``p`` in (0, 1) (for tests and small inputs)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        return _ppnd16_central(q)
    if q < 0.0:
        return -_ppnd16_tail(p)
    return _ppnd16_tail(1.0 - p)


@_fjit
def gamma_log(key, element, shape):
    """``log G`` with ``G ~ Gamma(shape, 1)``, ``shape > 0`` (Marsaglia & Tsang 2000).

    The counter of attempt ``t`` is ``element * 2^20 + 2 t (+1)``: a pure function of
    ``(key, element)``; at most 2^19 attempts (acceptance is above 95 % per attempt).
    """
    boost = 0.0
    a = shape
    base = np.uint64(element) << np.uint64(20)
    if a < 1.0:
        # G(a) = G(a + 1) U^(1/a): log G = log G(a + 1) + log(U) / a
        boost = math.log(uniform(key, base + np.uint64((1 << 20) - 1))) / a
        a = a + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    for t in range(1 << 19):
        z = std_normal(key, base + np.uint64(2 * t))
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(key, base + np.uint64(2 * t + 1))
        if math.log(u) < 0.5 * z * z + d - d * v + d * math.log(v):
            return math.log(d) + math.log(v) + boost
    return math.log(d) + boost  # unreachable in practice



@_fjit
def exp_block(x, m, out, kb):
    """``out[t] = exp(x[t])`` for ``t < m`` without libm, in two SIMD passes.

    ``exp(x) = 2^k exp(r)`` with ``k = round(x / ln 2)``, ``r = x - k ln 2`` (Cody-Waite, two
    parts), ``|r| <= ln(2) / 2``; ``exp(r)`` by its Taylor polynomial of degree 13 (truncation
    below 2e-17 relative); ``2^k`` is built from its IEEE-754 bits ``(k + 1023) << 52``, with k
    read from the bits of ``k + 1.5 2^52`` (one SIMD pass; ``kb`` is unused, kept for callers). Within a few ulp of the correctly rounded
    value (x is clamped to [-708, 708]); ``out`` may be ``x``.
    """
    for t in range(m):
        xi = min(max(x[t], -708.0), 708.0)
        kf = math.floor(xi * 1.4426950408889634 + 0.5)
        r = (xi - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10
        poly = 1.0 + r * (1.0 + r * (0.5 + r * (1.6666666666666666e-01 + r * (
            4.1666666666666664e-02 + r * (8.3333333333333332e-03 + r * (
                1.3888888888888889e-03 + r * (1.9841269841269841e-04 + r * (
                    2.4801587301587302e-05 + r * (2.7557319223985893e-06 + r * (
                        2.7557319223985888e-07 + r * (2.5052108385441720e-08 + r * (
                            2.0876756987868100e-09 + r * 1.6059043836821613e-10))))))))))))
        # 2^k from the bits of kf + 1.5 2^52 (no float -> int64 conversion, which AVX2 lacks)
        kbits = np.float64(kf + 6755399441055744.0).view(np.int64) - _MAGIC_BITS
        out[t] = poly * np.int64((kbits + 1023) << 52).view(np.float64)


@_ijit
def u53_to_f64(k):
    """``float(k)`` for ``0 <= k < 2^53`` (exact), from 32-bit halves with IEEE-754 bit tricks.

    AVX2 has no int64 -> float64 conversion, so ``np.float64(k)`` would keep a loop scalar.
    """
    hi = np.int64((k >> np.uint64(32)) | _EXP52).view(np.float64) - _TWO52
    lo = np.int64((k & _LO32) | _EXP52).view(np.float64) - _TWO52
    return hi * 4294967296.0 + lo


@_fjit
def normals_block(key, elements, m, kb, qb, zb):
    """``zb[t] = std_normal(key, elements[t])`` for ``t < m``, in SIMD passes over the block.

    Pass 1 hashes and forms ``q = p - 1/2``; pass 2 evaluates AS241's central rational function
    for every entry (branch-free); pass 3 lists the tail entries (``|q| > 0.425``, 15 %) in kb
    (branch-free compaction); pass 4 re-hashes them for their exact tail probability; pass 5
    evaluates log, sqrt and the tail rational on the compacted list (SIMD, no libm); pass 6
    scatters them. Same numbers as `std_normal`. kb (int64), qb, zb (float64) are scratch
    arrays of length >= m.
    """
    for t in range(m):
        k = bits(key, elements[t]) >> _S11
        qb[t] = (u53_to_f64(k) + 0.5) * _INV53 - 0.5
    for t in range(m):
        zb[t] = _ppnd16_central(qb[t])
    cnt = 0
    for t in range(m):
        kb[cnt] = t
        cnt += abs(qb[t]) > 0.425
    for u in range(cnt):
        k = np.int64(bits(key, elements[kb[u]]) >> _S11)
        if k < _HALF53:
            qb[u] = -(np.float64(k) + 0.5) * _INV53
        else:
            qb[u] = (np.float64(_TWO53M1 - k) + 0.5) * _INV53
    for u in range(cnt):
        tp = qb[u]
        z = _ppnd16_tail(abs(tp))
        qb[u] = -z if tp < 0.0 else z
    for u in range(cnt):
        zb[kb[u]] = qb[u]


@_fjit
def fill_exp(x, out):
    """``out = exp(x)`` by `exp_block`."""
    exp_block(x, x.shape[0], out, np.empty(x.shape[0], dtype=np.int64))


@_fjit
def fill_std_normal_block(key, elements, out):
    """``out[i] = std_normal(key, elements[i])`` by `normals_block` (same numbers)."""
    m = elements.shape[0]
    normals_block(key, elements, m, np.empty(m, dtype=np.int64), np.empty(m), out)


@_fjit
def fill_std_normal(key, elements, out):
    """``out[i] = std_normal(key, elements[i])``."""
    for i in range(elements.shape[0]):
        out[i] = std_normal(key, elements[i])


@_fjit
def fill_uniform(key, elements, out):
    """``out[i] = uniform(key, elements[i])``."""
    for i in range(elements.shape[0]):
        out[i] = uniform(key, elements[i])


@_fjit
def fill_ndtri(p, out):
    """``out[i] = ndtri(p[i])`` (AS241)."""
    for i in range(p.shape[0]):
        out[i] = ndtri(p[i])


@_fjit
def fill_gamma_log(key, elements, shapes, out):
    """``out[i] = gamma_log(key, elements[i], shapes[i])``."""
    for i in range(elements.shape[0]):
        out[i] = gamma_log(key, elements[i], shapes[i])


# ---- the float32 stream of the A factors ---------------------------------------------------------
# The factors of A are drawn in single precision: 8 SIMD lanes instead of 4, and the perturbed
# values are stored as float32 (half the memory traffic of every solver step). The normal is still
# an exact inverse-CDF transform, to float32 precision (Wichura's PPND7, AS241's single-precision
# variant, relative accuracy about 1e-7), evaluated branch-free so that whole rows vectorise:
#
# * bits ``h = mix64(key + e GOLDEN)`` as in `bits`, of which the top 32 bits ``k32`` are
#   used; the top 24 give ``q = p - 1/2 = (2 k24 - 2^24 + 1) 2^-25``, exact in float32;
# * central region ``|q| <= 0.425`` (85 %): PPND7's rational of degree 3/3 in ``0.180625 - q^2``;
# * tails: the tail probability from all 32 bits, ``t = (min(k32, 2^32 - 1 - k32) + 1/2) 2^-32``
#   (so ``|z| <= 6.2``; P(|Z| > 6.2) = 6e-10), ``r = sqrt(-log t)`` and PPND7's tail rational of
#   degree 3/2 (``r <= 4.8``, so one branch of AS241 suffices);
# * both are evaluated for every entry and one is selected (no branch, no compaction).
#
# `std_normal_f32` (scalar) and the loops of `spendprint.kernels.perturb` apply the same
# operations, so scalar and SIMD code give the same bits.

_F32 = np.float32
_Q_CUT = _F32(0.425)
_R_C = _F32(0.180625)
_A0 = _F32(3.3871327179)
_A1 = _F32(50.434271938)
_A2 = _F32(159.29113202)
_A3 = _F32(59.109374720)
_B1 = _F32(17.895169469)
_B2 = _F32(78.757757664)
_B3 = _F32(67.187563600)
_C0 = _F32(1.4234372777)
_C1 = _F32(2.7568153900)
_C2 = _F32(1.3067284816)
_C3 = _F32(0.17023821103)
_D1 = _F32(0.73700164250)
_D2 = _F32(0.12021132975)
_R_OFF = _F32(1.6)
_ONE32 = _F32(1.0)
_TWO32 = _F32(2.0)
_HALF32 = _F32(0.5)
_TWO_M25 = _F32(2.0 ** -25)
_TWO_M32 = _F32(2.0 ** -32)
_S32 = np.uint64(32)
_K24_OFF = np.int32((1 << 24) - 1)
_SQRT2_32 = _F32(1.4142135623730951)
_LN2_32 = _F32(0.6931471805599453)
_L3 = _F32(2.0 / 3.0)
_L5 = _F32(2.0 / 5.0)
_L7 = _F32(2.0 / 7.0)
_L9 = _F32(2.0 / 9.0)
_MANT32 = np.int32((1 << 23) - 1)
_ONE32_BITS = np.int32(0x3F800000)
_LOG2E32 = _F32(1.4426950408889634)
_LN2HI32 = _F32(0.693359375)
_LN2LO32 = _F32(-2.12194440e-4)
_EXP_LO = _F32(-87.0)
_EXP_HI = _F32(88.0)
_MAGIC32 = _F32(12582912.0)  # 1.5 2^23
_MAGIC32_BITS = np.int32(0x4B400000)
_E2 = _F32(1.0 / 2.0)
_E3 = _F32(1.0 / 6.0)
_E4 = _F32(1.0 / 24.0)
_E5 = _F32(1.0 / 120.0)
_E6 = _F32(1.0 / 720.0)
_E7 = _F32(1.0 / 5040.0)


@_ijit
def _top32(h):
    """The top 32 bits of a 64-bit hash, as uint32."""
    return np.uint32(h >> _S32)


@_ijit
def log_f32(x):
    """``log(x)`` for a positive normal float32, branch-free (``log(1 + f) = 2 atanh(s)``,
    ``s = f / (2 + f)``, series to ``s^9``; relative error about 1e-7)."""
    bb = _F32(x).view(np.int32)
    m = np.int32((bb & _MANT32) | _ONE32_BITS).view(np.float32)
    e = _F32((bb >> np.int32(23)) - np.int32(127))
    big = m > _SQRT2_32
    m = m * _HALF32 if big else m
    e = e + _ONE32 if big else e
    f = m - _ONE32
    s = f / (_TWO32 + f)
    z = s * s
    return e * _LN2_32 + (s + s) + s * z * (_L3 + z * (_L5 + z * (_L7 + z * _L9)))


@_ijit
def z_from_top32(k32):
    """Standard normal (float32) of the top 32 bits of a hash: PPND7, branch-free."""
    k24 = np.int32(k32 >> np.uint32(8))
    q = _F32(np.int32(2) * k24 - _K24_OFF) * _TWO_M25
    r = _R_C - q * q
    c_num = q * (((_A3 * r + _A2) * r + _A1) * r + _A0)
    c_den = ((_B3 * r + _B2) * r + _B1) * r + _ONE32
    lower = q < _F32(0.0)
    kk = k32 if lower else np.uint32(0xFFFFFFFF) - k32
    t = (_F32(np.int32(kk)) + _HALF32) * _TWO_M32
    rr = np.sqrt(-log_f32(t)) - _R_OFF
    t_num = ((_C3 * rr + _C2) * rr + _C1) * rr + _C0
    t_num = -t_num if lower else t_num
    t_den = (_D2 * rr + _D1) * rr + _ONE32
    # select the numerator and denominator of the branch, then one division (the same
    # quotient, bit for bit, as dividing in both branches and selecting)
    central = abs(q) <= _Q_CUT
    return (c_num if central else t_num) / (c_den if central else t_den)


@_fjit
def std_normal_f32(key, element):
    """Standard normal (float32) of the A stream ``key`` at ``element`` (exact to float32)."""
    return z_from_top32(_top32(bits(key, element)))


@_ijit
def exp_f32(x):
    """``exp(x)`` in float32 without libm: Cody-Waite reduction, Taylor degree 7 (|r| <= ln2/2,
    truncation 5e-9), ``2^k`` from its bits. ``x`` is clamped to [-87, 88]."""
    xc = min(max(x, _EXP_LO), _EXP_HI)
    kf = np.floor(xc * _LOG2E32 + _HALF32)
    r = (xc - kf * _LN2HI32) - kf * _LN2LO32
    p = _ONE32 + r * (_ONE32 + r * (_E2 + r * (_E3 + r * (_E4 + r * (_E5 + r * (_E6 + r * _E7))))))
    k = _F32(kf + _MAGIC32).view(np.int32) - _MAGIC32_BITS
    return p * np.int32((k + np.int32(127)) << np.int32(23)).view(np.float32)


@_fjit
def normals_block_f32(key, eg, m, hb, zb):
    """``zb[t] = std_normal_f32(key, e_t)`` for ``t < m`` given ``eg[t] = e_t GOLDEN``.

    The multiplication by GOLDEN is done once per element by the caller and serves every sample.
    Pass 1 hashes (uint64 SIMD) and keeps the top 32 bits in hb (uint32 scratch of length >= m);
    pass 2 evaluates `z_from_top32` (float32, 8 lanes) into zb (float32).
    """
    for t in range(m):
        hb[t] = _top32(mix64(np.uint64(key) + eg[t]))
    for t in range(m):
        zb[t] = z_from_top32(hb[t])


@_fjit
def fill_std_normal_f32(key, elements, out):
    """``out[i] = std_normal_f32(key, elements[i])`` (float32 out)."""
    for i in range(elements.shape[0]):
        out[i] = std_normal_f32(key, elements[i])


@_fjit
def fill_std_normal_f32_block(key, elements, out):
    """The same numbers as `fill_std_normal_f32` by `normals_block_f32`."""
    m = elements.shape[0]
    eg = np.empty(m, dtype=np.uint64)
    for t in range(m):
        eg[t] = np.uint64(elements[t]) * GOLDEN
    normals_block_f32(key, eg, m, np.empty(m, dtype=np.uint32), out)


@_fjit
def fill_exp_f32(x, out):
    """``out = exp_f32(x)`` (float32 in and out)."""
    for i in range(x.shape[0]):
        out[i] = exp_f32(x[i])
