"""CPV 2008 codes: normalisation and the curated CPV -> EXIOBASE 3 product concordance.

Public buyers in the EU and Norway classify purchases with the Common Procurement Vocabulary (CPV
2008): 8 digits and a check digit (`33141420-0`, surgical gloves). The shipped table
`spendprint/data/cpv_exiobase3.csv` maps CPV *prefixes* (a division `33`, a group `331`, a class
`3314`, or any longer prefix down to a full code) to EXIOBASE 3 pxp products with weights; the
most specific prefix that matches a code wins. Sources and every curation choice are in
`spendprint/data/CPV.md`.

Lookup: for a code `c` (8 digits) and the set of prefixes `T` of the table,

    prefix(c) = the longest c[:L] in T, L = 8, 7, ..., 2
    products(c) = [(sector_j, w_j)] of that prefix, with sum_j w_j = 1 (dimensionless shares)

so a code's spend `a` (money) becomes the demand `a * w_j` on product `sector_j`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LabelMismatchError, LedgerError, ValidationError
from ..io.tabular import ROW_OFFSET

#: The shipped concordance (package data).
TABLE = "cpv_exiobase3.csv"
#: The CPV 2008 code labels (package data; code without check digit, English label).
LABELS = "cpv_labels.csv"

_CODE = re.compile(r"^(\d{7,8})(?:-(\d))?$")


def _data(name: str) -> Any:
    return resources.files("spendprint").joinpath("data", name)


@lru_cache(maxsize=1)
def cpv_table() -> pd.DataFrame:
    """The curated CPV -> EXIOBASE 3 table: columns `cpv_prefix` (2-8 digits, text), `cpv_label`,
    `sector` (EXIOBASE 3 pxp product name), `weight` (share, summing to 1 per prefix), `note`."""
    with _data(TABLE).open("r", encoding="utf-8") as f:
        df = pd.read_csv(f, dtype={"cpv_prefix": str, "cpv_label": str, "sector": str,
                                   "weight": np.float64, "note": str}, keep_default_na=False)
    return df


@lru_cache(maxsize=1)
def _by_prefix() -> dict[str, tuple[tuple[str, float], ...]]:
    t = cpv_table()
    out: dict[str, list[tuple[str, float]]] = {}
    for p, s, w in zip(t["cpv_prefix"], t["sector"], t["weight"], strict=True):
        out.setdefault(p, []).append((s, float(w)))
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def _labels_frame() -> pd.DataFrame:
    with _data(LABELS).open("r", encoding="utf-8") as f:
        return pd.read_csv(f, dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def cpv_labels() -> dict[str, str]:
    """`{code: label}` for the 9,454 CPV 2008 codes (8 digits, no check digit)."""
    df = _labels_frame()
    return dict(zip(df["code"], df["label"], strict=True))


@lru_cache(maxsize=1)
def _check_digits() -> dict[str, str]:
    """`{code: check digit}` as in the official CPV 2008 list."""
    df = _labels_frame()
    return dict(zip(df["code"], df["check"], strict=True))


def normalise_cpv(code: object) -> str:
    """A CPV code as its 8 digits.

    Accepts `33141420`, `33141420-0` (with the check digit, which must be the official one for a
    code of the CPV 2008 list), spaces anywhere (`3314 1420 - 0`), and numbers (`33141420`, `33141420.0`). A 7-digit value is read as a code whose leading zero
    a spreadsheet dropped (`3111000` -> `03111000`) when the padded code is a CPV 2008 code.

    Raises
    ------
    ValidationError
        For anything else, with the value and the expected form in the message.
    """
    if isinstance(code, bool) or code is None:
        raise ValidationError(f"CPV code {code!r}: expected 8 digits, e.g. 33141420 or 33141420-0")
    if isinstance(code, (int, np.integer)):
        text = str(int(code))
    elif isinstance(code, (float, np.floating)):
        if not np.isfinite(code) or code != int(code):
            raise ValidationError(f"CPV code {code!r}: expected 8 digits, e.g. 33141420")
        text = str(int(code))
    else:
        text = re.sub(r"\s+", "", str(code))
    m = _CODE.match(text)
    if not m:
        raise ValidationError(f"CPV code {code!r}: expected 8 digits with an optional check digit, "
                              "e.g. 33141420 or 33141420-0")
    digits = m.group(1)
    if len(digits) == 7:
        padded = "0" + digits
        if padded not in cpv_labels():
            raise ValidationError(f"CPV code {code!r}: 7 digits; a CPV code has 8 (and 0{digits} "
                                  "is not a CPV 2008 code)")
        digits = padded
    if digits[:2] == "00":
        raise ValidationError(f"CPV code {code!r}: no CPV division starts with 00")
    check = m.group(2)
    official = _check_digits().get(digits)
    if check is not None and official is not None and check != official:
        raise ValidationError(f"CPV code {code!r}: the check digit of {digits} is {official}, "
                              f"not {check} (a typing error in the code?)")
    return digits


def cpv_prefix(code: object) -> str | None:
    """The most specific prefix of the shipped table that matches `code` (None when none does)."""
    c = normalise_cpv(code)
    table = _by_prefix()
    for n in range(8, 1, -1):
        if c[:n] in table:
            return c[:n]
    return None


def cpv_label(code: object) -> str | None:
    """The English CPV 2008 label of a code, or None when the code is not in the list."""
    return cpv_labels().get(normalise_cpv(code))


def _sector_index(sectors: Iterable[str]) -> dict[str, str]:
    """Sector names keyed by their case- and whitespace-folded form (unique forms only)."""
    out: dict[str, str] = {}
    dup: set[str] = set()
    for s in sectors:
        k = fold(s)
        if k in out and out[k] != s:
            dup.add(k)
        out[k] = s
    for k in dup:
        del out[k]
    return out


def fold(name: object) -> str:
    """Case- and whitespace-insensitive form of a label: lower case, runs of spaces as one."""
    return " ".join(str(name).split()).casefold()


def cpv_to_products(code: object, sectors: Sequence[str] | None = None) -> list[tuple[str, float]]:
    """The products a CPV code buys, with weights summing to 1 (most specific prefix wins).

    Parameters
    ----------
    code : str or int
        A CPV code in any form [normalise_cpv][spendprint.procurement.cpv.normalise_cpv] accepts.
    sectors : sequence of str, optional
        The MRIO's product names. When given, each product is returned as spelled there (matched
        case- and whitespace-insensitively) and a product the model lacks is an error.

    Returns
    -------
    list of (str, float)
        `(sector, weight)` pairs, weights dimensionless, summing to 1.

    Raises
    ------
    ValidationError
        A malformed code, or a code under no prefix of the table.
    LabelMismatchError
        `sectors` lacks a product the table maps the code to.
    """
    c = normalise_cpv(code)
    p = cpv_prefix(c)
    if p is None:
        raise ValidationError(f"CPV code {c}: no entry in the shipped CPV concordance "
                              "(add the category to your concordance)")
    pairs = list(_by_prefix()[p])
    if sectors is None:
        return pairs
    index = _sector_index(sectors)
    out = []
    for s, w in pairs:
        hit = s if s in set(sectors) else index.get(fold(s))
        if hit is None:
            raise LabelMismatchError(f"CPV code {c} maps to {s!r} (via CPV prefix {p}), which is "
                                     "not a product of the MRIO (the CPV table is written for "
                                     "EXIOBASE 3 pxp products)")
        out.append((hit, w))
    return out


def cpv_concordance(frame: pd.DataFrame, sectors: Sequence[str] | None = None,
                    source: str = "ledger") -> pd.DataFrame:
    """Concordance rows for categories from their CPV codes.

    Parameters
    ----------
    frame : DataFrame
        Columns `category` and `cpv`; optional `amount`. The index gives the row numbers used in
        messages (a default RangeIndex is numbered as spreadsheet rows, from 2). Rows without a CPV code are skipped. A
        category with several codes gets the codes' products weighted by the spend on each code
        (by `amount` when given and positive in total, else equally):
        `w(s) = sum_c a_c w_c(s) / sum_c a_c`.
    sectors : sequence of str, optional
        MRIO product names, checked as in
        [cpv_to_products][spendprint.procurement.cpv.cpv_to_products].
    source : str
        File name used in messages.

    Returns
    -------
    DataFrame
        Columns `category`, `sector`, `weight` (summing to 1 per category), `origin_region` (""),
        `source` (`"cpv"`), `cpv` (the codes behind the row, space-separated), `cpv_prefix`.

    Raises
    ------
    LedgerError
        Every malformed or unmapped code at once, with its row and field.
    """
    for col in ("category", "cpv"):
        if col not in frame.columns:
            raise LedgerError([f"{source}, field '{col}': required column is missing"], source)
    if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0:
        frame = frame.set_axis(pd.RangeIndex(ROW_OFFSET, ROW_OFFSET + len(frame), name="row"))
    problems: list[str] = []
    cats = frame["category"].astype("string").fillna("").str.strip()
    raw = frame["cpv"]
    amount = (pd.to_numeric(frame["amount"], errors="coerce").fillna(0.0).to_numpy(dtype=np.float64)
              if "amount" in frame.columns else np.ones(len(frame)))
    Key = tuple[str, str, tuple[tuple[str, float], ...]]  # (code, prefix, products)
    spend: dict[str, dict[Key, float]] = {}
    total: dict[str, float] = {}
    cache: dict[Any, tuple[str, str, list[tuple[str, float]]] | str] = {}
    for row, cat, val, a in zip(frame.index, cats.to_numpy(), raw.to_numpy(dtype=object), amount,
                                strict=True):
        if val is None or (isinstance(val, float) and np.isnan(val)) or str(val).strip() == "":
            continue
        key = val if isinstance(val, (str, int, float)) else str(val)
        if key not in cache:
            try:
                c = normalise_cpv(val)
                cache[key] = (c, cpv_prefix(c) or "", cpv_to_products(c, sectors))
            except ValidationError as exc:
                cache[key] = str(exc)
        hit = cache[key]
        if isinstance(hit, str):
            problems.append(f"{source} row {row}, field 'cpv': {hit}")
            continue
        if not cat:
            continue  # the ledger reports empty categories
        c, p, pairs = hit
        k = (c, p, tuple(pairs))
        codes = spend.setdefault(cat, {})
        codes[k] = codes.get(k, 0.0) + max(float(a), 0.0)
        total[cat] = total.get(cat, 0.0) + max(float(a), 0.0)
    if problems:
        raise LedgerError(problems, source)
    rows = []
    for cat, codes in spend.items():
        equal = total[cat] <= 0
        denom = len(codes) if equal else total[cat]
        per: dict[str, float] = {}
        used: dict[str, list[str]] = {}
        pref: dict[str, list[str]] = {}
        for (c, p, prods), a in codes.items():
            share = (1.0 if equal else a) / denom
            for s, w in prods:
                per[s] = per.get(s, 0.0) + share * w
                used.setdefault(s, []).append(c)
                pref.setdefault(s, []).append(p)
        for s, w in per.items():
            rows.append({"category": cat, "sector": s, "weight": w, "origin_region": "",
                         "source": "cpv", "cpv": " ".join(dict.fromkeys(used[s])),
                         "cpv_prefix": " ".join(dict.fromkeys(pref[s]))})
    return pd.DataFrame(rows, columns=["category", "sector", "weight", "origin_region", "source",
                                       "cpv", "cpv_prefix"])


__all__ = ["cpv_concordance", "cpv_label", "cpv_labels", "cpv_prefix", "cpv_table",
           "cpv_to_products", "fold", "normalise_cpv"]
