"""WIOD world input-output tables: the 2013 release (xlsx) and the 2016 release (xlsb).

Files, one per year (first worksheet)::

    2013 release  wiot95_row_apr12.xlsx ... wiot11_row_sep12.xlsx   41 regions x 35 industries
    2016 release  WIOT2000_Nov16_ROW.xlsb ... WIOT2014_Nov16_ROW.xlsb  44 regions x 56 industries
                  (as downloaded in WIOTS_in_EXCEL.zip; an xlsx saved from it reads the same)

Both releases share one grid, read here by its labels rather than fixed offsets:

* four label columns ``code, description, country, row number`` (``AtB ... c1`` in 2013,
  ``A01 ... r1`` in 2016) left of the numbers;
* four header rows above them ``code, description, country, column number`` (``c1 ... c35`` then
  the final-demand columns ``c37 ... c42`` in 2013; ``c1 ... c56``, ``c57 ... c61`` in 2016); the
  number row is the first row whose cells read ``c<digits>``; in 2013 two rows with the title, the
  system and the unit (``(millions of US$)``) come first;
* rows: the industries (region, code) in the order of the columns, then value added and its
  components (``TXSP``/``r61``, ... ``VA``/``r65``, ``IntTTM``/``r66``), with the totals
  ``II_fob``/``r60`` (intermediate consumption, dropped) and ``GO``/``r69`` (output at basic
  prices, used as ``x``); a total column on the right (dropped).

Industries are the columns whose (country, code) also labels a row; final demand the other
columns of a country (``TOT`` marks totals). Early 2013-release years call Romania ``ROM``: renamed
``ROU`` as in the later years and the environmental accounts. Values are millions of US dollars,
current basic prices.
"""

from __future__ import annotations

import importlib
import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..core.model import MRIO
from ..errors import InputFileError
from ._mrio_tables import FileSet, build_mrio, unique_names

__all__ = ["read_wiod", "is_wiod"]

_EXPECTS = ("a WIOD world table: wiotYY_row_apr12.xlsx (2013 release) or WIOTYYYY_Nov16_ROW.xlsb "
            "(2016 release), or a folder/zip holding them (then pass year=)")
_FILE = r"(wiot\d{2}_row_\w+|WIOT\d{4}_\w*ROW\w*)\.(xlsx|xlsb|xlsm|xls)"
_CNUM = re.compile(r"^c\d+$", re.IGNORECASE)
_TOTAL_CODES = {"II_fob", "GO", "TOT"}  # 2016 codes of totals; 2013 rows use r60/r69 instead
_RENAME = {"ROM": "ROU"}


def is_wiod(path: Path) -> bool:
    """A WIOD world table (file names only)."""
    if path.is_file() and not path.suffix.lower() == ".zip":
        return re.fullmatch(_FILE, path.name, re.IGNORECASE) is not None
    try:
        return bool(FileSet(path, _EXPECTS).find_all(_FILE))
    except (InputFileError, OSError):
        return False


def _year_of(name: str) -> int | None:
    m = re.match(r"wiot(\d{2})_", name, re.IGNORECASE)
    if m:
        yy = int(m.group(1))
        return 1900 + yy if yy > 50 else 2000 + yy
    m = re.match(r"WIOT(\d{4})_", name, re.IGNORECASE)
    return int(m.group(1)) if m else None


def _grid(files: FileSet, name: str) -> list[list[Any]]:
    """The first worksheet as rows of cell values (calamine when installed, else openpyxl)."""
    label = files.label(name)
    with files.open(name) as fh:
        data = fh.read()
    calamine: Any
    try:
        calamine = importlib.import_module("python_calamine")
    except ImportError:
        calamine = None
    try:
        if calamine is not None:
            wb = calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
            return wb.get_sheet_by_index(0).to_python(skip_empty_area=False)
        if name.lower().endswith(".xlsb") or name.lower().endswith(".xls"):
            raise InputFileError(label, "reading .xlsb/.xls needs the python-calamine package "
                                        "(pip install python-calamine), or save the sheet as xlsx")
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()
    except InputFileError:
        raise
    except Exception as exc:  # calamine/openpyxl/zipfile errors on a damaged workbook
        raise InputFileError(label, f"not a readable workbook ({type(exc).__name__}: {exc})") from exc


