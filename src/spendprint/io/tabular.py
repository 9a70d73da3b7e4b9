"""File reading for the procurement layer (CSV, Excel xlsx, Parquet, YAML); no maths here.

Row numbers: every table read here keeps, as its index, the row number a spreadsheet user sees
when opening the file -- the header is row 1 and the first data row is row 2. Blank lines in a CSV
are dropped but keep their numbers, so the numbers stay those of the file. Parquet has no header
row; the same convention (first record = row 2) is used so that messages read the same.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputFileError

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
    except (ValueError, OSError, ImportError, pd.errors.ParserError) as exc:
        raise InputFileError(path, f"cannot read as {fmt}: {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    df.index = pd.RangeIndex(ROW_OFFSET, ROW_OFFSET + len(df), name="row")
    if fmt != "parquet" and len(df):
        blank = (df.isna() | (df == "")).all(axis=1)
        if blank.any():
            df = df[~blank.to_numpy()]
    return df


def _read_csv_text(path: Path, sep: str) -> pd.DataFrame:
    """All cells as text; pyarrow's multi-threaded reader, pandas' when pyarrow cannot (ragged
    rows, blank lines: pyarrow would drop or reject them and shift the row numbers)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        with open(path, "rb") as fh:
            head = fh.readline().decode("utf-8-sig")
        names = list(pd.read_csv(io.StringIO(head), sep=sep, dtype=str).columns)
        table = pacsv.read_csv(
            path, parse_options=pacsv.ParseOptions(delimiter=sep, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                 strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False))
        return table.to_pandas()
    except (pa.ArrowInvalid, ValueError, UnicodeDecodeError):
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                           skip_blank_lines=False, encoding="utf-8-sig")


def read_package_table(name: str) -> pd.DataFrame:
    """A CSV table shipped in ``spendprint/data`` (``#`` comment lines allowed)."""
    with resources.files("spendprint.data").joinpath(name).open(encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#", skipinitialspace=False)


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file (scenarios)."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"invalid YAML: {exc}") from exc
