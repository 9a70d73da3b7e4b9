"""Removing VAT from ledger amounts that include it (rate table by country and product group).

A gross amount ``g`` (including VAT at rate ``t``, a fraction of the net price) has the net
amount ``n = g / (1 + t)`` and VAT ``g - n = g t / (1 + t)``. The rate is that of the buyer's
country (domestic purchases are taxed where the buyer is) and of the row's product group, taken
from its CPV code ([vat_group][spendprint.procurement.vat.vat_group]); see `data/VAT.md` for the
groups and the sources of the shipped table `data/vat_rates.csv`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import LedgerError
from ..io.tabular import read_package_table, read_table

GROUPS = ("standard", "food", "passenger_transport", "accommodation", "medicines", "books",
          "health_social", "education")
#: CPV prefixes -> product group; the longest matching prefix wins, ``None`` = standard.
CPV_GROUPS: dict[str, str | None] = {
    "15": "food", "159": None, "031": "food",
    "6011": "passenger_transport", "6013": "passenger_transport",
    "6014": "passenger_transport", "6017": "passenger_transport",
    "6021": "passenger_transport", "6040": "passenger_transport",
    "551": "accommodation", "336": "medicines", "2211": "books",
    "85": "health_social", "80": "education",
}
#: Buyer country implied by a ledger currency (used when ``vat_country`` is not given).
CURRENCY_COUNTRY = {"NOK": "NO", "SEK": "SE", "DKK": "DK"}


def vat_group(cpv: str) -> str:
    """The product group of an 8-digit CPV code (``"standard"`` for "" or an unlisted code)."""
    for k in range(len(cpv), 1, -1):
        if cpv[:k] in CPV_GROUPS:
            return CPV_GROUPS[cpv[:k]] or "standard"
    return "standard"


@dataclass(frozen=True)
class VatRates:
    """VAT rates: ``table`` with columns ``country`` (ISO-2), ``group``, ``rate`` (fraction)."""

    table: pd.DataFrame
    source: str = "vat_rates.csv"

    @classmethod
    def default(cls) -> VatRates:
        """The shipped table (`data/vat_rates.csv`, sources in `data/VAT.md`)."""
        return cls(_clean(read_package_table("vat_rates.csv"), "vat_rates.csv"), "vat_rates.csv")

    @classmethod
    def read(cls, path: str | Path, base: VatRates | None = None) -> VatRates:
        """A user table; its (country, group) rows replace those of ``base`` (default: shipped)."""
        path = Path(path)
        user = _clean(read_table(path, as_text=True), path.name)
        base = base or cls.default()
        keep = ~pd.MultiIndex.from_frame(base.table[["country", "group"]]).isin(
            pd.MultiIndex.from_frame(user[["country", "group"]]))
        return cls(pd.concat([base.table[keep], user], ignore_index=True), path.name)

    def rate(self, country: str, group: str) -> float | None:
        t = self.table
        hit = t[(t["country"] == country) & (t["group"] == group)]
        if len(hit):
            return float(hit["rate"].iloc[0])
        hit = t[(t["country"] == country) & (t["group"] == "standard")]
        return float(hit["rate"].iloc[0]) if len(hit) else None

    @property
    def countries(self) -> list[str]:
        return sorted(self.table["country"].unique())


def _clean(df: pd.DataFrame, source: str) -> pd.DataFrame:
    problems = [f"{source}, field '{c}': required column is missing"
                for c in ("country", "group", "rate") if c not in df.columns]
    if problems:
        raise LedgerError(problems, source)
    rate = pd.to_numeric(df["rate"], errors="coerce")
    bad = rate.isna() | (rate < 0) | (rate >= 1)
    problems = [f"{source} row {r}, field 'rate': {v!r} is not a fraction in [0, 1)"
                for r, v in zip(df.index[bad.to_numpy()], df["rate"][bad], strict=True)]
    groups = df["group"].astype(str).str.strip()
    badg = ~groups.isin(GROUPS)
    problems += [f"{source} row {r}, field 'group': {g!r} is not one of {', '.join(GROUPS)}"
                 for r, g in zip(df.index[badg.to_numpy()], groups[badg], strict=True)]
    if problems:
        raise LedgerError(problems, source)
    return pd.DataFrame({"country": df["country"].astype(str).str.strip().str.upper(),
                         "group": groups, "rate": rate.astype(float)}).reset_index(drop=True)


def remove_vat(amount: np.ndarray, included: np.ndarray, cpv: np.ndarray, country: str,
               rates: VatRates) -> tuple[np.ndarray, dict]:
    """Net amounts: ``amount / (1 + rate)`` where ``included``; ``amount`` elsewhere.

    Parameters
    ----------
    amount : ndarray (n,)
        Amounts (credit notes negative), in the ledger currency.
    included : ndarray of bool (n,)
        Rows whose amount includes VAT.
    cpv : ndarray of str (n,)
        8-digit CPV codes or "" (product group, [vat_group]).
    country : str
        ISO-2 code of the buyer's country (its rates apply).

    Returns
    -------
    (ndarray, dict)
        Net amounts and a summary: ``country``, ``rows`` with VAT removed, ``removed`` (sum of VAT
        taken off, ledger currency; per currency is the caller's business), ``by_group``
        (``{group: [rate, rows]}``).
    """
    codes, uniq = pd.factorize(pd.Series(cpv, dtype=object).fillna(""))
    groups = np.array([vat_group(str(c)) for c in uniq], dtype=object)
    row_group = groups[codes] if len(codes) else np.array([], dtype=object)
    rate_of = {g: rates.rate(country, g) for g in set(groups.tolist())}
    if any(v is None for v in rate_of.values()):
        raise LedgerError([f"VAT: no rates for the buyer country {country!r} in {rates.source} "
                           f"(countries: {', '.join(rates.countries)}); give a table with "
                           f"vat_rates=PATH"], rates.source)
    r = np.array([rate_of[g] for g in row_group], dtype=np.float64) if len(row_group) else \
        np.zeros(0)
    r = np.where(included, r, 0.0)
    net = amount / (1.0 + r)
    by_group = {}
    for g in sorted(rate_of):
        m = included & (row_group == g)
        if m.any():
            by_group[g] = [rate_of[g], int(m.sum())]
    return net, {"country": country, "rows": int(included.sum()),
                 "removed": float(np.sum(amount - net)), "by_group": by_group,
                 "table": rates.source}
