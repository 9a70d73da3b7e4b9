"""Structural path analysis and production layers against brute force and a dense inverse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sps
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import spendprint as sp
from spendprint.labelled.structural_paths import (
    path_tree,
    production_layers,
    risk_paths,
    structural_paths,
    structural_paths_by_category,
)


# ---- references ---------------------------------------------------------------------------------
def brute_force_paths(A: np.ndarray, s: np.ndarray, y: np.ndarray, depth: int) -> dict[tuple, float]:
    """Every path (i_0, ..., i_d), d <= depth, with value s_{i_d} A_{i_d i_{d-1}} ... y_{i_0} > 0
    (no pruning: all n + n^2 + ... + n^(depth + 1) sequences)."""
    n = len(y)
    out: dict[tuple, float] = {}

    def visit(path: tuple, v: float) -> None:
        e = s[path[-1]] * v
        if e > 0:
            out[path] = e
        if len(path) <= depth:
            for k in range(n):
                visit((*path, k), v * A[k, path[-1]])

    for i in range(n):
        visit((i,), y[i])
    return out


def tiny_model(n: int, seed: int, density: float = 0.7, colsum: float = 0.45,
               sparse: bool = False) -> sp.MRIO:
    rng = np.random.default_rng(seed)
    A = rng.random((n, n)) * (rng.random((n, n)) < density)
    A *= colsum / max(A.sum(axis=0).max(), 1e-12)
    S = rng.lognormal(0.0, 1.0, (2, n)) * (rng.random((2, n)) < 0.85)
    return sp.MRIO(A=sps.csr_array(A) if sparse else A, x=np.ones(n), S=S, regions=("R", "Q"),
                   sectors=tuple(f"p{i}" for i in range(n // 2)), stressors=("e0", "e1"),
                   stressor_units=("kg", "h"))


def frame_paths(mrio: sp.MRIO, df: pd.DataFrame) -> dict[tuple, float]:
    """Listed paths as {(flat indices by stage): value}."""
    lookup = {(r, p): i for i, (r, p) in enumerate(mrio.sector_index)}
    out = {}
    for r in df.itertuples(index=False):
        row = r._asdict()
        out[tuple(lookup[(row[f"region_{t}"], row[f"sector_{t}"])]
                  for t in range(row["depth"] + 1))] = row["value"]
    return out


def dense_total(mrio: sp.MRIO, s: np.ndarray, y: np.ndarray) -> float:
    A = mrio.dense_A()
    return float(s @ np.linalg.inv(np.eye(mrio.n) - A) @ y)


# ---- the kernel ---------------------------------------------------------------------------------
def test_kernel_dense_and_csc_agree_with_the_python_peer():
    """The compiled search equals the pure-Python recursive one of the benchmarks (same rule)."""
    from spendprint.kernels.pathsearch import enumerate_paths

    rng = np.random.default_rng(3)
    n = 40
    A = rng.random((n, n)) * (rng.random((n, n)) < 0.3) * 0.08
    s = rng.random(n) * (rng.random(n) < 0.9)
    m = np.maximum(np.linalg.solve((np.eye(n) - A).T, s), s)
    y = rng.random(n) * (rng.random(n) < 0.5)
    thr = 1e-4 * float(m @ y)
    dense = enumerate_paths(np.ascontiguousarray(A.T), y, s, m, thr, 6, 16)
    C = sps.csc_array(A)
    csc = enumerate_paths((C.indptr.astype(np.int64), C.indices.astype(np.int64), C.data), y, s,
                          m, thr, 6, 16)
    for a, b in zip(dense, csc, strict=True):
        np.testing.assert_array_equal(a, b)
    want = python_peer(A, s, m, y, thr, 6)
    got = {tuple(p[: d + 1]): v for p, v, d in zip(dense[0].tolist(), dense[1], dense[2], strict=True)}
    assert got == want
    assert dense[1].sum() + dense[4].sum() == pytest.approx(float(m @ y), rel=1e-12)


def python_peer(A, s, m, y, thr, max_depth):
    """Pure-Python recursive depth-first search with the kernel's pruning rule."""
    out = {}

    def visit(path, v):
        j = path[-1]
        e = s[j] * v
        if e >= thr and e > 0:
            out[tuple(path)] = e
        if len(path) <= max_depth:
            for k in range(len(y)):
                a = A[k, j]
                if a != 0 and v * (a * m[k]) >= thr and v * (a * m[k]) > 0:
                    visit([*path, k], v * a)

    for i in range(len(y)):
        if y[i] > 0 and m[i] * y[i] >= thr:
            visit([i], y[i])
    return out


