"""Exchange rates, price indices, margins and product taxes: spend -> MRIO money at basic prices.

Conversion of an amount ``a`` in currency ``c`` spent in year ``t`` into the MRIO currency ``m``
and base year ``b``, in the MRIO money unit (e.g. ``M EUR`` -> divide by 1e6)::

    v = a / e(c, t) * e(m, t) * I_m(b) / I_m(t) / unit

with ``e(c, t)`` units of ``c`` per EUR (ECB annual average) and ``I_m`` the consumer price index
of the MRIO currency area: convert at the spend year's rate, then deflate in the MRIO currency.
Purchaser -> basic prices for product ``p`` with margin and tax rates (fractions of the purchaser
price) ``w_p`` (wholesale), ``r_p`` (retail), ``t_p`` (transport), ``tax_p``::

    basic_p = v (1 - w_p - r_p - t_p - tax_p)

and ``v w_p``, ``v r_p``, ``v t_p`` become demand for the margin products (``margin_sectors``)
in the buyer region; ``v tax_p`` leaves the model.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError, LedgerError, ValidationError
from ..io.tabular import read_package_table, read_table

MARGINS = ("wholesale", "retail", "transport")
RATE_COLUMNS = {
    "rates": ("year", "currency", "per_eur"),
    "index": ("year", "currency", "index"),
    "margins": ("scope", "name", "wholesale", "retail", "transport", "taxes"),
    "margin_sectors": ("margin", "sector", "weight"),
}
KEYS = {"rates": ["year", "currency"], "index": ["year", "currency"],
        "margins": ["scope", "name"], "margin_sectors": ["margin", "sector"]}
_UNIT_FACTORS = {"": 1.0, "k": 1e3, "K": 1e3, "thousand": 1e3, "M": 1e6, "m": 1e6, "mn": 1e6,
                 "mio": 1e6, "million": 1e6, "B": 1e9, "bn": 1e9, "G": 1e9, "billion": 1e9}


def money_factor(money_unit: str) -> tuple[float, str]:
    """Split a money unit such as ``"M EUR"`` into (1e6, "EUR")."""
    m = re.fullmatch(r"\s*([A-Za-z]*?)\.?\s*([A-Z]{3})\s*", str(money_unit))
    if not m or m.group(1) not in _UNIT_FACTORS:
        raise ValidationError(f"cannot parse the MRIO money unit {money_unit!r}; expected e.g. "
                              "'M EUR', 'k USD' or 'EUR'")
    return _UNIT_FACTORS[m.group(1)], m.group(2)


def _clean(kind: str, df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check the columns and values of one price table; LedgerError listing every problem."""
    cols = RATE_COLUMNS[kind]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise LedgerError([f"{source}: missing column(s) {missing}; a {kind} table needs {list(cols)}"],
                          source)
    df = df[list(cols)].copy()
    problems = []
    for c in cols:
        if c in ("year", "per_eur", "index", "weight", *MARGINS, "taxes"):
            num = pd.to_numeric(df[c], errors="coerce")
            bad = num.isna() | (num < 0)
            if c in ("per_eur", "index"):
                bad |= num <= 0
            for row in df.index[bad.to_numpy()]:
                problems.append(f"{source}, row {row}, field '{c}': {df.at[row, c]!r} is not a "
                                "valid non-negative number")
            df[c] = num
        else:
            df[c] = df[c].astype(str).str.strip()
    if kind == "margins" and not problems:
        total = df[[*MARGINS, "taxes"]].sum(axis=1)
        for row in df.index[(total >= 1.0).to_numpy()]:
            problems.append(f"{source}, row {row}: margins and taxes add up to {total[row]:.3f} >= 1")
    if problems:
        raise LedgerError(problems, source)
    if "year" in df:
        df["year"] = df["year"].astype(np.int64)
    if "currency" in df:
        df["currency"] = df["currency"].str.upper()
    return df.reset_index(drop=True)


