"""VAT removal from ledgers whose amounts include it (checked against hand computation)."""

from __future__ import annotations

import pandas as pd
import pytest

from spendprint.errors import LedgerError
from spendprint.procurement.ledger import Ledger
from spendprint.procurement.vat import VatRates, vat_group


def test_groups_from_cpv():
    assert vat_group("15800000") == "food"
    assert vat_group("15910000") == "standard"   # beverages incl. alcohol: standard
    assert vat_group("33600000") == "medicines"
    assert vat_group("55110000") == "accommodation"
    assert vat_group("55520000") == "standard"   # catering: a service at the standard rate
    assert vat_group("60112000") == "passenger_transport"
    assert vat_group("85100000") == "health_social"
    assert vat_group("33141420") == "standard"
    assert vat_group("") == "standard"


def test_shipped_rates():
    r = VatRates.default()
    assert r.rate("NO", "standard") == 0.25 and r.rate("NO", "food") == 0.15
    assert r.rate("NO", "passenger_transport") == 0.12 and r.rate("NO", "medicines") == 0.25
    assert r.rate("NO", "health_social") == 0.0
    assert r.rate("SE", "food") == 0.12 and r.rate("DE", "standard") == 0.19
    assert r.rate("XX", "standard") is None


def _ledger():
    return pd.DataFrame({
        "category": ["Gloves", "Food", "Taxi", "Medicines", "Nursing", "Food"],
        "amount": [1250.0, 1150.0, 1120.0, 125.0, 500.0, -115.0],
        "currency": "NOK", "year": 2023,
        "cpv": ["33141420", "15800000", "60112000", "33600000", "85141000", "15800000"]})


def test_vat_included_removed_by_norwegian_rates():
    led = Ledger.from_frame(_ledger(), vat="included")
    # hand computation: gross / (1 + rate)
    assert led.frame["amount"].tolist() == pytest.approx(
        [1250 / 1.25, 1150 / 1.15, 1120 / 1.12, 125 / 1.25, 500.0, -115 / 1.15])
    v = led.import_info["vat"]
    assert v["mode"] == "included" and v["country"] == "NO" and v["rows"] == 6
    assert v["removed"] == pytest.approx(250 + 150 + 120 + 25 + 0 - 15)
    assert v["by_group"]["food"] == [0.15, 2]


def test_vat_excluded_is_the_default():
    led = Ledger.from_frame(_ledger())
    assert led.frame["amount"].tolist() == _ledger()["amount"].tolist()
    assert led.import_info["vat"] == {"mode": "excluded"}


def test_vat_included_column_per_row():
    df = _ledger().assign(vat_included=["ja", "nei", "yes", "no", "", "ja"])
    led = Ledger.from_frame(df)
    assert led.frame["amount"].tolist() == pytest.approx(
        [1000.0, 1150.0, 1000.0, 125.0, 500.0, -100.0])
    with pytest.raises(LedgerError, match=r"row 3, field 'vat_included': 'maybe' is not yes/no"):
        Ledger.from_frame(df.assign(vat_included=["ja", "maybe", "", "", "", ""]))


def test_swedish_and_user_table(tmp_path):
    df = _ledger().assign(currency="SEK")
    led = Ledger.from_frame(df, vat="included")
    assert led.frame["amount"].iloc[1] == pytest.approx(1150 / 1.12)
    user = tmp_path / "vat.csv"
    user.write_text("country,group,rate\nSE,food,0.06\n")
    led = Ledger.from_frame(df, vat="included", vat_rates=user)
    assert led.frame["amount"].iloc[1] == pytest.approx(1150 / 1.06)
    assert led.frame["amount"].iloc[0] == pytest.approx(1250 / 1.25)   # shipped rows kept
    bad = tmp_path / "bad.csv"
    bad.write_text("country,group,rate\nSE,food,6\n")
    with pytest.raises(LedgerError, match="'rate': '6' is not a fraction"):
        Ledger.from_frame(df, vat="included", vat_rates=bad)


def test_country_needed_when_currency_does_not_tell():
    df = _ledger().assign(currency="EUR")
    with pytest.raises(LedgerError, match="give vat_country"):
        Ledger.from_frame(df, vat="included")
    led = Ledger.from_frame(df, vat="included", vat_country="Tyskland")
    assert led.frame["amount"].iloc[0] == pytest.approx(1250 / 1.19)
    assert led.import_info["vat"]["country"] == "DE"
    with pytest.raises(LedgerError, match="no rates for the buyer country 'PL'"):
        Ledger.from_frame(df, vat="included", vat_country="PL")
    with pytest.raises(LedgerError, match="expected 'excluded' or 'included'"):
        Ledger.from_frame(df, vat="inclusive")
