"""OECD Inter-Country Input-Output tables (ICIO), editions 2016, 2018, 2021 and 2023.

The OECD publishes one comma-separated file per year (``ICIO2018_2015.csv``,
``ICIO2021_2018.csv``, ``2020.csv`` / ``2020_SML.csv`` in the 2023 edition), usually inside a zip
of several years. Each file is one labelled square-plus-margins matrix::

    ,AUS_01T03,AUS_05T06,...,ROW_97T98,AUS_HFCE,AUS_NPISH,...,ROW_DPABR,TOTAL
    AUS_01T03,  Z ...                  Y (region x final-demand type) ...
    ...
    TAXSUB (or AUS_TAXSUB ... per country, or TLS)   taxes less subsidies on products
    VALU   (or VA)                                    value added
    OUTPUT (or OUT)                                   gross output x

Codes are ``REGION_ITEM`` split at the first underscore (2023 industry codes such as ``A01_02``
keep their own underscore). The 2016 edition writes final-demand columns the other way round
(``HFCE_AUS``); the reader turns them round. China and Mexico are split into ``CN1``/``CN2`` and
``MX1``/``MX2`` (processing-trade and domestic activities) in the 2016-2021 files: their rows and
columns are summed into ``CHN`` and ``MEX`` (the final-demand columns are already by ``CHN`` and
``MEX``), as the OECD's own ``_SML`` files and pymrio/MARIO do.

ICIO has no environmental extension. The reader keeps the primary inputs as stressors so that
they are not lost: ``Value added`` and ``Taxes less subsidies`` in ``M USD`` (``S`` is money per
money: value added per unit of output). Since every column of a balanced table satisfies
``sum_i A_ij + va_j + tls_j = 1``, the total multipliers of the two rows sum to exactly one for
every sector, a check the tests use. Join emission intensities (e.g. the OECD's TECO2 data) to
these sectors to use ICIO for footprints.

Numbers are parsed with `pyarrow.csv` (linear in file size, multi-threaded); empty cells are
zero, as in the OECD's own readers. Negative entries (inventory changes, ``INVNT``) are kept.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import InputFileError

__all__ = ["read_oecd_icio", "looks_like_icio", "write_icio_like"]

#: Final-demand type codes of every edition (2016: DIRP, NONRES, DISC; 2018+: DPABR, P33).
ICIO_FD_CODES = ("HFCE", "NPISH", "NPS", "GGFC", "GFCF", "INVNT", "INV", "DPABR", "DIRP", "P33",
                 "NONRES", "DISC", "FD")
#: Row codes of the primary inputs and output, by what they are.
_TAX_ROWS = ("TAXSUB", "TLS", "TXS", "TAX")
_VA_ROWS = ("VALU", "VA")
_OUT_ROWS = ("OUTPUT", "OUT")
_TOTAL_COLS = ("TOTAL", "OUT", "OUTPUT")
#: Split regions summed into their country (``CN1`` -> ``CHN``).
SPLIT_REGIONS = {"CN1": "CHN", "CN2": "CHN", "CN3": "CHN", "CN4": "CHN",
                 "MX1": "MEX", "MX2": "MEX", "MX3": "MEX"}
_BLOCK_SIZE = 16 << 20


# ------------------------------------------------------------------------------------------------
# one labelled matrix CSV (shared with the FIGARO reader)
# ------------------------------------------------------------------------------------------------
@dataclass
class LabelledMatrix:
    """A CSV matrix with one label column: ``rows`` (n_r), ``cols`` (n_c), ``values`` (n_r x n_c)."""

    rows: list[str]
    cols: list[str]
    values: np.ndarray


class CsvSource:
    """One CSV file on disk, or one member of a zip archive, with a label for messages."""

    def __init__(self, path: Path, member: str | None = None) -> None:
        self.path, self.member = path, member

    @property
    def label(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    @property
    def name(self) -> str:
        return Path(self.member).name if self.member else self.path.name

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        try:
            if self.member is None:
                fh: IO[bytes] = open(self.path, "rb")  # noqa: SIM115
                with fh:
                    yield fh
            else:
                with zipfile.ZipFile(self.path) as zf, zf.open(self.member) as fh:
                    yield fh
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise InputFileError(self.label, f"cannot be read: {exc}") from exc


def find_csv(path: str | Path, what: str, pattern: str, year: int | None = None) -> CsvSource:
    """The one CSV to read: ``path`` itself, or the member/file of a zip/folder for ``year``.

    ``pattern`` is a regular expression the file name must match (case-insensitive); with
    several matches ``year`` picks the one whose name holds it.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, f"no such file or folder; expected {what}")
    rx = re.compile(pattern, flags=re.IGNORECASE)
    if path.is_dir():
        names = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    elif zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = sorted(n for n in zf.namelist() if not n.endswith("/"))
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputFileError(path, f"not a readable zip archive ({exc})") from exc
    elif path.suffix.lower() == ".zip":
        raise InputFileError(path, "not a readable zip archive; the download may be incomplete")
    else:
        return CsvSource(path)
    cands = [n for n in names if rx.search(Path(n).name)]
    if year is not None and len(cands) > 1:
        cands = [n for n in cands if str(year) in Path(n).name]
    if len(cands) != 1:
        found = ", ".join(Path(n).name for n in cands[:10]) or "none"
        hint = ("pass year=... to choose one" if len(cands) > 1 else
                f"no file named like {pattern!r}" + (f" for year {year}" if year else ""))
        raise InputFileError(path, f"expected one {what} file, found {len(cands)} ({found}); {hint}")
    if path.is_dir():
        return CsvSource(path / cands[0])
    return CsvSource(path, cands[0])


