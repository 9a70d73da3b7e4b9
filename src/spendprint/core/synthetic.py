"""A deterministic synthetic world shaped like EXIOBASE 3 pxp (labelled as synthetic).

The generator draws a recipe of inputs per product shared by all regions, dense domestic blocks,
sparser import blocks (about a third of A nonzero at full size), heavy-tailed emission intensities
that depend on the product and the region, and employment intensities that fall with income. Gross
output x and final demand Y are chosen so that ``x = A x + Y 1`` holds exactly. Nothing in it is
real data: it exists so that the engine, the demo and the tests run without a download.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import ValidationError
from .model import MRIO

#: EXIOBASE 3 region codes (44 countries, 5 rest-of-world regions), in EXIOBASE order.
EXIO3_REGIONS: tuple[str, ...] = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "GB", "US", "JP", "CN", "CA",
    "KR", "BR", "IN", "MX", "RU", "AU", "CH", "TR", "TW", "NO", "ID", "ZA", "WA", "WL", "WE", "WF",
    "WM",
)
#: Regions kept first when fewer than 49 are asked for (the demo needs Norway and its suppliers).
REGION_PRIORITY: tuple[str, ...] = ("NO", "CN", "IN", "WA", "DE", "US", "SE", "GB", "PL", "WE", "JP",
                                    "WL", "WF", "WM", "ID", "BR")
EXIO3_FD_CATEGORIES: tuple[str, ...] = (
    "Final consumption expenditure by households",
    "Final consumption expenditure by non-profit organisations serving households (NPISH)",
    "Final consumption expenditure by government",
    "Gross fixed capital formation",
    "Changes in inventories",
    "Changes in valuables",
    "Exports: Total (fob)",
)
_FD_SHARES = np.array([0.58, 0.02, 0.18, 0.20, 0.015, 0.005, 0.0])
HIGH_INCOME = set("AT BE CY DE DK ES FI FR GB IE IT LU MT NL SE SI US JP CA KR AU CH TW NO".split())
LOW_INCOME = set("IN ID WA WF WL".split())
#: GWP100 factors of IPCC AR5 (without climate-carbon feedback), as used in EXIOBASE 3's impacts.
GWP100_AR5 = {"CO2": 1.0, "CH4": 28.0, "N2O": 265.0}
STRESSORS = ("CO2", "CH4", "N2O", "Employment hours")
STRESSOR_UNITS = ("kg", "kg", "kg", "h")


@lru_cache(maxsize=1)
def exio3_products() -> pd.DataFrame:
    """The 200 EXIOBASE 3 pxp products (name, code, consumption group), in EXIOBASE order."""
    with resources.files("spendprint.data").joinpath("exio3_pxp_products.tsv").open() as fh:
        return pd.read_csv(fh, sep="\t")


@lru_cache(maxsize=1)
def demo_sectors() -> list[str]:
    """Products used by the shipped demo concordance, kept first in small synthetic worlds."""
    with resources.files("spendprint.data").joinpath("demo_concordance.csv").open() as fh:
        return list(dict.fromkeys(pd.read_csv(fh)["sector"]))


def _select_regions(R: int) -> list[str]:
    if not 1 <= R <= len(EXIO3_REGIONS):
        raise ValidationError(f"regions must be between 1 and {len(EXIO3_REGIONS)}, got {R}")
    chosen = list(REGION_PRIORITY[:R])
    for r in EXIO3_REGIONS:
        if len(chosen) >= R:
            break
        if r not in chosen:
            chosen.append(r)
    return [r for r in EXIO3_REGIONS if r in chosen]


def _select_sectors(P: int, priority: list[str]) -> list[str]:
    names = list(exio3_products()["name"])
    if not 1 <= P <= len(names):
        raise ValidationError(f"sectors must be between 1 and {len(names)}, got {P}")
    chosen = [p for p in priority if p in names][:P]
    for p in names:
        if len(chosen) >= P:
            break
        if p not in chosen:
            chosen.append(p)
    return [p for p in names if p in chosen]


def _product_profile(names: list[str]) -> tuple[np.ndarray, ...]:
    """Base CO2, CH4, N2O and hours per M EUR, and tradability, from product-name keywords."""
    P = len(names)
    co2 = np.full(P, 8.0e4)
    ch4 = np.full(P, 60.0)
    n2o = np.full(P, 2.0)
    hours = np.full(P, 7.0e3)
    trade = np.full(P, 0.35)
    rules = [
        (r"^Electricity by (coal|gas|petroleum)|Coke Oven|Blast Furnace|Oxygen Steel", 3.0e6, 300, 20, 1.5e3, 0.1),
        (r"^Electricity", 2.0e5, 100, 5, 2.0e3, 0.1),
        (r"Cement|lime|Bricks|Ceramic|Glass|Other non-metallic", 1.2e6, 50, 5, 5e3, 0.3),
        (r"iron and steel|Aluminium|Copper|Lead, zinc|non-ferrous|Foundry|Precious", 6.0e5, 60, 5, 4e3, 0.5),
        (r"Coal|Lignite|Peat|Crude petroleum|Natural gas|Hydrocarbons", 3.0e5, 8.0e3, 5, 2e3, 0.6),
        (r"Gasoline|Jet Fuel|Kerosene|Diesel|Fuel Oil|Refinery|Petroleum|Naphtha|LPG|Bitumen|Lubricants", 5.0e5, 500, 5, 1e3, 0.5),
        (r"Air transport", 9.0e5, 30, 30, 4e3, 0.4),
        (r"Sea and coastal|Inland water", 7.0e5, 20, 20, 5e3, 0.5),
        (r"land transportation|Railway|pipelines", 3.0e5, 20, 10, 9e3, 0.1),
        (r"Cattle|Raw milk|meat cattle|Manure", 1.5e5, 4.0e4, 700, 2.5e4, 0.2),
        (r"Paddy rice", 8.0e4, 3.0e4, 400, 4e4, 0.3),
        (r"Wheat|Cereal|Vegetables|Oil seeds|Sugar cane|Crops|Plant-based|Pigs|Poultry|Wool", 1.0e5, 3.0e3, 800, 3e4, 0.4),
        (r"fertiliser|Chemicals nec|Plastics, basic", 4.0e5, 200, 300, 4e3, 0.6),
        (r"Textiles|Wearing apparel|Leather", 1.5e5, 80, 5, 2.0e4, 0.8),
        (r"Rubber and plastic", 2.0e5, 60, 5, 1.2e4, 0.7),
        (r"Medical, precision|Office machinery|Radio, television|Electrical machinery|Machinery", 6.0e4, 40, 2, 7e3, 0.7),
        (r"Motor vehicles|Other transport equipment|Fabricated metal|Furniture", 8.0e4, 40, 2, 8e3, 0.6),
        (r"Food products|Dairy|meat|Fish products|Beverages|Sugar|Processed rice|Vegetable oils", 1.2e5, 2.0e3, 50, 1.2e4, 0.5),
        (r"Fish and other fishing|forestry", 2.5e5, 50, 5, 1.5e4, 0.4),
        (r"Construction work", 7.0e4, 30, 3, 1.1e4, 0.05),
        (r"Secondary|Re-processing|Recycling|incineration|landfill|treatment", 5.0e4, 5.0e3, 50, 6e3, 0.2),
        (r"trade services|Wholesale|Retail", 2.5e4, 20, 1, 1.2e4, 0.1),
        (r"Hotel|Health|Education|Public administration|Membership|Recreational|Other services|households", 1.5e4, 10, 1, 1.3e4, 0.05),
        (r"Financial|Insurance|Real estate|Computer|Research|Other business|Post and telecom|Renting", 1.0e4, 5, 0.5, 6e3, 0.15),
    ]
    assigned = np.zeros(P, dtype=bool)
    for pattern, c, m, n2, h, t in rules:
        hit = np.array([bool(re.search(pattern, nm, re.IGNORECASE)) for nm in names]) & ~assigned
        co2[hit], ch4[hit], n2o[hit], hours[hit], trade[hit] = c, m, n2, h, t
        assigned |= hit
    return co2, ch4, n2o, hours, trade


def _affinity(names: list[str]) -> np.ndarray:
    """Input affinity (P_in x P_out): products use their own group's products and common inputs
    (energy, trade, transport, business services) more, and food rarely outside food and care."""
    groups = exio3_products().set_index("name")["group"].reindex(names).fillna("Other").to_numpy()
    common = np.array([bool(re.search(r"^Electricity|trade|transport|Post and tele|Financial|"
                                      r"business services|Real estate|Computer|Chemicals nec|"
                                      r"Gas/Diesel", nm, re.IGNORECASE)) for nm in names])
    food_users = (groups == "Food") | np.array(
        [bool(re.search(r"Hotel|Health|Food|Beverages|Cattle|Pigs|Poultry", nm)) for nm in names])
    aff = np.ones((len(names), len(names)))
    aff[groups[:, None] == groups[None, :]] *= 5.0
    aff[common, :] *= 3.0
    aff[np.ix_(groups == "Food", ~food_users)] *= 0.02
    return aff


def synthetic_mrio(regions: int = 49, sectors: int = 200, seed: int = 0,
                   sector_priority: list[str] | None = None) -> MRIO:
    """A deterministic synthetic EE-MRIO with EXIOBASE 3 labels (``meta['source'] = 'synthetic'``).

    Parameters
    ----------
    regions, sectors : int
        Up to 49 and 200. Fewer regions keep Norway and its main suppliers; fewer sectors keep the
        products named in ``sector_priority`` (default: those of the demo concordance) first.
    seed : int
        The world is a pure function of (regions, sectors, seed).

    Returns
    -------
    MRIO
        Money unit M EUR; stressors CO2, CH4, N2O (kg) and Employment hours (h); impact CO2e
        (kg CO2e, GWP100 AR5).
    """
    if sector_priority is None:
        sector_priority = demo_sectors()
    reg = _select_regions(int(regions))
    sec = _select_sectors(int(sectors), list(sector_priority))
    R, P = len(reg), len(sec)
    n = R * P
    rng = np.random.default_rng([int(seed), R, P])
    co2, ch4, n2o, hours, trade = _product_profile(sec)

    # recipe of inputs shared by all regions: heavy-tailed, about 55 % of product pairs used
    recipe = rng.lognormal(0.0, 1.5, (P, P)) * (rng.random((P, P)) < 0.55) * _affinity(sec)
    recipe[np.diag_indices(P)] = np.maximum(recipe[np.diag_indices(P)], 1.0)
    active = rng.random((R, P)) < 0.65                       # does region r export product i?
    strength = rng.lognormal(0.0, 1.2, (R, P)) * active
    gdp = rng.lognormal(0.0, 1.0, R)
    # domestic share of each input by user region and product, higher for non-tradables
    dom = np.clip(1.0 - trade[None, :] * rng.uniform(0.5, 1.3, (R, P)), 0.05, 0.98)
    # total input coefficient per column: services lower, manufacturing higher
    c_tot = rng.uniform(0.35, 0.7, (R, P))

    A = np.zeros((n, n), dtype=np.float64)
    for s in range(R):
        others = strength.copy()
        others[s] = 0.0
        denom = others.sum(axis=0)
        share = np.divide(others, denom, out=np.zeros_like(others), where=denom > 0)  # (R, P)
        origin = (1.0 - dom[s])[None, :] * share                                       # (R, P)
        origin[s] = dom[s] + np.where(denom > 0, 0.0, 1.0 - dom[s])  # no exporter: all domestic
        noise = np.exp(0.3 * rng.standard_normal((R, P, P), dtype=np.float32))
        W = (recipe[None, :, :] * origin[:, :, None]) * noise                         # (R, P_in, P_out)
        W = W.reshape(n, P)
        col = W.sum(axis=0)
        A[:, s * P:(s + 1) * P] = W * (c_tot[s] / np.where(col > 0, col, 1.0))[None, :]

    size = rng.lognormal(0.0, 1.0, P)
    x = (gdp[:, None] * size[None, :] * rng.lognormal(0.0, 0.5, (R, P))).ravel() * 1.0e4
    Ax = A @ x
    over = Ax > 0.85 * x                       # keep room for final demand in every row
    if over.any():
        A[over] *= (0.85 * x[over] / Ax[over])[:, None]
        Ax = A @ x
    y_tot = x - Ax

    # final demand: each row's total split over destination regions, then over fd categories
    ydom = np.clip(1.0 - trade * rng.uniform(0.6, 1.2, P), 0.05, 0.98)
    dest = gdp[None, :] * rng.lognormal(0.0, 0.5, (n, R))
    rows_region = np.repeat(np.arange(R), P)
    dest[np.arange(n), rows_region] = 0.0
    dest /= dest.sum(axis=1, keepdims=True) if R > 1 else 1.0
    dshare = dest * (1.0 - np.tile(ydom, R))[:, None]
    dshare[np.arange(n), rows_region] = np.tile(ydom, R) if R > 1 else 1.0
    f = len(EXIO3_FD_CATEGORIES)
    fshare = _FD_SHARES[None, :] * rng.lognormal(0.0, 0.3, (P, f))
    fshare /= fshare.sum(axis=1, keepdims=True)
    Y = (y_tot[:, None, None] * dshare[:, :, None] * np.tile(fshare, (R, 1))[:, None, :]).reshape(n, R * f)
    Y[:, :] = Y * (y_tot / Y.sum(axis=1))[:, None]  # exact balance after rounding

    # intensities: product base x region factor x noise; heavy tails from the lognormals
    rfac = np.array([0.5 if r in HIGH_INCOME else (1.6 if r in LOW_INCOME else 1.1) for r in reg])
    clean = {"NO": 0.25, "SE": 0.35, "CH": 0.4, "FR": 0.6}
    rfac = rfac * np.array([clean.get(r, 1.0) for r in reg]) * rng.lognormal(0.0, 0.25, R)
    wage = np.array([1.0 if r in HIGH_INCOME else (8.0 if r in LOW_INCOME else 3.0) for r in reg])

    def draw(base: np.ndarray, region: np.ndarray, sigma: float) -> np.ndarray:
        return (region[:, None] * base[None, :] * rng.lognormal(0.0, sigma, (R, P))).ravel()

    S = np.vstack([
        draw(co2, rfac, 0.6),
        draw(ch4, np.sqrt(rfac), 0.8),
        draw(n2o, np.sqrt(rfac), 0.8),
        draw(hours, wage, 0.3),
    ])
    C = np.array([[GWP100_AR5["CO2"], GWP100_AR5["CH4"], GWP100_AR5["N2O"], 0.0]])
    return MRIO(
        A=A, x=x, S=S, Y=Y, regions=tuple(reg), sectors=tuple(sec), stressors=STRESSORS,
        stressor_units=STRESSOR_UNITS, fd_categories=EXIO3_FD_CATEGORIES, C=C, impacts=("CO2e",),
        impact_units=("kg CO2e",),
        meta={"source": "synthetic", "year": 2022, "currency": "EUR", "money_unit": "M EUR",
              "price_basis": "basic", "system": "pxp", "seed": int(seed),
              "note": "SYNTHETIC WORLD generated by spendprint.synthetic_mrio: not real data"},
    )
