"""``spendprint run`` end to end: outputs, numbers against the Python API, errors, the report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import spendprint as sp
from spendprint.cli import main
from spendprint.io.atomic import atomic_path
from spendprint.jobs.provenance import sha256_path
from spendprint.procurement import demo_paths


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "small.zarr"
    sp.synthetic_mrio(regions=8, sectors=60, seed=1).to_zarr(path)
    return path


@pytest.fixture(scope="module")
def small_run(small_store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert main(["run", "--mrio", str(small_store), "--out", str(out), "--spa-top", "2"]) == 0
    return out


def test_run_writes_every_output(small_run):
    names = {p.name for p in small_run.iterdir()}
    assert {"categories.parquet", "categories.csv", "results.zarr", "report.html", "run.json"} <= names
    # only the run's lock file and the manifest of its output set; no temporary files
    assert sorted(n for n in names if n.startswith(".")) == [".spendprint-set.json",
                                                             ".spendprint.lock"]
    table = pd.read_parquet(small_run / "categories.parquet")
    assert table.groupby("category").size().eq(5).all() and table["category"].nunique() == 80
    assert {"footprint", "spend_model", "spend_ledger", "share", "rank", "best_origin_savings", "best_origin_footprint", "risk_hours"} <= set(table.columns)
    csv = pd.read_csv(small_run / "categories.csv")
    np.testing.assert_allclose(csv["footprint"].to_numpy(), table["footprint"].to_numpy(), rtol=1e-12)
    ds = xr.open_zarr(small_run / "results.zarr", consolidated=False)
    assert ds.sizes["category"] == 80 and "by_origin_region" in ds


def test_run_numbers_equal_python_api_and_dense_reference(small_run, small_store):
    mrio = sp.open_mrio(small_store)
    ledger, conc = sp.demo_inputs()
    demand = sp.procurement_demand(mrio, ledger, conc, buyer_region="NO")
    L = np.linalg.inv(np.eye(mrio.n) - mrio.A)
    ref = (mrio.S_all(["CO2e"]) @ L @ demand.values.reshape(mrio.n, -1))[0]
    table = pd.read_parquet(small_run / "categories.parquet").query("stressor == 'CO2e'")
    got = table.set_index("category")["footprint"].reindex([str(c) for c in demand["category"].values])
    np.testing.assert_allclose(got.to_numpy(), ref, rtol=1e-9)
    # the ranking is the ranking of the footprints
    assert table.sort_values("rank")["footprint"].is_monotonic_decreasing


def test_run_json_provenance(small_run, small_store):
    prov = json.loads((small_run / "run.json").read_text())
    assert prov["inputs"]["ledger"]["sha256"] == sha256_path(demo_paths()["ledger"])
    assert prov["inputs"]["mrio"]["sha256"] == sha256_path(small_store)
    assert prov["versions"]["numpy"] == np.__version__
    assert prov["timings_s"]["total"] > 0 and prov["settings"]["buyer_region"] == "NO"
    assert prov["model"]["solver"]["max_residual"] < 1e-10


def test_report_has_charts_and_synthetic_banner(small_run):
    text = (small_run / "report.html").read_text()
    assert text.count("<svg") >= 7
    for heading in ("Hotspots", "Pareto", "Spend share vs emission share", "Where the emissions happen",
                    "Carbon-savings potential", "Labour-risk screen", "Scenarios",
                    "Supply-chain paths"):
        assert heading in text, heading
    assert "SYNTHETIC WORLD" in text
    # self-contained: nothing is loaded from elsewhere
    for external in ('src="http', "src='http", 'href="http', "<link", "<script src", "@import"):
        assert external not in text, external


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_report_renders_in_headless_chromium(small_run, tmp_path):
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
           "--dump-dom", (small_run / "report.html").as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert dom.count("<svg") >= 7 and "Labour-risk screen" in dom
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console


def test_ledger_full_of_errors_exits_2_and_names_rows(small_store, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "category,amount,currency,year,supplier_country\n"
        "Examination gloves,100,NOK,2023,Malaysia\n"
        "Examination gloves,abc,NOK,2023,Malaysia\n"
        "Unknown thing,5,NOK,2023,\n"
        "Surgical instruments,-3,NOK,2023,\n"
        "Bed linen and towels,10,XYZ,2023,\n"
        "Bed linen and towels,10,NOK,1850,\n"
        "Bed linen and towels,10,NOK,2023,Atlantis\n"
    )
    proc = subprocess.run([sys.executable, "-m", "spendprint", "run", "--mrio", str(small_store),
                           "--ledger", str(bad), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr[-3000:]
    err = proc.stderr
    assert "Traceback" not in err
    for fragment in ("bad.csv", "row 3", "row 4", "row 5", "row 6", "row 7", "row 8", "amount",
                     "currency", "year", "supplier_country"):
        assert fragment in err, (fragment, err)
    assert not (tmp_path / "o" / "report.html").exists()


def test_unknown_stressor_is_a_user_error(small_store, tmp_path):
    code = main(["run", "--mrio", str(small_store), "--out", str(tmp_path / "o"), "--stressor", "SO2",
                 "--spa-top", "0"])
    assert code == 2


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "result.parquet"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as p:
        p.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [q.name for q in tmp_path.iterdir()] == ["result.parquet"]


def test_run_with_monte_carlo_columns_report_and_resume(small_store, tmp_path):
    out = tmp_path / "mc"
    args = ["run", "--mrio", str(small_store), "--out", str(out), "--samples", "24", "--seed", "3",
            "--workers", "1", "--spa-top", "0"]
    assert main(args) == 0
    table = pd.read_parquet(out / "categories.parquet").query("stressor == 'CO2e'").set_index("category")
    for col in ("mean", "sd", "p2.5", "p5", "p50", "p95", "p97.5", "p_top5", "p_top10"):
        assert col in table.columns and table[col].notna().all(), col
    assert (table["p2.5"] <= table["p50"]).all() and (table["p50"] <= table["p97.5"]).all()
    # the mean is near the deterministic footprint (24 samples: within 4 Monte Carlo standard errors
    # plus the small mean shift the convex inverse adds)
    err = (table["mean"] - table["footprint"]).abs() / (table["sd"] / np.sqrt(24) + 1e-12)
    assert (err < 6).mean() > 0.9
    assert np.isclose(table["p_top10"].sum(), 10.0)
    assert "Uncertainty (Monte Carlo)" in (out / "report.html").read_text()
    assert (out / "samples.zarr").exists()
    first = table.copy()
    # a second run with the same settings resumes from samples.zarr and gives the same numbers
    assert main(args) == 0
    again = pd.read_parquet(out / "categories.parquet").query("stressor == 'CO2e'").set_index("category")
    pd.testing.assert_frame_equal(first, again)


def test_monte_carlo_run_killed_with_sigkill_resumes_to_the_same_numbers(small_store, tmp_path):
    import os
    import signal
    import time

    def cmd(out):
        return [sys.executable, "-m", "spendprint", "run", "--mrio", str(small_store), "--out", str(out),
                "--samples", "240", "--seed", "11", "--chunk-size", "8", "--workers", "1",
                "--spa-top", "0"]

    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # the run stages its outputs; the resumable samples.zarr lives in the staging folder
    done_dir = killed / ".staging-run" / "samples.zarr" / "_done"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if done_dir.is_dir() and len(list(done_dir.iterdir())) >= 3:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    partial = len(list(done_dir.iterdir()))
    assert 3 <= partial < 30
    assert not (killed / "categories.parquet").exists()
    # resume: the second run computes only the missing chunks and ends with the numbers of an
    # uninterrupted run
    assert subprocess.run(cmd(killed), capture_output=True).returncode == 0
    assert subprocess.run(cmd(tmp_path / "clean"), capture_output=True).returncode == 0
    a = pd.read_parquet(killed / "categories.parquet")
    b = pd.read_parquet(tmp_path / "clean" / "categories.parquet")
    cols = ["mean", "sd", "p2.5", "p50", "p97.5", "p_top5", "p_top10"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)
    import zarr

    sa = zarr.open_group(str(killed / "samples.zarr"), mode="r")["footprint"][...]
    sb = zarr.open_group(str(tmp_path / "clean" / "samples.zarr"), mode="r")["footprint"][...]
    assert np.isfinite(sa).all() and np.array_equal(sa, sb)
