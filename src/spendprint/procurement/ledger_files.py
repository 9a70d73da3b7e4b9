"""Reading ledgers as buyers have them: header synonyms, CSV dialects, Excel sheets, number formats.

[read_ledger_file][spendprint.procurement.ledger_files.read_ledger_file] returns the table (text
cells, index = spreadsheet row number) with its columns renamed to ledger fields, and an
``info`` dict that says how the file was read (format, sheet, header row, encoding, delimiter,
column mapping). [parse_amounts][spendprint.procurement.ledger_files.parse_amounts] decides the
decimal and thousands separators from a whole amount column and converts it.

No maths here; validation is in [spendprint.procurement.ledger][].
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError, LedgerError
from ..io.tabular import MAX_COLUMNS, MAX_LINE_BYTES, ROW_OFFSET, _dedupe, read_table, table_format
from .countries import fold

#: Ledger fields a file column can be mapped to.
FIELDS = ("category", "amount", "currency", "year", "supplier_country", "supplier",
          "description", "cpv", "vat_included", "price_basis")
REQUIRED = ("category", "amount", "currency", "year")

#: Recognised headers (compared after [fold][spendprint.procurement.countries.fold]):
#: English, Norwegian, Swedish, Danish, German.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "category": ("category", "spend category", "purchase category", "kategori", "kategorie",
                 "varegruppe", "varugrupp", "varegruppe", "warengruppe", "innkjopskategori",
                 "inkopskategori", "indkobskategori", "beschaffungskategorie"),
    "amount": ("amount", "amount excl vat", "amount ex vat", "net amount", "belop",
               "belop eks mva", "belop ekskl mva", "belop uten mva", "belopp", "belopp exkl moms",
               "belob", "belob ekskl moms", "betrag", "betrag netto", "nettobetrag",
               "nettobelop", "nettobelopp", "nettobelob"),
    "currency": ("currency", "currency code", "valuta", "valutakode", "valutakod", "wahrung"),
    "year": ("year", "fiscal year", "ar", "regnskapsar", "rakenskapsar", "regnskabsar", "jahr",
             "geschaftsjahr"),
    "supplier_country": ("supplier country", "country of supplier", "country", "leverandorland",
                         "leverandor land", "leverantorsland", "leverantorland", "lieferland",
                         "land"),
    "supplier": ("supplier", "vendor", "supplier name", "leverandor", "leverandornavn",
                 "leverantor", "leverantorsnamn", "lieferant"),
    "description": ("description", "text", "beskrivelse", "tekst", "beskrivning", "beschreibung",
                    "bezeichnung"),
    "cpv": ("cpv", "cpv code", "cpv kode", "cpv kod", "cpv nummer"),
    "vat_included": ("vat included", "incl vat", "inkl mva", "mva inkludert", "inkl moms",
                     "moms inkluderad", "moms inkluderet", "inkl mwst", "mwst enthalten"),
    "price_basis": ("price basis",),
}
_LOOKUP = {fold(s): f for f, syns in SYNONYMS.items() for s in (f, *syns)}
#: How many leading rows are searched for the header row (title rows above the table).
HEADER_SEARCH_ROWS = 20
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
DELIMITERS = (",", ";", "\t")


def parse_column_mapping(text: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"Beløp=amount,Kategori=category"`` (the CLI form) or a mapping -> ``{header: field}``.

    Raises
    ------
    LedgerError
        An entry without ``=``, an empty side, or a field that is not one of [FIELDS].
    """
    if text is None:
        return {}
    if isinstance(text, Mapping):
        pairs = [(str(k), str(v)) for k, v in text.items()]
    else:
        pairs = []
        for part in str(text).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise LedgerError([f"column mapping {part.strip()!r}: expected HEADER=FIELD, "
                                   f"e.g. 'Beløp=amount'"], "--columns")
            k, v = part.rsplit("=", 1)
            pairs.append((k, v))
    out: dict[str, str] = {}
    problems = []
    for k, v in pairs:
        k, v = k.strip(), v.strip()
        if not k or not v:
            problems.append(f"column mapping '{k}={v}': both the header and the field are needed")
            continue
        if v not in FIELDS:
            import difflib

            near = difflib.get_close_matches(v, FIELDS, n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            problems.append(f"column mapping '{k}={v}': '{v}' is not a ledger field{hint}; "
                            f"fields: {', '.join(FIELDS)}")
            continue
        out[k] = v
    if problems:
        raise LedgerError(problems, "column mapping")
    return out


def map_columns(headers: list[str], columns: Mapping[str, str] | None = None,
                source: str = "ledger") -> dict[str, str]:
    """``{file header: field}`` from the explicit ``columns`` and the recognised synonyms.

    Explicit entries win; a header is matched exactly, then by its folded form. Two columns that
    map to the same field are an error naming both.
    """
    columns = dict(columns or {})
    out: dict[str, str] = {}
    problems: list[str] = []
    folded = {}
    for h in headers:
        folded.setdefault(fold(h), h)
    for key, fld in columns.items():
        hit = key if key in headers else folded.get(fold(key))
        if hit is None:
            import difflib

            near = difflib.get_close_matches(key, headers, n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            problems.append(f"{source}: column {key!r} of the column mapping is not in the file"
                            f"{hint}; columns found: {headers}")
            continue
        out[hit] = fld
    taken = set(out.values())
    for h in headers:
        if h in out:
            continue
        fld = _LOOKUP.get(fold(h))
        if fld is not None and fld not in taken:
            out[h] = fld
    by_field: dict[str, list[str]] = {}
    for h, fld in out.items():
        by_field.setdefault(fld, []).append(h)
    for fld, hs in by_field.items():
        if len(hs) > 1:
            problems.append(f"{source}: columns {' and '.join(repr(h) for h in hs)} are both read "
                            f"as '{fld}'; choose one with the column mapping (e.g. "
                            f"--columns \"{hs[0]}={fld}\")")
    if problems:
        raise LedgerError(problems, source)
    return out


def _find_header(rows: list[list[str]], columns: Mapping[str, str] | None) -> int:
    """0-based index of the first row (within [HEADER_SEARCH_ROWS]) whose cells map to all
    required fields; 0 when none does (the missing columns are then reported)."""
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        cells = [str(c).strip() for c in row if c is not None and str(c).strip()]
        if len(cells) < len(REQUIRED):
            continue
        try:
            fields = set(map_columns(cells, columns).values())
        except LedgerError:
            return i  # ambiguous header: this is the header row, the error is raised later
        if set(REQUIRED) <= fields:
            return i
    return 0


# ---- CSV ---------------------------------------------------------------------------------------
def _decode(data: bytes, path: Path) -> tuple[str, str]:
    for enc in ENCODINGS:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise InputFileError(path, f"cannot decode the file (tried {', '.join(ENCODINGS)})")


def _sniff_delimiter(lines: list[str], path: Path, suffix_sep: str | None) -> str:
    """The delimiter that splits the most lines into the same number (> 1) of fields."""
    best, best_score = None, (0, 0)
    for d in DELIMITERS:
        counts = [len(next(csv.reader([ln], delimiter=d))) for ln in lines if ln.strip()]
        if not counts:
            continue
        widths = pd.Series(counts)
        mode = int(widths.mode().iloc[0])
        if mode < 2:
            continue
        score = (int((widths == mode).sum()), mode)
        if score > best_score:
            best, best_score = d, score
    if best is None:
        if suffix_sep is not None:
            return suffix_sep
        raise InputFileError(path, "cannot tell the column separator: tried ',', ';' and tab on "
                                   "the first lines and none splits them into columns")
    return best


def read_csv_ledger(path: Path, columns: Mapping[str, str] | None = None,
                    encoding: str | None = None, delimiter: str | None = None
                    ) -> tuple[pd.DataFrame, dict]:
    """A CSV/TSV ledger as text cells, with its dialect detected (see module docstring)."""
    data = path.read_bytes()
    if not data.strip():
        raise InputFileError(path, "empty file: expected a header row")
    if encoding is None:
        text, encoding = _decode(data, path)
    else:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputFileError(path, f"cannot decode as {encoding}: {exc}") from exc
    head = text[: 1 << 16].splitlines()[: HEADER_SEARCH_ROWS + 20]
    longest = max((len(ln) for ln in text.splitlines()), default=0) if len(text) < 1 << 22 else 0
    if longest > MAX_LINE_BYTES:
        raise InputFileError(path, f"a line is longer than {MAX_LINE_BYTES:,} characters; "
                                   "check the separator")
    suffix_sep = "\t" if table_format(path) == "tsv" else None
    sep = delimiter or _sniff_delimiter(head, path, suffix_sep)
    rows = [next(csv.reader([ln], delimiter=sep)) if ln.strip() else [] for ln in head]
    hdr = _find_header(rows, columns)
    # the physical line of the header (blank lines above count, as in a spreadsheet)
    names = _dedupe([c.strip() for c in rows[hdr]]) if rows and rows[hdr] else []
    if len(names) > MAX_COLUMNS:
        raise InputFileError(path, f"header has {len(names):,} columns; at most {MAX_COLUMNS:,}")
    body = io.StringIO(text)
    for _ in range(hdr):
        body.readline()
    try:
        df = pd.read_csv(body, sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False,
                         quotechar='"', engine="c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputFileError(path, f"cannot read as CSV with separator {sep!r} and encoding "
                                   f"{encoding}: {exc}") from exc
    except pd.errors.EmptyDataError:
        df = pd.DataFrame(columns=names, dtype=str)
    df.columns = [str(c).strip() for c in df.columns]
    df.index = pd.RangeIndex(hdr + ROW_OFFSET, hdr + ROW_OFFSET + len(df), name="row")
    if len(df):
        blank = (df == "").all(axis=1).to_numpy()
        if blank.any():
            df = df[~blank]
    info = {"format": "csv", "encoding": encoding,
            "delimiter": {"\t": "tab"}.get(sep, sep), "header_row": hdr + 1}
    return df, info


# ---- Excel ---------------------------------------------------------------------------------------
def read_excel_ledger(path: Path, columns: Mapping[str, str] | None = None,
                      sheet: str | int | None = None) -> tuple[pd.DataFrame, dict]:
    """An xlsx ledger's sheet as text cells, header row detected below any title rows."""
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
        raise InputFileError(path, f"cannot read as xlsx: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("openpyxl", "zipfile"):
            raise InputFileError(path, f"cannot read as xlsx: {exc}") from exc
        raise
    sheets = [str(s) for s in book.sheet_names]
    if sheet is None:
        name = sheets[0]
    elif isinstance(sheet, int) or (isinstance(sheet, str) and sheet.strip().isdigit()
                                    and sheet not in sheets):
        k = int(sheet)
        if not 0 <= k < len(sheets):
            raise InputFileError(path, f"sheet {k} does not exist (0-based; the file has "
                                       f"{len(sheets)}: {sheets})")
        name = sheets[k]
    else:
        hits = [s for s in sheets if s == sheet] or [s for s in sheets if fold(s) == fold(sheet)]
        if not hits:
            raise InputFileError(path, f"no sheet {sheet!r}; sheets: {sheets}")
        name = hits[0]
    raw = book.parse(name, header=None, dtype=str, keep_default_na=False)
    book.close()
    if raw.empty:
        raise InputFileError(path, f"sheet {name!r} is empty")
    rows = raw.head(HEADER_SEARCH_ROWS).to_numpy(dtype=object).tolist()
    hdr = _find_header(rows, columns)
    header = [str(c).strip() for c in raw.iloc[hdr].tolist()]
    keep = [i for i, h in enumerate(header) if h]
    df = raw.iloc[hdr + 1:, keep].copy()
    df.columns = _dedupe([header[i] for i in keep])
    # pandas' openpyxl reader starts at the sheet's first row, so row k (0-based) is row k+1
    df.index = pd.RangeIndex(hdr + ROW_OFFSET, hdr + ROW_OFFSET + len(df), name="row")
    if len(df):
        blank = (df == "").all(axis=1).to_numpy()
        if blank.any():
            df = df[~blank]
    return df, {"format": "xlsx", "sheet": name, "sheets": sheets, "header_row": hdr + 1}


def read_ledger_file(path: str | Path, *, columns: Mapping[str, str] | str | None = None,
                     sheet: str | int | None = None, encoding: str | None = None,
                     delimiter: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Read a ledger file; columns renamed to ledger fields.

    Returns
    -------
    (DataFrame, dict)
        Text cells (Parquet keeps its types), index = spreadsheet row number, columns renamed
        by [map_columns][spendprint.procurement.ledger_files.map_columns]; ``info`` with
        ``file``, ``format``, ``sheet``, ``header_row``, ``encoding``, ``delimiter`` and
        ``columns`` (``{file header: field}``, only the mapped ones).
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file not found")
    columns = parse_column_mapping(columns)
    fmt = table_format(path)
    if fmt in ("csv", "tsv"):
        df, info = read_csv_ledger(path, columns, encoding, delimiter)
    elif fmt == "xlsx":
        df, info = read_excel_ledger(path, columns, sheet)
    else:
        df = read_table(path, as_text=True)
        info = {"format": "parquet"}
    mapping = map_columns(list(df.columns), columns, path.name)
    info = {"file": str(path), **info, "columns": mapping}
    return rename_columns(df, mapping), info


def rename_columns(df: pd.DataFrame, mapping: Mapping[str, str]) -> pd.DataFrame:
    """Rename mapped columns to their fields; an unmapped column that has a field's name is
    renamed out of the way (``name (unmapped)``) so it cannot be read as that field."""
    ren = dict(mapping)
    fields = set(mapping.values())
    for c in df.columns:
        if c not in ren and c in fields:
            ren[c] = f"{c} (unmapped)"
    return df.rename(columns=ren)


# ---- numbers -------------------------------------------------------------------------------------
_SPACES = "[\u0020\u00a0\u2009\u202f\u2007']"
_CLEAN = re.compile(_SPACES)
_INT = re.compile(r"^[+-]?\d+$")
_POINT_DEC = re.compile(r"^[+-]?\d+\.\d+$|^[+-]?\.\d+$")
_COMMA_DEC = re.compile(r"^[+-]?\d+,\d+$|^[+-]?,\d+$")


def _vote(s: str) -> tuple[str | None, bool]:
    """(decimal separator this value proves, or None; whether it is ambiguous)."""
    had_space = bool(_CLEAN.search(s.strip()))
    t = _CLEAN.sub("", s)
    if t.startswith("(") and t.endswith(")"):
        t = t[1:-1]
    t = t.lstrip("+-")
    if not t or _INT.match(t):
        return None, False
    if "," in t and "." in t:
        return ("," if t.rfind(",") > t.rfind(".") else "."), False
    for sep, other in ((",", "."), (".", ",")):
        if sep in t:
            parts = t.split(sep)
            if len(parts) > 2:  # 1.234.567: thousands separator
                return other, False
            if len(parts[1]) != 3 or parts[0] in ("", "0", "-0"):
                return sep, False
            # 1,234 or 1.234: a decimal sep unless a space already grouped thousands (1 234,567)
            return (sep, False) if had_space else (None, True)
    return None, False


#: `number_dialect` votes on at most this many distinct values, spread evenly over the column,
#: and on all of them only when those do not decide or disagree.
VOTE_SAMPLE = 20_000


def number_dialect(values: np.ndarray) -> tuple[str | None, list[str]]:
    """The decimal separator proven by the distinct strings ``values``: ``","``, ``"."`` or None
    (nothing to decide); and the ambiguous values (such as ``1,234``) when nothing decides.

    A large column is decided on `VOTE_SAMPLE` values spread over it when they all prove the
    same separator; otherwise (no proof, or both separators proven) every value votes."""
    values = np.asarray(values, dtype=object)
    if len(values) > VOTE_SAMPLE:
        pick = values[np.linspace(0, len(values) - 1, VOTE_SAMPLE).astype(np.int64)]
        d, amb = _count_votes(pick)
        if d is not None and d[1] == 0:
            return d[0], []
    d, amb = _count_votes(values)
    return (None, amb) if d is None else (d[0], [])


def _count_votes(values) -> tuple[tuple[str, int] | None, list[str]]:
    """((winning separator, votes for the other), ambiguous values) over ``values``."""
    votes = {",": 0, ".": 0}
    ambiguous = []
    for v in values:
        d, amb = _vote(str(v))
        if d is not None:
            votes[d] += 1
        elif amb:
            ambiguous.append(str(v))
    if votes[","] or votes["."]:
        win = "," if votes[","] > votes["."] else "."
        return (win, votes["." if win == "," else ","]), []
    return None, ambiguous


def parse_amounts(raw: pd.Series, decimal: str | None = None, source: str = "ledger",
                  field: str = "amount") -> tuple[np.ndarray, dict]:
    """Convert a text amount column to float64 (NaN where not a number).

    The decimal separator is decided from the column as a whole ([number_dialect]); the other of
    ``,`` and ``.``, spaces (also no-break U+00A0 and narrow U+202F, U+2009) and ``'`` are
    thousands separators; ``(123)`` is -123. Work is on the distinct strings only.

    Raises
    ------
    LedgerError
        When every non-integer value is ambiguous (``1,234`` / ``1.234``) and ``decimal`` is not
        given: the message says what was tried.
    """
    codes, uniq = pd.factorize(raw.to_numpy(dtype=object), use_na_sentinel=True)
    # Arrow-backed strings: the replacements below run vectorised in C++ (pyarrow.compute)
    u = pd.Series(uniq, dtype=object).astype(str).astype("string[pyarrow]").str.strip()
    if decimal is None:
        nonint = u[~u.str.fullmatch(r"[+-]?\d+")]
        decimal, amb = number_dialect(nonint.to_numpy())
        if decimal is None and amb:
            raise LedgerError([f"{source}, field '{field}': cannot tell the decimal separator: "
                               f"every value with a separator looks like {amb[0]!r}, which reads "
                               f"as {amb[0].replace(',', '').replace('.', '')} with ',' or '.' as "
                               f"thousands separator and as a decimal with 3 places otherwise "
                               f"(tried: values with both ',' and '.', several separators, "
                               f"decimals other than 3 digits, space-grouped thousands); give the "
                               f"decimal separator (decimal=',' or decimal='.')"], source)
        decimal = decimal or "."
    thousands = "." if decimal == "," else ","
    t = u.str.replace(_SPACES, "", regex=True)
    if t.str.contains(thousands, regex=False).any():
        t = t.str.replace(thousands, "", regex=False)
    if decimal == ",":
        t = t.str.replace(",", ".", regex=False)
    neg = t.str.startswith("(") & t.str.endswith(")")
    if neg.any():
        t = t.where(~neg, "-" + t.str.slice(1, -1))
    vals = pd.to_numeric(t, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    vals = np.append(vals, np.nan)
    out = vals[np.where(codes < 0, len(vals) - 1, codes)]
    return out, {"decimal": decimal, "thousands": thousands}
