"""Price conversion by hand, user tables overriding defaults, margins conserving the total."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import spendprint as sp
from spendprint.core.synthetic import demo_sectors
from spendprint.errors import LedgerError
from spendprint.procurement import Concordance, Ledger, Prices
from spendprint.procurement.prices import money_factor

WH = "Wholesale trade and commission trade services, except of motor vehicles and motorcycles (51)"
RT = ("Retail  trade services, except of motor vehicles and motorcycles; repair services of "
      "personal and household goods (52)")
TRANSPORT = ["Other land transportation services", "Railway transportation services",
             "Sea and coastal water transportation services"]


@pytest.fixture(scope="module")
def trade_world() -> sp.MRIO:
    """A small world that has every margin product."""
    return sp.synthetic_mrio(regions=8, sectors=60, seed=1,
                             sector_priority=[*demo_sectors(), WH, RT, *TRANSPORT])


def one_row(category="X", amount=1.0e6, currency="EUR", year=2022, basis="basic", country=""):
    return Ledger.from_frame(pd.DataFrame({
        "category": [category], "amount": [amount], "currency": [currency], "year": [year],
        "price_basis": [basis], "supplier_country": [country]}))


def one_product(sector="Chemicals nec", origin="DE", category="X"):
    return Concordance.from_frame(pd.DataFrame({"category": [category], "sector": [sector],
                                                "weight": [1.0], "origin_region": [origin]}))


def test_money_factor():
    assert money_factor("M EUR") == (1e6, "EUR")
    assert money_factor("EUR") == (1.0, "EUR")
    assert money_factor("k USD") == (1e3, "USD")
    with pytest.raises(ValueError):
        money_factor("euros")


def test_conversion_by_hand(small_mrio):
    p = Prices.default()
    rates = p.rates.set_index(["currency", "year"])["per_eur"]
    hicp = p.index[p.index["currency"] == "EUR"].set_index("year")["index"]
    amount = 1.234e9  # NOK in 2023
    led = one_row(amount=amount, currency="NOK", year=2023)
    y = sp.procurement_demand(small_mrio, led, one_product())
    by_hand = amount / rates[("NOK", 2023)] * hicp[2022] / hicp[2023] / 1e6   # M EUR of 2022
    assert rates[("NOK", 2023)] == pytest.approx(11.4248)
    np.testing.assert_allclose(float(y.sum()), by_hand, rtol=1e-12)
    np.testing.assert_allclose(float(y.sel(region="DE", sector="Chemicals nec", category="X")),
                               by_hand, rtol=1e-12)


def test_cross_rate_to_other_mrio_currency(small_mrio):
    usd = small_mrio.replace(meta={**small_mrio.meta, "currency": "USD", "money_unit": "k USD",
                                   "year": 2024})
    p = Prices.default()
    rates = p.rates.set_index(["currency", "year"])["per_eur"]
    cpi = p.index[p.index["currency"] == "USD"].set_index("year")["index"]
    y = sp.procurement_demand(usd, one_row(amount=5e6, currency="SEK", year=2022), one_product())
    by_hand = 5e6 / rates[("SEK", 2022)] * rates[("USD", 2022)] * cpi[2024] / cpi[2022] / 1e3
    np.testing.assert_allclose(float(y.sum()), by_hand, rtol=1e-12)


def test_user_tables_override(tmp_path, small_mrio):
    (tmp_path / "rates.csv").write_text("year,currency,per_eur\n2023,NOK,10.0\n2023,ISK,150\n")
    p = Prices.read(tmp_path / "rates.csv")
    r = p.rates.set_index(["currency", "year"])["per_eur"]
    assert r[("NOK", 2023)] == 10.0 and r[("ISK", 2023)] == 150.0
    assert r[("NOK", 2022)] == pytest.approx(10.1026)          # untouched default
    # a directory with several tables, and constructor-style override
    d = tmp_path / "tables"
    d.mkdir()
    (d / "price_index.csv").write_text("year,currency,index\n2023,EUR,200\n2022,EUR,100\n")
    (d / "margins.csv").write_text("scope,name,wholesale,retail,transport,taxes\n"
                                   "sector,Chemicals nec,0.2,0,0,0.1\n")
    p2 = Prices.read(d)
    y = sp.procurement_demand(small_mrio, one_row(amount=1e6, currency="EUR", year=2023,
                                                  basis="purchaser"), one_product(), prices=p2)
    # 1 M EUR of 2023 = 0.5 M EUR of 2022; wholesale product absent from this world -> kept;
    # taxes 10 % stripped
    np.testing.assert_allclose(float(y.sum()), 0.5 * 0.9, rtol=1e-12)
    p3 = Prices.default().override(rates=pd.DataFrame({"year": [2022], "currency": ["NOK"],
                                                       "per_eur": [20.0]}))
    y3 = sp.procurement_demand(small_mrio, one_row(amount=2e7, currency="NOK"), one_product(),
                               prices=p3)
    np.testing.assert_allclose(float(y3.sum()), 1.0, rtol=1e-12)


def test_bad_price_table_lists_rows(tmp_path):
    (tmp_path / "rates.csv").write_text("year,currency,per_eur\n2023,NOK,abc\n20x4,SEK,-1\n")
    with pytest.raises(LedgerError) as ei:
        Prices.read(tmp_path / "rates.csv")
    assert len(ei.value.problems) == 3


def test_margins_reallocated_and_total_conserved(trade_world):
    p = Prices.default()
    sector = "Textiles (17)"
    rates = p.margin_rates([sector]).loc[sector]
    led = one_row(amount=1e6, basis="purchaser", country="India")
    y = sp.procurement_demand(trade_world, led, one_product(sector=sector, origin=""), prices=p)
    assert y.attrs["margins_kept_on_product"] == "none"
    v = 1.0  # M EUR, EUR 2022
    col = y.sel(category="X")
    np.testing.assert_allclose(float(col.sum()) + v * rates["taxes"], v, rtol=1e-12)
    product = v * (1 - rates["wholesale"] - rates["retail"] - rates["transport"] - rates["taxes"])
    np.testing.assert_allclose(float(col.sel(region="IN", sector=sector)), product, rtol=1e-12)
    assert float(col.sel(sector=sector).sum()) == pytest.approx(product, rel=1e-12)
    no = col.sel(region="NO")
    np.testing.assert_allclose(float(no.sel(sector=WH)), v * rates["wholesale"], rtol=1e-12)
    np.testing.assert_allclose(float(no.sel(sector=RT)), v * rates["retail"], rtol=1e-12)
    for s, w in zip(TRANSPORT, [0.8, 0.1, 0.1], strict=True):
        np.testing.assert_allclose(float(no.sel(sector=s)), v * rates["transport"] * w, rtol=1e-12)


def test_missing_margin_products_keep_margin_on_product(small_mrio):
    led = one_row(amount=1e6, basis="purchaser")
    y = sp.procurement_demand(small_mrio, led, one_product(sector="Textiles (17)"))
    # wholesale and retail products are not in this world: only taxes (0 for textiles) leave
    np.testing.assert_allclose(float(y.sum()), 1.0, rtol=1e-12)
    assert "wholesale: 100%" in y.attrs["margins_kept_on_product"]


def test_prices_workbook(tmp_path):
    p = tmp_path / "prices.xlsx"
    with pd.ExcelWriter(p) as xw:
        pd.DataFrame({"year": [2023], "currency": ["NOK"], "per_eur": [12.0]}).to_excel(
            xw, sheet_name="rates", index=False)
        pd.DataFrame({"margin": ["transport"], "sector": ["Railway transportation services"],
                      "weight": [1.0]}).to_excel(xw, sheet_name="margin_sectors", index=False)
    pr = Prices.read(p)
    assert pr.rates.set_index(["currency", "year"])["per_eur"][("NOK", 2023)] == 12.0
    ms = pr.margin_sectors
    assert list(ms.loc[ms["margin"] == "transport", "sector"]) == ["Railway transportation services"]
    assert (ms["margin"] == "wholesale").sum() == 1     # other margins keep the default split
