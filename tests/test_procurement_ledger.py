"""Ledger reading and validation: formats, spreadsheet row numbers, all problems at once, speed."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import spendprint as sp
from spendprint.errors import InputFileError, LedgerError
from spendprint.procurement import Concordance, Ledger, Prices

GOOD = pd.DataFrame({
    "category": ["Examination gloves", "Electricity", "Examination gloves"],
    "amount": [100.0, 2000.5, 50.0],
    "currency": ["NOK", "nok", "EUR"],
    "year": [2022, 2023, 2024],
    "supplier_country": ["Malaysia", "", "MYS"],
    "price_basis": ["purchaser", "", "basic"],
    "description": ["a", "b", "c"],
})


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_read_formats(tmp_path, fmt):
    path = tmp_path / f"ledger.{fmt}"
    if fmt == "csv":
        GOOD.to_csv(path, index=False)
    elif fmt == "xlsx":
        GOOD.to_excel(path, index=False)
    else:
        GOOD.to_parquet(path, index=False)
    led = Ledger.read(path)
    f = led.frame
    assert list(f.index) == [2, 3, 4]  # spreadsheet rows: header is row 1
    np.testing.assert_allclose(f["amount"], [100.0, 2000.5, 50.0])
    assert list(f["currency"].astype(str)) == ["NOK", "NOK", "EUR"]
    assert list(f["year"]) == [2022, 2023, 2024]
    assert list(f["price_basis"].astype(str)) == ["purchaser", "purchaser", "basic"]
    assert list(f["supplier_country"].astype(str)) == ["Malaysia", "", "MYS"]


def test_missing_file_and_type(tmp_path):
    with pytest.raises(InputFileError):
        Ledger.read(tmp_path / "nope.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(InputFileError):
        Ledger.read(tmp_path / "x.json")


def test_missing_columns_listed(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("category,amount\nA,1\n")
    with pytest.raises(LedgerError) as ei:
        Ledger.read(p)
    text = str(ei.value)
    assert "'currency'" in text and "'year'" in text
    assert len(ei.value.problems) == 2


def test_ledger_full_of_errors_lists_every_row_and_field(tmp_path, small_mrio):
    _, conc = sp.demo_inputs()
    p = tmp_path / "bad.csv"
    p.write_text(
        "category,amount,currency,year,supplier_country,price_basis\n"
        "Examination gloves,100,NOK,2023,Malaysia,purchaser\n"     # row 2 fine
        "Examination gloves,abc,NOK,2023,,\n"                      # row 3 non-numeric amount
        "Electricity,-5,NOK,2023,,\n"                              # row 4 negative
        "Electricity,,NOK,2023,,\n"                                # row 5 missing amount
        "Electricity,10,XYZ,2023,,\n"                              # row 6 unknown currency
        "Electricity,10,NOK,1990,,\n"                              # row 7 year outside tables
        "Unicorn feed,10,NOK,2023,,\n"                             # row 8 unknown category
        "Electricity,10,NOK,2023,Atlantis,\n"                      # row 9 unknown country
        "Electricity,10,NOK,2023,Italy,\n"                         # row 10 not in this MRIO
        "Electricity,10,NOK,20x3,,wholesale\n"                     # row 11 year + price basis
        ",10,NOK,2023,,\n"                                          # row 12 empty category
    )
    with pytest.raises(LedgerError) as ei:
        Ledger.read(p, concordance=conc, prices=Prices.default(), mrio=small_mrio)
    probs = ei.value.problems
    expected = [(3, "amount"), (4, "amount"), (5, "amount"), (6, "currency"), (7, "year"),
                (8, "category"), (9, "supplier_country"), (10, "supplier_country"),
                (11, "year"), (11, "price_basis"), (12, "category")]
    for row, field in expected:
        assert any(f"bad.csv row {row}, field '{field}'" in m for m in probs), (row, field, probs)
    assert len(probs) == len(expected)
    assert not any("row 2," in m for m in probs)
    assert "header = row 1" in str(ei.value)


def test_contextual_errors_raised_by_analysis(small_mrio):
    _, conc = sp.demo_inputs()
    led = Ledger.from_frame(pd.DataFrame({"category": ["Electricity", "Nope"], "amount": [1, 2],
                                          "currency": ["NOK", "NOK"], "year": [2023, 2023]}))
    with pytest.raises(LedgerError) as ei:
        sp.procurement_demand(small_mrio, led, conc)
    assert ei.value.problems == [
        f"ledger row 3, field 'category': 'Nope' is not in the concordance ({conc.source})"]


def _big_ledger(n: int, path) -> float:
    rng = np.random.default_rng(0)
    cats = Concordance.read(sp.procurement.demo_paths()["concordance"]).categories
    df = pd.DataFrame({
        "category": np.array(cats, dtype=object)[rng.integers(0, len(cats), n)],
        "amount": np.round(rng.lognormal(10, 2, n), 2),
        "currency": np.array(["NOK", "EUR", "SEK"], dtype=object)[rng.integers(0, 3, n)],
        "year": rng.integers(2022, 2025, n),
        "supplier_country": np.array(["", "Malaysia", "DEU", "China"], dtype=object)[
            rng.integers(0, 4, n)],
        "price_basis": "purchaser",
        "description": "x",
    })
    df.to_csv(path, index=False)
    return float(df["amount"].sum())


def _load_and_aggregate(path, mrio):
    _, conc = sp.demo_inputs()
    t0 = time.perf_counter()
    led = Ledger.read(path)
    y = sp.procurement_demand(mrio, led, conc)
    return time.perf_counter() - t0, led, y


def test_1e5_rows_load_and_aggregate(tmp_path, small_mrio):
    p = tmp_path / "big.csv"
    total = _big_ledger(100_000, p)
    dt, led, y = _load_and_aggregate(p, small_mrio)
    assert len(led) == 100_000
    np.testing.assert_allclose(led.frame["amount"].sum(), total, rtol=1e-12)
    assert float(y.sum()) > 0
    assert dt < 10.0


@pytest.mark.slow
def test_1e6_rows_load_and_aggregate(tmp_path, small_mrio):
    p = tmp_path / "big.csv"
    _big_ledger(1_000_000, p)
    dt, led, y = _load_and_aggregate(p, small_mrio)
    assert len(led) == 1_000_000
    assert dt < 30.0, dt