def _override(base: pd.DataFrame, new: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Rows of ``new`` replace the rows of ``base`` with the same key; others are added.

    For ``margin_sectors`` a margin given in ``new`` replaces that margin's whole split.
    """
    if kind == "margin_sectors":
        keep = base[~base["margin"].isin(new["margin"])]
    else:
        key = KEYS[kind]
        newkeys = pd.MultiIndex.from_frame(new[key])
        keep = base[~pd.MultiIndex.from_frame(base[key]).isin(newkeys)]
    return pd.concat([keep, new], ignore_index=True)


@dataclass(frozen=True, eq=False)
class Prices:
    """Price tables (see the module docstring for the formulas).

    Attributes
    ----------
    rates : DataFrame
        ``year, currency, per_eur``: units of currency per EUR, annual average.
    index : DataFrame
        ``year, currency, index``: consumer price index of each currency area (any base).
    margins : DataFrame
        ``scope (default|group|sector), name, wholesale, retail, transport, taxes``: fractions of
        the purchaser price; the most specific row for a product wins.
    margin_sectors : DataFrame
        ``margin (wholesale|retail|transport), sector, weight``: products that receive margins.
    source : str
        Where the tables came from (for messages and provenance).
    """

    rates: pd.DataFrame
    index: pd.DataFrame
    margins: pd.DataFrame
    margin_sectors: pd.DataFrame
    source: str = "spendprint default tables"

    def __post_init__(self) -> None:
        for kind in RATE_COLUMNS:
            object.__setattr__(self, kind, _clean(kind, getattr(self, kind), self.source))

    # ---- construction --------------------------------------------------------------------------
    @classmethod
    def default(cls) -> Prices:
        """The shipped tables (``spendprint/data``: exchange_rates.csv, price_index.csv,
        margins.csv, margin_sectors.csv; sources and caveats in their headers).

        Read once per process and shared: treat its tables as read-only (use `override`).
        """
        return _default_prices()

    def override(self, *, rates: pd.DataFrame | None = None, index: pd.DataFrame | None = None,
                 margins: pd.DataFrame | None = None, margin_sectors: pd.DataFrame | None = None,
                 source: str | None = None) -> Prices:
        """A copy where the given tables' rows replace or extend the current ones."""
        tables = {"rates": rates, "index": index, "margins": margins, "margin_sectors": margin_sectors}
        src = source or "user tables"
        out = {}
        for kind, new in tables.items():
            cur = getattr(self, kind)
            out[kind] = cur if new is None else _override(cur, _clean(kind, new, src), kind)
        return Prices(**out, source=f"{self.source} + {src}" if source or any(
            v is not None for v in tables.values()) else self.source)

    @classmethod
    def read(cls, path: str | Path, base: Prices | None = None) -> Prices:
        """Read user price tables and let them override ``base`` (default: `default`).

        ``path`` may be a directory holding any of ``exchange_rates.*``, ``price_index.*``,
        ``margins.*``, ``margin_sectors.*`` (csv, xlsx or parquet); a single table whose columns
        say what it is (``per_eur`` -> rates, ``index`` -> price index, ``taxes`` -> margins,
        ``margin`` -> margin sectors); or an xlsx workbook with sheets named ``rates``,
        ``index``, ``margins``, ``margin_sectors``.
        """
        base = base or cls.default()
        path = Path(path)
        tables: dict[str, pd.DataFrame] = {}
        stems = {"exchange_rates": "rates", "rates": "rates", "price_index": "index",
                 "index": "index", "margins": "margins", "margin_sectors": "margin_sectors"}
        if path.is_dir():
            for f in sorted(path.iterdir()):
                if f.stem in stems and f.suffix.lower() in (".csv", ".xlsx", ".parquet"):
                    tables[stems[f.stem]] = read_table(f, comment="#" if f.suffix == ".csv" else None)
        elif path.suffix.lower() == ".xlsx":
            sheets = pd.ExcelFile(path, engine="openpyxl").sheet_names
            named = [s for s in sheets if s in stems]
            for s in named:
                tables[stems[s]] = read_table(path, sheet=s)
            if not named:
                tables[_kind_of(read_table(path), path)] = read_table(path)
        else:
            df = read_table(path, comment="#" if path.suffix.lower() == ".csv" else None)
            tables[_kind_of(df, path)] = df
        if not tables:
            raise InputFileError(path, "no price table found (see Prices.read for the layout)")
        return base.override(**tables, source=str(path))

    # ---- lookups -------------------------------------------------------------------------------
    @property
    def currencies(self) -> list[str]:
        return sorted(self.rates["currency"].unique())

    def years(self, currency: str) -> list[int]:
        return sorted(self.rates.loc[self.rates["currency"] == currency, "year"].tolist())

    def conversion_factors(self, currency: np.ndarray, year: np.ndarray, to_currency: str,
                           base_year: int | None, unit: float = 1.0) -> np.ndarray:
        """Factor per (currency, year) pair turning an amount into MRIO money (vectorised).

        ``f = e(m, t) / e(c, t) * I_m(b) / I_m(t) / unit`` (module docstring); NaN where a rate or
        index is missing. ``base_year=None`` skips deflation.
        """
        currency = np.asarray(currency, dtype=object)
        year = np.asarray(year, dtype=np.int64)
        r = self.rates.set_index(["currency", "year"])["per_eur"]
        keys = pd.MultiIndex.from_arrays([currency, year])
        e_c = r.reindex(keys).to_numpy()
        e_m = r.reindex(pd.MultiIndex.from_arrays([np.full(len(year), to_currency, dtype=object),
                                                   year])).to_numpy()
        f = e_m / e_c / unit
        if base_year is not None:
            idx = self.index[self.index["currency"] == to_currency].set_index("year")["index"]
            i_t = idx.reindex(year).to_numpy()
            i_b = float(idx.get(int(base_year), np.nan))
            f = f * i_b / i_t
        return f

    def margin_rates(self, sectors: list[str], groups: dict[str, str] | None = None) -> pd.DataFrame:
        """Wholesale, retail, transport and tax rates for each product (most specific row wins).

        ``groups`` maps product names to EXIOBASE consumption groups (default: the shipped
        EXIOBASE 3 product list); products without a sector or group row get the default row.
        """
        if groups is None:
            from ..core.synthetic import exio3_products

            prods = exio3_products()
            groups = dict(zip(prods["name"], prods["group"], strict=True))
        m = self.margins.set_index(["scope", "name"])[[*MARGINS, "taxes"]]
        zero = pd.Series(0.0, index=[*MARGINS, "taxes"])
        default = m.loc[("default", "*")] if ("default", "*") in m.index else zero
        rows = []
        for s in sectors:
            if ("sector", s) in m.index:
                rows.append(m.loc[("sector", s)])
            elif ("group", groups.get(s, "")) in m.index:
                rows.append(m.loc[("group", groups[s])])
            else:
                rows.append(default)
        return pd.DataFrame(rows, index=pd.Index(sectors, name="sector")).astype(np.float64)


@functools.lru_cache(maxsize=1)
def _default_prices() -> Prices:
    return Prices(rates=read_package_table("exchange_rates.csv"),
                  index=read_package_table("price_index.csv"),
                  margins=read_package_table("margins.csv"),
                  margin_sectors=read_package_table("margin_sectors.csv"))


def _kind_of(df: pd.DataFrame, path: Path) -> str:
    cols = set(df.columns)
    for kind, col in (("rates", "per_eur"), ("index", "index"), ("margins", "taxes"),
                      ("margin_sectors", "margin")):
        if col in cols:
            return kind
    raise InputFileError(path, f"cannot tell which price table this is from its columns {sorted(cols)}; "
                               "expected per_eur (rates), index, taxes (margins) or margin")
