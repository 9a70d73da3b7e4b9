"""Results per year, the year-over-year decomposition, CPV mapping in a run, and the Norwegian
ledger of issue 12's "done when": exported as an accounting system writes it, without a
concordance, run end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import spendprint as sp
from spendprint.cli import main
from spendprint.procurement import Ledger, Prices, ProcurementDemand, procurement_footprint
from spendprint.procurement.lmdi import decompose, logmean
from spendprint.procurement.mapping import complete_concordance
from spendprint.procurement.years import results_by_year

# Norwegian headers, ';' separated, decimal commas with thousands spaces, cp1252, Norwegian
# country names, credit notes, two years, CPV codes and no concordance file
NORWEGIAN = """Innkjøpsrapport Helse Sør-Øst, utdrag
Generert av økonomisystemet 2025-01-15

Kategori;Beskrivelse;Leverandør;Leverandørland;CPV;Valuta;År;Beløp
Hansker;Undersøkelseshansker nitril;Hanskefabrikken;Malaysia;33141420-0;NOK;2023;12 500 000,00
Hansker;Kreditnota retur;Hanskefabrikken;Malaysia;33141420-0;NOK;2023;-1 250 000,50
Hansker;Undersøkelseshansker nitril;Hanskefabrikken;Malaysia;33141420-0;NOK;2024;14 000 000,00
Legemidler;Reseptbelagte legemidler;Legemiddelgrossist AS;Norge;33600000-6;NOK;2023;250 000 000,00
Legemidler;Reseptbelagte legemidler;Legemiddelgrossist AS;Norge;33600000-6;NOK;2024;270 000 000,00
Legemidler;Kreditnota;Legemiddelgrossist AS;Norge;33600000-6;NOK;2024;-5 000 000,00
Røntgen;Røntgenutstyr;Bildeteknikk GmbH;Tyskland;33111000;NOK;2023;40 000 000,00
Renhold;Renholdstjenester;Renhold Øst;Norge;90910000;NOK;2023;30 000 000,00
Renhold;Renholdstjenester;Renhold Øst;Norge;90910000;NOK;2024;31 500 000,00
Kantine;Kantinedrift;Mat og Mer;Sverige;55520000-1;NOK;2024;8 000 000,00
Sengetøy;Sengetøy og håndklær;Tekstil Kina Ltd;Kina;39512100;NOK;2023;6 000 000,00
Sengetøy;Sengetøy og håndklær;Tekstil Kina Ltd;Kina;39512100;NOK;2024;6 600 000,00
"""


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "small.zarr"
    sp.synthetic_mrio(regions=8, sectors=60, seed=1).to_zarr(path)
    return path


@pytest.fixture(scope="module")
def norwegian(tmp_path_factory):
    p = tmp_path_factory.mktemp("ledger") / "innkjop_2023_2024.csv"
    p.write_bytes(NORWEGIAN.encode("cp1252"))
    return p


@pytest.fixture(scope="module")
def norwegian_run(small_store, norwegian, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    rc = main(["run", "--mrio", str(small_store), "--ledger", str(norwegian), "--out", str(out),
               "--spa-top", "1"])
    assert rc == 0
    return out


def dense_footprint(mrio, Y, stressor):
    """The independent reference: S (I - A)^-1 Y by a dense solve."""
    S = mrio.S_all([stressor])
    return S @ np.linalg.solve(np.eye(mrio.n) - mrio.dense_A(), Y)


# ---- the decomposition --------------------------------------------------------------------------
def test_logmean():
    np.testing.assert_allclose(logmean(np.array([2.0]), np.array([1.0])), 1 / np.log(2))
    np.testing.assert_allclose(logmean(np.array([3.0]), np.array([3.0])), 3.0)
    np.testing.assert_allclose(logmean(np.array([-2.0]), np.array([-1.0])), -1 / np.log(2))


def test_decomposition_isolates_each_factor():
    rng = np.random.default_rng(0)
    y0 = rng.uniform(0.1, 1.0, 20)
    m = rng.uniform(0.5, 2.0, 20)
    # volume only: nominal and real spend double, same mix
    e = decompose(y0, 2 * y0, 10.0, 20.0, m, m)
    np.testing.assert_allclose(e["volume"], e["change"], rtol=1e-12)
    assert abs(e["price"]) < 1e-12 * e["change"] and abs(e["mix"]) < 1e-12 * e["change"]
    # price only: the same nominal spend buys 10 % less real demand
    e = decompose(y0, 0.9 * y0, 10.0, 10.0, m, m)
    np.testing.assert_allclose(e["price"], e["change"], rtol=1e-12)
    assert abs(e["volume"]) < 1e-12 * abs(e["change"])
    # mix only: the same total, shifted towards the dirtiest product
    y1 = y0.copy()
    k = int(np.argmax(m))
    y1[k] += 0.5
    y1 *= y0.sum() / y1.sum()
    e = decompose(y0, y1, 10.0, 10.0, m, m)
    np.testing.assert_allclose(e["mix"], e["change"], rtol=1e-12)
    assert e["mix"] > 0
    # intensity only (per-year models)
    e = decompose(y0, y0, 10.0, 10.0, m, 0.8 * m)
    np.testing.assert_allclose(e["intensity"], e["change"], rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_decomposition_adds_up_with_entries_and_exits(seed):
    rng = np.random.default_rng(seed)
    y0, y1 = rng.uniform(0, 1, 30), rng.uniform(0, 1, 30)
    y0[:3] = 0.0   # bought only in the second year
    y1[3:6] = 0.0  # only in the first
    m0 = rng.uniform(0.1, 3, 30)
    m1 = m0 * rng.uniform(0.7, 1.2, 30)
    e = decompose(y0, y1, 5.0, 6.5, m0, m1)
    parts = e["volume"] + e["price"] + e["mix"] + e["intensity"]
    np.testing.assert_allclose(parts, e["change"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(e["change"], (m1 * y1).sum() - (m0 * y0).sum(), rtol=1e-12)
    # a category bought in one year only is all volume
    e = decompose(np.zeros(30), y1, 0.0, 6.5, m0, m1)
    assert e["volume"] == e["change"] == pytest.approx((m1 * y1).sum())


# ---- per-year results ---------------------------------------------------------------------------
def test_per_year_equals_one_year_ledgers_and_sums_to_whole(small_mrio):
    ledger, conc = sp.demo_inputs()
    prices = Prices.default()
    res = results_by_year(small_mrio, ledger, conc, prices, "NO", stressors=["CO2e", "CO2"])
    years = res.years
    assert years == sorted(set(ledger.frame["year"].astype(int))) and len(years) >= 2
    whole = procurement_footprint(small_mrio, ledger, conc, prices=prices, stressors=["CO2e", "CO2"],
                                  by_origin=False)
    cats = list(whole["category"].values)
    ds = res.dataset.sel(category=cats)
    for y in years:
        one = Ledger.from_frame(ledger.frame[ledger.frame["year"] == y].reset_index(drop=True)
                                .astype({"category": str}), source=f"ledger {y}")
        fp = procurement_footprint(small_mrio, one, conc, prices=prices,
                                   stressors=["CO2e", "CO2"], by_origin=False)
        got = ds["footprint"].sel(year=y, category=list(fp["category"].values))
        np.testing.assert_allclose(got.values, fp["footprint"].transpose("stressor", "category")
                                   .values, rtol=1e-10)
        np.testing.assert_allclose(ds["spend"].sel(year=y, category=list(fp["category"].values)),
                                   fp["spend"].values, rtol=1e-12)
    # nothing lost: the years add up to the whole ledger
    np.testing.assert_allclose(ds["footprint"].sum("year").values,
                               whole["footprint"].transpose("stressor", "category").values,
                               rtol=1e-10)
    # each year deflated on its own: real / nominal is that year's price factor
    base = int(small_mrio.meta["year"])
    if base in years:
        at_base = ds.sel(year=base)
        pos = at_base["spend_nominal"] > 0
        np.testing.assert_allclose((at_base["spend"] / at_base["spend_nominal"]).values[pos.values],
                                   1.0, rtol=1e-12)
    # the decomposition adds up, row by row
    yoy = res.yoy
    assert len(yoy) == (len(years) - 1) * len(cats) * 2
    np.testing.assert_allclose(yoy[["volume", "price", "mix", "intensity"]].sum(axis=1),
                               yoy["change"], rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(yoy["intensity"], 0.0, atol=1e-6)  # one model for every year


def test_demand_of_a_year_is_the_filtered_ledger(small_mrio):
    ledger, conc = sp.demo_inputs()
    y = int(ledger.frame["year"].min())
    one = Ledger.from_frame(ledger.frame[ledger.frame["year"] == y].reset_index(drop=True)
                            .astype({"category": str}), source="one")
    d1 = ProcurementDemand.build(small_mrio, one, conc)
    dy = ProcurementDemand.build(small_mrio, ledger, conc, year=y, categories=d1.categories)
    np.testing.assert_allclose(dy.y, d1.y, rtol=1e-14)
    assert dy.year == y and dy.attrs["ledger_year"] == y


# ---- the Norwegian ledger, end to end ----------------------------------------------------------
def test_norwegian_ledger_runs_without_concordance(norwegian_run, small_store, norwegian):
    out = norwegian_run
    run = json.loads((out / "run.json").read_text())
    info = run["ledger"]
    assert info["encoding"].lower() in ("cp1252", "windows-1252", "latin-1")
    assert info["delimiter"] == ";" and info["decimal"] == ","
    assert info["header_row"] == 4  # two title lines and a blank line above the table
    cols = info["columns"]
    for header, fld in (("Kategori", "category"), ("Beløp", "amount"), ("Valuta", "currency"),
                        ("År", "year"), ("Leverandørland", "supplier_country"), ("CPV", "cpv")):
        assert cols[header] == fld
    assert info["years"] == [2023, 2024] and info["period"] == "2023-2024 (2 years)"
    cov = run["concordance"]["coverage"]
    assert cov["cpv"] == pytest.approx(1.0) and cov["unmapped"] == 0.0

    used = pd.read_csv(out / "concordance_used.csv", dtype={"cpv": str})
    assert set(used["source"]) == {"CPV"}
    pin = dict(zip(used["category"], used["sector"], strict=False))
    assert pin["Hansker"] == "Rubber and plastic products (25)"
    assert pin["Legemidler"] == "Chemicals nec"
    assert pin["Røntgen"] == "Medical, precision and optical instruments, watches and clocks (33)"
    assert pin["Renhold"] == "Other business services (74)"
    assert pin["Kantine"] == "Hotel and restaurant services (55)"
    assert pin["Sengetøy"] == "Textiles (17)"
    assert used.groupby("category")["weight"].sum().round(12).eq(1).all()

    # the numbers: each year against an independent dense solve of that year's demand, built by
    # hand from the ledger (net of credit notes, NOK -> model currency, deflated, origins)
    mrio = sp.open_mrio(small_store)
    ledger = Ledger.read(norwegian)
    assert len(ledger) == 12
    mapped = complete_concordance(ledger, None, mrio)
    yoy = pd.read_csv(out / "yoy.csv")
    co2e = yoy[yoy["stressor"] == "CO2e"].set_index("category")
    for y, col in ((2023, "footprint_from"), (2024, "footprint_to")):
        d = ProcurementDemand.build(mrio, ledger, mapped.concordance, Prices.default(), "NO",
                                    year=y, categories=list(co2e.index))
        ref = dense_footprint(mrio, d.Y, "CO2e")[0]
        np.testing.assert_allclose(co2e[col].to_numpy(), ref, rtol=1e-9)
    # credit notes netted: 2023 gloves = 12 500 000,00 - 1 250 000,50
    f = ledger.frame
    net = f[(f["category"] == "Hansker") & (f["year"] == 2023)]["amount"].sum()
    assert net == pytest.approx(11_249_999.50)
    # an x-ray unit bought only in 2023 and a canteen only in 2024: all volume
    assert co2e.loc["Røntgen", "volume"] == pytest.approx(co2e.loc["Røntgen", "change"])
    assert co2e.loc["Kantine", "volume"] == pytest.approx(co2e.loc["Kantine", "change"])
    np.testing.assert_allclose(co2e[["volume", "price", "mix", "intensity"]].sum(axis=1),
                               co2e["change"], rtol=1e-9)
    # the tidy per-year table (BI tools) and the period on the whole-period rows
    by_year = pd.read_parquet(out / "categories_by_year.parquet")
    got = by_year[by_year["stressor"] == "CO2e"].pivot(index="category", columns="year",
                                                       values="footprint")
    np.testing.assert_allclose(got.loc[co2e.index, 2023], co2e["footprint_from"], rtol=1e-12)
    np.testing.assert_allclose(got.loc[co2e.index, 2024], co2e["footprint_to"], rtol=1e-12)
    assert set(by_year["spend_ledger_unit"]) == {"NOK"}
    one = by_year[by_year["stressor"] == "CO2e"]
    for y in (2023, 2024):  # as booked, net of credit notes
        assert one.loc[one["year"] == y, "spend_ledger"].sum() == pytest.approx(
            f.loc[f["year"] == y, "amount"].sum(), rel=1e-12)
    table = pd.read_csv(out / "categories.csv")
    assert set(table["period"]) == {"2023-2024"}
    # results.zarr carries the whole period; the per-year table is in yoy.csv
    with xr.open_zarr(out / "results.zarr", consolidated=None) as ds:
        tot = float(ds["footprint"].sel(stressor="CO2e").sum())
    np.testing.assert_allclose(tot, co2e["footprint_from"].sum() + co2e["footprint_to"].sum(),
                               rtol=1e-9)


def test_unknown_category_without_cpv_is_named_with_the_other_problems(small_store, tmp_path):
    p = tmp_path / "blandet.csv"
    p.write_text("Kategori;Beløp;Valuta;År;Leverandørland;CPV\n"
                 "Hansker;1000,00;NOK;2023;Malaysia;33141420\n"
                 "Ukjent ting;50,00;NOK;2023;Norge;\n"
                 "Rart;10,00;NOK;2023;Atlantis;12345\n", encoding="utf-8")
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "spendprint", "run", "--mrio", str(small_store),
                           "--ledger", str(p), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = proc.stderr
    assert "Traceback" not in err
    for frag in ("blandet.csv", "row 3", "'Ukjent ting'", "no CPV code", "row 4",
                 "supplier_country", "Atlantis", "cpv"):
        assert frag in err, (frag, err)
    assert not (tmp_path / "o" / "report.html").exists()


def test_concordance_problems_suggest_sector_and_region(tiny_mrio):
    from spendprint.procurement import Concordance

    sec = tiny_mrio.sectors[1]
    c = Concordance.from_frame(pd.DataFrame({"category": ["a", "b"],
                                             "sector": [sec.lower() + "x", sec],
                                             "weight": [1, 1], "origin_region": ["", "Swedn"]}),
                               source="mine.csv")
    got = c.problems(tiny_mrio)
    assert got[0] == (f"mine.csv row 2, field 'sector': {sec.lower() + 'x'!r} is not a product of "
                      f"the MRIO (did you mean {sec!r}?)")
    assert got[1].startswith("mine.csv row 3, field 'origin_region': 'Swedn' maps to no region")
    assert "did you mean 'Sweden'?" in got[1]


def test_category_axis_errors_name_the_categories(small_mrio):
    from spendprint.errors import ValidationError

    ledger, conc = sp.demo_inputs()
    with pytest.raises(ValidationError, match="'No such category'"):
        ProcurementDemand.build(small_mrio, ledger, conc, categories=["No such category"])
    first = conc.categories[:1]
    with pytest.raises(ValidationError, match="not on the category axis"):
        ProcurementDemand.build(small_mrio, ledger, conc, categories=first)
