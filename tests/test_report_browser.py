"""The report in a real browser (Debian's chromium, headless): it loads without script errors, the
summary is there, no table cell is in scientific notation, every category name is shown in full,
every chart has a non-zero size, and sorting works. A screenshot is taken for the eye.

The page records these checks itself into ``<pre id="report-checks">`` (see
`spendprint.report.page`); chromium's ``--dump-dom`` returns the page after its scripts ran.
Set ``SPENDPRINT_SCREENSHOTS=<folder>`` to keep the screenshots.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from spendprint.jobs import main_job as mj

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def _chromium(profile: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-quic", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module", params=["deterministic", "monte_carlo"])
def report(request, tmp_path_factory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp(f"browser-{request.param}") / "out"
    samples = 12 if request.param == "monte_carlo" else 0
    res = mj.run_job(mj.RunConfig(out=str(out), samples=samples, workers=1, spa_top=2,
                                  synthetic={"regions": 8, "sectors": 60, "seed": 1}))
    cats = [str(c) for c in res.dataset["category"].values]
    return out / "report.html", cats


def test_report_in_chromium(report, tmp_path):
    page, categories = report
    proc = _chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r"<pre id=\"report-checks\"[^>]*>(.*?)</pre>", proc.stdout, re.S)
    assert m and m.group(1).strip(), "the page's checks did not run"
    checks = json.loads(html.unescape(m.group(1)))
    assert checks["errors"] == []
    console = [ln for ln in proc.stderr.splitlines() if "Uncaught" in ln or "CONSOLE(" in ln]
    assert not console, console
    assert checks["summary"] is True and checks["sortable"] is True
    assert checks["scientific"] == []
    assert checks["charts"] and all(c["width"] > 100 and c["height"] > 100
                                    for c in checks["charts"]), checks["charts"]
    shown = set(checks["categories"])
    assert set(categories) <= shown, set(categories) - shown
    # rendered text: the summary comes first, and carries the total with an SI prefix
    body = re.sub(r"<[^>]+>", " ", proc.stdout)
    assert body.index("Summary") < body.index("Hotspots") < body.index("Method and data")
    assert re.search(r"Total footprint \d[\d,.]* (k|M)?t CO2e", html.unescape(body))


def test_report_screenshot(report, tmp_path):
    page, _ = report
    keep = os.environ.get("SPENDPRINT_SCREENSHOTS")
    target = (Path(keep) if keep else tmp_path) / f"report-{page.parent.parent.name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    proc = _chromium(tmp_path / "profile", "--hide-scrollbars", "--window-size=1280,4000",
                     f"--screenshot={target}", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a page, not a blank
