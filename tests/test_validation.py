"""Validation for real data: warnings with counts and named entries, fatal checks at every load."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sps

import spendprint as sp
from spendprint.core import validation as V
from spendprint.core.validation import (
    ValidationReport,
    check_productive,
    power_bounds,
    quick_checks,
    spectral_radius,
    validate,
)


def _model(A, x=None, Y=None, regions=("AA", "BB"), fd=("hh",)):
    n = A.shape[0]
    P = n // len(regions)
    rng = np.random.default_rng(5)
    S = rng.lognormal(0.0, 1.0, (2, n))
    if x is None:
        ysum = Y.sum(axis=1) if Y is not None else np.ones(n)
        x = np.linalg.solve(np.eye(n) - (A.toarray() if sps.issparse(A) else A), ysum)
    return sp.MRIO(A=A, x=x, S=S, regions=regions, sectors=tuple(f"p{i}" for i in range(P)),
                   stressors=("CO2", "CH4"), stressor_units=("kg", "kg"), Y=Y,
                   fd_categories=fd if Y is not None else ())


def _negative_model():
    """2 regions x 10 products with three negative coefficients at known places."""
    rng = np.random.default_rng(11)
    n = 20
    A = rng.random((n, n)) * (rng.random((n, n)) < 0.4)
    A *= 0.6 / A.sum(axis=0).max()
    A[3, 7], A[12, 1], A[0, 19], A[5, 5] = -0.02, -0.05, -0.001, -0.01
    Y = np.abs(rng.normal(10.0, 3.0, (n, 2)))
    return _model(A, Y=Y)


def test_negative_coefficients_are_warnings_with_counts_and_named_worst_entries():
    m = _negative_model()
    rep = validate(m)
    assert isinstance(rep, ValidationReport) and rep.ok and rep.problems == []
    f = rep.figures
    assert f["negative_A_count"] == 4
    assert f["negative_A_sum"] == pytest.approx(-0.081, abs=1e-15)
    # worst three, most negative first, named (region/sector row, region/sector column)
    assert f["negative_A_worst"] == [
        {"row": "BB/p2", "column": "AA/p1", "value": -0.05},
        {"row": "AA/p3", "column": "AA/p7", "value": -0.02},
        {"row": "AA/p5", "column": "AA/p5", "value": -0.01},
    ]
    assert len(rep.warnings) == 1
    assert "A has 4 negative coefficient(s), sum -0.081" in rep.warnings[0]
    assert "BB/p2 <- AA/p1 = -0.05" in rep.warnings[0]
    # the radius is the true one, from dense eigenvalues
    rho = np.max(np.abs(np.linalg.eigvals(m.A)))
    assert f["spectral_radius"] == pytest.approx(rho, rel=1e-12)
    assert f["spectral_radius_method"].startswith("dense eigenvalues")
    # x balanced by construction: no balance warning; the same for a sparse A
    assert f["balance_count"] == 0
    srep = validate(m.replace(A=sps.csr_array(m.A)))
    assert srep.figures["negative_A_worst"] == f["negative_A_worst"]


def test_results_with_negative_coefficients_are_exact():
    m = _negative_model()
    I_A = np.eye(m.n) - m.A
    expected = np.linalg.solve(I_A.T, m.S.T).T  # S (I - A)^-1, dense
    got = sp.multipliers(m).values.reshape(2, m.n)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    y = m.Y.sum(axis=1)
    fp = sp.footprint(m, y, stressors="CO2")
    assert float(fp.total.values[0]) == pytest.approx(expected[0] @ y, rel=1e-12)
    # x = (I - A)^-1 Y 1 by construction, so the footprint of all final demand is S x
    assert float(fp.total.values[0]) == pytest.approx(m.S[0] @ m.x, rel=1e-10)


def test_negative_final_demand_zero_output_and_balance_warnings():
    m = _negative_model()
    Y = np.array(m.Y)
    Y[4, 1], Y[9, 0] = -3.0, -1.5  # inventory drawdowns
    x = np.array(m.x)
    x[6] = 0.0  # a zero-output sector
    bad = m.replace(Y=Y, x=x)
    rep = validate(bad, balance_rtol=1e-6)
    f = rep.figures
    assert f["negative_Y_count"] == 2 and f["negative_Y_sum"] == pytest.approx(-4.5)
    assert f["zero_x_count"] == 1 and f["negative_x_count"] == 0
    text = "\n".join(rep.warnings)
    assert "Y has 2 negative final-demand" in text and "AA/p4 in BB/hh = -3" in text
    assert "x has 1 zero-output sector(s): AA/p6" in text
    assert "not consistent with Z and Y" in text and "tolerance 1e-06" in text
    assert f["balance_count"] >= 1 and f["balance_max_rel"] > 1e-6
    with pytest.raises(sp.ValidationError, match="strict validation"):
        validate(bad, strict=True)
    with pytest.raises(sp.ValidationError, match="Y has 2 negative"):
        bad.validate(strict=True)
    assert bad.validate() is bad  # warnings alone do not raise


def test_column_sum_above_one_with_radius_below_one_is_fine():
    # a column summing to 1.2 in a triangular A: eigenvalues are the diagonal (0.1, 0.2, 0.3)
    A = np.array([[0.1, 0.0, 0.9], [0.0, 0.2, 0.0], [0.0, 0.0, 0.3]])
    m = _model(A, regions=("R",))
    rep = validate(m, strict=True)
    assert rep.warnings == []
    assert rep.figures["colsum_max"] == pytest.approx(1.2)
    assert rep.figures["columns_above_one"] == 1
    assert rep.figures["spectral_radius"] == pytest.approx(0.3, rel=1e-12)
    rho, method = quick_checks(m)
    assert rho < 1 and "power iteration" in method  # column-sum bound 1.2 inconclusive


def test_spectral_radius_at_or_above_one_is_fatal():
    A = np.array([[0.5, 0.7], [0.7, 0.5]])  # radius 1.2
    m = _model(A, x=np.ones(2), regions=("R",))
    with pytest.raises(sp.NotProductiveError, match=r"spectral radius of A is 1\.2 by dense"):
        validate(m)
    with pytest.raises(sp.NotProductiveError, match="spectral radius"):
        quick_checks(m)
    rep = validate(m, raise_errors=False)
    assert not rep.ok and "spectral radius of A is 1.2" in rep.problems[0]
    assert "problem:" in rep.lines()[0]


def test_nan_shapes_and_labels_are_fatal(tiny_mrio):
    A = tiny_mrio.A.copy()
    A[2, 5] = np.inf
    with pytest.raises(sp.ValidationError, match=r"A contains 1 NaN/inf value\(s\) at index \(2, 5\)"):
        validate(tiny_mrio.replace(A=A))
    with pytest.raises(sp.ValidationError, match=r"NaN/inf"):
        quick_checks(tiny_mrio.replace(A=A))
    S = tiny_mrio.S.copy()
    S[0, 0] = np.nan
    with pytest.raises(sp.ValidationError, match=r"S contains 1 NaN"):
        quick_checks(tiny_mrio.replace(S=S))
    with pytest.raises(sp.LabelMismatchError, match="x has shape"):
        quick_checks(tiny_mrio.replace(x=tiny_mrio.x[:-1]))
    with pytest.raises(sp.LabelMismatchError, match="duplicate"):
        validate(tiny_mrio.replace(sectors=(tiny_mrio.sectors[0],) * len(tiny_mrio.sectors)))


def _cyclic(n, scale):
    """Scaled cyclic permutation: every eigenvalue has modulus `scale` (ARPACK's worst case)."""
    return sps.csr_array((np.full(n, scale), (np.roll(np.arange(n), 1), np.arange(n))), shape=(n, n))


def test_arpack_failure_falls_back_and_names_the_method(monkeypatch):
    P = _cyclic(300, 0.5)
    rho, method = spectral_radius(P, dense_max=0, arpack_maxiter=1)
    assert rho == pytest.approx(0.5, rel=1e-12) and not np.isnan(rho)
    assert method == "dense eigenvalues (ARPACK failed: ArpackNoConvergence)"
    with pytest.raises(sp.NotProductiveError) as info:
        check_productive(_cyclic(300, 1.2), exact=True, dense_max=0, arpack_maxiter=1)
    msg = str(info.value)
    assert "spectral radius of A is 1.2 by dense eigenvalues (ARPACK failed" in msg and "nan" not in msg
    # above the dense fallback size: the power-iteration bound, never NaN
    monkeypatch.setattr(V, "DENSE_FALLBACK_MAX", 10)
    rho, method = spectral_radius(P, dense_max=0, arpack_maxiter=1)
    assert rho == pytest.approx(0.5, rel=1e-9)
    assert method.startswith("power-iteration upper bound") and "ARPACK failed" in method


def test_power_bounds_bracket_the_perron_root():
    rng = np.random.default_rng(3)
    B = rng.random((40, 40)) * (rng.random((40, 40)) < 0.3)
    rho = float(np.max(np.abs(np.linalg.eigvals(B))))
    lo, hi = power_bounds(B)
    assert lo <= rho * (1 + 1e-12) and hi >= rho * (1 - 1e-12)
    assert hi - lo < 1e-6 * rho


def test_to_zarr_refuses_nan(tmp_path, tiny_mrio):
    A = tiny_mrio.A.copy()
    A[0, 1] = np.nan
    with pytest.raises(sp.ValidationError, match="A contains 1 NaN/inf"):
        tiny_mrio.replace(A=A).to_zarr(tmp_path / "nan.zarr")
    assert not (tmp_path / "nan.zarr").exists()
    x = tiny_mrio.x.copy()
    x[0] = np.inf
    with pytest.raises(sp.ValidationError, match="x contains"):
        tiny_mrio.replace(x=x).to_zarr(tmp_path / "inf.zarr")


def _cli(*args, **env):
    return subprocess.run([sys.executable, "-m", "spendprint.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


def test_non_productive_store_refused_at_load_whatever_the_flags(tmp_path, tiny_mrio):
    store = tmp_path / "np.zarr"
    tiny_mrio.replace(A=tiny_mrio.A * 3.0, Y=None).to_zarr(store)  # finite, so it can be written
    with pytest.raises(sp.NotProductiveError, match="np.zarr"):
        sp.open_mrio(store)  # validate=False: the cheap fatal checks still run
    proc = _cli("mrio", "info", str(store))
    assert proc.returncode == 2, proc.stderr
    assert "not productive" in proc.stderr and "spectral radius" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _cli("mrio", "import", str(store), str(tmp_path / "copy.zarr"), "--no-validate")
    assert proc.returncode == 2 and "not productive" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "copy.zarr").exists()


def test_cli_info_units_sectors_and_strict_import(tmp_path, monkeypatch, capsys):
    from spendprint.cli import main

    monkeypatch.setenv("COLUMNS", "400")  # rich wraps at 80 columns otherwise
    m = _negative_model()
    store = tmp_path / "neg.zarr"
    m.to_zarr(store)
    assert main(["mrio", "info", str(store), "--sectors"]) == 0
    out = capsys.readouterr().out
    assert "indicator: CO2 [kg]" in out and "indicator: CH4 [kg]" in out
    assert "sectors (10): p0, p1, p2, p3, p4, p5, p6, p7, p8, p9\n" in out
    assert "warning: A has 4 negative coefficient(s)" in out and "spectral radius of A:" in out
    assert main(["mrio", "info", str(store)]) == 0
    assert "p6, p7 ... (--sectors lists all)" in capsys.readouterr().out
    assert main(["mrio", "sectors", str(store)]) == 0
    assert capsys.readouterr().out.split() == [f"p{i}" for i in range(10)]
    # import: warnings printed and the store written; --strict refuses with exit 2
    assert main(["mrio", "import", str(store), str(tmp_path / "ok.zarr")]) == 0
    assert "warning: A has 4 negative" in capsys.readouterr().out
    assert sp.open_mrio(tmp_path / "ok.zarr").sectors == m.sectors
    assert main(["mrio", "import", str(store), str(tmp_path / "strict.zarr"), "--strict"]) == 2
    assert "strict validation" in capsys.readouterr().err
    assert not (tmp_path / "strict.zarr").exists()
    # the synthetic world's products when no model is given
    assert main(["mrio", "sectors"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 200 and lines[0] == "Paddy rice"
