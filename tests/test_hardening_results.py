"""Never a wrong number with exit 0: results are checked before they are written (issue 17)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import spendprint as sp
from spendprint.procurement import Concordance, Ledger, ProcurementDemand, demo_inputs
from tests.test_hardening_cli import assert_input_error, cli


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "w.zarr"
    sp.synthetic_mrio(regions=6, sectors=200, seed=3).to_zarr(path)
    return path


def test_overflowing_ledger_amounts_exit_2_and_write_nothing(world, tmp_path):
    """Two rows of 1e308 overflow to inf when summed: the run used to print "nan million kg"
    and exit 0."""
    ledger = tmp_path / "huge.csv"
    ledger.write_text("category,amount,currency,year\n"
                      "Examination gloves,1e308,EUR,2022\nExamination gloves,1e308,EUR,2022\n")
    out = tmp_path / "out"
    r = cli("run", "--mrio", str(world), "--ledger", str(ledger), "--concordance",
            str(sp.procurement.demo_paths()["concordance"]), "--out", str(out))
    assert_input_error(r)
    assert "nan" not in r.stdout.lower()
    assert not (out / "categories.csv").exists() and not (out / "report.html").exists()


def test_a_good_run_after_a_refused_one_writes_a_complete_set(world, tmp_path):
    out = tmp_path / "out"
    r = cli("run", "--mrio", str(world), "--out", str(out), "--spa-top", "0")
    assert r.returncode == 0, r.stderr[-2000:]
    table = pd.read_csv(out / "categories.csv")
    assert np.isfinite(table["footprint"]).all()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".staging")]


def test_origin_with_zero_output_is_an_error_not_margins_only():
    m = sp.synthetic_mrio(regions=6, sectors=200, seed=3)
    ledger, conc = demo_inputs()
    sector = conc.frame.loc[conc.frame["category"] == "Examination gloves", "sector"].iloc[0]
    x = np.array(m.x).reshape(len(m.regions), len(m.sectors))
    x[m.regions.index("DE"), m.sectors.index(sector)] = 0.0  # Germany makes none of it
    dead = m.replace(x=x.ravel())
    frame = conc.frame.copy()
    frame.loc[frame["category"] == "Examination gloves", "origin_region"] = "DE"
    conc_de = Concordance.from_frame(frame, source="conc.csv")
    gloves = Ledger.from_frame(ledger.frame[ledger.frame["category"] == "Examination gloves"]
                               .assign(supplier_country=""), source="gloves.csv")
    with pytest.raises(sp.LedgerError, match="zero output") as ei:
        ProcurementDemand.build(dead, gloves, conc_de)
    assert "Examination gloves" in str(ei.value) and "DE" in str(ei.value)
    ProcurementDemand.build(m, gloves, conc_de)  # with output there, the same inputs are fine


def test_empty_ledger_frame_is_a_ledger_error():
    _, conc = demo_inputs()
    empty = Ledger.from_frame(pd.DataFrame(columns=["category", "amount", "currency", "year"]))
    with pytest.raises(sp.LedgerError, match="no rows"):
        ProcurementDemand.build(sp.synthetic_mrio(regions=6, sectors=200, seed=3), empty, conc)


def test_two_runs_into_one_folder_the_second_exits_2_naming_the_first(world, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.test_hardening_cli import ENV

    out = tmp_path / "out"
    first = subprocess.Popen(
        [sys.executable, "-m", "spendprint", "run", "--mrio", str(world), "--out", str(out),
         "--samples", "100000", "--workers", "1", "--chunk-size", "16", "--spa-top", "0"],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / ".staging-run").is_dir():
            time.sleep(0.1)
        assert first.poll() is None, "the first run ended before the second started"
        r = cli("run", "--mrio", str(world), "--out", str(out), "--spa-top", "0")
        assert_input_error(r, "another spendprint run", f"pid {first.pid}")
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.wait(timeout=120)
    assert first.returncode == 130
    assert not (out / "categories.csv").exists()  # neither run left a partial or mixed set


def test_deterministic_run_removes_the_stale_samples_of_an_earlier_monte_carlo_run(world, tmp_path):
    out = tmp_path / "out"
    r = cli("run", "--mrio", str(world), "--out", str(out), "--samples", "8", "--workers", "1",
            "--spa-top", "0")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "samples.zarr").is_dir()
    r = cli("run", "--mrio", str(world), "--out", str(out), "--spa-top", "0")
    assert r.returncode == 0, r.stderr[-2000:]
    assert not (out / "samples.zarr").exists()
    assert "mean" not in pd.read_csv(out / "categories.csv").columns
