"""The buyer's spend ledger: reading, validation (all problems at once) and aggregation.

Row numbers in messages are spreadsheet rows: the header is row 1, the first data row is row 2
(see `spendprint.io.tabular`).
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import LabelMismatchError, LedgerError, ValidationError
from ..io.tabular import ROW_OFFSET
from .ledger_files import SYNONYMS, map_columns, parse_amounts, read_ledger_file, rename_columns
from .regions import map_regions

if TYPE_CHECKING:
    from ..core.model import MRIO
    from .concordance import Concordance
    from .prices import Prices

REQUIRED = ("category", "amount", "currency", "year")
OPTIONAL = ("supplier_country", "supplier", "price_basis", "description", "cpv", "vat_included")
VAT_MODES = ("excluded", "included")
_YES = {"yes", "y", "true", "1", "ja", "j", "sant", "x"}
_NO = {"no", "n", "false", "0", "nei", "nej", "nein", "falsk", "usant", ""}
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


def plain(v: object) -> str:
    """A number as a person writes it: `-2000000`, `1234.5`, `0.1` (never `np.float64(...)`).

    Whole floats lose their `.0`; other floats get up to 12 significant digits; text is returned
    unchanged.
    """
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not np.isfinite(f):
            return str(f)
        if f == int(f) and abs(f) < 1e15:
            return str(int(f))
        return f"{f:.12g}"
    return str(v)


def _show(v: object) -> str:
    """A cell value in a message: text quoted, numbers plain."""
    if isinstance(v, (int, float, np.integer, np.floating, bool, np.bool_)):
        return plain(v)
    return repr(str(v))


def _rows_text(rows: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _did_you_mean(value: str, choices: list[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'X'?)`` for the closest of ``choices`` (difflib ratio >= ``cutoff``,
    then case- and spacing-insensitively), or ""."""
    value = str(value)
    hits = difflib.get_close_matches(value, choices, n=1, cutoff=cutoff)
    if not hits:  # case- and spacing-insensitive second try
        low = {c.casefold().strip(): c for c in choices}
        hits = [low[h] for h in difflib.get_close_matches(value.casefold().strip(), list(low),
                                                          n=1, cutoff=cutoff)]
    return f" (did you mean {hits[0]!r}?)" if hits else ""


def _problems(name: str, rows: np.ndarray, field: str, values: np.ndarray | None,
              what: str | dict) -> list[str]:
    """One message per bad row (vectorised selection; a loop only over the bad rows).

    ``what`` may be a dict ``{value: text}`` for a text per distinct value (did-you-mean).
    """
    if values is None:
        return [f"{name} row {r}, field '{field}': {what}" for r in rows]
    if isinstance(what, dict):
        return [f"{name} row {r}, field '{field}': {_show(v)} {what[v]}"
                for r, v in zip(rows, values, strict=True)]
    return [f"{name} row {r}, field '{field}': {_show(v)} {what}"
            for r, v in zip(rows, values, strict=True)]


