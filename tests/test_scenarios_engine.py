"""Scenario engine: every lever against a dense solve of the changed system (own loops here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spendprint as sp
from spendprint.errors import LedgerError, ValidationError
from spendprint.scenarios import ScenarioSet, scenario_footprints
from spendprint.uncertainty.sampler import selection_matrix

REL = 1e-9


@pytest.fixture(scope="module")
def world():
    m = sp.synthetic_mrio(regions=3, sectors=12, seed=7)
    y = np.random.default_rng(3).random((m.n, 3)) * (np.random.default_rng(4).random((m.n, 3)) < .6)
    return m, y


# ---- an independent dense reference -------------------------------------------------------------
def _idx(m, region, sector):
    R, P = len(m.regions), len(m.sectors)
    rr = range(R) if not region else [m.regions.index(region)]
    pp = range(P) if not sector else [m.sectors.index(sector)]
    return [r * P + p for r in rr for p in pp]


def reference(m, y, levers, cats):
    """C' S' (I - A')^-1 Y' with dense arrays and plain loops."""
    R, P = len(m.regions), len(m.sectors)
    A0 = m.dense_A()
    A = A0.copy()
    S = np.array(m.S, dtype=float)
    Y = np.array(y, dtype=float).reshape(R, P, -1).copy()
    cuts = []
    mixes = {}
    for lv in levers:
        g = lambda k, d="", lv=lv: str(lv.get(k, d) or d)  # noqa: E731
        kind = lv["lever"]
        v = float(lv.get("value", 1.0 if kind in ("substitute", "origin") else 0.0))
        cs = range(Y.shape[2]) if g("category") in ("", "*") else [cats.index(g("category"))]
        if kind == "volume":
            for c in cs:
                Y[:, :, c] *= 1 + v
        elif kind == "origin":
            t = m.regions.index(g("region"))
            for c in cs:
                for p in (range(P) if not g("sector") else [m.sectors.index(g("sector"))]):
                    tot = Y[:, p, c].sum()
                    Y[:, p, c] *= 1 - v
                    Y[t, p, c] += v * tot
        elif kind == "substitute":
            t = m.sectors.index(g("to_sector"))
            reg = g("to_region") or g("region")
            for c in cs:
                for p in (range(P) if not g("sector") else [m.sectors.index(g("sector"))]):
                    if p == t:
                        continue
                    for r in range(R):
                        moved = v * Y[r, p, c]
                        Y[r, p, c] -= moved
                        Y[m.regions.index(reg) if reg else r, t, c] += moved
        elif kind == "stressor":
            rows = range(len(m.stressors)) if not g("stressor") else [m.stressors.index(g("stressor"))]
            for r in rows:
                for j in _idx(m, g("region"), g("sector")):
                    S[r, j] *= 1 + v
        elif kind == "intensity":
            cuts.append(lv)
        elif kind == "technology":
            for j in _idx(m, g("region"), g("sector")):
                for i in _idx(m, g("from_region"), g("from_sector")):
                    A[i, j] += v * A0[i, j]
        elif kind == "input_shift":
            for j in _idx(m, g("region"), g("sector")):
                for i in _idx(m, g("from_region"), g("from_sector")):
                    r = m.regions.index(g("to_region")) if g("to_region") else i // P
                    t = r * P + m.sectors.index(g("to_sector"))
                    if t != i:
                        A[i, j] -= v * A0[i, j]
                        A[t, j] += v * A0[i, j]
        elif kind == "mix":
            mixes.setdefault((g("region"), g("sector"), g("from_region")), []).append(
                (m.sectors.index(g("from_sector")), v))
    for (region, sector, from_region), items in mixes.items():
        for r in ([m.regions.index(from_region)] if from_region else range(R)):
            rows = [r * P + s for s, _ in items]
            for j in _idx(m, region, sector):
                tot = A0[rows, j].sum()
                for (_, share), i in zip(items, rows, strict=True):
                    A[i, j] += share * tot - A0[i, j]
    Yf = Y.reshape(R * P, -1)
    X = np.linalg.solve(np.eye(m.n) - A, Yf)
    F = S @ X
    for lv in cuts:
        d = np.zeros((len(m.stressors), m.n, Yf.shape[1]))
        rows = range(len(m.stressors)) if not lv.get("stressor") else [m.stressors.index(lv["stressor"])]
        cs = range(Yf.shape[1]) if lv.get("category", "") in ("", "*") else [cats.index(lv["category"])]
        for r in rows:
            for c in cs:
                for j in _idx(m, "", lv.get("sector", "")):
                    d[r, j, c] += float(lv["value"])
        d = np.minimum(d, 1.0) * (Yf > 0)[None]
        F = F - np.einsum("kn,knm,nm->km", S, d, X)
    return selection_matrix(m, list(m.indicators)) @ F


def check(m, y, levers, **kw):
    ss = ScenarioSet([{"name": "s", "levers": levers}])
    ds = scenario_footprints(m, y, ss, **kw)
    cats = list(ds.category.values)
    ref = reference(m, y, levers, cats)
    got = ds.footprint.sel(scenario="s").values
    np.testing.assert_allclose(got, ref, rtol=REL, atol=REL * np.abs(ref).max())
    return ds


def test_baseline_is_the_dense_solve(world):
    m, y = world
    ds = scenario_footprints(m, y, ScenarioSet([{"name": "none", "levers": []}]))
    ref = reference(m, y, [], list(ds.category.values))
    np.testing.assert_allclose(ds.baseline.values, ref, rtol=REL)
    np.testing.assert_allclose(ds.change.values, 0.0, atol=REL * np.abs(ref).max())


@pytest.mark.parametrize("levers", [
    [{"lever": "volume", "value": -0.3, "category": "c1"}],
    [{"lever": "origin", "region": "NO", "value": 0.5}],
    [{"lever": "substitute", "sector": "Textiles (17)", "to_sector": "Paper and paper products",
      "value": 0.7}],
    [{"lever": "substitute", "to_sector": "Chemicals nec", "to_region": "IN", "category": "c0"}],
    [{"lever": "stressor", "stressor": "CO2", "region": "CN", "value": -0.5}],
    [{"lever": "stressor", "sector": "Plastics, basic", "value": 0.25}],
    [{"lever": "intensity", "value": 0.4, "stressor": "CH4", "category": "c2"}],
    [{"lever": "technology", "region": "CN", "sector": "Chemicals nec", "value": -0.4}],
    [{"lever": "technology", "region": "IN", "sector": "Textiles (17)", "from_region": "CN",
      "from_sector": "Paper and paper products", "value": 1.5}],
    [{"lever": "technology", "sector": "Paper and paper products", "value": -0.2}],
    [{"lever": "input_shift", "from_region": "CN", "from_sector": "Chemicals nec",
      "to_region": "NO", "to_sector": "Chemicals nec", "value": 0.6}],
    [{"lever": "input_shift", "region": "NO", "from_sector": "Paper and paper products",
      "to_sector": "Textiles (17)", "value": 0.3}],
    [{"lever": "mix", "from_sector": "Paper and paper products", "value": 0.2},
     {"lever": "mix", "from_sector": "Textiles (17)", "value": 0.8}],
    [{"lever": "mix", "from_region": "CN", "region": "IN", "from_sector": "Textiles (17)",
      "value": 0.0},
     {"lever": "mix", "from_region": "CN", "region": "IN", "from_sector": "Paper and paper products",
      "value": 1.0}],
    [{"lever": "technology", "region": "CN", "sector": "Chemicals nec", "value": -0.4},
     {"lever": "stressor", "stressor": "CO2", "value": -0.1},
     {"lever": "volume", "value": 0.2},
     {"lever": "intensity", "value": 0.3},
     {"lever": "input_shift", "from_sector": "Paper and paper products", "to_sector": "Chemicals nec",
      "value": 0.5}],
])
@pytest.mark.parametrize("max_rank", [200, 1])
def test_every_lever_against_the_dense_changed_system(world, levers, max_rank):
    m, y = world
    ds = check(m, y, levers, max_rank=max_rank)
    meth = str(ds.method.values[0])
    if any(lv["lever"] in ("technology", "input_shift", "mix") for lv in levers):
        assert meth in ("woodbury", "direct") or meth.startswith("iterate")
        if max_rank == 200:
            assert meth == "woodbury"


LEVER_POOL = st.sampled_from(["volume", "stressor", "technology", "input_shift", "mix", "origin"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(LEVER_POOL, min_size=1, max_size=4), data=st.data())
def test_random_lever_combinations(world, kinds, data):
    m, y = world
    reg = st.sampled_from(["", *m.regions])
    sec = st.sampled_from(["", *m.sectors])
    sec1 = st.sampled_from(list(m.sectors))
    levers = []
    for k in kinds:
        if k == "volume":
            levers.append({"lever": k, "value": data.draw(st.floats(-0.9, 1.0))})
        elif k == "origin":
            levers.append({"lever": k, "region": data.draw(st.sampled_from(list(m.regions))),
                           "value": data.draw(st.floats(0, 1))})
        elif k == "stressor":
            levers.append({"lever": k, "region": data.draw(reg), "sector": data.draw(sec),
                           "value": data.draw(st.floats(-1, 1))})
        elif k == "technology":
            levers.append({"lever": k, "region": data.draw(reg), "sector": data.draw(sec),
                           "from_region": data.draw(reg), "from_sector": data.draw(sec),
                           "value": data.draw(st.floats(-1, 0.5))})
        elif k == "input_shift":
            levers.append({"lever": k, "region": data.draw(reg), "sector": data.draw(sec),
                           "from_sector": data.draw(sec1), "to_sector": data.draw(sec1),
                           "to_region": data.draw(reg), "value": data.draw(st.floats(0, 1))})
        elif not any(lv["lever"] == "mix" for lv in levers):
            a, b = data.draw(st.lists(sec1, min_size=2, max_size=2, unique=True))
            w = data.draw(st.floats(0, 1))
            levers += [{"lever": "mix", "from_sector": a, "value": w},
                       {"lever": "mix", "from_sector": b, "value": 1 - w}]
    check(m, y, levers, max_rank=data.draw(st.sampled_from([1, 200])))


def test_woodbury_equals_refactorising_on_a_larger_world():
    m = sp.synthetic_mrio(regions=4, sectors=40, seed=2)
    y = np.random.default_rng(1).random((m.n, 2))
    secs = list(m.sectors)
    ss = ScenarioSet.grid({"lever": "technology", "region": m.regions[1]}, sector=secs[:5],
                          value=[-0.5, 0.3])
    ds = scenario_footprints(m, y, ss, chunk_size=4)
    assert (ds.method.values == "woodbury").all()
    for name in ds.scenario.values:
        lv = ss.levers(str(name)).iloc[0]
        A = m.dense_A().copy()
        j = m.regions.index(lv.region) * len(secs) + secs.index(lv.sector)
        A[:, j] *= 1 + float(lv.value)
        ref = selection_matrix(m, list(m.indicators)) @ (m.S @ np.linalg.solve(np.eye(m.n) - A, y))
        np.testing.assert_allclose(ds.footprint.sel(scenario=name).values, ref, rtol=REL)


def test_chunking_does_not_change_results(world):
    m, y = world
    ss = ScenarioSet.latin_hypercube([{"lever": "technology", "sector": "Chemicals nec",
                                       "value": (-0.5, 0.5)},
                                      {"lever": "volume", "value": (-0.2, 0.2)}], n=7, seed=1)
    a = scenario_footprints(m, y, ss, chunk_size=2)
    b = scenario_footprints(m, y, ss, chunk_size=100)
    np.testing.assert_allclose(a.footprint.values, b.footprint.values, rtol=1e-12)


# ---- scenario sets --------------------------------------------------------------------------------
def test_generators(world):
    m, _ = world
    g = ScenarioSet.grid({"lever": "volume"}, category=["c0", "c1"], value=[0.1, 0.2, 0.3])
    assert len(g) == 6 and g.names[0] == "grid[category=c0,value=0.1]"
    lhs = ScenarioSet.latin_hypercube([{"lever": "volume", "value": (0.0, 1.0)}], n=10, seed=5)
    vals = np.sort(lhs.table["value"].astype(float).values)
    assert np.all((vals >= np.arange(10) / 10) & (vals < np.arange(1, 11) / 10))  # one per stratum
    again = ScenarioSet.latin_hypercube([{"lever": "volume", "value": (0.0, 1.0)}], n=10, seed=5)
    assert lhs.table.equals(again.table)
    both = g.combine([["grid[category=c0,value=0.1]", "grid[category=c1,value=0.2]"]])
    assert len(both) == 7 and len(both.levers(both.names[-1])) == 2
    with pytest.raises(ValidationError, match="did you mean"):
        g.combine([["grid[category=c0,value=0.9]"]])


def test_files_all_formats_read_the_same(world, tmp_path):
    m, y = world
    df = pd.DataFrame([
        {"scenario": "a", "lever": "technology", "value": -0.3, "region": "CN",
         "sector": "Chemicals nec"},
        {"scenario": "a", "lever": "volume", "value": 0.1, "category": "c0"},
        {"scenario": "b", "lever": "stressor", "value": -0.5, "stressor": "CO2"}])
    df.to_csv(tmp_path / "s.csv", index=False)
    df.to_excel(tmp_path / "s.xlsx", index=False)
    df.to_parquet(tmp_path / "s.parquet")
    import yaml
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"scenarios": [
        {"name": "a", "levers": [{k: v for k, v in r.items() if k != "scenario" and v == v}
                                 for r in df.iloc[:2].to_dict("records")]},
        {"name": "b", "levers": [{"lever": "stressor", "value": -0.5, "stressor": "CO2"}]}]}))
    res = [scenario_footprints(m, y, ScenarioSet.read(tmp_path / f"s.{e}")).footprint.values
           for e in ("csv", "xlsx", "parquet", "yaml")]
    for r in res[1:]:
        np.testing.assert_allclose(r, res[0], rtol=1e-14)


def test_legacy_procurement_file_is_accepted(world):
    from importlib.resources import files
    path = files("spendprint") / "data" / "demo_scenarios.yaml"
    ss = ScenarioSet.read(path)
    assert len(ss) > 0 and set(ss.table["lever"]) <= {"", "volume", "substitute", "origin",
                                                      "intensity"}


def test_all_problems_at_once_with_row_and_suggestion(world, tmp_path):
    m, y = world
    (tmp_path / "bad.csv").write_text(
        "scenario,lever,value,region,sector,from_sector,stressor\n"
        "a,technolgy,-0.2,CN,Chemicals nec,,\n"
        "a,technology,-2,CN,Chemicals nec,,\n"
        "b,stressor,0.1,NOO,,,CO2\n"
        "b,mix,0.5,,,Plastics basic,\n"
        "c,input_shift,0.5,,,Chemicals nec,\n"
        "d,technology,5,CN,Chemicals nec,,\n")
    with pytest.raises(LedgerError) as e:
        scenario_footprints(m, y, tmp_path / "bad.csv")
    msg = "\n".join(e.value.problems)
    assert "bad.csv row 2" in msg and "did you mean 'technology'" in msg
    assert "bad.csv row 3" in msg and "outside [-1, inf]" in msg
    assert "bad.csv row 4" in msg and "'NOO'" in msg and "did you mean 'NO'" in msg
    assert "did you mean 'Plastics, basic'" in msg and "add up to 0.5" in msg
    assert "bad.csv row 6" in msg and "needs to_sector" in msg
    assert "bad.csv row 7" in msg and "CN/Chemicals nec" in msg and "no value added" in msg
    assert len(e.value.problems) == 7


# ---- store, resume, dask --------------------------------------------------------------------------
class Stop(Exception):
    pass


def test_store_resumes_after_an_interruption(world, tmp_path):
    m, y = world
    ss = ScenarioSet.grid({"lever": "technology", "region": "NO"}, sector=list(m.sectors)[:6],
                          value=[-0.3])
    full = scenario_footprints(m, y, ss, chunk_size=2)

    def stop_after_first(done, total):
        if done == 1:
            raise Stop

    with pytest.raises(Stop):
        scenario_footprints(m, y, ss, chunk_size=2, store=tmp_path / "s.zarr",
                            progress=stop_after_first)
    assert sorted(p.name for p in (tmp_path / "s.zarr" / "_done").iterdir()) == ["0"]
    seen = []
    resumed = scenario_footprints(m, y, ss, chunk_size=2, store=tmp_path / "s.zarr",
                                  progress=lambda d, t: seen.append(d))
    assert seen == [2, 3]  # chunk 0 was read, not solved
    np.testing.assert_array_equal(resumed.footprint.values, full.footprint.values)
    other = ScenarioSet.grid({"lever": "volume"}, value=[0.1])
    with pytest.raises(ValidationError, match="different run"):
        scenario_footprints(m, y, other, chunk_size=2, store=tmp_path / "s.zarr")


def test_dask_local_cluster_equals_in_process(world):
    distributed = pytest.importorskip("distributed")
    m, y = world
    ss = ScenarioSet.grid({"lever": "technology"}, sector=list(m.sectors)[:4], value=[-0.2, 0.2])
    here = scenario_footprints(m, y, ss, chunk_size=3)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cl, distributed.Client(cl) as client:
        there = scenario_footprints(m, y, ss, chunk_size=3, client=client)
    np.testing.assert_allclose(there.footprint.values, here.footprint.values, rtol=1e-12)


# ---- scenarios under Monte Carlo (common random numbers) ----------------------------------------
def test_samples_match_monte_carlo_and_a_brute_force_loop(world):
    import xarray as xr

    from spendprint import kernels as K
    from spendprint.kernels import random as KR
    from spendprint.uncertainty.montecarlo import monte_carlo
    from spendprint.uncertainty.sampler import build_problem, perturbed_S, perturbed_y
    from spendprint.uncertainty.spec import Uncertainty

    m, y0 = world
    R, P = len(m.regions), len(m.sectors)
    y = xr.DataArray(y0.reshape(R, P, -1) + 0.05, dims=("region", "sector", "category"),
                     coords={"region": list(m.regions), "sector": list(m.sectors),
                             "category": ["c0", "c1", "c2"]})
    scen = {"tech": [{"lever": "technology", "sector": "Textiles (17)", "value": 0.2},
                     {"lever": "stressor", "stressor": "CO2", "region": "IN", "value": -0.2}],
            "origin": [{"lever": "origin", "region": "NO", "value": 0.3}],
            "mix": [{"lever": "mix", "from_sector": "Textiles (17)", "value": 0.3},
                    {"lever": "mix", "from_sector": "Paper and paper products", "value": 0.7}]}
    ss = ScenarioSet([{"name": k, "levers": v} for k, v in scen.items()])
    N, seed = 24, 11
    spec = Uncertainty.default()
    ds = scenario_footprints(m, y, ss, samples=N, seed=seed, uncertainty=spec)
    mc = monte_carlo(m, y, spec, samples=N, seed=seed, client="sync")
    mcf = mc.footprint.transpose("sample", "stressor", "category").values
    np.testing.assert_allclose(ds.baseline.values, mcf, rtol=1e-8)
    # brute force: the Monte Carlo's own draws of A_s, S_s, y_s, dense reference per sample
    Y = np.asarray(y.values).reshape(m.n, -1)
    p = build_problem(m, Y, spec, list(m.indicators), ["c0", "c1", "c2"], tol=1e-12,
                      storage="csr", orientation="primal", group_size=1)
    buf = p.system.value_buffer(1)
    lower = np.zeros(ds.p_lower.shape)
    for s in range(N):
        keys = np.array([K.stream_key(seed, KR.DOMAIN_A, s)], dtype=np.uint64)
        zb = np.empty((1, R * R))
        K.fill_std_normal(K.stream_key(seed, KR.DOMAIN_A_BLOCK, s),
                          np.arange(R * R, dtype=np.uint64), zb[0])
        vals = p.system.perturb(p.a_sigma, P if p.block else 0, R,
                                zb if p.block else np.zeros((1, 1)), keys, buf)[0]
        ms = m.replace(A=p.system.matrix(vals).toarray(), S=perturbed_S(p, seed, s))
        ys = perturbed_y(p, seed, s)
        base = reference(ms, ys, [], ["c0", "c1", "c2"])
        for i, (name, levers) in enumerate(scen.items()):
            ref = reference(ms, ys, levers, ["c0", "c1", "c2"])
            got = ds.footprint.sel(sample=s, scenario=name).values
            np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
            lower[i] += ref < base
    np.testing.assert_array_equal(ds.p_lower.values, lower / N)
    assert 0 < ds.p_lower.sel(scenario="origin").values.mean() < 1  # not a trivial 0 or 1


def test_samples_chunked_stored_resumed_and_on_a_cluster(world, tmp_path):
    """Sampled runs: independent of the sample chunking, resumable from the Zarr store after an
    interruption, and the same on a real dask LocalCluster."""
    distributed = pytest.importorskip("distributed")
    from spendprint.uncertainty.spec import Uncertainty

    m, y = world
    ss = ScenarioSet([{"name": "tech", "levers": [
                          {"lever": "technology", "sector": "Textiles (17)", "value": 0.2}]},
                      {"name": "origin", "levers": [
                          {"lever": "origin", "region": "NO", "value": 0.3}]}])
    spec = Uncertainty.default()
    N, seed = 10, 5
    whole = scenario_footprints(m, y, ss, samples=N, seed=seed, uncertainty=spec,
                                sample_chunk=N)
    small = scenario_footprints(m, y, ss, samples=N, seed=seed, uncertainty=spec,
                                sample_chunk=3)
    np.testing.assert_allclose(small.footprint.values, whole.footprint.values, rtol=1e-12)
    np.testing.assert_array_equal(small.p_lower.values, whole.p_lower.values)

    store = tmp_path / "sampled.zarr"

    class Stop(Exception):
        pass

    def stop_after_two(done, total):
        if done == 2:
            raise Stop

    with pytest.raises(Stop):
        scenario_footprints(m, y, ss, samples=N, seed=seed, uncertainty=spec, sample_chunk=3,
                            store=store, progress=stop_after_two)
    assert sorted(p.name for p in (store / "_done").iterdir()) == ["0", "1"]
    seen = []
    resumed = scenario_footprints(m, y, ss, samples=N, seed=seed, uncertainty=spec,
                                  sample_chunk=3, store=store,
                                  progress=lambda d, t: seen.append(d))
    assert seen == [3, 4]  # only the two missing chunks were computed
    np.testing.assert_allclose(resumed.footprint.values, whole.footprint.values, rtol=1e-12)
    with pytest.raises(ValidationError):  # another seed is another run
        scenario_footprints(m, y, ss, samples=N, seed=seed + 1, uncertainty=spec,
                            sample_chunk=3, store=store)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cl, distributed.Client(cl) as client:
        there = scenario_footprints(m, y, ss, samples=N, seed=seed, uncertainty=spec,
                                    sample_chunk=4, client=client)
    np.testing.assert_allclose(there.footprint.values, whole.footprint.values, rtol=1e-12)
    np.testing.assert_array_equal(there.p_lower.values, whole.p_lower.values)


def test_sample_chunk_must_be_positive(world):
    m, y = world
    ss = ScenarioSet([{"name": "o", "levers": [{"lever": "origin", "region": "NO",
                                                "value": 0.3}]}])
    with pytest.raises(ValidationError, match="sample_chunk must be at least 1, not 0"):
        scenario_footprints(m, y, ss, samples=2, sample_chunk=0)