def _header_cells(fh: IO[bytes], label: str) -> list[str]:
    first = fh.readline()
    if not first.strip():
        raise InputFileError(label, "empty file: expected a header row of column codes")
    text = first.decode("utf-8-sig").rstrip("\r\n")
    return next(csv.reader([text]))


def _locate_row(src: CsvSource, test) -> tuple[int, list[str]] | None:
    with src.open() as fh:
        lines = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
        reader = csv.reader(lines)
        next(reader, None)
        for r, cells in enumerate(reader):
            if test(cells):
                return r, cells
    return None


def read_labelled_matrix(src: CsvSource) -> LabelledMatrix:
    """Parse a comma-separated matrix whose first column holds the row labels.

    Parameters
    ----------
    src : CsvSource
        The file (or zip member).

    Returns
    -------
    LabelledMatrix
        Row labels, column labels (the header without its first cell) and float64 values; empty
        cells are 0.

    Raises
    ------
    InputFileError
        Empty or ragged file, a non-numeric cell (named by row label and column code).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with src.open() as fh:
        header = _header_cells(fh, src.label)
    if len(header) < 2:
        raise InputFileError(src.label, "the header has no column codes (is it comma-separated?)")
    cols = header[1:]
    names = [f"c{j}" for j in range(len(header))]
    types = {nm: (pa.string() if j == 0 else pa.float64()) for j, nm in enumerate(names)}
    try:
        with src.open() as fh:
            handle = str(src.path) if src.member is None else fh
            table = pacsv.read_csv(
                handle,
                read_options=pacsv.ReadOptions(skip_rows=1, column_names=names,
                                               block_size=_BLOCK_SIZE),
                convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""],
                                                     strings_can_be_null=False),
            )
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        m = re.search(r"In CSV column #(\d+): CSV conversion error to double: invalid value '(.*)'",
                      msg)
        if m:
            col, bad = int(m.group(1)), m.group(2)
            hit = _locate_row(src, lambda c: len(c) > col and c[col] == bad)
            where = f"row {hit[1][0]!r} (line {hit[0] + 2}), " if hit else ""
            raise InputFileError(src.label, f"{where}column {header[col]!r}: {bad!r} is not a "
                                            "number") from exc
        m = re.search(r"Expected (\d+) columns, got (\d+)", msg)
        if m:
            hit = _locate_row(src, lambda c: len(c) != len(header) and any(c))
            where = f" at line {hit[0] + 2} (row {hit[1][0]!r})" if hit else ""
            raise InputFileError(src.label, f"truncated or malformed{where}: expected "
                                            f"{len(header)} columns, got {m.group(2)}") from exc
        raise InputFileError(src.label, f"cannot be parsed: {msg.splitlines()[0]}") from exc
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InputFileError(src.label, f"truncated or damaged ({exc})") from exc
    rows = [str(v) for v in table.column(0).to_pylist()]
    values = np.empty((table.num_rows, len(cols)))
    for j in range(len(cols)):
        values[:, j] = table.column(j + 1).to_numpy(zero_copy_only=False)
    del table
    if not np.isfinite(values).all():  # empty cells (null -> NaN) are zero; inf is an error
        values[np.isnan(values)] = 0.0
        if np.isinf(values).any():
            r, c = (int(v) for v in np.argwhere(np.isinf(values))[0])
            raise InputFileError(src.label, f"non-finite value at row {rows[r]!r}, column "
                                            f"{cols[c]!r}")
    return LabelledMatrix(rows=rows, cols=cols, values=values)


def split_code(code: str) -> tuple[str, str] | None:
    """``"AUS_01T03"`` -> ``("AUS", "01T03")`` (split at the first underscore); None without one."""
    if "_" not in code:
        return None
    region, item = code.split("_", 1)
    return (region, item) if region and item else None


def region_major(pairs: Sequence[tuple[str, str]], label: str, what: str):
    """Regions and items (first-appearance order) of (region, item) pairs; every region must
    carry the same items. Returns ``(regions, items)``."""
    regions = list(dict.fromkeys(r for r, _ in pairs))
    items = list(dict.fromkeys(i for _, i in pairs))
    have = set(pairs)
    missing = [(r, i) for r in regions for i in items if (r, i) not in have]
    if missing:
        raise InputFileError(label, f"{what} are not a full region x item grid: {len(missing)} "
                                    f"missing, e.g. {'_'.join(missing[0])}")
    return regions, items


def ones_matrix(shape: tuple[int, int], rows: Sequence[int] | np.ndarray,
                cols: Sequence[int] | np.ndarray) -> Any:
    """A sparse 0/1 matrix with ones at (rows[i], cols[i])."""
    import scipy.sparse as sps

    return sps.csr_array((np.ones(len(rows)), (np.asarray(rows, dtype=np.int64),
                                               np.asarray(cols, dtype=np.int64))), shape=shape)


def gather(V: np.ndarray, r_dst: Sequence[int], r_src: Sequence[int], n_r: int,
           c_dst: Sequence[int], c_src: Sequence[int], n_c: int) -> np.ndarray:
    """``out[r_dst[i], c_dst[j]] += V[r_src[i], c_src[j]]`` for an (n_r x n_c) result.

    One fancy-indexed copy when each destination is hit exactly once (a permutation: FIGARO,
    ICIO without split regions); otherwise two sparse 0/1 products that sum the duplicates
    (CN1 + CN2 + CHN).
    """
    rd, cd = np.asarray(r_dst, dtype=np.int64), np.asarray(c_dst, dtype=np.int64)
    if (len(rd) == n_r and len(cd) == n_c and np.array_equal(np.sort(rd), np.arange(n_r))
            and np.array_equal(np.sort(cd), np.arange(n_c))):
        rs = np.empty(n_r, dtype=np.int64)
        rs[rd] = np.asarray(r_src, dtype=np.int64)
        cs = np.empty(n_c, dtype=np.int64)
        cs[cd] = np.asarray(c_src, dtype=np.int64)
        return V[rs[:, None], cs[None, :]]
    Gr = ones_matrix((n_r, V.shape[0]), rd, r_src)
    Gc = ones_matrix((V.shape[1], n_c), c_src, cd)
    return np.ascontiguousarray(np.asarray((Gc.T @ (Gr @ V).T).T))


def coefficients(Z: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``A = Z diag(x)^-1`` in place of ``Z``; columns of zero-output sectors are zero."""
    nz = x != 0
    Z[:, nz] /= x[nz][None, :]
    Z[:, ~nz] = 0.0
    return Z