def test_kernel_buffers_grow_to_the_exact_size():
    from spendprint.kernels.pathsearch import enumerate_paths

    mrio = tiny_model(6, seed=2)
    y, s = np.ones(6), mrio.S[0]
    m = np.linalg.solve((np.eye(6) - mrio.dense_A()).T, s)
    AT = np.ascontiguousarray(mrio.dense_A().T)
    small = enumerate_paths(AT, y, s, m, 0.0, 3, capacity=1, pool=1)
    large = enumerate_paths(AT, y, s, m, 0.0, 3, capacity=100_000)
    assert len(small[1]) == len(large[1]) > 1
    for a, b in zip(small, large, strict=True):
        np.testing.assert_array_equal(a, b)


# ---- structural paths: exhaustive enumeration ---------------------------------------------------
@pytest.mark.parametrize("n,depth,threshold,sparse", [
    (4, 5, 0.0, False), (6, 4, 0.0, True), (6, 6, 1e-3, False), (6, 5, 1e-2, True),
])
def test_paths_equal_brute_force(n, depth, threshold, sparse):
    mrio = tiny_model(n, seed=n + depth, sparse=sparse)
    rng = np.random.default_rng(n)
    y = rng.random(n) * (rng.random(n) < 0.8)
    s = mrio.S[0]
    df = structural_paths(mrio, y, stressor="e0", threshold=threshold, max_depth=depth)
    total = dense_total(mrio, s, y)
    want = {p: v for p, v in brute_force_paths(mrio.dense_A(), s, y, depth).items()
            if v >= threshold * total}
    got = frame_paths(mrio, df)
    assert set(got) == set(want)
    for p, v in want.items():
        assert got[p] == pytest.approx(v, rel=1e-12)
    # sorted by value, shares of the total, depths consistent with the stage columns
    assert (np.diff(df["value"].to_numpy()) <= 0).all()
    np.testing.assert_allclose(df["share"], df["value"] / total, rtol=1e-10)
    assert df.attrs["total"] == pytest.approx(total, rel=1e-10)
    # paths plus remainders add up to the total
    assert df["value"].sum() + sum(df.attrs["remainder"]) == pytest.approx(total, rel=1e-10)
    assert len(df.attrs["remainder"]) == depth + 2
    assert df.attrs["coverage"] == pytest.approx(df["value"].sum() / total, rel=1e-12)


def test_remainder_beyond_depth_is_the_tail_of_the_series():
    """With threshold 0 nothing is pruned: the only remainder is s (I - A)^-1 A^{d+1} y."""
    mrio = tiny_model(6, seed=11)
    y = np.linspace(0.5, 2.0, 6)
    s, A, d = mrio.S[1], mrio.dense_A(), 4
    df = structural_paths(mrio, y, stressor="e1", threshold=0.0, max_depth=d)
    tail = s @ np.linalg.solve(np.eye(6) - A, np.linalg.matrix_power(A, d + 1) @ y)
    rem = np.array(df.attrs["remainder"])
    np.testing.assert_allclose(rem[:-1], 0.0, atol=1e-12 * df.attrs["total"])
    assert rem[-1] == pytest.approx(tail, rel=1e-9)
    # each stage's listed paths are the production layer s A^t y
    for t in range(d + 1):
        layer = s @ np.linalg.matrix_power(A, t) @ y
        assert df.loc[df["depth"] == t, "value"].sum() == pytest.approx(layer, rel=1e-10)


