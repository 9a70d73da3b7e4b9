"""File reading for the procurement layer (CSV, Excel xlsx, Parquet, YAML); no maths here.

Row numbers: every table read here keeps, as its index, the row number a spreadsheet user sees
when opening the file -- the header is row 1 and the first data row is row 2. Blank lines in a CSV
are dropped but keep their numbers, so the numbers stay those of the file. Parquet has no header
row; the same convention (first record = row 2) is used so that messages read the same.

Bounded work: a text table's header may have at most [MAX_COLUMNS][spendprint.io.tabular.MAX_COLUMNS]
columns and no line may be longer than [MAX_LINE_BYTES][spendprint.io.tabular.MAX_LINE_BYTES]; both
are checked in one linear pass before any parser runs (pandas' header parser is quadratic in the
number of columns: 40,000 columns took 15 s), and a file beyond them is an
[InputFileError][spendprint.errors.InputFileError] (CLI exit 2, HTTP 413).

YAML is read with [read_yaml][spendprint.io.tabular.read_yaml] / [load_yaml][spendprint.io.tabular.load_yaml]:
YAML 1.1's booleans ``yes/no/on/off/y/n`` are plain strings there, so the region code ``NO``
(Norway) stays ``"NO"``; only ``true``/``false`` (any case of the YAML 1.2 spellings) are booleans.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputFileError

#: Most columns a CSV/TSV header may have (ledgers, concordances and price tables have a few dozen).
MAX_COLUMNS = 4096
#: Longest line (bytes) a CSV/TSV file may have.
MAX_LINE_BYTES = 1 << 20


class TableTooLargeError(InputFileError):
    """A table beyond the header-width or line-length caps (HTTP 413, CLI exit 2)."""

#: Offset from a 0-based data record to its spreadsheet row number (header = row 1).
ROW_OFFSET = 2
SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx",
            ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: str | Path) -> str:
    """The format of a table file from its suffix: ``csv``, ``tsv``, ``xlsx`` or ``parquet``."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputFileError(path, f"unsupported file type {suffix!r}; use .csv, .xlsx or .parquet")
    return SUFFIXES[suffix]


