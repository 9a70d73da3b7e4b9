"""Issue 17 / issue 11 (defects 4, 5): uncertainty specs, Monte Carlo bounds and quality flags."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import spendprint as sp
from spendprint.errors import InputFileError, ValidationError
from spendprint.uncertainty import montecarlo as mc
from spendprint.uncertainty.spec import SCHULTE_2024_S_RSD, s_rsd_matrix

ROOT = Path(__file__).resolve().parents[1]


def demand(mrio, m: int = 4, seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    R, P = len(mrio.regions), len(mrio.sectors)
    v = rng.random((R, P, m)) * (rng.random((R, P, m)) < 0.4)
    v[0, 0, :] += 1.0
    return xr.DataArray(v, dims=("region", "sector", "category"),
                        coords={"region": list(mrio.regions), "sector": list(mrio.sectors),
                                "category": [f"c{i}" for i in range(m)]})


# ---- issue 11 defect 4: s_rsd as a number or preset ----------------------------------------------
def test_s_rsd_number_applies_to_every_stressor(tiny_mrio):
    u = sp.Uncertainty(s_rsd=0.1)
    M = s_rsd_matrix(u, tiny_mrio)
    np.testing.assert_array_equal(M, np.full((len(tiny_mrio.stressors), tiny_mrio.n), 0.1))
    # a named stressor overrides the number
    M2 = s_rsd_matrix(sp.Uncertainty(s_rsd={"*": 0.1, "CO2": 0.3}), tiny_mrio)
    assert M2[tiny_mrio.stressors.index("CO2")].tolist() == [0.3] * tiny_mrio.n


def test_s_rsd_preset_string_in_python_and_yaml(tmp_path):
    assert sp.Uncertainty(s_rsd="schulte2024").s_rsd == SCHULTE_2024_S_RSD
    p = tmp_path / "u.yaml"
    p.write_text("s_rsd: schulte2024\n")
    assert sp.Uncertainty.from_yaml(p).s_rsd == SCHULTE_2024_S_RSD


@pytest.mark.parametrize("bad", ["lenzen", [0.1], (0.1,), True, object()])
def test_s_rsd_anything_else_is_a_validation_error(bad):
    with pytest.raises(ValidationError, match="s_rsd"):
        sp.Uncertainty(s_rsd=bad)


@pytest.mark.parametrize("text", ["s_rsd: [0.1]\n", "a_size_rule: 0.3\n", "a_size_rule: [a, b]\n",
                                  "a_size_rule: [0.3, 0.05]\na_size_range: [0, 10]\n",
                                  "a_rsd: abc\n", "spend_rsd: [1]\n", "dirichlet: {c: x}\n"])
def test_bad_uncertainty_yaml_is_an_input_error(tmp_path, text):
    p = tmp_path / "u.yaml"
    p.write_text(text)
    with pytest.raises(InputFileError, match="u.yaml"):
        sp.Uncertainty.from_yaml(p)


def test_a_size_rule_number_in_python_is_a_validation_error():
    with pytest.raises(ValidationError, match="a_size_rule"):
        sp.Uncertainty(a_size_rule=0.3)


def test_a_size_range_with_zero_would_make_a_certain():
    """log10(0) = -inf made every element 'large': A silently certain (issue 17, 3)."""
    with pytest.raises(ValidationError, match="a_size_range"):
        sp.Uncertainty(a_size_rule=(0.3, 0.05), a_size_range=(0, 10))
    u = sp.Uncertainty(a_size_rule=[0.3, 0.05], a_size_range=[1e-3, 10])
    assert u.a_size_range == (1e-3, 10.0)


def test_norway_region_key_stays_a_string(tmp_path, tiny_mrio):
    region = tiny_mrio.regions[0]
    p = tmp_path / "u.yaml"
    p.write_text(f"s_rsd: {{CO2: {{NO: 0.2, {region}: 0.1, '*': 0.0}}}}\n")
    u = sp.Uncertainty.from_yaml(p)
    assert set(u.s_rsd["CO2"]) == {"NO", region, "*"}


# ---- samples, workers, memory ---------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(samples=0), dict(samples=-1), dict(samples=2.5),
                                dict(samples=4, workers=0), dict(samples=4, workers=-2),
                                dict(samples=4, chunk_size=0)])
def test_invalid_counts_refused(tiny_mrio, kw):
    with pytest.raises(ValidationError):
        sp.monte_carlo(tiny_mrio, demand(tiny_mrio), sp.Uncertainty(a_rsd=0.1), client="sync",
                       **kw)


def test_one_sample_is_never_enough(tiny_mrio):
    ds = sp.monte_carlo(tiny_mrio, demand(tiny_mrio), sp.Uncertainty(a_rsd=0.1), samples=1,
                        client="sync", stressors=["CO2"])
    assert np.isnan(ds.sd.values).all()
    assert not ds.enough_samples.values.any() and not ds.attrs["enough_samples_all"]
    assert ds.attrs["enough_samples_share"] == 0.0


def test_estimate_memory_matches_the_result_arrays(tiny_mrio):
    y = demand(tiny_mrio, m=5)
    k = len(tiny_mrio.indicators)
    est = mc.estimate_memory(tiny_mrio, y, 1000, 16)
    # at least the samples themselves (N k m float64), at most a small multiple of everything
    assert est >= 1000 * k * 5 * 8
    ds = sp.monte_carlo(tiny_mrio, y, sp.Uncertainty(a_rsd=0.1), samples=1000, chunk_size=16,
                        client="sync")
    assert ds.footprint.nbytes <= est <= 20 * ds.footprint.nbytes + (64 << 20)
    # linear in samples
    assert mc.estimate_memory(tiny_mrio, y, 2000, 16) - est == pytest.approx(
        1000 * (24 * k * 5 + 17), rel=1e-9)


def test_huge_sample_count_refused_before_anything_starts(tiny_mrio, tmp_path):
    store = tmp_path / "mc.zarr"
    t = time.perf_counter()
    with pytest.raises(ValidationError, match=r"memory budget.*GiB|GiB.*memory budget") as e:
        sp.monte_carlo(tiny_mrio, demand(tiny_mrio), sp.Uncertainty(a_rsd=0.1),
                       samples=1_000_000_000_000, client="sync", store=store)
    assert time.perf_counter() - t < 2.0
    assert "1,000,000,000,000 samples" in str(e.value) and not store.exists()
    # the budget is configurable: a small one refuses a small run
    with pytest.raises(ValidationError, match="memory budget"):
        sp.monte_carlo(tiny_mrio, demand(tiny_mrio), None, samples=10, client="sync",
                       memory_budget="1K")
    with pytest.raises(ValidationError, match="memory budget"):
        mc.parse_bytes("lots")


def test_memory_budget_from_environment(tiny_mrio, monkeypatch):
    monkeypatch.setenv("SPENDPRINT_MEMORY_BUDGET", "2K")
    assert mc.default_memory_budget() == 2048
    with pytest.raises(ValidationError, match="2.0 KiB"):
        sp.monte_carlo(tiny_mrio, demand(tiny_mrio), None, samples=10, client="sync")


# ---- flagged samples --------------------------------------------------------------------------
def test_huge_a_rsd_flags_samples_and_fails(tiny_mrio):
    """a_rsd = 5 perturbs A beyond productivity in most samples (issue 17, 3)."""
    y = demand(tiny_mrio)
    with pytest.raises(mc.MonteCarloQualityError, match="flagged") as e:
        sp.monte_carlo(tiny_mrio, y, sp.Uncertainty(a_rsd=5.0), samples=32, seed=1,
                       client="sync", stressors=["CO2"])
    c = e.value.counts
    assert c["flagged_samples"] > 0.05 * 32
    assert c["flagged_samples"] <= c["fallbacks"] + c["nonfinite_samples"] + c["negative_samples"]
    # with the check off the counts are in the attrs and match the per-sample flags
    ds = sp.monte_carlo(tiny_mrio, y, sp.Uncertainty(a_rsd=5.0), samples=32, seed=1,
                        client="sync", stressors=["CO2"], max_flagged_share=1.0)
    assert ds.attrs["flagged_samples"] == int(ds.flagged.sum()) == c["flagged_samples"]
    E = ds.footprint.values
    det = ds.deterministic.values
    independent = (ds.fallback.values | ~np.isfinite(E).all(axis=(1, 2))
                   | ((E < 0) & (det > 0)).any(axis=(1, 2)))
    np.testing.assert_array_equal(ds.flagged.values, independent)


def test_moderate_uncertainty_flags_nothing(tiny_mrio):
    ds = sp.monte_carlo(tiny_mrio, demand(tiny_mrio), sp.Uncertainty(a_rsd=0.1, s_rsd=0.1),
                        samples=16, client="sync")
    assert ds.attrs["flagged_samples"] == 0 and ds.attrs["flagged_share"] == 0.0
    assert ds.attrs["nonfinite_samples"] == 0 and ds.attrs["negative_samples"] == 0


# ---- execution ----------------------------------------------------------------------------------
def test_auto_execution_stays_in_process_for_a_small_job(tiny_mrio):
    t = time.perf_counter()
    ds = sp.monte_carlo(tiny_mrio, demand(tiny_mrio), sp.Uncertainty(a_rsd=0.1), samples=16)
    assert ds.attrs["execution"] == "sync"
    assert time.perf_counter() - t < 10


def test_unreachable_scheduler_fails_fast_and_leaves_no_store(tiny_mrio, tmp_path):
    pytest.importorskip("distributed")
    store = tmp_path / "samples.zarr"
    t = time.perf_counter()
    with pytest.raises(ValidationError, match="scheduler"):
        sp.monte_carlo(tiny_mrio, demand(tiny_mrio), sp.Uncertainty(a_rsd=0.1), samples=4,
                       client="tcp://127.0.0.1:1", store=store)
    assert time.perf_counter() - t < mc.CONNECT_TIMEOUT_S + 10
    assert not store.exists()


def _script(tmp_path: Path, guarded: bool) -> Path:
    body = textwrap.dedent("""
        import warnings
        import numpy as np, xarray as xr
        import spendprint as sp
        m = sp.synthetic_mrio(regions=2, sectors=5, seed=3)
        y = xr.DataArray(np.ones((2, 5, 2)), dims=("region", "sector", "category"),
                         coords={"region": list(m.regions), "sector": list(m.sectors),
                                 "category": ["a", "b"]})
        ds = sp.monte_carlo(m, y, sp.Uncertainty(a_rsd=0.1), samples=8, client="local",
                            workers=2, stressors=["CO2"])
        print("EXECUTION", ds.attrs["execution"])
    """)
    if guarded:
        lines = body.strip().splitlines()
        body = "\n".join(["def main():"] + ["    " + ln for ln in lines]
                         + ["", 'if __name__ == "__main__":', "    main()", ""])
    p = tmp_path / ("guarded.py" if guarded else "plain.py")
    p.write_text(body)
    return p


def test_script_without_main_guard_falls_back_with_a_one_line_hint(tmp_path):
    pytest.importorskip("distributed")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run([sys.executable, str(_script(tmp_path, guarded=False))], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "EXECUTION sync" in r.stdout
    hint = [ln for ln in r.stderr.splitlines() if "__main__" in ln]
    assert hint and "Traceback" not in r.stderr and "Nanny" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 3, r.stderr


def test_main_guard_detection_reads_the_script(tmp_path):
    p = tmp_path / "g.py"
    p.write_text("import sys\nfrom spendprint.uncertainty.montecarlo import main_guard_missing\n"
                 "def f():\n    return main_guard_missing()\n"
                 "print('TOP', f())\n"
                 "if __name__ == '__main__':\n    print('GUARDED', f())\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run([sys.executable, str(p)], env=env, capture_output=True, text=True,
                       timeout=60)
    assert "TOP True" in r.stdout and "GUARDED False" in r.stdout, r.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mc.main_guard_missing() is False  # pytest's own __main__ is not a user script


# ---- fuzz: uncertainty files -----------------------------------------------------------------
hyp = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402

_scalar = hst.one_of(hst.floats(allow_nan=True, allow_infinity=True), hst.integers(-5, 10**6),
                     hst.sampled_from(["NO", "no", "yes", "schulte2024", "0.1", "*", "", "~",
                                       "null", ".inf", "1e400", "[", "{a: }", "CO2"]),
                     hst.booleans(), hst.none())
_value = hst.recursive(_scalar, lambda inner: hst.one_of(
    hst.lists(inner, max_size=3),
    hst.dictionaries(hst.sampled_from(["CO2", "CH4", "NO", "*", "default", "blocks", "R0:R1"]),
                     inner, max_size=3)), max_leaves=6)
_keys = hst.sampled_from(["a_rsd", "a_size_rule", "a_size_basis", "a_size_range", "s_rsd",
                          "spend_rsd", "dirichlet", "correlation", "meta", "bogus"])


def _yaml_text(d) -> str:
    import yaml

    return yaml.safe_dump(d, default_flow_style=True, allow_unicode=True)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(spec=hst.dictionaries(_keys, _value, max_size=4), raw=hst.booleans())
def test_fuzz_uncertainty_files_give_input_errors_only(tiny_mrio, tmp_path_factory, spec, raw):
    """No uncertainty file makes the library fail with anything but an input error (CLI exit 2,
    HTTP 422), and an accepted one runs (2 samples) or is refused with an input error."""
    from spendprint.errors import SpendprintError

    p = tmp_path_factory.mktemp("fz") / "u.yaml"
    text = _yaml_text(spec)
    if raw:  # YAML 1.1 spellings and broken syntax, not only what a dumper writes
        text = text.replace("'", "")
    p.write_text(text)
    try:
        u = sp.Uncertainty.from_yaml(p)
    except SpendprintError:
        return
    try:
        sp.monte_carlo(tiny_mrio, demand(tiny_mrio, m=2), u, samples=2, client="sync",
                       stressors=["CO2"], max_flagged_share=1.0)
    except SpendprintError:
        pass