def test_threshold_zero_converges_to_the_total():
    mrio = tiny_model(4, seed=5, colsum=0.25)
    y = np.array([1.0, 0.0, 2.0, 0.5])
    total = dense_total(mrio, mrio.S[0], y)
    cover = [structural_paths(mrio, y, "e0", threshold=0.0, max_depth=d).attrs["coverage"]
             for d in (2, 5, 9)]
    assert cover[0] < cover[1] < cover[2] <= 1.0 + 1e-12
    assert 1.0 - cover[2] < 0.25**10 * 4
    df = structural_paths(mrio, y, "e0", threshold=0.0, max_depth=9)
    assert df["value"].sum() == pytest.approx(total, rel=1e-5)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 7), seed=st.integers(0, 10_000), threshold=st.sampled_from([1e-1, 1e-2, 1e-3]),
       depth=st.integers(0, 8))
def test_paths_plus_remainders_equal_the_total(n, seed, threshold, depth):
    mrio = tiny_model(2 * (n // 2) or 2, seed=seed)
    y = np.random.default_rng(seed).random(mrio.n)
    df = structural_paths(mrio, y, "e0", threshold=threshold, max_depth=depth)
    total = dense_total(mrio, mrio.S[0], y)
    assert df["value"].sum() + sum(df.attrs["remainder"]) == pytest.approx(total, rel=1e-10)
    assert (df["value"] >= threshold * total * (1 - 1e-12)).all()
    assert len(df) <= 1 / threshold


def test_top_moves_the_rest_into_the_remainder(small_mrio):
    y = small_mrio.Y[:, :7].sum(axis=1)
    full = structural_paths(small_mrio, y, threshold=1e-4, max_depth=6)
    top = structural_paths(small_mrio, y, threshold=1e-4, max_depth=6, top=10)
    assert len(top) == 10 and len(full) > 10
    pd.testing.assert_frame_equal(top, full.head(10), check_like=False)
    assert top["value"].sum() + sum(top.attrs["remainder"]) == pytest.approx(full.attrs["total"])
    assert top.attrs["coverage"] < full.attrs["coverage"]


def test_labels_dataarray_demand_and_intensity(small_mrio):
    m = small_mrio
    P = len(m.sectors)
    y = xr.zeros_like(sp.as_demand(m, np.zeros(m.n)))
    y.loc[{"region": "NO", "sector": "Rubber and plastic products (25)"}] = 2.0
    df = structural_paths(m, y, "CO2e", threshold=1e-3, max_depth=5)
    assert set(df["region_0"]) == {"NO"} and set(df["sector_0"]) == {"Rubber and plastic products (25)"}
    assert df.attrs["stressor"] == "CO2e" and df.attrs["unit"] == "kg CO2e"
    fp = float(sp.footprint(m, y, "CO2e")["total"].sel(stressor="CO2e"))
    assert df.attrs["total"] == pytest.approx(fp, rel=1e-9)
    last = df.iloc[0]
    assert last["region"] == last[f"region_{last['depth']}"]
    assert last["path"].split(" <- ")[0] == "NO/Rubber and plastic products (25)"
    # the same through an explicit intensity vector
    s = m.S_all(["CO2e"])[0]
    df2 = structural_paths(m, y, intensity=s, threshold=1e-3, max_depth=5)
    np.testing.assert_allclose(df2["value"], df["value"], rtol=1e-12)
    assert df2.attrs["stressor"] == "intensity"
    # chart data: a tree whose roots carry the drawn values
    tree = path_tree(df, top=8)
    roots = tree[tree["parent"] == ""]
    assert roots["value"].sum() == pytest.approx(df["value"].head(8).sum())
    assert tree["own"].sum() == pytest.approx(df["value"].head(8).sum())
    assert set(tree.loc[tree["parent"] != "", "parent"]) <= set(tree["id"])
    _ = P


def test_bad_inputs_are_clear(tiny_mrio):
    m, y = tiny_mrio, np.ones(tiny_mrio.n)
    with pytest.raises(sp.ValidationError, match="negative"):
        structural_paths(m, -y)
    with pytest.raises(sp.ValidationError, match="not both"):
        structural_paths(m, y, stressor="CO2", intensity=np.ones(m.n))
    with pytest.raises(sp.LabelMismatchError, match="unknown stressor"):
        structural_paths(m, y, stressor="SO2")
    with pytest.raises(sp.ValidationError, match="threshold"):
        structural_paths(m, y, threshold=1.5)
    with pytest.raises(sp.LabelMismatchError, match="shape"):
        structural_paths(m, np.ones(5))
    with pytest.raises(sp.ValidationError, match="give a threshold > 0"):
        structural_paths(m, y, threshold=0.0, max_depth=8)
    with pytest.raises(sp.ValidationError, match="structural_paths_by_category"):
        structural_paths(m, sp.as_demand(m, np.ones((m.n, 2))))


# ---- categories, dask, risk ---------------------------------------------------------------------
def _demand(mrio: sp.MRIO, k: int = 3) -> xr.DataArray:
    Y = np.abs(mrio.Y[:, :k])
    y = sp.as_demand(mrio, Y).rename(demand="category")
    return y.assign_coords(category=[f"cat {i}" for i in range(k)])


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_by_category_with_dask_equals_single_calls(small_mrio, scheduler):
    demand = _demand(small_mrio)
    both = structural_paths_by_category(small_mrio, demand, "CO2", threshold=1e-3, max_depth=6,
                                        scheduler=scheduler)
    assert list(both.columns[:2]) == ["category", "value"]
    for cat in demand["category"].values:
        one = structural_paths(small_mrio, demand.sel(category=cat), "CO2", threshold=1e-3,
                               max_depth=6)
        part = both[both["category"] == cat].drop(columns="category").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, one, check_exact=False, rtol=1e-9)
        assert both.attrs["coverage"][cat] == pytest.approx(one.attrs["coverage"])
        assert both.attrs["remainder"][cat] == pytest.approx(one.attrs["remainder"])


def test_by_category_graph_holds_the_model_once(small_mrio, monkeypatch):
    import dask

    seen = []
    real = dask.compute

    def spy(*tasks, **kw):
        graph = dict(tasks[0].__dask_graph__()) if tasks else {}
        for t in tasks[1:]:
            graph.update(t.__dask_graph__())
        seen.append([k for k in graph if str(k).startswith("spa-model-")])
        return real(*tasks, **kw)

    monkeypatch.setattr(dask, "compute", spy)
    structural_paths_by_category(small_mrio, _demand(small_mrio, 4), "CO2", threshold=1e-2)
    assert len(seen) == 1 and len(seen[0]) == 1


def test_risk_paths_are_the_due_diligence_list(small_mrio):
    m = small_mrio
    hours = m.S_all(["Employment hours"])[0]
    risk = hours * np.where(np.isin(np.repeat(m.regions, len(m.sectors)), ["IN", "CN"]), 3.0, 0.1)
    demand = _demand(m, 2)
    df = risk_paths(m, demand.isel(category=0), risk, threshold=1e-3, max_depth=5)
    assert list(df.columns[:6]) == ["tier", "country", "product", "risk_weighted_hours", "share", "path"]
    total = dense_total(m, risk, demand.isel(category=0).values.ravel())
    assert df.attrs["total"] == pytest.approx(total, rel=1e-9) and df.attrs["unit"] == "h"
    assert df["risk_weighted_hours"].sum() + sum(df.attrs["remainder"]) == pytest.approx(total)
    by_cat = risk_paths(m, demand, risk, threshold=1e-3, max_depth=5)
    assert by_cat.columns[0] == "category" and set(by_cat["category"]) == {"cat 0", "cat 1"}


# ---- production layers --------------------------------------------------------------------------
def test_layers_add_up_to_the_total(small_mrio):
    m = small_mrio
    demand = _demand(m, 3)
    L = production_layers(m, demand, ["CO2e", "Employment hours"], max_tier=6)
    assert L.dims == ("stressor", "tier", "category")
    assert list(L["tier"].values) == [str(t) for t in range(7)] + ["rest"]
    A = m.dense_A()
    Linv = np.linalg.inv(np.eye(m.n) - A)
    S = m.S_all(["CO2e", "Employment hours"])
    Y = demand.values.reshape(m.n, 3)
    np.testing.assert_allclose(L.sum("tier").values, S @ Linv @ Y, rtol=1e-9)
    for t in range(7):
        np.testing.assert_allclose(L.sel(tier=str(t)).values,
                                   S @ np.linalg.matrix_power(A, t) @ Y, rtol=1e-9)
    assert (L.sel(tier="rest") >= 0).all()
    one = production_layers(m, demand.isel(category=1), "CO2e", max_tier=3)
    assert one.dims == ("stressor", "tier")
    np.testing.assert_allclose(one.sum("tier").values, (S[:1] @ Linv @ Y[:, 1]), rtol=1e-9)


def test_layers_match_the_paths_of_each_depth(tiny_mrio):
    y = tiny_mrio.Y[:, 0]
    layers = production_layers(tiny_mrio, y, "CO2", max_tier=2).sel(stressor="CO2")
    df = structural_paths(tiny_mrio, y, "CO2", threshold=0.0, max_depth=2)
    for t in range(3):
        assert df.loc[df["depth"] == t, "value"].sum() == pytest.approx(float(layers.sel(tier=str(t))),
                                                                       rel=1e-9)


# ---- command line -------------------------------------------------------------------------------
def test_cli_end_to_end(tmp_path, small_mrio, capsys):
    from spendprint.cli import main

    store = tmp_path / "world.zarr"
    small_mrio.to_zarr(store)
    out = tmp_path / "paths.csv"
    code = main(["spa", "--category", "Examination gloves", "--stressor", "CO2e", "--threshold",
                 "0.001", "--max-depth", "6", "--mrio", str(store), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    df = pd.read_csv(out)
    assert len(df) > 0 and set(df["category"]) == {"Examination gloves"}
    assert (np.diff(df["value"].to_numpy()) <= 0).all() and df["share"].sum() <= 1 + 1e-9
    assert "Examination gloves: total" in capsys.readouterr().out
    # the due-diligence list on the shipped example risk table, as Parquet
    out2 = tmp_path / "risk.parquet"
    assert main(["spa", "-c", "examination gloves", "--risk", "example", "--mrio", str(store),
                 "--out", str(out2), "--top", "5"]) == 0
    risk = pd.read_parquet(out2)
    assert len(risk) == 5 and {"tier", "country", "product", "risk_weighted_hours"} <= set(risk.columns)


def test_cli_bad_category_exits_2_with_suggestions(tmp_path, small_mrio, capsys):
    from spendprint.cli import main

    store = tmp_path / "world.zarr"
    small_mrio.to_zarr(store)
    assert main(["spa", "--category", "Examinaton glove", "--mrio", str(store)]) == 2
    err = capsys.readouterr().err
    assert "unknown category 'Examinaton glove'" in err and "Examination gloves" in err
    assert main(["spa", "--category", "Examination gloves", "--mrio", str(store),
                 "--out", str(tmp_path / "p.xlsx")]) == 2
    assert "use .csv or .parquet" in capsys.readouterr().err
