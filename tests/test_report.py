"""The report a procurement manager reads: numbers for people, the summary, the savings kinds.

Format functions are checked against the numbers parsed back; the savings lever against a
brute-force loop; the report of a real run (small synthetic world, Monte Carlo on) for what a
reader needs: the summary first, every category in full, region names, no scientific notation.
"""

from __future__ import annotations

import dataclasses
import html as htmllib
import math
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import spendprint as sp
from spendprint.jobs import main_job as mj
from spendprint.procurement import savings_potential
from spendprint.report import format as fm
from spendprint.report.html import build_report

SCI = re.compile(r"\b\d+(\.\d+)?[eE][+-]?\d+\b")


# ------------------------------------------------------------------ formatting
@pytest.mark.parametrize("x, unit, want", [
    (7.172e8, "kg CO2e", "717 kt CO2e"), (5.314e5, "kg CO2e", "531 t CO2e"),
    (1.6e9, "kg CO2e", "1.60 Mt CO2e"), (12.5, "kg", "12.5 kg"), (0.05, "kg", "50.0 g"),
    (2.67e7, "h", "26.7 million h"), (950.0, "h", "950 h"),
])
def test_quantity_uses_si_prefixes(x, unit, want):
    assert fm.quantity(x, unit) == want


def test_money_intensity_percent_region():
    assert fm.money(1350, "M EUR") == "1.35 bn EUR"
    assert fm.money(0.2336, "M EUR") == "234 k EUR"
    assert fm.money(2.691e9, "NOK") == "2.69 bn NOK"
    assert fm.intensity(3.592e5, 1.0, "kg CO2e", "M EUR") == "0.359 kg CO2e per EUR"
    assert fm.intensity(5.314e8, 1e9, "kg CO2e", "NOK") == "0.531 kg CO2e per NOK"
    assert fm.percent(-0.6817) == "-68.2 %" and fm.percent(0.4427) == "44.3 %"
    assert fm.percent(0.00683) == "0.68 %" and fm.percent(0.0004) == "0.040 %"
    assert fm.percent(0.00004) == "< 0.01 %" and fm.quantity(0.0, "kg CO2e") == "0 kg CO2e"
    assert fm.region_name("WA") == "rest of Asia and Pacific (WA)"
    assert fm.region_name("MY") == "Malaysia" and fm.region_name("NOR") == "Norway"
    assert fm.region_label("TR").endswith("(TR)") and fm.region_name("XX1") == "XX1"
    factor, label = fm.intensity_scale([0.02, 0.03], "kg CO2e", "NOK")  # kg per NOK
    assert label == "g CO2e per NOK" and factor == 1e3


def test_number_round_trips_without_scientific_notation():
    rng = np.random.default_rng(5)
    for x in np.concatenate([10.0 ** rng.uniform(-9, 13, 400), -(10.0 ** rng.uniform(-6, 9, 50))]):
        text = fm.number(float(x))
        assert not SCI.search(text) and "e" not in text.lower(), text
        back = float(text.replace(",", ""))
        assert math.isclose(back, x, rel_tol=5.1e-3), (x, text)
        q = fm.quantity(float(x), "kg CO2e")
        assert not SCI.search(q), q


# ------------------------------------------------------------------ savings in two kinds
@pytest.fixture(scope="module")
def demo():
    return sp.demo_inputs()


def test_lever_and_bound_by_brute_force(small_mrio, demo):
    led, conc = demo
    sv = savings_potential(small_mrio, led, conc, stressors="CO2e", lever_min_share=0.10)
    y = sp.procurement_demand(small_mrio, led, conc).values  # (R, P, m)
    R, P, m = y.shape
    M = sp.multipliers(small_mrio, "CO2e").values.reshape(R, P)
    sh = sp.procurement.origin_shares(small_mrio, "NO")
    base = bound = lever = np.zeros(m)
    base, bound, lever = base.copy(), bound.copy(), lever.copy()
    for c in range(m):
        for p in range(P):
            tot = y[:, p, c].sum()
            if tot <= 0:
                continue
            now = float(M[:, p] @ y[:, p, c])
            base[c] += now
            sup = [r for r in range(R) if sh[r, p] > 0 or y[r, p, c] > 0]
            bound[c] += tot * min(M[r, p] for r in sup)
            est = [r for r in range(R) if sh[r, p] >= 0.10]
            best = min((M[r, p] for r in est), default=math.inf)
            lever[c] += min(now, tot * best)
    got = sv.sel(stressor="CO2e")
    np.testing.assert_allclose(got["baseline"].values, base, rtol=1e-9)
    np.testing.assert_allclose(got["best_origin"].values, bound, rtol=1e-9)
    np.testing.assert_allclose(got["lever_footprint"].values, lever, rtol=1e-9)
    # the bound saves at least what the lever saves, the lever never adds
    assert np.all(got["savings"].values >= got["lever_savings"].values - 1e-9 * base)
    assert np.all(got["lever_savings"].values >= -1e-9 * base)
    assert float(got["lever_savings"].sum()) > 0
    moved = got["lever_moved_spend"].values > 0
    assert all(r in small_mrio.regions for r in sv["lever_region_main"].values[moved])
    assert all(r == "" for r in sv["lever_region_main"].values[~moved])


