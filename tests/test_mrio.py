"""MRIO container: validation errors, aggregation, the synthetic world, the native store."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sps

import spendprint as sp
from spendprint.cli import main


def test_synthetic_is_deterministic_balanced_and_exiobase_like():
    a = sp.synthetic_mrio(regions=10, sectors=80, seed=3)
    b = sp.synthetic_mrio(regions=10, sectors=80, seed=3)
    c = sp.synthetic_mrio(regions=10, sectors=80, seed=4)
    assert np.array_equal(a.A, b.A) and np.array_equal(a.S, b.S) and np.array_equal(a.Y, b.Y)
    assert not np.array_equal(a.A, c.A)
    a.validate(balance_rtol=1e-9)
    # x = A x + Y 1 exactly, productive, and EXIOBASE labels
    np.testing.assert_allclose(a.x, a.A @ a.x + a.Y.sum(axis=1), rtol=1e-10)
    assert a.A.sum(axis=0).max() < 1
    assert {"NO", "CN", "IN", "WA"} <= set(a.regions)
    assert "Rubber and plastic products (25)" in a.sectors
    assert a.meta["source"] == "synthetic" and "SYNTHETIC" in a.meta["note"]
    # domestic blocks denser than import blocks; heavy-tailed CO2 intensities
    P = len(a.sectors)
    dom = np.mean([np.count_nonzero(a.A[r * P:(r + 1) * P, r * P:(r + 1) * P]) for r in range(10)]) / P**2
    imp = np.count_nonzero(a.A[:P, P:2 * P]) / P**2
    assert dom > imp
    co2 = a.S[0]
    assert co2.max() / np.median(co2) > 20


def test_bad_sizes_rejected():
    with pytest.raises(sp.ValidationError, match="regions must be between"):
        sp.synthetic_mrio(regions=60)
    with pytest.raises(sp.ValidationError, match="sectors must be between"):
        sp.synthetic_mrio(sectors=0)


def _broken(mrio, **changes):
    return mrio.replace(**changes)


def test_validation_errors_name_the_problem(tiny_mrio):
    m = tiny_mrio
    A = m.A.copy()
    A[2, 5] = np.nan
    with pytest.raises(sp.ValidationError, match=r"A contains 1 NaN/inf value\(s\) at index \(2, 5\)"):
        _broken(m, A=A).validate()
    # a negative coefficient is a warning (real tables have them), an error only when strict
    A = m.A.copy()
    A[1, 4] = -0.1
    where_row, where_col = f"{m.regions[0]}/{m.sectors[1]}", f"{m.regions[0]}/{m.sectors[4]}"
    report = sp.validate(_broken(m, A=A))
    assert report.problems == [] and report.figures["negative_A_count"] == 1
    assert f"{where_row} <- {where_col} = -0.1" in report.warnings[0]
    with pytest.raises(sp.ValidationError, match=r"strict validation: A has 1 negative coefficient"):
        _broken(m, A=A).validate(strict=True)
    with pytest.raises(sp.LabelMismatchError, match="A has shape"):
        _broken(m, A=m.A[:-1, :-1]).validate()
    with pytest.raises(sp.LabelMismatchError, match="S has shape"):
        _broken(m, S=m.S[:2]).validate()
    with pytest.raises(sp.LabelMismatchError, match="duplicate"):
        _broken(m, regions=(m.regions[0],) * len(m.regions)).validate()
    # x inconsistent with Z and Y
    x = m.x.copy()
    x[3] *= 1.5
    report = sp.validate(_broken(m, x=x))
    assert report.figures["balance_count"] >= 1
    assert any("not consistent with Z and Y" in w and "tolerance 1e-06" in w for w in report.warnings)
    with pytest.raises(sp.ValidationError, match="not consistent with Z and Y"):
        _broken(m, x=x).validate(strict=True)


def test_non_productive_and_singular_systems(tiny_mrio):
    A = tiny_mrio.A * 3.0  # column sums up to ~2: spectral radius > 1
    with pytest.raises(sp.NotProductiveError, match="spectral radius"):
        tiny_mrio.replace(A=A, Y=None).validate()
    # a column sum of exactly one on a closed 2-sector economy: (I - A) singular
    sing = np.array([[0.5, 0.5], [0.5, 0.5]])
    m = sp.MRIO(A=sing, x=np.ones(2), S=np.ones((1, 2)), regions=("R",), sectors=("a", "b"),
                stressors=("e",), stressor_units=("kg",))
    with pytest.raises(sp.NotProductiveError):
        m.validate()
    with pytest.raises(sp.NotProductiveError, match="singular"):
        sp.multipliers(m)


def test_aggregation_preserves_footprint_of_aggregated_demand(small_mrio):
    m = small_mrio
    mapping = {r: ("NO" if r == "NO" else "ROW") for r in m.regions}
    agg = sp.aggregate(m, regions=mapping).validate(balance_rtol=1e-9)
    assert set(agg.regions) == {"NO", "ROW"} and agg.sectors == m.sectors
    # flows are preserved: total output and total stressors
    np.testing.assert_allclose(agg.x.sum(), m.x.sum(), rtol=1e-12)
    np.testing.assert_allclose(agg.F.sum(axis=1), m.F.sum(axis=1), rtol=1e-12)
    # the footprint of total final demand is the total of stressors, in both models
    for model in (m, agg):
        fp = sp.footprint(model, model.Y.sum(axis=1), stressors="CO2")
        np.testing.assert_allclose(fp.total.values[0], model.F[0].sum(), rtol=1e-9)
    with pytest.raises(sp.LabelMismatchError, match="mapping lacks"):
        sp.aggregate(m, regions={"NO": "NO"})


def test_store_round_trip_dense_and_sparse(tmp_path, small_mrio):
    m = small_mrio
    m.to_zarr(tmp_path / "d.zarr")
    back = sp.open_mrio(tmp_path / "d.zarr")
    for f in ("A", "x", "S", "Y", "C"):
        assert np.array_equal(getattr(back, f), getattr(m, f)), f
    assert back.regions == m.regions and back.sectors == m.sectors and back.indicators == m.indicators
    assert dict(back.meta) == dict(m.meta)
    sparse = m.replace(A=sps.csr_array(m.A))
    sparse.to_zarr(tmp_path / "s.zarr")
    sback = sp.open_mrio(tmp_path / "s.zarr")
    assert sback.is_sparse and np.array_equal(sback.A.toarray(), m.A)
    np.testing.assert_allclose(sp.multipliers(sback).values, sp.multipliers(m).values, rtol=1e-10)
    # overwriting is atomic: no temporary siblings are left behind
    m.to_zarr(tmp_path / "d.zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.zarr", "s.zarr"]


def test_store_errors(tmp_path):
    with pytest.raises(sp.InputFileError, match="no such MRIO store"):
        sp.open_mrio(tmp_path / "missing.zarr")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "zarr.json").write_text("{not json")
    with pytest.raises(sp.InputFileError, match="junk"):
        sp.open_mrio(tmp_path / "junk")


def test_cli_synth_info_and_errors(tmp_path, capsys):
    store = tmp_path / "w.zarr"
    assert main(["mrio", "synth", str(store), "--regions", "3", "--sectors", "15", "--seed", "2"]) == 0
    assert main(["mrio", "info", str(store)]) == 0
    out = capsys.readouterr().out
    assert "3 regions x 15 sectors" in out and "CO2e" in out and "spectral radius of A" in out
    m = sp.open_mrio(store)
    assert np.array_equal(m.A, sp.synthetic_mrio(regions=3, sectors=15, seed=2).A)
    # user errors: exit code 2, a message, no traceback
    proc = subprocess.run([sys.executable, "-m", "spendprint.cli", "mrio", "synth", str(tmp_path / "x"),
                           "--regions", "99"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "regions must be between 1 and 49" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "spendprint.cli", "mrio", "info",
                           str(tmp_path / "nope.zarr")], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
