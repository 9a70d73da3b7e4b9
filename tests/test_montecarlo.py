"""Monte Carlo: brute-force references, reproducibility, storage, resume, solver fallbacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats as st
import xarray as xr

import spendprint as sp
from spendprint import kernels as K
from spendprint.errors import InputFileError, LabelMismatchError, ValidationError
from spendprint.kernels import random as KR
from spendprint.runtime.tuning import WORKER_ENV
from spendprint.uncertainty import montecarlo as mc_mod
from spendprint.uncertainty.iteration import BaselineLU, PerturbedLeontief
from spendprint.uncertainty.spec import a_rsd_values


def demand(mrio: sp.MRIO, m: int = 9, seed: int = 0, density: float = 0.25) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    R, P = len(mrio.regions), len(mrio.sectors)
    y = rng.lognormal(0.0, 1.0, (R, P, m)) * (rng.random((R, P, m)) < density)
    y[0, 0, :] += 1.0  # no empty category
    return xr.DataArray(y, dims=("region", "sector", "category"),
                        coords={"region": list(mrio.regions), "sector": list(mrio.sectors),
                                "category": [f"cat{i}" for i in range(m)]})


SPEC = sp.Uncertainty(a_rsd=0.2, s_rsd={"CO2": 0.04, "CH4": {"*": 0.12, "CN": 0.3}},
                      spend_rsd={"*": 0.1, "cat1": 0.3}, dirichlet={"*": 30.0, "cat2": 5.0})


def _dense_T(sys: PerturbedLeontief, values_b) -> np.ndarray:
    """The dense T_b of one sample, rebuilt here from the segmented CSR arrays."""
    T = np.zeros((sys.n, sys.n))
    for s in range(sys.rows.size):
        k = slice(sys.indptr[s], sys.indptr[s + 1])
        T[sys.rows[s], sys.indices[k].astype(np.int64)] += np.asarray(values_b[k], dtype=np.float64)
    return T


def brute_force(mrio, y: xr.DataArray, spec: sp.Uncertainty, samples, seed: int, names):
    """Dense perturb-and-solve in numpy (float64), drawing the same numbers from the counter-based
    streams: the engine stores perturbed A in float32, so the two agree to about 1e-7."""
    n, P = mrio.n, len(mrio.sectors)
    A = mrio.dense_A()
    Y0 = y.transpose("region", "sector", "category").values.reshape(n, -1)
    m = Y0.shape[1]
    cats = [str(c) for c in y.category.values]
    rows, cols = np.nonzero(A)
    rsd_A = np.zeros((n, n))
    rsd_A[rows, cols] = a_rsd_values(spec, mrio, rows, cols, A[rows, cols])
    sA = np.sqrt(np.log1p(rsd_A**2))
    k = len(mrio.stressors)
    rsd_S = np.zeros((k, n))
    for s_name, v in (spec.s_rsd or {}).items():
        per = [v.get(r, v.get("*", 0.0)) if isinstance(v, dict) else v for r in mrio.regions]
        rsd_S[mrio.stressors.index(s_name)] = np.repeat(per, P)
    sS = np.sqrt(np.log1p(rsd_S**2))
    spend = spec.spend_rsd or {}
    sY = np.sqrt(np.log1p(np.array([spend.get(c, spend.get("*", 0.0)) for c in cats]) ** 2))
    alpha = spec.dirichlet or {}
    alpha = np.array([alpha.get(c, alpha.get("*", 0.0)) for c in cats])
    Csel = np.array([np.eye(k)[mrio.stressors.index(s)] if s in mrio.stressors
                     else mrio.C[mrio.impacts.index(s)] for s in names])
    out = []
    for s in samples:
        zA = np.empty(n * n, dtype=np.float32)
        KR.fill_std_normal_f32(K.stream_key(seed, KR.DOMAIN_A, s), np.arange(n * n, dtype=np.uint64),
                               zA)
        zA = zA.astype(np.float64)
        As = A * np.exp(sA * zA.reshape(n, n) - 0.5 * sA**2)
        zS = np.empty(k * n)
        K.fill_std_normal(K.stream_key(seed, KR.DOMAIN_S, s), np.arange(k * n, dtype=np.uint64), zS)
        Ss = mrio.S * np.exp(sS * zS.reshape(k, n) - 0.5 * sS**2)
        Ys = Y0.copy()
        for c in range(m):
            idx = np.flatnonzero(Y0[:, c] > 0)
            if alpha[c] > 0 and idx.size > 1:
                g = np.empty(idx.size)
                tot = Y0[:, c].sum()
                K.fill_gamma_log(K.stream_key(seed, KR.DOMAIN_DIRICHLET, s),
                                 (c * n + idx).astype(np.uint64), alpha[c] * Y0[idx, c] / tot, g)
                w = np.exp(g - g.max())
                Ys[idx, c] = tot * w / w.sum()
        zY = np.empty(m)
        K.fill_std_normal(K.stream_key(seed, KR.DOMAIN_SPEND, s), np.arange(m, dtype=np.uint64), zY)
        Ys = Ys * np.exp(sY * zY - 0.5 * sY**2)[None, :]
        X = np.linalg.solve(np.eye(n) - As, Ys)
        out.append(Csel @ Ss @ X)
    return np.stack(out)


def independent_numpy(mrio, y, rsd_a, rsd_s: dict, spend_rsd, alpha, samples, seed=0):
    """Same distributions drawn with numpy's Generator (a different stream)."""
    rng = np.random.default_rng(seed)
    n = mrio.n
    A = mrio.dense_A()
    Y0 = y.transpose("region", "sector", "category").values.reshape(n, -1)
    sa = np.sqrt(np.log1p(rsd_a**2))
    out = []
    for _ in range(samples):
        As = A * rng.lognormal(-0.5 * sa**2, sa, A.shape)
        Ss = mrio.S.copy()
        for name, r in rsd_s.items():
            s = np.sqrt(np.log1p(r**2))
            i = mrio.stressors.index(name)
            Ss[i] *= rng.lognormal(-0.5 * s**2, s, n)
        Ys = Y0.copy()
        for c in range(Y0.shape[1]):
            idx = np.flatnonzero(Y0[:, c] > 0)
            tot = Y0[idx, c].sum()
            Ys[idx, c] = tot * rng.dirichlet(alpha * Y0[idx, c] / tot)
        ss = np.sqrt(np.log1p(spend_rsd**2))
        Ys *= rng.lognormal(-0.5 * ss**2, ss, Ys.shape[1])[None, :]
        out.append(Ss @ np.linalg.solve(np.eye(n) - As, Ys))
    return np.stack(out)