# ------------------------------------------------------------------ the report of a run
@pytest.fixture(scope="module")
def run_outputs(tmp_path_factory):
    """A real run (8 regions x 60 products, 16 Monte Carlo samples); its RunOutputs as written."""
    got = {}
    orig = mj.write_outputs

    def keep(outset, o):
        got["o"] = o
        return orig(outset, o)

    out = tmp_path_factory.mktemp("report") / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mj, "write_outputs", keep)
        mj.run_job(mj.RunConfig(out=str(out), samples=16, workers=1, spa_top=2,
                                synthetic={"regions": 8, "sectors": 60, "seed": 1}))
    return got["o"], out


def _text(page: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_report_reads_like_a_report(run_outputs):
    o, out = run_outputs
    page = (out / "report.html").read_text()
    ids = re.findall(r"<section id='([^']+)'>", page)
    assert ids[0] == "summary" and ids[-1] == "method"
    assert {"hotspots", "savings", "scenarios", "labour", "uncertainty", "paths"} <= set(ids)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page)
    assert cells and not [c for c in cells if SCI.search(htmllib.unescape(c))]
    summary = page[page.index("<section id='summary'>"):page.index("<section id='hotspots'>")]
    total = float(o.footprints["footprint"].sel(stressor="CO2e").sum())
    assert fm.quantity(total, "kg CO2e") in _text(summary)
    assert "Realistic lever" in summary and "Theoretical bound" in summary
    assert "90 % interval" in summary  # sampled: the range of the total
    # every category in full, in a cell of its own
    cats = set(htmllib.unescape(c) for c in re.findall(r"data-category='([^']*)'", page))
    assert {str(c) for c in o.footprints["category"].values} <= cats
    # region names, not codes, in the due-diligence table and the savings table
    assert "Norway" in page and "(WA)" not in re.findall(r"<td[^>]*>([^<]*)</td>", page)
    # a header row per table and no pandas index header
    assert "<th></th>" not in page and "dataframe" not in page
    # Monte Carlo with 16 samples cannot reach 1 % precision: the warning says so
    assert "Too few samples for the stated precision" in page
    assert "enough_samples" in o.monte_carlo


def test_report_shows_years_when_present_and_copes_without(run_outputs):
    o, _ = run_outputs
    ds = o.footprints
    years = xr.Dataset({
        "footprint": xr.concat([0.4 * ds["footprint"], 0.6 * ds["footprint"]], dim="year"),
        "spend": xr.concat([0.4 * ds["spend"], 0.6 * ds["spend"]], dim="year"),
    }).assign_coords(year=[2022, 2023]).transpose("year", "stressor", "category")
    cats = [str(c) for c in ds["category"].values[:3]]
    yoy = pd.DataFrame({"category": cats, "stressor": "CO2e", "year_from": 2022, "year_to": 2023,
                        "change": [3.0e6, -2.0e5, 1.0e4], "volume": [2.0e6, -1.0e5, 0.0],
                        "price": [0.5e6, 0.0, 0.0], "mix": [0.5e6, -1.0e5, 1.0e4],
                        "intensity": [0.0, 0.0, 0.0]})
    page = build_report(dataclasses.replace(o, years=years, yoy=yoy, title="Helse Demo 2023",
                                            organisation="Demo hospital trust"))
    text = _text(page)
    assert "Helse Demo 2023" in text and "Demo hospital trust" in text
    total = ds["footprint"].sel(stressor="CO2e").sum().item()
    assert f"2022: {fm.quantity(0.4 * total, 'kg CO2e')}" in text
    assert "Period: 2022–2023" in text and "Year over year" in text
    assert fm.quantity(3.0e6, "kg CO2e") in text
    # the total over categories leads the year-over-year table
    assert "All categories (total)" in text and fm.quantity(2.81e6, "kg CO2e") in text
    plain = build_report(dataclasses.replace(o, years=None, yoy=None, monte_carlo=None,
                                             scenarios=None, paths=None))
    assert "id='years'" not in plain and "Uncertainty was not sampled" in plain


def test_hotspot_tiers_against_matrix_powers(run_outputs):
    from spendprint.report.html import hotspot_tiers

    o, _ = run_outputs
    flagged = [str(c) for c in o.risk["category"].values[o.risk["flag"].values.astype(bool)]]
    cats = flagged or [str(o.risk["category"].values[0])]
    got = hotspot_tiers(o, cats)
    assert got
    m = o.mrio
    s = np.asarray(m.S_all([o.risk.attrs["employment"]]))[0]
    L = np.linalg.inv(np.eye(m.n) - m.A)
    R, P, _ = o.demand.y.shape
    names = [str(c) for c in o.demand.categories]
    for (c, h), text in got.items():
        y = o.demand.y.reshape(R * P, -1)[:, names.index(c)]
        reg = str(o.risk["hotspot_region"].sel(category=c, hotspot=h).values)
        sec = str(o.risk["hotspot_sector"].sel(category=c, hotspot=h).values)
        i = list(m.regions).index(reg) * P + list(m.sectors).index(sec)
        parts = [s[i] * (np.linalg.matrix_power(m.A, k) @ y)[i] for k in range(6)]
        parts.append(s[i] * (L @ y)[i] - sum(parts))
        k = int(np.argmax(parts))
        assert text.startswith(f"tier {k + 1}" if k < 6 else "tier 7+"), (c, h, text, parts)
        assert fm.percent(parts[k] / sum(parts)) in text
