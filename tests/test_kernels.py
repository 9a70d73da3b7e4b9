"""Kernels of spendprint.kernels against naive numpy references and scipy distributions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sps
import scipy.stats as st

from spendprint import kernels as K
from spendprint.kernels import random as KR
from spendprint.kernels.kernel_registry import splitmix_bits
from spendprint.kernels.perturb import parallel


def keys_for(seed: int, samples, domain: int = KR.DOMAIN_A) -> np.ndarray:
    return np.array([K.stream_key(seed, domain, s) for s in samples], dtype=np.uint64)


def _hash_bits(key, elements) -> np.ndarray:
    """SplitMix64 outputs of the stream ``key`` at ``elements``, re-derived in numpy."""
    return splitmix_bits(key, elements)


def naive_normals(key, elements) -> np.ndarray:
    """Reference: the stream re-derived in numpy (SplitMix64 + scipy's inverse normal)."""
    k = (_hash_bits(key, elements) >> np.uint64(11)).astype(np.float64)
    p = (k + 0.5) * 2.0**-53
    # tail probability formed exactly, as the kernel does
    upper = st.norm.isf((2.0**53 - 1 - k + 0.5) * 2.0**-53)
    lower = st.norm.ppf(p)
    return np.where(p > 0.5, upper, lower)


def naive_normals_f32(key, elements) -> np.ndarray:
    """Reference of the float32 A stream in float64: scipy's inverse normal of the top 24 bits,
    and of the 32-bit tail probability where ``|p - 1/2| > 0.425``."""
    h = _hash_bits(key, elements)
    k24 = (h >> np.uint64(40)).astype(np.float64)
    k32 = (h >> np.uint64(32)).astype(np.float64)
    p = (k24 + 0.5) * 2.0**-24
    lower = st.norm.ppf((k32 + 0.5) * 2.0**-32)
    upper = st.norm.isf((2.0**32 - 1 - k32 + 0.5) * 2.0**-32)
    tail = np.where(p < 0.5, lower, upper)
    return np.where(np.abs(p - 0.5) <= 0.425, st.norm.ppf(p), tail)


def test_uniform_is_a_pure_function_of_key_and_element():
    key = K.stream_key(3, KR.DOMAIN_A, 11)
    e = np.arange(10_000, dtype=np.uint64)
    a, b = np.empty(e.size), np.empty(e.size)
    K.fill_uniform(key, e, a)
    K.fill_uniform(key, e[::-1].copy(), b)
    np.testing.assert_array_equal(a, b[::-1])
    assert 0.0 < a.min() and a.max() < 1.0
    other = np.empty(e.size)
    K.fill_uniform(K.stream_key(3, KR.DOMAIN_A, 12), e, other)
    assert np.corrcoef(a, other)[0, 1] < 0.05
    assert st.kstest(a, "uniform").pvalue > 1e-3


def test_ndtri_matches_scipy_including_tails():
    p = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 20001), 10.0 ** -np.arange(1, 300, 3),
                        1 - 10.0 ** -np.arange(1, 16), [0.075, 0.925, 0.5]])
    out = np.empty(p.size)
    K.fill_ndtri(p, out)
    ref = st.norm.ppf(p)
    np.testing.assert_allclose(out, ref, rtol=2e-15, atol=1e-15)


def test_std_normal_matches_naive_reference_and_scipy():
    key = K.stream_key(7, KR.DOMAIN_A, 0)
    e = np.arange(200_000, dtype=np.uint64)
    z = np.empty(e.size)
    K.fill_std_normal(key, e, z)
    np.testing.assert_allclose(z, naive_normals(key, e), rtol=1e-13, atol=1e-14)
    assert st.kstest(z, "norm").pvalue > 1e-3


def test_std_normal_extreme_bits_are_symmetric():
    lo = KR.ppf_from_bits(np.uint64(0))
    hi = KR.ppf_from_bits(np.uint64(0xFFFFFFFFFFFFFFFF))
    assert lo == -hi
    assert lo == pytest.approx(st.norm.ppf(0.5 * 2.0**-53), rel=1e-14)


@pytest.mark.parametrize("shape", [0.3, 1.0, 4.5])
def test_gamma_log_distribution(shape):
    n = 50_000
    g = np.empty(n)
    K.fill_gamma_log(K.stream_key(1, KR.DOMAIN_DIRICHLET, 2), np.arange(n, dtype=np.uint64),
                     np.full(n, shape), g)
    assert st.kstest(np.exp(g), "gamma", args=(shape,)).pvalue > 1e-3