def _s(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _cell(r: int, c: int) -> str:
    col, c1 = "", c + 1
    while c1:
        c1, rem = divmod(c1 - 1, 26)
        col = chr(65 + rem) + col
    return f"{col}{r + 1}"


def read_wiod(path: str | Path, year: int | None = None, *, sparse: bool | None = None) -> MRIO:
    """Read a WIOD world input-output table (2013 or 2016 release) as an MRIO.

    Parameters
    ----------
    path : str or Path
        The year's workbook (``wiot95_row_apr12.xlsx``, ``WIOT2014_Nov16_ROW.xlsb``), or a folder
        or zip (e.g. ``WIOTS_in_EXCEL.zip``) holding one workbook per year.
    year : int, optional
        Year to read from a folder or zip with several workbooks.
    sparse : bool, optional
        Store `A` as CSR (default: when under 10 % of it is non-zero and ``n >= 2000``).

    Returns
    -------
    MRIO
        Regions: country codes (``ROM`` renamed ``ROU``); sectors: industry codes (``AtB``,
        ``A01``, ...); final-demand categories: their codes (2016) or descriptions (2013);
        stressors: the value-added rows (``TXSP``, ..., ``VA``, ``IntTTM``; M USD); ``x`` the
        output row (``GO``/``r69``) where present, else ``Z 1 + Y 1``; ``A = Z diag(x)^-1`` and
        ``S = F diag(x)^-1`` (zero columns where ``x = 0``). Money unit ``M USD``, system ``ixi``.

    Raises
    ------
    InputFileError
        No workbook, a workbook without the WIOD header rows and label columns, industries that
        differ between regions, or a cell that is not a number (named by its Excel address).
    """
    files = FileSet(path, _EXPECTS)
    with files:
        if year is None:
            name = files.find(_FILE, "WIOD world table")
        else:
            yy = f"({str(year)[-2:]}_row_\\w+|{year}_\\w*ROW\\w*)"
            name = files.find(rf"(wiot|WIOT){yy}\.(xlsx|xlsb|xlsm|xls)", f"WIOD table for {year}")
        assert name is not None
        label = files.label(name)
        grid = _grid(files, name)

    hr = next((i for i, row in enumerate(grid[:12])
               if sum(bool(_CNUM.match(_s(v))) for v in row) >= 2), None)
    if hr is None or hr < 3:
        raise InputFileError(label, "no WIOD header row (a row of column numbers c1, c2, ...) in "
                                    "the first 12 rows of the first sheet")
    c0 = next(j for j, v in enumerate(grid[hr]) if _CNUM.match(_s(v)))
    if c0 < 4:
        raise InputFileError(label, f"the column numbers start in column {c0 + 1}; WIOD has four "
                                    "label columns (code, description, country, number) before")
    width = max(len(r) for r in grid)
    grid = [list(r) + [None] * (width - len(r)) for r in grid]
    ccode, cname, ccountry = (grid[hr - 3], grid[hr - 2], grid[hr - 1])

    def region(v: Any) -> str:
        s = _s(v)
        return _RENAME.get(s, s)

    col_keys = [(region(ccountry[j]), _s(ccode[j]), _s(cname[j]), _s(grid[hr][j]))
                for j in range(c0, width)]
    body = [(i, region(r[c0 - 2]), _s(r[c0 - 4]), _s(r[c0 - 3]), _s(r[c0 - 1]))
            for i, r in enumerate(grid[hr + 1:], start=hr + 1)
            if any(_s(v) for v in r[c0 - 4:c0])]
    row_pairs = {(c, code) for _, c, code, _, _ in body if c and c != "TOT"}
    z_cols = [j for j, (c, code, _, _) in enumerate(col_keys)
              if c and c != "TOT" and (c, code) in row_pairs]
    z_pairs = [col_keys[j][:2] for j in z_cols]
    z_set = set(z_pairs)
    fd_cols = [j for j, (c, code, desc, num) in enumerate(col_keys)
               if c and c != "TOT" and (c, code) not in z_set and code not in _TOTAL_CODES
               and not (not code and num.lower() == "c62")
               and not desc.lower().startswith("total")]
    z_rows = [b for b in body if b[1] and b[1] != "TOT" and (b[1], b[2]) in z_set]
    if [(b[1], b[2]) for b in z_rows] != z_pairs:
        raise InputFileError(label, "the industry rows are not in the order of the industry "
                                    "columns (or some are missing)")
    regions: list[str] = list(dict.fromkeys(c for c, _ in z_pairs))
    sectors = [code for c, code in z_pairs if c == regions[0]]
    if z_pairs != [(c, s) for c in regions for s in sectors]:
        raise InputFileError(label, "regions do not all have the same industries in the same "
                                    "order")
    cats = [(col_keys[j][1] or col_keys[j][2]) for j in fd_cols if col_keys[j][0] == regions[0]]
    if [col_keys[j][0] for j in fd_cols] != [c for c in regions for _ in cats]:
        raise InputFileError(label, "final-demand columns are not (country, category) for every "
                                    "country")
    last_z = z_rows[-1][0]
    fac = [b for b in body if b[0] > last_z]
    out_row = next((b for b in fac if b[2] == "GO" or (not b[2] and b[4].lower() == "r69")
                    or b[3].lower().startswith("output at basic prices")), None)
    va_rows = [b for b in fac if b is not out_row and b[2] not in _TOTAL_CODES
               and not (not b[2] and b[4].lower() in ("r60", "r69"))
               and not b[3].lower().startswith("total intermediate")]

    cols = np.asarray(z_cols + fd_cols) + c0

    def numbers(i: int) -> np.ndarray:
        row = grid[i]
        try:
            return np.array([0.0 if row[j] in (None, "") else row[j] for j in cols], dtype=float)
        except (TypeError, ValueError):
            for j in cols:
                try:
                    float(0.0 if row[j] in (None, "") else row[j])
                except (TypeError, ValueError):
                    raise InputFileError(label, f"cell {_cell(i, j)}: {_s(row[j])[:40]!r} is not "
                                                "a number") from None
            raise

    n = len(z_cols)
    ZY = np.vstack([numbers(b[0]) for b in z_rows])
    Z, Y = np.ascontiguousarray(ZY[:, :n]), np.ascontiguousarray(ZY[:, n:])
    FF = np.vstack([numbers(b[0]) for b in va_rows]) if va_rows else np.zeros((0, len(cols)))
    x = numbers(out_row[0])[:n] if out_row is not None else None
    title = " ".join(_s(grid[i][0]) for i in range(min(hr, 4)))
    unit = "M USD"  # both releases: millions of US$ (the 2013 sheets say so in cell A4)
    release = "2016" if "nov16" in name.lower() or len(sectors) == 56 else "2013"
    yr = _year_of(name)
    if yr is None:
        m = re.search(r"(19|20)\d{2}", title)
        yr = int(m.group(0)) if m else None
    stressors = unique_names([b[3] or b[2] for b in va_rows], [b[2] for b in va_rows])
    meta = {"source": "WIOD", "version": f"{release} release", "year": yr, "currency": "USD",
            "money_unit": unit, "price_basis": "basic", "system": "ixi", "path": str(path),
            "x_from": "output row" if out_row is not None else "Z 1 + Y 1"}
    return build_mrio(Z=Z, Y=Y, F=np.ascontiguousarray(FF[:, :n]),
                      F_Y=np.ascontiguousarray(FF[:, n:]), x=x, regions=regions, sectors=sectors,
                      stressors=stressors, stressor_units=[unit] * len(va_rows),
                      fd_categories=cats, meta=meta, sparse=sparse)