def read_table(path: str | Path, *, as_text: bool = True, comment: str | None = None,
               sheet: str | int = 0) -> pd.DataFrame:
    """Read a table with its spreadsheet row numbers as index (see module docstring).

    Parameters
    ----------
    path : path-like
        CSV (comma; ``.tsv`` tab-separated), xlsx or Parquet file.
    as_text : bool
        Read CSV/xlsx cells as text (empty cell -> ``""``) so that validation can report bad values
        instead of pandas guessing types. Parquet keeps its types.
    comment : str, optional
        CSV only: lines starting with this character are comments (used by the shipped tables).
    sheet : str or int
        xlsx only: the sheet to read.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file not found")
    fmt = table_format(path)
    if fmt in ("csv", "tsv"):
        check_text_table(path, "\t" if fmt == "tsv" else ",")
    try:
        if fmt in ("csv", "tsv") and as_text and comment is None:
            df = _read_csv_text(path, "\t" if fmt == "tsv" else ",")
        elif fmt in ("csv", "tsv"):
            df = pd.read_csv(path, sep="\t" if fmt == "tsv" else ",",
                             dtype=str if as_text else None, keep_default_na=not as_text,
                             skip_blank_lines=False, comment=comment, encoding="utf-8-sig")
        elif fmt == "xlsx":
            df = pd.read_excel(path, sheet_name=sheet, dtype=str if as_text else None,
                               keep_default_na=not as_text, engine="openpyxl")
        else:
            df = pd.read_parquet(path)
    except InputFileError:
        raise
    except (ValueError, OSError, ImportError, KeyError, IndexError, zipfile.BadZipFile,
            pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(path, f"cannot read as {fmt}: {_short(exc)}") from exc
    except Exception as exc:  # openpyxl's InvalidFileException and other reader faults
        if type(exc).__module__.split(".")[0] in ("openpyxl", "pyarrow", "zipfile"):
            raise InputFileError(path, f"cannot read as {fmt}: {_short(exc)}") from exc
        raise
    df.columns = [str(c).strip() for c in df.columns]
    df.index = pd.RangeIndex(ROW_OFFSET, ROW_OFFSET + len(df), name="row")
    if fmt != "parquet" and len(df):
        blank = (df.isna() | (df == "")).all(axis=1)
        if blank.any():
            df = df[~blank.to_numpy()]
    return df


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def check_text_table(path: str | Path, sep: str = ",", *, max_columns: int = MAX_COLUMNS,
                     max_line_bytes: int = MAX_LINE_BYTES, data: bytes | None = None) -> list[str]:
    """Check a CSV/TSV file's header width and line lengths in one linear pass; its header names.

    ``data``: check these bytes (an upload) instead of reading ``path``, which then only names
    the source in messages.

    Work and memory are ``O(file size)`` and ``O(max_line_bytes)``: the file is read in blocks of
    1 MiB and only the distance between newlines is tracked (a quoted field spanning lines counts
    line by line, so the cap is on physical lines). The header is split by Python's ``csv`` module
    (linear in its length).

    Raises
    ------
    TableTooLargeError
        A line longer than ``max_line_bytes`` or a header with more than ``max_columns`` columns.
    InputFileError
        A file that is empty or not UTF-8 in its header.
    """
    path = Path(path)
    header = b""
    run = 0  # bytes since the last newline
    line_no = 1
    first = True
    with (io.BytesIO(data) if data is not None else open(path, "rb")) as fh:
        while block := fh.read(1 << 20):
            start = 0
            while True:
                nl = block.find(b"\n", start)
                seg = (nl if nl >= 0 else len(block)) - start
                run += seg
                if run > max_line_bytes:
                    raise TableTooLargeError(path, f"line {line_no} is longer than "
                                                   f"{max_line_bytes:,} bytes; split it or check "
                                                   f"the separator")
                if first:
                    header += block[start:start + seg]
                if nl < 0:
                    break
                first = False
                run = 0
                line_no += 1
                start = nl + 1
    if not header.strip():
        raise InputFileError(path, "empty file: expected a header row")
    try:
        text = header.decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"header row is not UTF-8 text ({exc.reason})") from exc
    # count separators first: a cheap upper bound, so csv never builds a huge row
    if text.count(sep) + 1 > max_columns:
        row = next(csv.reader([text], delimiter=sep))
        if len(row) > max_columns:
            raise TableTooLargeError(path, f"header has {len(row):,} columns; at most "
                                           f"{max_columns:,} are read")
        return [c.strip() for c in row]
    return [c.strip() for c in next(csv.reader([text], delimiter=sep))]


def _read_csv_text(path: Path, sep: str) -> pd.DataFrame:
    """All cells as text; pyarrow's multi-threaded reader, pandas' when pyarrow cannot (ragged
    rows, blank lines: pyarrow would drop or reject them and shift the row numbers)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        names = _dedupe(check_text_table(path, sep))
        table = pacsv.read_csv(
            path, parse_options=pacsv.ParseOptions(delimiter=sep, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                 strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False))
        df = table.to_pandas()
        if len(df.columns) == len(names):  # duplicates renamed as pandas does (a, a.1, ...)
            df.columns = names
        return df
    except (pa.ArrowInvalid, ValueError, UnicodeDecodeError):
        pass
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                           skip_blank_lines=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=_dedupe(check_text_table(path, sep)), dtype=str)


def _dedupe(names: list[str]) -> list[str]:
    """Header names as pandas would give them (``a, a.1, a.2``), in linear time."""
    seen: dict[str, int] = {}
    out = []
    taken = set(names)
    for n in names:
        if n in seen:
            k = seen[n]
            while f"{n}.{k}" in taken:
                k += 1
            seen[n] = k + 1
            n = f"{n}.{k}"
            taken.add(n)
        else:
            seen[n] = 1
        out.append(n)
    return out


def read_package_table(name: str) -> pd.DataFrame:
    """A CSV table shipped in ``spendprint/data`` (``#`` comment lines allowed)."""
    with resources.files("spendprint.data").joinpath(name).open(encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#", skipinitialspace=False)


def _yaml_loader():
    """A ``yaml.SafeLoader`` subclass without YAML 1.1's ``yes/no/on/off`` booleans."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in lst if tag != "tag:yaml.org,2002:bool"]
        for ch, lst in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                  re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                  list("tTfF"))
    return _Loader


_LOADER: Any = None


def load_yaml(text: str) -> Any:
    """Parse YAML text with booleans only for ``true``/``false`` (``NO``, ``no``, ``on`` stay
    strings, for keys and values). Raises ``yaml.YAMLError`` on invalid YAML."""
    global _LOADER
    import yaml

    if _LOADER is None:
        _LOADER = _yaml_loader()
    return yaml.load(text, Loader=_LOADER)  # noqa: S506  (a SafeLoader subclass)


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file (scenarios, uncertainty) with [load_yaml][spendprint.io.tabular.load_yaml]."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file not found")
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"not UTF-8 text ({exc.reason})") from exc
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"invalid YAML: {_short(exc)}") from exc