def test_gamma_log_tiny_shape_does_not_underflow():
    n = 20_000
    g = np.empty(n)
    K.fill_gamma_log(K.stream_key(1, KR.DOMAIN_DIRICHLET, 2), np.arange(n, dtype=np.uint64),
                     np.full(n, 1e-3), g)
    assert np.isfinite(g).all()
    # log G(a) ~ log(U) / a for tiny a: P(log G < t) = P(U < e^(a t)) roughly
    assert st.kstest(np.exp(1e-3 * g), "uniform").pvalue > 1e-3


def test_lognormal_factors_ks_and_mean_preserving():
    rsd = 0.3
    sigma = np.sqrt(np.log1p(rsd**2))
    n = 100_000
    f = np.empty(n)
    K.lognormal_factors(K.stream_key(5, KR.DOMAIN_S, 0), np.arange(n, dtype=np.uint64),
                        np.full(n, sigma), f)
    ref = st.lognorm(s=sigma, scale=np.exp(-0.5 * sigma**2))
    assert st.kstest(f, ref.cdf).pvalue > 1e-3
    assert abs(f.mean() - 1.0) < 4 * rsd / np.sqrt(n)


# ---- perturbation and products -----------------------------------------------------------------
def _matrix(n=60, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n)) * (rng.random((n, n)) < density)


def _rows(T) -> np.ndarray:
    """Plain CSR as the segmented layout: one segment per row."""
    return np.arange(T.shape[0], dtype=np.int32)


