"""The buyer's spend ledger: reading, validation (all problems at once) and aggregation.

Row numbers in messages are spreadsheet rows: the header is row 1, the first data row is row 2
(see `spendprint.io.tabular`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import LedgerError
from ..io.tabular import ROW_OFFSET, read_table
from .regions import map_regions

if TYPE_CHECKING:
    from ..core.model import MRIO
    from .concordance import Concordance
    from .prices import Prices

REQUIRED = ("category", "amount", "currency", "year")
OPTIONAL = ("supplier_country", "price_basis", "description")
PRICE_BASES = ("purchaser", "basic")
_BAD_YEAR = -999_999  # placeholder for an unparseable year (already reported)
_ROW = re.compile(r" rows? (\d+)")
#: Shown with every ledger error: how rows are numbered.
ROW_NOTE = "rows numbered as in a spreadsheet: header = row 1, first data row = row 2"


def sort_problems(problems: list[str]) -> list[str]:
    """Order messages by the row they name (stable: fields keep their order within a row)."""
    def key(msg: str) -> tuple[str, int]:
        m = _ROW.search(msg)
        return (msg[:m.start()], int(m.group(1))) if m else (msg.split(",")[0], 0)
    return sorted(problems, key=key)


def _text(col: pd.Series, case=None) -> pd.Categorical:
    """A text column as a Categorical of stripped strings ("" for empty or missing).

    String work happens on the distinct values only, so millions of rows cost one factorize.
    """
    codes, uniq = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
    clean = [str(u).strip() for u in uniq]
    if case is not None:
        clean = [case(u) for u in clean]
    clean.append("")
    codes = np.where(codes < 0, len(clean) - 1, codes)
    cats, inverse = np.unique(np.array(clean, dtype=object), return_inverse=True)
    return pd.Categorical.from_codes(inverse[codes], categories=pd.Index(cats, dtype=object))


def _rows_where(mask: np.ndarray | pd.Series, index: pd.Index) -> np.ndarray:
    return np.asarray(index)[np.asarray(mask, dtype=bool)]


def _problems(name: str, rows: np.ndarray, field: str, values: np.ndarray | None,
              what: str) -> list[str]:
    """One message per bad row (vectorised selection; a loop only over the bad rows)."""
    if values is None:
        return [f"{name} row {r}, field '{field}': {what}" for r in rows]
    return [f"{name} row {r}, field '{field}': {v!r} {what}" for r, v in zip(rows, values, strict=True)]


@dataclass(frozen=True, eq=False)
class Ledger:
    """A validated spend ledger.

    Attributes
    ----------
    frame : DataFrame
        Columns ``category`` (category dtype), ``amount`` (float64, in ``currency``), ``currency``
        (ISO 4217, upper case), ``year`` (int64), ``supplier_country`` (str, "" when not given),
        ``price_basis`` ("purchaser" or "basic"), ``description``; index = spreadsheet row number.
    source : str
        File name or label used in messages.
    checked_with : tuple
        Identities of the (concordance, prices, mrio) the ledger was validated against when it
        was read, so that building the demand from the same inputs does not validate twice.
    """

    frame: pd.DataFrame
    source: str = "ledger"
    checked_with: tuple = field(default=(), repr=False)

    # ---- construction --------------------------------------------------------------------------
    @classmethod
    def read(cls, path: str | Path, *, concordance: Concordance | None = None,
             prices: Prices | None = None, mrio: MRIO | None = None) -> Ledger:
        """Read a ledger from CSV, xlsx or Parquet and validate it.

        Columns: ``category``, ``amount`` (>= 0, in ``currency``), ``currency``, ``year``; optional
        ``supplier_country`` (name or ISO-2/ISO-3 code), ``price_basis`` (``purchaser``, the
        default, or ``basic``), ``description``. Other columns are kept but unused.

        With ``concordance``, ``prices`` and ``mrio`` the checks that need them (category in the
        concordance, currency and year in the price tables, supplier country in the MRIO's
        regions) run too, so that one `LedgerError` lists every problem.

        Raises
        ------
        LedgerError
            All problems at once, each with file, spreadsheet row and field.
        InputFileError
            The file is missing or unreadable.
        """
        path = Path(path)
        df = read_table(path, as_text=True)
        return cls.from_frame(df, source=path.name, concordance=concordance, prices=prices,
                              mrio=mrio, _numbered=True)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, source: str = "ledger", *,
                   concordance: Concordance | None = None, prices: Prices | None = None,
                   mrio: MRIO | None = None, _numbered: bool = False) -> Ledger:
        """Validate a DataFrame as a ledger (see `read`).

        A frame with a default RangeIndex is renumbered to spreadsheet rows (first row = 2), as if
        written to a CSV file; any other index is used as the row number.
        """
        df = df.copy(deep=False)
        if not _numbered and isinstance(df.index, pd.RangeIndex) and df.index.start == 0:
            df.index = pd.RangeIndex(ROW_OFFSET, ROW_OFFSET + len(df), name="row")
        df.columns = [str(c).strip() for c in df.columns]
        missing = [c for c in REQUIRED if c not in df.columns]
        if missing:
            raise LedgerError([f"{source}, field '{c}': required column is missing (columns found: "
                               f"{list(df.columns)})" for c in missing], f"{source} ({ROW_NOTE})")
        problems: list[str] = []
        idx = df.index

        cat = _text(df["category"])
        problems += _problems(source, _rows_where(cat == "", idx), "category", None,
                              "empty category")

        raw = df["amount"]
        if pd.api.types.is_numeric_dtype(raw):
            amount = raw.to_numpy(dtype=np.float64, na_value=np.nan)
            empty = np.isnan(amount)
        else:
            amount = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            empty = np.zeros(len(raw), dtype=bool)
            nan = np.flatnonzero(np.isnan(amount))  # only these few rows need a closer look
            empty[nan] = [v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                          or str(v).strip() == "" for v in raw.to_numpy()[nan]]
        bad = ~np.isfinite(amount)
        problems += _problems(source, _rows_where(empty, idx), "amount", None, "missing amount")
        sel = bad & ~empty
        problems += _problems(source, _rows_where(sel, idx), "amount", raw.to_numpy()[sel],
                              "is not a number")
        neg = amount < 0
        problems += _problems(source, _rows_where(neg, idx), "amount", amount[neg],
                              "is negative (amounts must be >= 0; record refunds as a lower amount)")

        cur = _text(df["currency"], str.upper)
        problems += _problems(source, _rows_where(cur == "", idx), "currency", None,
                              "missing currency")

        yraw = df["year"]
        ycodes, yuniq = pd.factorize(yraw.to_numpy(dtype=object), use_na_sentinel=True)
        yvals = np.append(pd.to_numeric(pd.Series(yuniq, dtype=object), errors="coerce")
                          .to_numpy(dtype=np.float64, na_value=np.nan), np.nan)
        year = yvals[np.where(ycodes < 0, len(yvals) - 1, ycodes)]
        ybad = np.isnan(year) | (year != np.round(year))
        problems += _problems(source, _rows_where(ybad, idx), "year", yraw.to_numpy()[ybad],
                              "is not a whole year")

        n = len(df)
        sc = (_text(df["supplier_country"]) if "supplier_country" in df.columns
              else pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[""]))
        if "price_basis" in df.columns:
            pb = _text(df["price_basis"], str.lower)
            lookup = {"": 0, PRICE_BASES[0]: 0, PRICE_BASES[1]: 1}
            code_map = np.array([lookup.get(c, -1) for c in pb.categories], dtype=np.int64)
            codes = code_map[pb.codes]
            pbad = codes < 0
            problems += _problems(source, _rows_where(pbad, idx), "price_basis",
                                  df["price_basis"].to_numpy()[pbad],
                                  "is not 'purchaser' or 'basic'")
            pb = pd.Categorical.from_codes(np.where(pbad, 0, codes), categories=list(PRICE_BASES))
        else:
            pb = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=list(PRICE_BASES))
        desc = (df["description"].fillna("").to_numpy(dtype=object) if "description" in df.columns
                else np.full(n, "", dtype=object))
        frame = pd.DataFrame({
            "category": cat,
            "amount": np.where(np.isnan(amount), 0.0, amount),
            "currency": cur,
            "year": np.where(ybad, _BAD_YEAR, np.nan_to_num(year)).astype(np.int64),
            "supplier_country": sc,
            "price_basis": pb,
            "description": desc,
        }, index=idx)
        ledger = cls(frame=frame, source=source,
                     checked_with=(id(concordance), id(prices), id(mrio))
                     if None not in (concordance, prices, mrio) else ())
        if concordance is not None or prices is not None or mrio is not None:
            # the checks against other inputs run on the same rows, so one error lists everything
            problems += ledger.problems(concordance=concordance, prices=prices, mrio=mrio)
            if concordance is not None and mrio is not None:
                problems += concordance.problems(mrio)
        if problems:
            raise LedgerError(sort_problems(problems), f"{source} ({ROW_NOTE})")
        return ledger

    # ---- validation against other inputs ---------------------------------------------------------
    def problems(self, *, concordance: Concordance | None = None, prices: Prices | None = None,
                 mrio: MRIO | None = None) -> list[str]:
        """Problems that need other inputs: unknown category, currency, year, supplier country.

        ``year`` must be in the exchange-rate table for the row's currency and (with ``mrio``)
        in the price index of the MRIO currency; ``supplier_country`` must map to a region of
        ``mrio`` (see `map_regions`).
        """
        f, src, idx = self.frame, self.source, self.frame.index
        out: list[str] = []
        if concordance is not None:
            known = set(concordance.categories)
            unknown = [c for c in f["category"].cat.categories if c and c not in known]
            if unknown:
                m = f["category"].isin(unknown).to_numpy()
                out += _problems(src, _rows_where(m, idx), "category", f["category"].to_numpy()[m],
                                 f"is not in the concordance ({concordance.source})")
        if prices is not None:
            currs = set(prices.currencies)
            unknown = [c for c in f["currency"].cat.categories if c and c not in currs]
            m_cur = f["currency"].isin(unknown).to_numpy()
            out += _problems(src, _rows_where(m_cur, idx), "currency", f["currency"].to_numpy()[m_cur],
                             f"is not a known currency (known: {', '.join(sorted(currs))})")
            skip = m_cur | (f["currency"] == "").to_numpy() | (f["year"] == _BAD_YEAR).to_numpy()
            pairs = f.loc[~skip, ["currency", "year"]].drop_duplicates()
            have = pd.MultiIndex.from_frame(prices.rates[["currency", "year"]])
            ok = pd.MultiIndex.from_arrays([pairs["currency"].astype(str), pairs["year"]]).isin(have)
            idx_years: set[int] | None = None
            mcur = None
            if mrio is not None:
                from .prices import money_factor

                mcur = money_factor(mrio.meta.get("money_unit", "M EUR"))[1]
                if mrio.meta.get("year") is not None:
                    ix = prices.index
                    idx_years = set(ix.loc[ix["currency"] == mcur, "year"].astype(int))
            badpairs = pairs[~ok]
            if idx_years is not None:
                badpairs = pd.concat([badpairs, pairs[ok & ~pairs["year"].isin(idx_years).to_numpy()]])
            if len(badpairs):
                key = pd.MultiIndex.from_frame(badpairs.astype({"currency": str}))
                m = pd.MultiIndex.from_arrays([f["currency"].astype(str), f["year"]]).isin(key)
                rng = prices.rates.groupby("currency")["year"].agg(["min", "max"])
                yrs = f["year"].to_numpy()[m]
                cs = f["currency"].to_numpy()[m]
                for r, y, c in zip(_rows_where(m, idx), yrs, cs, strict=True):
                    span = (f"{rng.at[c, 'min']}-{rng.at[c, 'max']}" if c in rng.index else "none")
                    extra = f" and the {mcur} price index" if idx_years is not None else ""
                    out.append(f"{src} row {r}, field 'year': {int(y)} is outside the price tables "
                               f"(exchange rates for {c}: {span}{extra})")
        if mrio is not None:
            names = [c for c in f["supplier_country"].cat.categories if str(c).strip()]
            mapping = map_regions(names, mrio.regions)
            bad = [n for n, r in mapping.items() if r is None]
            if bad:
                m = f["supplier_country"].isin(bad).to_numpy()
                out += _problems(src, _rows_where(m, idx), "supplier_country",
                                 f["supplier_country"].to_numpy()[m],
                                 f"maps to no region of the MRIO ({', '.join(mrio.regions[:12])}"
                                 f"{', ...' if len(mrio.regions) > 12 else ''})")
        return out

    def raise_problems(self, *, concordance: Concordance | None = None, prices: Prices | None = None,
                       mrio: MRIO | None = None) -> None:
        """Raise one LedgerError with `problems` (and the concordance's) if there are any."""
        out = self.problems(concordance=concordance, prices=prices, mrio=mrio)
        if concordance is not None and mrio is not None:
            out += concordance.problems(mrio)
        if out:
            raise LedgerError(sort_problems(out), f"{self.source} ({ROW_NOTE})")

    # ---- aggregation -------------------------------------------------------------------------------
    def aggregate(self) -> pd.DataFrame:
        """Sum amounts by (category, currency, year, supplier_country, price_basis).

        Returns a small DataFrame with those columns and ``amount``; vectorised (groupby), so a
        ledger of millions of rows aggregates in well under a second per million rows.
        """
        keys = ["category", "currency", "year", "supplier_country", "price_basis"]
        g = self.frame.groupby(keys, observed=True, sort=False)["amount"].sum()
        out = g.reset_index()
        for k in ("category", "currency", "supplier_country", "price_basis"):
            out[k] = out[k].astype(str)
        return out

    @property
    def categories(self) -> list[str]:
        """Categories in order of first appearance."""
        return list(pd.unique(self.frame["category"].astype(str)))

    @property
    def currencies(self) -> list[str]:
        return sorted(self.frame["currency"].astype(str).unique())

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (f"<Ledger {self.source}: {len(self)} rows, {self.frame['category'].nunique()} "
                f"categories, currencies {self.currencies}>")
