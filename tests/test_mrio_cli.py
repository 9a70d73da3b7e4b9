"""``spendprint mrio info`` through typer's CliRunner: units in square brackets survive (they are
not read as rich markup), every sector with ``--sectors``, every stressor with ``--indicators``,
nothing wrapped."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import spendprint as sp
from spendprint.cli._app import app


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """3 regions x 12 sectors, 35 stressors whose units and names look like rich markup."""
    rng = np.random.default_rng(7)
    R, P, k = 3, 12, 35
    n = R * P
    A = rng.uniform(0, 0.4 / n, (n, n))
    x = rng.uniform(1, 10, n)
    S = rng.uniform(0, 1, (k, n))
    stressors = ["CO2", "CH4", "[bold]N2O[/bold]"] + [f"flow {i}" for i in range(3, k)]
    units = ["kg", "kg", "kg"] + ["m2*yr" if i % 2 else "[red]t[/red]" for i in range(3, k)]
    sectors = tuple(f"Sector {p}, with a comma and some words to make a long line" for p in range(P))
    m = sp.MRIO(A=A, x=x, S=S, regions=("NO", "SE", "DE"), sectors=sectors,
                stressors=tuple(stressors), stressor_units=tuple(units),
                C=np.eye(1, k) * 1.0, impacts=("GWP [100 a]",), impact_units=("kg CO2e",),
                meta={"source": "test", "year": 2021, "money_unit": "M EUR"})
    path = tmp_path_factory.mktemp("mrio-cli") / "m.zarr"
    m.to_zarr(path)
    return path, m


def _info(*args: str) -> str:
    res = CliRunner().invoke(app, ["mrio", "info", *args], terminal_width=80)
    assert res.exit_code == 0, res.output
    return res.output


def test_units_and_names_print_literally(store):
    path, m = store
    out = _info(str(path), "--no-validate")
    assert "  indicator: CO2 [kg]\n" in out and "  indicator: CH4 [kg]\n" in out
    assert "  indicator: [bold]N2O[/bold] [kg]\n" in out  # markup-like names survive too
    assert "  indicator: GWP [100 a] [kg CO2e]\n" in out
    assert "  indicator: flow 4 [[red]t[/red]]\n" in out
    assert "money_unit: M EUR" in out and "3 regions x 12 sectors" in out
    # default: every impact and the first 30 stressors, then a count of the rest
    assert out.count("  indicator: ") == 1 + 30
    assert f"... {len(m.stressors) - 30} more stressors (--indicators lists all)" in out
    # the first 8 sectors on one unwrapped line
    line = next(s for s in out.splitlines() if s.startswith("  sectors (12): "))
    assert line.endswith(" ... (--sectors lists all)") and m.sectors[7] in line
    assert m.sectors[8] not in out


def test_every_sector_and_indicator_when_asked(store):
    path, m = store
    out = _info(str(path), "--sectors", "--indicators", "--no-validate")
    line = next(s for s in out.splitlines() if s.startswith("  sectors (12): "))
    assert line == "  sectors (12): " + ", ".join(m.sectors)  # one line, not wrapped at 80
    assert out.count("  indicator: ") == 1 + len(m.stressors)
    for name, unit in zip(m.stressors, m.stressor_units, strict=True):
        assert f"  indicator: {name} [{unit}]\n" in out
    assert "more stressors" not in out


def test_validation_report_and_bad_path(store, tmp_path, capsys):
    from spendprint.cli import main

    path, _ = store
    out = _info(str(path))
    assert "validation:" in out and "spectral radius of A" in out
    # through the entry point: a missing model is exit 2 with the path, no traceback
    assert main(["mrio", "info", str(tmp_path / "missing.zarr")]) == 2
    err = capsys.readouterr().err
    assert "missing.zarr" in err and "Traceback" not in err
