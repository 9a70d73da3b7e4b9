"""Issue 17 through the real CLI (``python -m spendprint`` in a subprocess)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200", "NO_COLOR": "1"}


def cli(*args: str, timeout: float = 180, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spendprint", *args], env=ENV, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "small.mrio"
    r = cli("mrio", "synth", str(path), "--regions", "6", "--sectors", "200", "--seed", "2")
    assert r.returncode == 0, r.stderr
    return path


def assert_input_error(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout[-1500:], r.stderr[-3000:])
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    for w in words:
        assert w in r.stderr, (w, r.stderr[-3000:])


# ---- usage errors (typer's bundled click) ------------------------------------------------------
@pytest.mark.parametrize("args,word", [(["nosuch"], "No such command"),
                                       (["run", "--nosuch"], "No such option"),
                                       (["run", "--samples", "abc"], "--samples")])
def test_usage_errors_are_short_and_exit_2(args, word):
    r = cli(*args, timeout=60)
    assert_input_error(r, word, "Usage:")
    assert len(r.stderr.splitlines()) < 10


# ---- bad values --------------------------------------------------------------------------------


@pytest.mark.parametrize("args,word", [
    (["--samples", "-1"], "samples"),
    (["--samples", "4", "--workers", "0"], "workers"),
    (["--samples", "1000000000000"], "memory budget")])
def test_bad_monte_carlo_counts_exit_2(model, tmp_path, args, word):
    t = time.perf_counter()
    r = cli("run", "--mrio", str(model), "--out", str(tmp_path / "out"), *args)
    assert_input_error(r, word)
    assert time.perf_counter() - t < 90
    assert not (tmp_path / "out" / "samples.zarr").exists()


def test_unreachable_scheduler_exits_2_fast_without_samples(model, tmp_path):
    t = time.perf_counter()
    r = cli("run", "--mrio", str(model), "--out", str(tmp_path / "out"), "--samples", "8",
            "--scheduler", "tcp://127.0.0.1:1")
    assert_input_error(r, "scheduler")
    assert time.perf_counter() - t < 90
    assert not (tmp_path / "out" / "samples.zarr").exists()


def test_out_naming_an_existing_file_exits_2(model, tmp_path):
    f = tmp_path / "taken.txt"
    f.write_text("x")
    r = cli("run", "--mrio", str(model), "--out", str(f))
    assert_input_error(r, "taken.txt")


# ---- readers -----------------------------------------------------------------------------------
def test_wide_header_ledger_is_refused_fast(model, tmp_path):
    p = tmp_path / "wide.csv"
    p.write_text(",".join(f"c{i}" for i in range(400_000)) + "\n" + "1," * 10 + "\n")
    t = time.perf_counter()
    r = cli("run", "--mrio", str(model), "--ledger", str(p), "--out", str(tmp_path / "o"))
    assert_input_error(r, "wide.csv")
    assert time.perf_counter() - t < 60  # was over 13 minutes


@pytest.mark.parametrize("name,content", [
    ("header_only.csv", "category,amount,currency,year\n"),
    ("empty.csv", ""),
                                          ("notzip.xlsx", "this is not a zip file")])
def test_unreadable_ledgers_exit_2(model, tmp_path, name, content):
    p = tmp_path / name
    p.write_text(content)
    r = cli("run", "--mrio", str(model), "--ledger", str(p), "--out", str(tmp_path / "o"))
    assert_input_error(r, name)


def test_norway_in_scenario_yaml_is_a_region(model, tmp_path):
    p = tmp_path / "scen.yaml"
    p.write_text("scenarios:\n  - name: buy from Norway\n    levers:\n"
                 "      - {category: Examination gloves, lever: origin, region: NO}\n")
    r = cli("run", "--mrio", str(model), "--scenarios", str(p), "--out", str(tmp_path / "o"))
    assert "False" not in r.stderr, r.stderr[-2000:]
    assert r.returncode == 0, r.stderr[-3000:]


# ---- Ctrl-C --------------------------------------------------------------------------------------
def _interrupt(args: list[str], wait_for: str, tmp_path: Path) -> tuple[int, str, float]:
    p = subprocess.Popen([sys.executable, "-m", "spendprint", *args], env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    seen = ""
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        seen += line
        if wait_for in line:
            break
    time.sleep(0.5)
    t = time.monotonic()
    os.killpg(p.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the whole process group
    try:
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    return p.returncode, err, time.monotonic() - t


def test_ctrl_c_exits_130(model, tmp_path):
    rc, err, dt = _interrupt(["run", "--mrio", str(model), "--out", str(tmp_path / "o")],
                             "ledger", tmp_path)
    assert rc == 130, (rc, err[-3000:])
    assert "interrupted" in err and "Traceback" not in err


def test_ctrl_c_mid_monte_carlo_exits_130(model, tmp_path):
    rc, err, dt = _interrupt(["run", "--mrio", str(model), "--out", str(tmp_path / "o"),
                              "--samples", "20000", "--workers", "1", "--chunk-size", "16"],
                             "Monte Carlo", tmp_path)
    assert rc == 130, (rc, err[-3000:])
    assert "interrupted" in err and "Traceback" not in err