# ---- specification ---------------------------------------------------------------------------
def test_spec_from_yaml(tmp_path):
    p = tmp_path / "unc.yaml"
    p.write_text("a_size_rule: [0.3, 0.05]\ns_rsd: schulte2024\nspend_rsd: 0.05\n"
                 "dirichlet: {'*': 50, cat1: 10}\ncorrelation: block\n")
    u = sp.Uncertainty.from_yaml(p)
    assert u.a_size_rule == (0.3, 0.05) and u.s_rsd == {"CO2": 0.04, "CH4": 0.12, "N2O": 0.33}
    assert u.correlation == "block" and u.dirichlet["cat1"] == 10
    p.write_text("a_rsd: 0.1\nfoo: 1\n")
    with pytest.raises(InputFileError, match="foo"):
        sp.Uncertainty.from_yaml(p)
    with pytest.raises(ValidationError):
        sp.Uncertainty(a_rsd=0.1, a_size_rule=(0.3, 0.1))
    with pytest.raises(ValidationError):
        sp.Uncertainty(correlation="full")
    assert sp.Uncertainty().is_empty
    assert not sp.Uncertainty().with_literature_s_rsd().is_empty


def test_size_rule_and_blocks(tiny_mrio):
    A = tiny_mrio.dense_A()
    r, c = np.nonzero(A)
    rsd = a_rsd_values(sp.Uncertainty(a_size_rule=(0.3, 0.05)), tiny_mrio, r, c, A[r, c])
    size = A[r, c] * tiny_mrio.x[c]
    assert rsd[np.argmin(size)] == pytest.approx(0.3) and rsd[np.argmax(size)] == pytest.approx(0.05)
    assert np.all(np.diff(rsd[np.argsort(size)]) <= 1e-15)
    spec = sp.Uncertainty(a_rsd={"default": 0.1, "blocks": {f"{tiny_mrio.regions[1]}:"
                                                            f"{tiny_mrio.regions[0]}": 0.4}})
    rsd = a_rsd_values(spec, tiny_mrio, r, c, A[r, c])
    P = len(tiny_mrio.sectors)
    assert set(np.unique(rsd[(r // P == 1) & (c // P == 0)])) == {0.4}
    assert set(np.unique(rsd[(r // P == 0)])) == {0.1}
    with pytest.raises(LabelMismatchError):
        a_rsd_values(sp.Uncertainty(a_rsd={"blocks": {"XX:NO": 0.1}}), tiny_mrio, r, c, A[r, c])


# ---- references --------------------------------------------------------------------------------
@pytest.mark.parametrize("storage", ["csr", "dense"])
def test_matches_brute_force_with_the_same_stream(tiny_mrio, storage):
    y = demand(tiny_mrio)
    names = ["CO2", "CH4", "CO2e"]
    ds = sp.monte_carlo(tiny_mrio, y, SPEC, samples=12, seed=4, client="sync", stressors=names,
                        storage=storage)
    ref = brute_force(tiny_mrio, y, SPEC, range(12), 4, names)
    # float32 storage of the perturbed A: a wrong element or stream would differ by O(RSD)
    np.testing.assert_allclose(ds.footprint.values, ref, rtol=5e-7)
    assert ds.attrs["max_residual"] <= 1e-9 and ds.attrs["fallbacks"] == 0


def test_block_correlation_matches_brute_force(tiny_mrio):
    y = demand(tiny_mrio)
    spec = sp.Uncertainty(a_rsd=0.3, correlation="block")
    ds = sp.monte_carlo(tiny_mrio, y, spec, samples=4, seed=1, client="sync", stressors=["CO2"])
    n, R, P = tiny_mrio.n, len(tiny_mrio.regions), len(tiny_mrio.sectors)
    A = tiny_mrio.dense_A()
    sig = np.sqrt(np.log1p(0.09))
    Y0 = y.values.reshape(n, -1)
    for s in range(4):
        zb = np.empty(R * R)
        K.fill_std_normal(K.stream_key(1, KR.DOMAIN_A_BLOCK, s), np.arange(R * R, dtype=np.uint64), zb)
        i = np.arange(n) // P
        As = A * np.exp(sig * zb[i[:, None] * R + i[None, :]] - 0.5 * sig**2)
        ref = tiny_mrio.S[:1] @ np.linalg.solve(np.eye(n) - As, Y0)
        np.testing.assert_allclose(ds.footprint.values[s], ref, rtol=5e-7)


def test_mean_and_sd_agree_with_independent_numpy_monte_carlo(tiny_mrio):
    y = demand(tiny_mrio, m=5, density=0.3)
    spec = sp.Uncertainty(a_rsd=0.3, s_rsd={"CO2": 0.2}, spend_rsd=0.1, dirichlet=20.0)
    N = 1500
    ds = sp.monte_carlo(tiny_mrio, y, spec, samples=N, seed=11, client="sync", stressors=["CO2"],
                        chunk_size=256)
    ref = independent_numpy(tiny_mrio, y, 0.3, {"CO2": 0.2}, 0.1, 20.0, N, seed=5)[:, :1]
    E = ds.footprint.values
    se = np.sqrt(E.var(axis=0) / N + ref.var(axis=0) / N)
    z = (E.mean(axis=0) - ref.mean(axis=0)) / se
    assert np.abs(z).max() < 4.5
    ratio = E.std(axis=0) / ref.std(axis=0)
    assert np.all(np.abs(ratio - 1) < 0.15)


def test_tiny_rsd_reproduces_deterministic(small_mrio):
    y = demand(small_mrio, m=6)
    spec = sp.Uncertainty(a_rsd=1e-9, s_rsd={"CO2": 1e-9}, spend_rsd=1e-9)
    ds = sp.monte_carlo(small_mrio, y, spec, samples=8, seed=0, client="sync")
    det = sp.footprint(small_mrio, y)["total"]
    np.testing.assert_allclose(ds.footprint.values, np.broadcast_to(det.values, ds.footprint.shape),
                               rtol=1e-7)
    np.testing.assert_allclose(ds.deterministic.values, det.values)
    empty = sp.monte_carlo(small_mrio, y, sp.Uncertainty(), samples=3, seed=0, client="sync")
    np.testing.assert_allclose(empty.footprint.values[0], det.values, rtol=1e-9)
    assert float(empty.sd.max()) <= 1e-9 * float(np.abs(det).max())
    assert empty.attrs["certain"] == 1 and ds.attrs["certain"] == 0
    # no specification at all is the shipped default (as CLI and HTTP API): a real spread
    dflt = sp.monte_carlo(small_mrio, y, None, samples=8, seed=0, client="sync")
    assert dflt.attrs["certain"] == 0
    assert dflt.attrs["uncertainty"] == json.dumps(sp.Uncertainty.default().fingerprint())
    assert float((dflt.sd / np.abs(det)).min()) > 1e-3


def test_single_element_factor_passes_ks(tiny_mrio):
    """The factor of one element of A across samples is the specified lognormal."""
    rsd = 0.25
    sigma = np.sqrt(np.log1p(rsd**2))
    A = tiny_mrio.dense_A()
    sys = PerturbedLeontief(A, BaselineLU(tiny_mrio.solver), adjoint=True, storage="csr")
    N = 3000
    keys = np.array([K.stream_key(8, KR.DOMAIN_A, s) for s in range(N)], dtype=np.uint64)
    vals = sys.perturb(np.array([sigma]), 0, 1, np.zeros((N, 1)), keys, sys.value_buffer(N))
    j = 17
    f = vals[:, j] / sys.data[j]
    ref = st.lognorm(s=sigma, scale=np.exp(-0.5 * sigma**2))
    assert st.kstest(f, ref.cdf).pvalue > 1e-3


# ---- reproducibility, storage and solver paths ----------------------------------------------------
def test_chunk_order_and_group_invariance(small_mrio):
    y = demand(small_mrio, m=4)
    kw = dict(samples=40, seed=3, client="sync", stressors=["CO2e", "CH4"], group_size=4)
    a = sp.monte_carlo(small_mrio, y, SPEC, chunk_size=4, **kw)
    b = sp.monte_carlo(small_mrio, y, SPEC, chunk_size=24, **kw)
    np.testing.assert_array_equal(a.footprint.values, b.footprint.values)
    # the first samples of a longer run are the same numbers
    c = sp.monte_carlo(small_mrio, y, SPEC, **{**kw, "samples": 48}, chunk_size=16)
    np.testing.assert_array_equal(a.footprint.values, c.footprint.values[:40])
    # dense storage and the primal orientation agree within the solver tolerance
    d = sp.monte_carlo(small_mrio, y, SPEC, storage="dense", orientation="primal", **kw)
    np.testing.assert_allclose(a.footprint.values, d.footprint.values, rtol=1e-8)


def test_resume_after_interrupted_run(tiny_mrio, tmp_path, monkeypatch):
    y = demand(tiny_mrio)
    kw = dict(samples=40, seed=2, client="sync", chunk_size=8, group_size=4)
    full = sp.monte_carlo(tiny_mrio, y, SPEC, **kw)
    calls = []
    real = mc_mod._write_chunk

    def dying(store, i, *args):
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated kill")
        calls.append(i)
        real(store, i, *args)

    monkeypatch.setattr(mc_mod, "_write_chunk", dying)
    store = tmp_path / "mc.zarr"
    with pytest.raises(KeyboardInterrupt):
        sp.monte_carlo(tiny_mrio, y, SPEC, store=store, **kw)
    monkeypatch.setattr(mc_mod, "_write_chunk", real)
    done = []
    resumed = sp.monte_carlo(tiny_mrio, y, SPEC, store=store,
                             progress=lambda d, t: done.append(d), **kw)
    assert done[0] == 16  # two chunks were kept
    np.testing.assert_array_equal(resumed.footprint.values, full.footprint.values)
    np.testing.assert_array_equal(resumed.iterations.values, full.iterations.values)
    with pytest.raises(ValidationError, match="different run"):
        sp.monte_carlo(tiny_mrio, y, SPEC, store=store, **{**kw, "seed": 3})


def test_fallback_to_refactorisation(tiny_mrio):
    A = tiny_mrio.dense_A()
    n = A.shape[0]
    sys = PerturbedLeontief(A, BaselineLU(tiny_mrio.solver), adjoint=True, storage="csr",
                            tol=1e-12, max_iter=1)
    keys = np.array([K.stream_key(1, KR.DOMAIN_A, s) for s in range(3)], dtype=np.uint64)
    vals = sys.perturb(np.array([0.5]), 0, 1, np.zeros((3, 1)), keys, sys.value_buffer(3))
    B = np.ascontiguousarray(np.broadcast_to(tiny_mrio.S[:2], (3, 2, n)))
    X, info = sys.solve(vals, B)
    assert info.fallback.all() and (info.residual <= 1e-12).all()

    for b in range(3):
        T = _dense_T(sys, vals[b])
        np.testing.assert_allclose(X[b].T, np.linalg.solve(np.eye(n) - T, B[b].T), rtol=1e-10)


def test_summarise_ranks_and_probabilities():
    rng = np.random.default_rng(0)
    base = np.arange(12, 0, -1, dtype=float)  # category 0 largest
    E = base[None, None, :] * rng.lognormal(0, 0.01, (200, 1, 12))
    fp = xr.DataArray(E, dims=("sample", "stressor", "category"),
                      coords={"stressor": ["CO2"], "category": list("abcdefghijkl")})
    ds = sp.summarise(fp)
    assert ds.p_top5.sel(stressor="CO2").values.tolist() == [1.0] * 5 + [0.0] * 7
    assert ds.rank_lo.values[0, 0] == 1 and ds.rank_hi.values[0, 11] == 12
    np.testing.assert_allclose(ds["mean"].values, E.mean(axis=0))  # ds.mean is the method
    np.testing.assert_allclose(ds.mcse.values, E.std(axis=0, ddof=1) / np.sqrt(200))
    np.testing.assert_allclose(ds.percentiles.sel(quantile=0.5).values, np.median(E, axis=0))
    assert ds.attrs["enough_samples_all"]


def test_local_cluster_two_workers_matches_in_process(tiny_mrio):
    distributed = pytest.importorskip("distributed")
    y = demand(tiny_mrio)
    kw = dict(samples=32, seed=6, chunk_size=8, group_size=4, stressors=["CO2e"])
    ref = sp.monte_carlo(tiny_mrio, y, SPEC, client="sync", **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, env=WORKER_ENV) as cluster, \
            distributed.Client(cluster) as client:
        ds = sp.monte_carlo(tiny_mrio, y, SPEC, client=client, **kw)
        workers = client.run(lambda: __import__("os").environ.get("NUMBA_NUM_THREADS"))
        tuned = client.run(lambda: __import__("spendprint.runtime.tuning",
                                              fromlist=["x"]).is_malloc_tuned())
    assert set(workers.values()) == {"1"}
    if sys.platform.startswith("linux"):  # glibc: the workers tuned malloc in their first task
        assert set(tuned.values()) == {True}
    np.testing.assert_array_equal(ds.footprint.values, ref.footprint.values)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_tune_malloc_stops_page_faults_on_reused_temporaries():
    """Under dask's MALLOC_TRIM_THRESHOLD_=65536 every 3 MB temporary is a fresh mapping that
    faults in page by page (~730 pages of 4 KiB, below numpy's huge-page size); after
    tune_malloc the freed block is reused without faults."""
    code = """
import resource, numpy as np
from spendprint.runtime.tuning import tune_malloc

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        a = np.ones(375_000)
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults()
untuned = faults()
ok = tune_malloc()
faults()
print(untuned, faults(), ok)
"""
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="65536")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    untuned, tuned, ok = int(out[0]), int(out[1]), out[2]
    assert ok == "True"
    assert untuned > 5 * 600  # 5 x 3 MB, faulted page by page
    assert tuned < 500


def test_sparse_baseline_factorisation_survives_pickling():
    """The SuperLU preconditioner is rebuilt once after unpickling (as on a dask worker)."""
    import pickle

    import scipy.sparse as sps

    rng = np.random.default_rng(0)
    n = 300
    A = sps.random_array((n, n), density=0.02, rng=rng, format="csr")
    A = sps.csr_array(A * (0.6 / A.sum(axis=0).max()))
    solver = sp.LeontiefSolver(A, method="sparse")
    sys = PerturbedLeontief(A, BaselineLU(solver), adjoint=False, storage="csr")
    sys = pickle.loads(pickle.dumps(sys))
    assert sys.precond._splu is None
    keys = np.array([K.stream_key(0, KR.DOMAIN_A, s) for s in range(2)], dtype=np.uint64)
    vals = sys.perturb(np.array([0.3]), 0, 1, np.zeros((2, 1)), keys, sys.value_buffer(2))
    B = rng.random((2, 3, n))
    X, info = sys.solve(vals, B)
    assert not info.fallback.any() and (info.residual <= sys.tol).all()
    for b in range(2):
        T = _dense_T(sys, vals[b])
        np.testing.assert_allclose(X[b].T, np.linalg.solve(np.eye(n) - T, B[b].T), rtol=1e-8)


def test_procurement_monte_carlo_runs_on_the_demo():
    from spendprint.core.synthetic import demo_sectors
    from spendprint.procurement import procurement_monte_carlo

    mrio = sp.synthetic_mrio(regions=8, sectors=len(demo_sectors()) + 2, seed=0)
    ledger, concordance = sp.demo_inputs()
    ds = procurement_monte_carlo(mrio, ledger, concordance, uncertainty=sp.Uncertainty(a_rsd=0.1, dirichlet=50),
                                 samples=8, seed=0, client="sync", stressors=["CO2e"])
    assert ds.footprint.dims == ("sample", "stressor", "category")
    assert np.isfinite(ds.footprint.values).all() and ds.attrs["fallbacks"] == 0


@pytest.mark.parametrize("cls_name", ["Kernels", "SampleGroup"])
def test_montecarlo_benchmarks_run_once(cls_name):
    """The asv classes of benchmarks/bench_montecarlo.py run (setup + every method) at n = 120."""
    from benchmarks import bench_montecarlo

    cls = getattr(bench_montecarlo, cls_name)
    bench = cls()
    bench.setup(120)
    for meth in sorted(m for m in dir(cls) if m.startswith(("time_", "peakmem_"))):
        assert getattr(bench, meth)(120) is None


def test_anderson_acceleration_solves_the_same_systems_in_fewer_steps(small_mrio):
    """Accelerated and plain Richardson both meet the tolerance against a dense solve."""

    A = small_mrio.dense_A()
    n = A.shape[0]
    keys = np.array([K.stream_key(3, KR.DOMAIN_A, s) for s in range(4)], dtype=np.uint64)
    B = np.ascontiguousarray(np.broadcast_to(small_mrio.S[:3], (4, 3, n)))
    out = {}
    for depth in (0, 3):
        sys = PerturbedLeontief(A, BaselineLU(small_mrio.solver), adjoint=True, storage="csr",
                                tol=1e-11, depth=depth)
        vals = sys.perturb(np.array([0.4]), 0, 1, np.zeros((4, 1)), keys, sys.value_buffer(4))
        X, info = sys.solve(vals, B)
        assert not info.fallback.any() and (info.residual <= 1e-11).all()
        for b in range(4):
            T = _dense_T(sys, vals[b])
            ref = np.linalg.solve(np.eye(n) - T, B[b].T)
            np.testing.assert_allclose(X[b].T, ref, rtol=1e-8, atol=1e-10 * np.abs(ref).max())
        out[depth] = info.iterations
    assert out[3].sum() < out[0].sum()


def test_column_blocks_change_neither_the_draws_nor_the_solutions(small_mrio):
    """Column blocks of 16 (several segments per row) against one block: same perturbed matrices
    element by element, same solutions, both equal to a dense solve."""
    A = small_mrio.dense_A()
    n = A.shape[0]
    assert n > 32
    keys = np.array([K.stream_key(5, KR.DOMAIN_A, s) for s in range(3)], dtype=np.uint64)
    B = np.ascontiguousarray(np.broadcast_to(small_mrio.S[:2], (3, 2, n)))
    res = {}
    for width in (16, n):
        sys = PerturbedLeontief(A, BaselineLU(small_mrio.solver), adjoint=True, storage="csr",
                                tol=1e-12, segment_width=width)
        assert (sys.rows.size > n) == (width < n)
        vals = sys.perturb(np.array([0.3]), 0, 1, np.zeros((3, 1)), keys, sys.value_buffer(3))
        Ts = [_dense_T(sys, vals[b]) for b in range(3)]
        X, info = sys.solve(vals, B)
        assert (info.residual <= 1e-12).all() and not info.fallback.any()
        for b in range(3):
            np.testing.assert_allclose(X[b].T, np.linalg.solve(np.eye(n) - Ts[b], B[b].T),
                                       rtol=1e-9)
        res[width] = (Ts, X)
    for b in range(3):
        np.testing.assert_array_equal(res[16][0][b], res[n][0][b])
    np.testing.assert_allclose(res[16][1], res[n][1], rtol=1e-11)


def test_samples_store_has_units_and_labels(tiny_mrio, tmp_path):
    import zarr

    y = demand(tiny_mrio, m=3)
    spec = sp.Uncertainty(a_rsd=0.1, s_rsd={"CO2": 0.05})
    ds = sp.monte_carlo(tiny_mrio, y, spec, samples=6, seed=2, client="sync",
                        store=str(tmp_path / "samples.zarr"), chunk_size=3)
    g = zarr.open_group(str(tmp_path / "samples.zarr"), mode="r")
    fp = g["footprint"]
    names = list(ds["stressor"].values)
    lookup = dict(zip(tiny_mrio.indicators, tiny_mrio.indicator_units, strict=True))
    assert fp.attrs["stressors"] == names
    assert fp.attrs["categories"] == [str(c) for c in ds["category"].values]
    assert fp.attrs["units_by_stressor"] == [lookup[s] for s in names]
    assert fp.attrs["units"] in (*lookup.values(), "see units_by_stressor")
    for name in ("iterations", "residual", "fallback"):
        assert g[name].attrs["units"] == "1" and g[name].attrs["long_name"]
    np.testing.assert_allclose(fp[...], ds.footprint.transpose("sample", "stressor",
                                                                "category").values, rtol=1e-12)