def per_output(F: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``S = F diag(x)^-1`` with zero columns where ``x = 0``."""
    S = np.zeros_like(F)
    nz = x != 0
    S[:, nz] = F[:, nz] / x[nz][None, :]
    return S


# ------------------------------------------------------------------------------------------------
# ICIO
# ------------------------------------------------------------------------------------------------
def _edition_year(name: str, rows: set[str], edition: str | None, year: int | None):
    m = re.search(r"ICIO[-_]?(20\d\d)[-_](\d{4})", name, flags=re.IGNORECASE)
    ed = edition or (m.group(1) if m else None)
    yr = year if year is not None else (int(m.group(2)) if m else None)
    if yr is None:
        y = re.search(r"(?<!\d)(19[6-9]\d|20\d\d)(?!\d)", name)
        yr = int(y.group(1)) if y else None
    if ed is None:
        # 2023 edition: TLS / VA / OUT rows; 2021: TAXSUB / VALU / OUTPUT with no country taxes
        ed = "2023" if ({"TLS", "VA", "OUT"} & rows) else None
    return ed, yr


def _classify_col(code: str, fd: set[str], regions: set[str]):
    """('sector'|'fd'|'total'|'other', region, item)."""
    if code.upper() in _TOTAL_COLS:
        return "total", "", code
    parts = split_code(code)
    if parts is None:
        return "other", "", code
    a, b = parts
    if b.upper() in fd:
        return "fd", a, b.upper()
    if a.upper() in fd and b in regions:  # 2016 edition: HFCE_AUS
        return "fd", b, a.upper()
    return "sector", a, b


def read_oecd_icio(path: str | Path, year: int | None = None, edition: str | None = None,
                   aggregate_split: bool = True) -> Any:
    """Read one year of the OECD ICIO tables (2016, 2018, 2021 or 2023 edition; zip or CSV).

    Parameters
    ----------
    path : str or Path
        A yearly CSV (``ICIO2021_2018.csv``, ``2020.csv``), a zip of yearly CSVs as downloaded
        from the OECD, or a folder holding them.
    year : int, optional
        The year to read when the zip/folder holds several (also overrides the year read from
        the file name).
    edition : str, optional
        Edition label for ``meta["version"]`` when the file name does not say
        (``ICIO2021_...`` -> ``"2021"``).
    aggregate_split : bool
        Sum ``CN1``/``CN2`` into ``CHN`` and ``MX1``/``MX2`` into ``MEX`` (default), rows and
        columns alike.

    Returns
    -------
    MRIO
        ``A = Z diag(x)^-1`` (USD per USD; zero columns where ``x = 0``), ``x`` the ``OUTPUT`` row
        (else the ``TOTAL`` column, else ``x = Z 1 + Y 1``) in ``M USD``, ``Y`` by (region,
        final-demand type), stressors ``Value added`` and ``Taxes less subsidies``
        (``S = F diag(x)^-1``, ``M USD`` per ``M USD``; ``F_Y`` holds the taxes on final demand),
        and meta (source ``"OECD ICIO"``, version = edition, year, currency USD, money unit
        ``M USD``, basic prices, system ``ixi``).

    Raises
    ------
    InputFileError
        Missing or damaged file, a non-numeric cell, an unknown row code, or sectors that are not
        a full region x industry grid (the message names the file and the code).
    """
    from ..core.model import MRIO

    src = find_csv(path, "OECD ICIO yearly CSV", r"\.csv$", year)
    mat = read_labelled_matrix(src)
    label = src.label
    fd_codes = set(ICIO_FD_CODES)
    agg = SPLIT_REGIONS if aggregate_split else {}

    # -- rows: sectors, taxes, value added, output --------------------------------------------
    row_kind: list[tuple[str, str, str]] = []
    for code in mat.rows:
        up = code.upper()
        parts = split_code(code)
        if up in _OUT_ROWS:
            row_kind.append(("out", "", up))
        elif up in _VA_ROWS:
            row_kind.append(("va", "", up))
        elif up in _TAX_ROWS or (parts and parts[1].upper() in _TAX_ROWS):
            row_kind.append(("tax", "", up))
        elif parts is not None:
            row_kind.append(("sector", agg.get(parts[0], parts[0]), parts[1]))
        else:
            raise InputFileError(label, f"unknown row code {code!r}: expected REGION_INDUSTRY, "
                                        f"{'/'.join(_TAX_ROWS[:2])}, VALU/VA or OUTPUT/OUT")
    sec_rows = [(i, r, s) for i, (k, r, s) in enumerate(row_kind) if k == "sector"]
    if not sec_rows:
        raise InputFileError(label, "no REGION_INDUSTRY rows: this is not an ICIO table")
    regions, sectors = region_major([(r, s) for _, r, s in sec_rows], label, "the industry rows")
    P = len(sectors)
    pos = {(r, s): a * P + b for a, r in enumerate(regions) for b, s in enumerate(sectors)}
    n = len(pos)
    region_set = set(regions) | set(agg)

    # -- columns ------------------------------------------------------------------------------
    col_kind = [_classify_col(c, fd_codes, region_set) for c in mat.cols]
    fd_pairs = [(agg.get(r, r), it) for k, r, it in col_kind if k == "fd"]
    fd_regions = list(dict.fromkeys(r for r, _ in fd_pairs))
    fd_cats = list(dict.fromkeys(it for _, it in fd_pairs))
    stray = [r for r in fd_regions if r not in regions]
    if stray:
        raise InputFileError(label, f"final-demand columns for regions {stray[:5]} that have no "
                                    "industry rows")
    f = len(fd_cats)
    fd_pos = {c: i for i, c in enumerate(fd_cats)}
    reg_pos = {r: i for i, r in enumerate(regions)}
    other = [mat.cols[j] for j, (k, _, _) in enumerate(col_kind) if k == "other"]

    # 0/1 aggregation matrices: rows (n x file rows), columns (file columns x n or x R*f), so
    # the split regions add up and the order becomes region-major in one sparse product each
    m_rows = len(mat.rows)
    r_src = [i for i, _, _ in sec_rows]
    r_dst = [pos[(r, s)] for _, r, s in sec_rows]
    margin_of = {"va": 0, "tax": 1, "out": 2}
    m_src = [i for i, (k, _, _) in enumerate(row_kind) if k in margin_of]
    m_dst = [margin_of[row_kind[i][0]] for i in m_src]
    zj, zt, yj, yt, ot, tot = [], [], [], [], [], []
    for j, (k, r, it) in enumerate(col_kind):
        if k == "sector":
            key = (agg.get(r, r), it)
            if key not in pos:
                raise InputFileError(label, f"column {mat.cols[j]!r} is not one of the industry "
                                            "rows")
            zj.append(j)
            zt.append(pos[key])
        elif k == "fd":
            yj.append(j)
            yt.append(reg_pos[agg.get(r, r)] * f + fd_pos[it])
        elif k == "other":
            ot.append(j)
        else:
            tot.append(j)
    nfd = len(regions) * f
    Gr = ones_matrix((n, m_rows), r_dst, r_src)
    V = mat.values
    c_dst = zt + [n + t for t in yt]
    core = gather(V, r_dst, r_src, n, c_dst, zj + yj, n + nfd)     # n x (n + R f)
    margins = gather(V, m_dst, m_src, 3, c_dst, zj + yj, n + nfd)  # 3 x (n + R f)
    Z, Y = np.ascontiguousarray(core[:, :n]), np.ascontiguousarray(core[:, n:])
    del core
    va, tax, tax_fd = margins[0, :n], margins[1, :n], margins[1, n:]
    has_out = 2 in m_dst
    if has_out:
        x, x_from = margins[2, :n].copy(), "OUTPUT row"
    elif tot:
        x, x_from = Gr @ V[:, tot[0]], f"{mat.cols[tot[0]]} column"
    else:
        x = Z.sum(axis=1) + Y.sum(axis=1)
        if ot:
            x += Gr @ V[:, ot].sum(axis=1)
        x_from = "Z 1 + Y 1"
    F = np.vstack([va, tax])
    S = per_output(F, x)
    A = coefficients(Z, x)
    # the CSV's own name first (a zip named "ICIO-2016-2020" holds years, not an edition)
    ed, yr = _edition_year(src.name, {c.upper() for c in mat.rows}, edition, year)
    merged = sorted({p[0] for p in map(split_code, mat.rows) if p is not None and p[0] in agg})
    meta = {"source": "OECD ICIO", "version": ed, "edition": ed, "year": yr, "currency": "USD",
            "money_unit": "M USD", "price_basis": "basic", "system": "ixi",
            "x_from": x_from, "path": str(path),
            "aggregated_regions": merged,
            "dropped_columns": other,
            "notes": ("Value added and taxes less subsidies are kept as stressors (M USD per M USD); "
                      "ICIO has no environmental extension.")}
    return MRIO(A=A, x=x, S=S, regions=tuple(regions), sectors=tuple(sectors),
                stressors=("Value added", "Taxes less subsidies"),
                stressor_units=("M USD", "M USD"), Y=Y, fd_categories=tuple(fd_cats),
                F_Y=np.vstack([np.zeros_like(tax_fd), tax_fd]), meta=meta)


def looks_like_icio(path: str | Path) -> bool:
    """True if ``path`` (a CSV, zip or folder) is named like OECD ICIO data (``ICIO*``) or holds
    an ``ICIO*.csv``; file names only, nothing is parsed."""
    p = Path(path)
    rx = re.compile(r"ICIO", flags=re.IGNORECASE)
    if p.is_file() and p.suffix.lower() == ".csv":
        return bool(rx.search(p.name))
    if p.is_file() and rx.search(p.name) and zipfile.is_zipfile(p):
        return True
    names: list[str] = []
    if p.is_dir():
        names = [q.name for q in p.iterdir() if q.is_file()]
    elif p.is_file() and zipfile.is_zipfile(p):
        try:
            with zipfile.ZipFile(p) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError):
            return False
    return any(rx.search(Path(nm).name) and nm.lower().endswith(".csv") for nm in names)


def write_icio_like(path: str | Path, Z: np.ndarray, Y: np.ndarray, va: np.ndarray,
                    tax: np.ndarray, row_codes: Sequence[str], fd_codes: Sequence[str],
                    tax_fd: np.ndarray | None = None, edition: str = "2021",
                    zip_member: str | None = None) -> Path:
    """Write a table in the ICIO CSV layout (test fixtures and benchmarks; not OECD data).

    ``edition`` picks the margin codes: ``"2023"`` writes ``TLS``/``VA``/``OUT`` rows and an
    ``OUT`` column, older editions ``TAXSUB``/``VALU``/``OUTPUT`` and ``TOTAL``. ``x`` is
    written as ``Z 1 + Y 1``. With ``zip_member`` the CSV is written into a zip at ``path``.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    x = Z.sum(axis=1) + Y.sum(axis=1)
    new = edition >= "2023"
    tax_code, va_code, out_code, tot_code = (("TLS", "VA", "OUT", "OUT") if new else
                                             ("TAXSUB", "VALU", "OUTPUT", "TOTAL"))
    tfd = np.zeros(Y.shape[1]) if tax_fd is None else tax_fd
    body = np.vstack([np.hstack([Z, Y, x[:, None]]),
                      np.hstack([tax, tfd, [tax.sum() + tfd.sum()]])[None, :],
                      np.hstack([va, np.zeros(Y.shape[1]), [va.sum()]])[None, :],
                      np.hstack([x, np.zeros(Y.shape[1]), [np.nan]])[None, :]])
    labels = [*row_codes, tax_code, va_code, out_code]
    header = ["", *row_codes, *fd_codes, tot_code]
    arrays = [pa.array(labels)] + [pa.array(body[:, j]) for j in range(body.shape[1])]
    table = pa.Table.from_arrays(arrays, names=[f"c{j}" for j in range(len(arrays))])
    buf = io.BytesIO()
    buf.write((",".join(header) + "\n").encode())
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    text = buf.getvalue().replace(b",nan\n", b",\n")
    if zip_member is None:
        path.write_bytes(text)
    else:
        with zipfile.ZipFile(path, "a" if path.exists() else "w",
                             compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(zip_member, text)
    return path