@dataclass(frozen=True, eq=False)
class Ledger:
    """A validated spend ledger.

    Attributes
    ----------
    frame : DataFrame
        Columns ``category`` (category dtype), ``amount`` (float64, in ``currency``, excluding
        VAT; credit notes negative), ``currency`` (ISO 4217, upper case), ``year`` (int64),
        ``supplier_country`` (str, "" when not given), ``price_basis`` ("purchaser" or "basic"),
        ``description``, ``supplier`` (str), ``cpv`` (8-digit CPV code, "" when not given);
        index = spreadsheet row number.
    source : str
        File name or label used in messages.
    checked_with : tuple
        Identities of the (concordance, prices, mrio) the ledger was validated against when it
        was read, so that building the demand from the same inputs does not validate twice.
    import_info : dict
        How the ledger was read: ``file``, ``format``, ``sheet``, ``header_row``, ``encoding``,
        ``delimiter``, ``decimal``, ``thousands``, ``columns`` (``{file header: field}``, explicit
        and recognised), ``vat`` (mode and, when removed, the rates used and the VAT taken off),
        ``rows``, ``credit_notes`` (rows and their sum), ``duplicates`` (rows that repeat an
        earlier row exactly), ``warnings``.
    """

    frame: pd.DataFrame
    source: str = "ledger"
    checked_with: tuple = field(default=(), repr=False)
    import_info: dict = field(default_factory=dict, repr=False)

    # ---- construction --------------------------------------------------------------------------
    @classmethod
    def read(cls, path: str | Path, *, columns: Mapping[str, str] | str | None = None,
             sheet: str | int | None = None, vat: str | None = None,
             vat_rates: str | Path | None = None, vat_country: str | None = None,
             decimal: str | None = None, encoding: str | None = None,
             delimiter: str | None = None, concordance: Concordance | None = None,
             prices: Prices | None = None, mrio: MRIO | None = None) -> Ledger:
        """Read a ledger from CSV, xlsx or Parquet and validate it.

        Fields: ``category``, ``amount`` (in ``currency``; negative for credit notes),
        ``currency``, ``year``; optional ``supplier_country`` (a country name in English,
        Norwegian, Swedish, Danish, German or Finnish, or an ISO-2/ISO-3 code), ``supplier``,
        ``description``, ``cpv`` (CPV code), ``vat_included`` (yes/no, ja/nei, true/false),
        ``price_basis`` (``purchaser``, the default, or ``basic``). Other columns are kept but
        unused. Headers are recognised in those languages (`ledger_files.SYNONYMS`), case- and
        accent-insensitively; ``columns`` maps other headers (``{"Sum NOK": "amount"}`` or
        ``"Sum NOK=amount,Gruppe=category"``).

        Parameters
        ----------
        sheet : str or int, optional
            xlsx: sheet name or 0-based index (default: the first sheet). The header row is the
            first of the first 20 rows that holds all required fields.
        vat : {"excluded", "included"}, optional
            Whether amounts include VAT (default excluded, or per row from ``vat_included``).
            Included VAT is removed: ``net = gross / (1 + rate)``, see `spendprint.procurement.vat`.
        vat_rates : path, optional
            A VAT table overriding the shipped rows of the same (country, group).
        vat_country : str, optional
            The buyer's country (whose VAT rates apply); default from the currency (NOK -> NO,
            SEK -> SE, DKK -> DK).
        decimal : {",", "."}, optional
            Decimal separator of text amounts; default decided from the amount column.
        encoding, delimiter : str, optional
            CSV: override the detected encoding (UTF-8, UTF-8 with BOM, cp1252, latin-1) and
            separator (``,`` ``;`` tab).
        concordance, prices, mrio : optional
            With them the checks that need them (category in the concordance, currency and year
            in the price tables, supplier country in the MRIO's regions) run too, so that one
            `LedgerError` lists every problem.

        Raises
        ------
        LedgerError
            All problems at once, each with file, spreadsheet row and field.
        InputFileError
            The file is missing or unreadable.
        """
        path = Path(path)
        df, info = read_ledger_file(path, columns=columns, sheet=sheet, encoding=encoding,
                                    delimiter=delimiter)
        return cls.from_frame(df, source=path.name, columns={}, vat=vat, vat_rates=vat_rates,
                              vat_country=vat_country, decimal=decimal, concordance=concordance,
                              prices=prices, mrio=mrio, _numbered=True, _info=info)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, source: str = "ledger", *,
                   columns: Mapping[str, str] | str | None = None, vat: str | None = None,
                   vat_rates: str | Path | None = None, vat_country: str | None = None,
                   decimal: str | None = None, concordance: Concordance | None = None,
                   prices: Prices | None = None, mrio: MRIO | None = None,
                   _numbered: bool = False, _info: dict | None = None) -> Ledger:
        """Validate a DataFrame as a ledger (see `read`; headers recognised the same way).

        A frame with a default RangeIndex is renumbered to spreadsheet rows (first row = 2), as if
        written to a CSV file; any other index is used as the row number.
        """
        from .ledger_files import parse_column_mapping

        df = df.copy(deep=False)
        if not _numbered and isinstance(df.index, pd.RangeIndex) and df.index.start == 0:
            df.index = pd.RangeIndex(ROW_OFFSET, ROW_OFFSET + len(df), name="row")
        df.columns = [str(c).strip() for c in df.columns]
        info = dict(_info or {"format": "frame"})
        if _info is None or columns:
            mapping = map_columns(list(df.columns), parse_column_mapping(columns), source)
            df = rename_columns(df, mapping)
            info["columns"] = {**info.get("columns", {}), **mapping}
        if vat is not None and vat not in VAT_MODES:
            raise LedgerError([f"vat={vat!r}: expected 'excluded' or 'included'"], source)
        missing = [c for c in REQUIRED if c not in df.columns]
        if missing:
            raise LedgerError([f"{source}, field '{c}': required column is missing (columns found: "
                               f"{list(df.columns)}; recognised headers for it: "
                               f"{', '.join(SYNONYMS[c][:6])}, ...; or map one with "
                               f"columns={{'HEADER': '{c}'}} / --columns \"HEADER={c}\")"
                               for c in missing], f"{source} ({ROW_NOTE})")
        problems: list[str] = []
        idx = df.index
        n = len(df)

        cat = _text(df["category"])
        problems += _problems(source, _rows_where(cat == "", idx), "category", None,
                              "empty category")

        raw = df["amount"]
        if pd.api.types.is_numeric_dtype(raw):
            amount = raw.to_numpy(dtype=np.float64, na_value=np.nan)
            empty = np.isnan(amount)
        else:
            try:
                amount, numinfo = parse_amounts(raw, decimal, source)
                info.update(numinfo)
            except LedgerError as exc:
                problems += exc.problems
                amount = np.zeros(n)
            empty = np.zeros(len(raw), dtype=bool)
            nan = np.flatnonzero(np.isnan(amount))  # only these few rows need a closer look
            empty[nan] = [v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                          or str(v).strip() == "" for v in raw.to_numpy()[nan]]
        bad = ~np.isfinite(amount)
        problems += _problems(source, _rows_where(empty, idx), "amount", None, "missing amount")
        sel = bad & ~empty
        problems += _problems(source, _rows_where(sel, idx), "amount", raw.to_numpy()[sel],
                              "is not a number")
        amount = np.where(bad, 0.0, amount)

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

        def opt_text(name: str) -> pd.Categorical:
            return (_text(df[name]) if name in df.columns
                    else pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[""]))

        sc = opt_text("supplier_country")
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

        # CPV codes: normalised on the distinct values
        cpv = opt_text("cpv")
        cpv_norm = []
        bad_cpv: dict[str, str] = {}
        for c in cpv.categories:
            if not c:
                cpv_norm.append("")
                continue
            try:
                from .cpv import normalise_cpv

                cpv_norm.append(normalise_cpv(c))
            except ValidationError as exc:
                cpv_norm.append("")
                bad_cpv[c] = f"is not a CPV code ({str(exc).split(': ', 1)[-1]})"
        if bad_cpv:
            m = cpv.isin(list(bad_cpv))
            problems += _problems(source, _rows_where(m, idx), "cpv", np.asarray(cpv)[m], bad_cpv)
        cpv_codes = np.array(cpv_norm, dtype=object)[cpv.codes] if n else np.array([], object)

        # VAT
        included = np.full(n, vat == "included")
        if "vat_included" in df.columns:
            vi = _text(df["vat_included"], str.lower)
            vmap = {}
            for c in vi.categories:
                vmap[c] = 1 if c in _YES else (0 if c in _NO and c else (-1 if c == "" else -2))
            vcodes = np.array([vmap[c] for c in vi.categories], dtype=np.int64)[vi.codes]
            vbad = vcodes == -2
            problems += _problems(source, _rows_where(vbad, idx), "vat_included",
                                  df["vat_included"].to_numpy()[vbad],
                                  "is not yes/no (ja/nei, true/false)")
            included = np.where(vcodes >= 0, vcodes == 1, included)
        vat_info: dict = {"mode": vat or ("per row" if "vat_included" in df.columns
                                          else "excluded")}
        if included.any():
            from .vat import CURRENCY_COUNTRY, VatRates, remove_vat

            country = vat_country
            if country is None:
                curs = sorted(set(np.asarray(cur)[included].tolist()))
                cands = {CURRENCY_COUNTRY.get(c) for c in curs}
                if len(cands) == 1 and None not in cands:
                    country = cands.pop()
                else:
                    problems.append(f"{source}, field 'amount': amounts include VAT but the "
                                    f"buyer's country cannot be told from the currency "
                                    f"({', '.join(curs)}); give vat_country (e.g. 'NO')")
            if country is not None:
                from .countries import iso2

                code = iso2(country) or str(country).upper()
                rates = VatRates.read(vat_rates) if vat_rates is not None else VatRates.default()
                amount, vinfo = remove_vat(amount, included, cpv_codes, code, rates)
                vat_info.update(vinfo)
                vat_info["removed"] = float(round(vinfo["removed"], 6))

        frame = pd.DataFrame({
            "category": cat,
            "amount": amount,
            "currency": cur,
            "year": np.where(ybad, _BAD_YEAR, np.nan_to_num(year)).astype(np.int64),
            "supplier_country": sc,
            "price_basis": pb,
            "description": desc,
            "supplier": opt_text("supplier"),
            "cpv": pd.Categorical(cpv_codes) if n else pd.Categorical([]),
        }, index=idx)

        # credit notes: netted within the aggregation keys; a negative net is an error
        neg = frame["amount"].to_numpy() < 0
        info["credit_notes"] = {"rows": int(neg.sum()),
                                "amount": float(frame["amount"].to_numpy()[neg].sum())}
        if neg.any():
            keys = ["category", "currency", "year", "supplier_country", "price_basis"]
            net = frame.groupby(keys, observed=True, sort=False)["amount"].transform("sum")
            negrows = (net < -1e-9 * frame["amount"].abs().max()).to_numpy()
            if negrows.any():
                sub = frame[negrows]
                for key, grp in sub.groupby(keys, observed=True, sort=True):
                    c, cu, y, s, p = key
                    where = f", supplier_country '{s}'" if s else ""
                    where += ", price basis 'basic'" if p == "basic" else ""
                    rows = np.asarray(grp.index)
                    first = rows[np.flatnonzero(grp["amount"].to_numpy() < 0)[0]]
                    problems.append(
                        f"{source} row {first}, field 'amount': category {c!r}, year "
                        f"{'?' if y == _BAD_YEAR else int(y)}{where}: net amount "
                        f"{plain(grp['amount'].sum())} {cu} is negative (credit notes exceed "
                        f"purchases; {_rows_text(rows)})")

        warn: list[str] = []
        dup = df.duplicated(keep="first").to_numpy() if n else np.zeros(0, bool)
        info["duplicates"] = {"rows": int(dup.sum()),
                              "first": [int(r) for r in np.asarray(idx)[dup][:20]]}
        if dup.any():
            warn.append(f"{source}: {int(dup.sum())} row(s) repeat an earlier row exactly "
                        f"({_rows_text(np.asarray(idx)[dup])}); kept, check that they are not "
                        f"double-counted")
        info.update(rows=int(n), vat=vat_info, warnings=warn)
        ledger = cls(frame=frame, source=source,
                     checked_with=(id(concordance), id(prices), id(mrio))
                     if None not in (concordance, prices, mrio) else (),
                     import_info=info)
        if concordance is not None or prices is not None or mrio is not None:
            # the checks against other inputs run on the same rows, so one error lists everything
            problems += ledger.problems(concordance=concordance, prices=prices, mrio=mrio)
            if concordance is not None and mrio is not None:
                problems += concordance.problems(mrio)
        if problems:
            raise LedgerError(sort_problems(problems), f"{source} ({ROW_NOTE})")
        for w in warn:
            warnings.warn(w, UserWarning, stacklevel=2)
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
            # categories the user file lacks are mapped through their CPV codes where they have
            # any (`spendprint.procurement.mapping`); the rest are errors
            from .mapping import cpv_categories

            known = set(concordance.categories)
            via_cpv = cpv_categories(self, known)
            if via_cpv and mrio is not None:
                from .cpv import cpv_concordance

                has = (f["category"].astype(str).isin(via_cpv)
                       & (f["cpv"].astype(str) != "")).to_numpy()
                try:
                    cpv_concordance(pd.DataFrame({"category": f["category"].astype(str)[has],
                                                  "cpv": f["cpv"].astype(str)[has]}),
                                    mrio.sectors, source=src)
                except (LedgerError, LabelMismatchError) as exc:
                    out += list(getattr(exc, "problems", None) or [str(exc)])
            known |= set(via_cpv)
            unknown = [c for c in f["category"].cat.categories if c and c not in known]
            if unknown:
                m = f["category"].isin(unknown).to_numpy()
                choices = list(concordance.categories)
                uses_cpv = "cpv" in f.columns and bool((f["cpv"].astype(str) != "").any())
                nocpv = " and has no CPV code" if uses_cpv else ""
                what = {u: f"is not in the concordance ({concordance.source}){nocpv}"
                           f"{_did_you_mean(u, choices)}" for u in unknown}
                out += _problems(src, _rows_where(m, idx), "category", f["category"].to_numpy()[m],
                                 what)
        if prices is not None:
            currs = set(prices.currencies)
            unknown = [c for c in f["currency"].cat.categories if c and c not in currs]
            m_cur = f["currency"].isin(unknown).to_numpy()
            what = {u: f"is not a known currency (known: {', '.join(sorted(currs))})"
                       f"{_did_you_mean(u, sorted(currs))}" for u in unknown}
            out += _problems(src, _rows_where(m_cur, idx), "currency", f["currency"].to_numpy()[m_cur],
                             what)
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
                from .countries import iso2, suggest_country

                regs = f"{', '.join(mrio.regions[:12])}{', ...' if len(mrio.regions) > 12 else ''}"
                what = {}
                for u in bad:
                    if iso2(u) is not None:
                        what[u] = f"is a country that maps to no region of the MRIO ({regs})"
                    else:
                        near = suggest_country(u, 1)
                        hint = f" (did you mean {near[0]!r}?)" if near else ""
                        what[u] = f"is not a known country or region of the MRIO ({regs}){hint}"
                out += _problems(src, _rows_where(m, idx), "supplier_country",
                                 f["supplier_country"].to_numpy()[m], what)
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