def _naive_perturbed(A, sigma, keys, block=None):
    """Reference A_b = A * exp(sigma z - sigma^2/2) from the naive numpy float32 A stream."""
    n = A.shape[0]
    out = []
    for b, key in enumerate(keys):
        if block is None:
            z = naive_normals_f32(key, np.arange(n * n, dtype=np.uint64)).reshape(n, n)
        else:
            P, R, zb = block
            i = np.arange(n)
            z = zb[b][(i[:, None] // P) * R + i[None, :] // P]
        out.append(np.where(A != 0, A * np.exp(sigma * z - 0.5 * sigma**2), 0.0))
    return np.stack(out)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("per_element", [False, True])
def test_perturb_csr_and_dense_against_naive(transposed, per_element):
    A = _matrix()
    n = A.shape[0]
    rng = np.random.default_rng(1)
    sig_full = rng.uniform(0.05, 0.4, (n, n)) if per_element else np.full((n, n), 0.2)
    keys = keys_for(9, [0, 5, 17])
    ref = _naive_perturbed(A, sig_full, keys)
    T = sps.csr_array(A.T if transposed else A)
    coo = T.tocoo()
    rows, cols = (coo.col, coo.row) if transposed else (coo.row, coo.col)
    sig = sig_full[rows, cols].copy() if per_element else np.array([0.2])
    out = np.empty((3, T.nnz), dtype=np.float32)
    K.perturb_csr(T.indptr, _rows(T), T.indices, T.data, sig, n, transposed, 0, 1, np.zeros((3, 1)), keys, out)
    for b in range(3):
        got = sps.csr_array((out[b].astype(np.float64), T.indices, T.indptr), shape=(n, n)).toarray()
        # float32 values: a wrong element or stream would be off by O(sigma)
        np.testing.assert_allclose(got.T if transposed else got, ref[b], rtol=5e-7, atol=0)
    dense = np.empty((3, n, n), dtype=np.float32)
    K.perturb_dense(A, sig_full.ravel().copy() if per_element else np.array([0.2]), 0, 1,
                    np.zeros((3, 1)), keys, dense)
    np.testing.assert_allclose(dense, ref, rtol=5e-7, atol=0)
    # the dense kernel draws the very same float32 numbers as the CSR kernel
    for b in range(3):
        got = sps.csr_array((out[b], T.indices, T.indptr), shape=(n, n)).toarray()
        np.testing.assert_array_equal(got.T if transposed else got, dense[b])


def test_block_correlation_shares_one_draw_per_region_pair():
    R, P = 3, 20
    A = _matrix(R * P)
    n = A.shape[0]
    keys = keys_for(2, [0, 1])
    zb = np.random.default_rng(0).normal(size=(2, R * R))
    ref = _naive_perturbed(A, 0.3, keys, block=(P, R, zb))
    T = sps.csr_array(A)
    out = np.empty((2, T.nnz), dtype=np.float32)
    K.perturb_csr(T.indptr, _rows(T), T.indices, T.data, np.array([0.3]), n, False, P, R, zb, keys, out)
    for b in range(2):
        got = sps.csr_array((out[b].astype(np.float64), T.indices, T.indptr), shape=(n, n)).toarray()
        np.testing.assert_allclose(got, ref[b], rtol=5e-7)
        ratio = np.where(A != 0, got / np.where(A != 0, A, 1), np.nan)
        blk = ratio[:P, P:2 * P]
        assert np.nanmax(blk) - np.nanmin(blk) < 5e-7 * np.nanmax(blk)
        assert abs(np.nanmax(ratio[:P, :P]) - np.nanmax(blk)) > 1e-3  # other blocks differ


@pytest.mark.parametrize("transposed", [False, True])
def test_products_materialised_fused_and_dense_agree_with_numpy(transposed):
    A = _matrix(50)
    n = A.shape[0]
    keys = keys_for(4, [1, 2, 3, 8])
    B = keys.size
    ref_A = _naive_perturbed(A, 0.25, keys)
    X = np.random.default_rng(3).random((B, n, 3))
    ref = np.stack([(ref_A[b].T if transposed else ref_A[b]) @ X[b] for b in range(B)])
    T = sps.csr_array(A.T if transposed else A)
    sig = np.array([0.25])
    zb = np.zeros((B, 1))
    vals = np.empty((B, T.nnz), dtype=np.float32)
    K.perturb_csr(T.indptr, _rows(T), T.indices, T.data, sig, n, transposed, 0, 1, zb, keys, vals)
    # products with the float32 values themselves, in float64
    exact = np.stack([sps.csr_array((vals[b].astype(np.float64), T.indices, T.indptr),
                                    shape=(n, n)) @ X[b] for b in range(B)])
    out = np.full((B, n, 3), np.nan)
    active = np.array([True, False, True, True])
    K.csr_matmat(T.indptr, _rows(T), T.indices, vals, X, active, out)
    np.testing.assert_allclose(out[active], exact[active], rtol=1e-13)
    np.testing.assert_allclose(out[active], ref[active], rtol=5e-7)
    assert np.isnan(out[1]).all()
    fused = np.empty((B, n, 3))
    K.csr_perturb_matmat(T.indptr, _rows(T), T.indices, T.data, sig, n, transposed, 0, 1, zb, keys, X, fused)
    np.testing.assert_allclose(fused, exact, rtol=1e-12)
    dfused = np.empty((B, n, 3))
    K.dense_perturb_matmat(A, sig, transposed, 0, 1, zb, keys, X, dfused)
    np.testing.assert_allclose(dfused, exact, rtol=1e-12)


def test_parallel_build_gives_identical_numbers():
    A = _matrix(40)
    T = sps.csr_array(A)
    keys = keys_for(1, [0, 1])
    a, b = np.empty((2, T.nnz), dtype=np.float32), np.empty((2, T.nnz), dtype=np.float32)
    args = (T.indptr, _rows(T), T.indices, T.data, np.array([0.2]), 40, False, 0, 1, np.zeros((2, 1)), keys)
    K.perturb_csr(*args, a)
    parallel(K.perturb_csr)(*args, b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("width", [1, 7, 16, 1000])
@pytest.mark.parametrize("idx_dtype", [np.int32, np.uint16])
def test_segmented_layout_draws_and_multiplies_like_plain_csr(width, idx_dtype):
    """Column blocks: every entry keeps its factor, products sum over a row's segments, and
    16-bit column numbers go through the SIMD row kernels (m = 4 and 5) and the scalar path."""
    A = _matrix(45, density=0.4, seed=3)
    n = A.shape[0]
    T = sps.csr_array(A.T)
    ptr, rows, order = K.segment_layout(T.indptr, T.indices, n, width)
    assert ptr[-1] == T.nnz and np.array_equal(np.sort(order), np.arange(T.nnz))
    seg_rows = np.repeat(rows, np.diff(ptr))
    cols = T.indices[order]
    blocks = cols // width
    # blocks ascending, rows ascending within a block, one row and one block per segment
    key = blocks.astype(np.int64) * n + seg_rows
    assert np.all(np.diff(key) >= 0)
    assert (np.diff(ptr) > 0).all() and np.unique(key).size == rows.size
    keys = keys_for(6, [0, 3])
    plain = np.empty((2, T.nnz), dtype=np.float32)
    K.perturb_csr(T.indptr, _rows(T), T.indices, T.data, np.array([0.3]), n, True, 0, 1,
                  np.zeros((2, 1)), keys, plain)
    seg = np.empty((2, T.nnz), dtype=np.float32)
    ix = cols.astype(idx_dtype)
    K.perturb_csr(ptr, rows, ix, T.data[order], np.array([0.3]), n, True, 0, 1, np.zeros((2, 1)),
                  keys, seg)
    np.testing.assert_array_equal(seg, plain[:, order])
    rng = np.random.default_rng(width)
    for m in (1, 3, 4, 5, 9):
        X = rng.random((2, n, m))
        out = np.full((2, n, m), np.nan)
        K.csr_matmat(ptr, rows, ix, seg, X, np.ones(2, dtype=bool), out)
        for b in range(2):
            Tb = sps.csr_array((plain[b].astype(np.float64), T.indices, T.indptr), shape=(n, n))
            np.testing.assert_allclose(out[b], Tb.toarray() @ X[b], rtol=1e-13)
    fused = np.empty((2, n, 4))
    X = rng.random((2, n, 4))
    K.csr_perturb_matmat(ptr, rows, ix, T.data[order], np.array([0.3]), n, True, 0, 1,
                         np.zeros((2, 1)), keys, X, fused)
    ref = np.stack([sps.csr_array((plain[b].astype(np.float64), T.indices, T.indptr),
                                  shape=(n, n)) @ X[b] for b in range(2)])
    np.testing.assert_allclose(fused, ref, rtol=1e-12)


@pytest.mark.parametrize("transposed", [False, True])
def test_dense_to_csr_matches_scipy(transposed):
    A = _matrix(37, density=0.3, seed=8)[:, :29].copy()
    ref = sps.csr_array(A.T if transposed else A)
    ref.sort_indices()
    indptr, indices, data = K.dense_to_csr(A, transposed)
    np.testing.assert_array_equal(indptr, ref.indptr)
    np.testing.assert_array_equal(indices, ref.indices)
    np.testing.assert_array_equal(data, ref.data)


def test_segment_layout_edge_cases():
    empty = sps.csr_array((5, 5))
    ptr, rows, order = K.segment_layout(empty.indptr, empty.indices, 5, 2)
    assert ptr.tolist() == [0] and rows.size == 0 and order.size == 0
    with pytest.raises(ValueError, match="sorted"):
        K.segment_layout(np.array([0, 2]), np.array([3, 1]), 5, 2)
    with pytest.raises(ValueError, match="width"):
        K.segment_layout(np.array([0, 1]), np.array([0]), 5, 0)


def test_exp_block_matches_numpy():
    x = np.concatenate([np.random.default_rng(0).normal(size=50_000) * 0.7,
                        np.linspace(-700, 700, 10_001), [0.0, -1e-300, 1e-17]])
    out = np.empty_like(x)
    KR.fill_exp(x, out)
    np.testing.assert_allclose(out, np.exp(x), rtol=1e-15, atol=0)


def test_normals_block_equals_scalar_stream():
    key = K.stream_key(5, KR.DOMAIN_A, 9)
    e = (np.arange(30_000, dtype=np.uint64) * np.uint64(7919)) ^ np.uint64(12345)
    a, b = np.empty(e.size), np.empty(e.size)
    K.fill_std_normal(key, e, a)
    KR.fill_std_normal_block(key, e, b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 6, 8, 9, 13])
def test_csr_matmat_any_number_of_columns(m, dtype):
    A = _matrix(40)
    T = sps.csr_array(A)
    rng = np.random.default_rng(m)
    vals = rng.random((2, T.nnz)).astype(dtype)
    X = rng.random((2, 40, m))
    out = np.empty((2, 40, m))
    K.csr_matmat(T.indptr, _rows(T), T.indices, vals, X, np.ones(2, dtype=bool), out)
    for b in range(2):
        Tb = sps.csr_array((vals[b].astype(np.float64), T.indices, T.indptr), shape=(40, 40))
        np.testing.assert_allclose(out[b], Tb.toarray() @ X[b], rtol=1e-13)
    # one matrix shared by every sample
    shared = np.empty_like(out)
    K.csr_matmat(T.indptr, _rows(T), T.indices, vals[:1], X, np.ones(2, dtype=bool), shared)
    Tb = sps.csr_array((vals[0].astype(np.float64), T.indices, T.indptr), shape=(40, 40))
    np.testing.assert_allclose(shared[1], Tb.toarray() @ X[1], rtol=1e-13)


def test_float32_normals_match_reference_and_distribution():
    key = K.stream_key(7, KR.DOMAIN_A, 2)
    e = np.arange(400_000, dtype=np.uint64) * np.uint64(7919)
    z = np.empty(e.size, dtype=np.float32)
    KR.fill_std_normal_f32(key, e, z)
    ref = naive_normals_f32(key, e)
    # PPND7 and float32: within 5e-7 of the exact quantile of the same uniform
    np.testing.assert_allclose(z, ref, rtol=5e-7, atol=5e-7)
    assert st.kstest(z, "norm").pvalue > 1e-3
    tail = np.abs(ref) > 1.44  # |q| > 0.425
    assert 0.14 < tail.mean() < 0.16
    blk = np.empty_like(z)
    KR.fill_std_normal_f32_block(key, e, blk)
    np.testing.assert_array_equal(blk, z)  # SIMD passes give the scalar bits


def test_float32_normals_extreme_bits():
    # the smallest and largest 32-bit tails: |z| = 6.23 both sides, symmetric
    from spendprint.kernels.random import z_from_top32

    lo = z_from_top32(np.uint32(0))
    hi = z_from_top32(np.uint32(0xFFFFFFFF))
    assert lo == -hi
    np.testing.assert_allclose(hi, st.norm.isf(0.5 * 2.0**-32), rtol=5e-7)
    mid = [z_from_top32(np.uint32(k)) for k in (0x7FFFFFFF, 0x80000000, 0x800000FF)]
    assert mid[0] < 0 < mid[1] and mid[1] == mid[2]  # same 24-bit q in the central region


def test_exp_and_log_f32_accuracy():
    x = np.concatenate([np.random.default_rng(0).normal(size=100_000) * 0.7,
                        np.linspace(-86, 87, 10_001)]).astype(np.float32)
    out = np.empty_like(x)
    KR.fill_exp_f32(x, out)
    np.testing.assert_allclose(out, np.exp(x.astype(np.float64)), rtol=2e-7, atol=0)
    t = np.geomspace(1e-10, 0.5, 5001).astype(np.float32)
    got = np.array([KR.log_f32(v) for v in t[::10]])
    np.testing.assert_allclose(got, np.log(t[::10].astype(np.float64)), rtol=2e-7)


def test_log_pos_matches_numpy_including_subnormals():
    x = np.concatenate([np.random.default_rng(2).uniform(1e-17, 0.075, 50_000),
                        10.0 ** -np.arange(1, 308, 0.5), [5e-324, 1e-310, 2.2250738585072014e-308,
                                                          0.5, 1.0, 1.4142135623730951, 2.0]])
    got = np.array([KR.log_pos(v) for v in x[-700:]])
    np.testing.assert_allclose(got, np.log(x[-700:]), rtol=2e-16, atol=0)
    z = np.empty(x.size)
    K.fill_ndtri(np.clip(x, 1e-300, 0.075), z)
    np.testing.assert_allclose(z, st.norm.ppf(np.clip(x, 1e-300, 0.075)), rtol=2e-15, atol=1e-15)


def test_normals_block_tails_match_scipy():
    # a block with many tail entries: the compacted tail pass against scipy's exact quantiles
    key = K.stream_key(11, KR.DOMAIN_A, 3)
    e = np.arange(400_000, dtype=np.uint64)
    z = np.empty(e.size)
    KR.fill_std_normal_block(key, e, z)
    ref = naive_normals(key, e)
    tail = np.abs(z) > 1.4
    assert tail.mean() > 0.14
    np.testing.assert_allclose(z[tail], ref[tail], rtol=1e-13, atol=0)
    np.testing.assert_allclose(z, ref, rtol=1e-13, atol=1e-14)
