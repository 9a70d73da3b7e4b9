"""The exact engine against textbook values and a dense numpy inverse."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.sparse as sps
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import spendprint as sp
from spendprint.core.leontief import LeontiefSolver

from .conftest import random_productive


def miller_blair_2x2() -> sp.MRIO:
    """Miller & Blair (2009), section 2.3: Z = [[150, 500], [200, 100]], x = [1000, 2000]."""
    Z = np.array([[150.0, 500.0], [200.0, 100.0]])
    x = np.array([1000.0, 2000.0])
    A = Z / x[None, :]
    # employment (a stressor) of 100 and 200 workers: intensities 0.1 and 0.1 per unit output
    S = np.array([[0.1, 0.1], [2.0, 0.5]])
    Y = (x - Z.sum(axis=1))[:, None]
    return sp.MRIO(A=A, x=x, S=S, Y=Y, regions=("R",), sectors=("agriculture", "manufacturing"),
                   stressors=("workers", "co2"), stressor_units=("persons", "kg"),
                   fd_categories=("final",))


def test_miller_blair_leontief_inverse():
    m = miller_blair_2x2().validate()
    np.testing.assert_allclose(m.A, [[0.15, 0.25], [0.2, 0.05]])
    L = sp.leontief(m).values.reshape(2, 2)
    # textbook: L = [[1.254, 0.330], [0.264, 1.122]] (rounded to 3 decimals)
    np.testing.assert_allclose(L, [[1.254, 0.330], [0.264, 1.122]], atol=5e-4)
    # and exactly the closed form of the 2x2 inverse
    det = 0.85 * 0.95 - 0.25 * 0.2
    np.testing.assert_allclose(L, np.array([[0.95, 0.25], [0.2, 0.85]]) / det, rtol=1e-14)


def test_miller_blair_new_final_demand_and_multipliers():
    m = miller_blair_2x2()
    # textbook: final demand (600, 1500) needs x = (1247.52, 1841.58)
    fp = sp.footprint(m, np.array([600.0, 1500.0]), stressors="workers", by_origin=True)
    x_new = fp.by_origin.sel(stressor="workers").values.ravel() / 0.1
    np.testing.assert_allclose(x_new, [1247.52, 1841.58], atol=0.01)
    # output multipliers (column sums of L) are 1.518 and 1.452 (textbook)
    ones = m.replace(S=np.ones((1, 2)), stressors=("output",), stressor_units=("$",))
    np.testing.assert_allclose(sp.multipliers(ones).values.ravel(), [1.518, 1.452], atol=5e-4)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 60), density=st.floats(0.05, 1.0), seed=st.integers(0, 2**31 - 1))
def test_multipliers_equal_dense_inverse(n, density, seed):
    m = random_productive(n, density, seed)
    L = np.linalg.inv(np.eye(n) - m.A)
    M = sp.multipliers(m).values.reshape(3, n)
    np.testing.assert_allclose(M, m.S @ L, rtol=1e-10, atol=1e-12 * np.abs(m.S @ L).max())


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 40), seed=st.integers(0, 2**31 - 1), m_cols=st.integers(1, 5))
def test_footprint_linear_additive_and_balanced(n, seed, m_cols):
    m = random_productive(n, 0.5, seed)
    rng = np.random.default_rng(seed)
    y = rng.random((n, m_cols))
    fp = sp.footprint(m, y, by_origin=True)
    L = np.linalg.inv(np.eye(n) - m.A)
    np.testing.assert_allclose(fp.total.values, m.S @ L @ y, rtol=1e-10)
    # origin breakdown sums to the total; direct + supply chain = total
    np.testing.assert_allclose(fp.by_origin.sum(["origin_region", "origin_sector"]).values,
                               fp.total.values, rtol=1e-12)
    np.testing.assert_allclose(fp.direct.values, m.S @ y, rtol=1e-12)
    # additivity: footprint of the summed demand is the sum of footprints
    whole = sp.footprint(m, y.sum(axis=1))
    np.testing.assert_allclose(whole.total.values, fp.total.sum("demand").values, rtol=1e-10)


def test_sparse_and_dense_paths_agree(small_mrio):
    A = small_mrio.dense_A().copy()
    A[A < np.quantile(A[A > 0], 0.7)] = 0.0  # make it sparse (about 10 % nonzero)
    dense = LeontiefSolver(A, method="dense")
    sparse = LeontiefSolver(sps.csr_array(A), method="sparse")
    double = LeontiefSolver(A, method="dense", precision="double")
    B = np.random.default_rng(3).random((A.shape[0], 4))
    ref = np.linalg.solve(np.eye(A.shape[0]) - A, B)
    for s in (dense, sparse, double):
        np.testing.assert_allclose(s.solve(B), ref, rtol=1e-11)
        np.testing.assert_allclose(s.solve_transpose(B), np.linalg.solve((np.eye(A.shape[0]) - A).T, B),
                                   rtol=1e-11)
    assert dense.stats["max_residual"] <= 1e-13
    # the MRIO chooses the sparse path for a large sparse A, dense otherwise
    from spendprint.core.leontief import choose_method

    assert choose_method(A) == "dense"
    assert choose_method(sps.random_array((4000, 4000), density=0.001, format="csr")) == "sparse"


def test_mixed_precision_matches_double_on_synthetic(small_mrio):
    M = sp.multipliers(small_mrio).values.reshape(len(small_mrio.indicators), -1)
    ref = small_mrio.S_all() @ np.linalg.inv(np.eye(small_mrio.n) - small_mrio.A)
    np.testing.assert_allclose(M, ref, rtol=1e-10)
    assert small_mrio.solver.stats["fallbacks"] == 0


def test_labelled_demand_and_units(small_mrio):
    m = small_mrio
    y = xr.DataArray(np.zeros((len(m.regions), len(m.sectors), 2)), dims=("region", "sector", "category"),
                     coords={"region": list(m.regions), "sector": list(m.sectors), "category": ["a", "b"]})
    y.loc[{"region": "NO", "sector": m.sectors[0], "category": "a"}] = 2.0
    fp = sp.footprint(m, y, stressors=["CO2e", "CO2"])
    mult = sp.multipliers(m, ["CO2e", "CO2"])
    np.testing.assert_allclose(fp.total.sel(category="a").values,
                               2.0 * mult.sel(region="NO", sector=m.sectors[0]).values, rtol=1e-12)
    assert list(fp.unit.values) == ["kg CO2e", "kg"]
    assert str(mult.unit.values[0]) == "kg CO2e / M EUR"
    # CO2e is the GWP100 characterisation of the gases
    co2e = mult.sel(stressor="CO2e")
    gases = sp.multipliers(m, ["CO2", "CH4", "N2O"])
    np.testing.assert_allclose(co2e, gases.sel(stressor="CO2") + 28 * gases.sel(stressor="CH4")
                               + 265 * gases.sel(stressor="N2O"), rtol=1e-12)


def test_dask_demand_stays_lazy_and_matches(small_mrio):
    m = small_mrio
    rng = np.random.default_rng(5)
    arr = rng.random((len(m.regions), len(m.sectors), 6))
    y = xr.DataArray(da.from_array(arr, chunks=(len(m.regions), len(m.sectors), 2)),
                     dims=("region", "sector", "category"))
    def refuse(*args, **kwargs):
        raise AssertionError("building the footprint graph computed something")

    with dask.config.set(scheduler=refuse):
        fp = sp.footprint(m, y, stressors="CO2e", by_origin=True)
    assert fp.total.chunks is not None
    with dask.config.set(scheduler="sync"):
        eager = sp.footprint(m, arr.reshape(m.n, 6), stressors="CO2e", by_origin=True)
        np.testing.assert_allclose(fp.total.values, eager.total.values, rtol=1e-12)
        np.testing.assert_allclose(fp.by_origin.values.transpose(0, 1, 2, 3),
                                   eager.by_origin.values, rtol=1e-12)


def test_bad_demand_labels(small_mrio):
    y = xr.DataArray(np.ones((2, 3)), dims=("region", "sector"),
                     coords={"region": ["XX", "YY"], "sector": ["a", "b", "c"]})
    with pytest.raises(sp.LabelMismatchError, match="region"):
        sp.footprint(small_mrio, y)
    with pytest.raises(sp.LabelMismatchError, match="shape"):
        sp.footprint(small_mrio, np.ones(7))
    with pytest.raises(sp.LabelMismatchError, match="unknown stressor"):
        sp.multipliers(small_mrio, "NOPE")
