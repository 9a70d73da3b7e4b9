"""Shared pieces of the GLORIA, Eora26 and WIOD readers.

* [FileSet][spendprint.io._mrio_tables.FileSet]: the files of a database release found in a
  folder tree, in zip archives, or in zip archives inside a folder (one level of nesting), looked
  up by regular expression on the file name;
* [iter_numeric_blocks][spendprint.io._mrio_tables.iter_numeric_blocks]: a headerless numeric
  text table (comma or tab separated, no label columns) parsed with `pyarrow.csv` in row blocks of
  about 64 MB, so memory stays bounded and time linear in the file size;
* [build_mrio][spendprint.io._mrio_tables.build_mrio]: an [MRIO][spendprint.core.model.MRIO]
  from flows, with ``x = Z 1 + Y 1`` where gross output is not given,
  ``A = Z diag(x)^-1`` and ``S = F diag(x)^-1`` (zero columns where ``x = 0``).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import scipy.sparse as sps

from ..core.model import MRIO
from ..errors import InputFileError

__all__ = ["FileSet", "iter_numeric_blocks", "read_numeric", "build_mrio", "read_text_rows",
           "safe_divide_columns"]

_CHUNK = 64 << 20  # bytes of text handed to pyarrow at once (cut at a line end)
_BLOCK = 16 << 20  # pyarrow block size: wide tables parse 2-3x faster in big blocks


class FileSet:
    """Files of one database release: a folder tree, a zip, or zips inside a folder.

    Each file is known by its base name; `find(pattern)` returns the one whose name matches.
    Zip members are opened straight from the archive (never extracted).
    """

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._files: dict[str, tuple[Path, str | None]] = {}  # base name -> (file or zip, member)
        if not self.path.exists():
            raise InputFileError(self.path, f"no such file or folder; expected {what}")
        if self.path.is_dir():
            for p in sorted(self.path.rglob("*")):
                if p.is_file():
                    self.add(p)
        else:
            self.add(self.path)
        self._zips: dict[Path, zipfile.ZipFile] = {}

    def add(self, p: Path) -> None:
        """Add a file (or every member of a zip) to the set; names seen first win."""
        if p.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(p) as zf:
                    names = [n for n in zf.namelist() if not n.endswith("/")]
            except (zipfile.BadZipFile, OSError) as exc:
                raise InputFileError(p, f"not a readable zip archive ({exc}); the download may be "
                                        "incomplete") from exc
            for n in names:
                self._files.setdefault(n.rsplit("/", 1)[-1], (p, n))
        else:
            self._files.setdefault(p.name, (p, None))

    @property
    def names(self) -> list[str]:
        return sorted(self._files)

    def find(self, pattern: str, label: str, required: bool = True) -> str | None:
        """The one base name matching `pattern` (a regular expression, full match)."""
        rx = re.compile(pattern, re.IGNORECASE)
        hits = [n for n in self._files if rx.fullmatch(n)]
        if len(hits) > 1:
            raise InputFileError(self.path, f"several {label} files match ({sorted(hits)[:4]}); "
                                            "keep one release and year per folder or pass year=")
        if not hits:
            if required:
                shown = ", ".join(self.names[:12]) or "nothing"
                raise InputFileError(self.path, f"no {label} file (expected a name like "
                                                f"{pattern!r}; found {shown}). Expected {self.what}")
            return None
        return hits[0]

    def find_all(self, pattern: str) -> list[str]:
        rx = re.compile(pattern, re.IGNORECASE)
        return sorted(n for n in self._files if rx.fullmatch(n))

    def label(self, name: str) -> str:
        where, member = self._files[name]
        return f"{where}!{member}" if member else str(where)

    def local_path(self, name: str) -> Path | None:
        where, member = self._files[name]
        return None if member else where

    def open(self, name: str) -> IO[bytes]:
        where, member = self._files[name]
        if member is None:
            return open(where, "rb")
        zf = self._zips.get(where)
        if zf is None:
            zf = self._zips[where] = zipfile.ZipFile(where)
        return zf.open(member)

    def close(self) -> None:
        for zf in self._zips.values():
            zf.close()
        self._zips.clear()

    def __enter__(self) -> FileSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------
# numeric text tables
# ------------------------------------------------------------------------------------------------
def _text_chunks(fh: IO[bytes], size: int = _CHUNK) -> Iterator[bytes]:
    """Chunks of about `size` bytes that end at a line end (the last one may not)."""
    rest = b""
    while True:
        data = fh.read(size)
        if not data:
            if rest.strip():
                yield rest
            return
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1:]
        yield data[:cut + 1]


def _ncols_of(first_line: bytes, delimiter: str) -> int:
    return first_line.rstrip(b"\r\n").count(delimiter.encode()) + 1


def iter_numeric_blocks(fh: IO[bytes], label: str, ncols: int, delimiter: str = ",",
                        ) -> Iterator[tuple[int, np.ndarray]]:
    """Parse a headerless numeric text table in row blocks.

    Parameters
    ----------
    fh : binary file
        The table: one row per line, `ncols` numbers per row, no header and no label columns.
    label : str
        File name for error messages.
    ncols : int
        Expected numbers per row; a trailing empty field (a delimiter at the end of each line, as
        some releases write) is accepted and dropped.
    delimiter : str
        `","` (GLORIA) or `"\\t"` (Eora26).

    Yields
    ------
    (int, ndarray)
        The first row number (0-based) of the block and its float64 values, shape (m, ncols).

    Raises
    ------
    InputFileError
        A row with another number of fields, a field that is not a number (empty fields too), or
        a non-finite number: the message names the file and the row.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    r0 = 0
    names: list[str] | None = None
    trailing = False
    try:
        for chunk in _text_chunks(fh):
            if names is None:
                first = chunk[:chunk.find(b"\n") + 1 or len(chunk)]
                found = _ncols_of(first, delimiter)
                trailing = found == ncols + 1 and first.rstrip(b"\r\n").endswith(delimiter.encode())
                if found != ncols and not trailing:
                    raise InputFileError(label, f"row 1 has {found} fields, expected {ncols} "
                                                "(is this the right file and release?)")
                names = [f"f{j}" for j in range(ncols + trailing)]
                types = {nm: pa.float64() for nm in names[:ncols]}
                include = names[:ncols]
            try:
                table = pacsv.read_csv(
                    pa.BufferReader(chunk),
                    read_options=pacsv.ReadOptions(column_names=names, block_size=_BLOCK),
                    parse_options=pacsv.ParseOptions(delimiter=delimiter),
                    convert_options=pacsv.ConvertOptions(column_types=types,
                                                         include_columns=include,
                                                         null_values=[""]),
                )
            except (pa.ArrowInvalid, pa.ArrowException) as exc:
                raise _locate_error(exc, label, chunk, r0, len(names), delimiter) from exc
            for batch in table.to_batches():
                m = batch.num_rows
                if m == 0:
                    continue
                if any(c.null_count for c in batch.columns):
                    col = next(j for j, c in enumerate(batch.columns) if c.null_count)
                    row = r0 + int(np.flatnonzero(batch.column(col).is_null())[0])
                    raise InputFileError(label, f"empty value at row {row + 1}, column {col + 1}")
                values = np.asarray(batch.to_tensor(row_major=True))
                if not np.isfinite(values).all():  # "nan", "inf" parse as floats
                    r, c = (int(v) for v in np.argwhere(~np.isfinite(values))[0])
                    raise InputFileError(label, f"non-finite value at row {r0 + r + 1}, "
                                                f"column {c + 1}")
                yield r0, values
                r0 += m
            del table
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise InputFileError(label, f"truncated or damaged ({type(exc).__name__}: {exc})") from exc


def _locate_error(exc: Exception, label: str, chunk: bytes, r0: int, nfields: int,
                  delimiter: str) -> InputFileError:
    """Find the row behind a pyarrow parse or conversion error."""
    d = delimiter.encode()
    for i, line in enumerate(chunk.splitlines()):
        if not line.strip():
            continue
        fields = line.split(d)
        if len(fields) != nfields:
            return InputFileError(label, f"row {r0 + i + 1} has {len(fields)} fields, expected "
                                         f"{nfields} (truncated or not this table?)")
        for j, f in enumerate(fields[:nfields]):
            try:
                float(f)
            except ValueError:
                if f.strip() or j < nfields - 1:
                    return InputFileError(label, f"row {r0 + i + 1}, column {j + 1}: "
                                                 f"{f[:40].decode(errors='replace')!r} is not a number")
    return InputFileError(label, f"could not be parsed as a numeric table ({exc})")


def read_numeric(files: FileSet, name: str, shape: tuple[int, int], delimiter: str = ",",
                 on_block: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray | None:
    """Read a whole headerless numeric table of known `shape` (rows, columns).

    With `on_block`, each block `(r0, values)` is handed over instead of being kept (the
    caller scatters the rows it needs) and None is returned.

    Raises
    ------
    InputFileError
        Wrong number of rows or columns, or a value that is not a number.
    """
    label = files.label(name)
    out = None if on_block is not None else np.empty(shape)
    seen = 0
    with files.open(name) as fh:
        for r0, block in iter_numeric_blocks(fh, label, shape[1], delimiter):
            if r0 + len(block) > shape[0]:
                raise InputFileError(label, f"has more than the expected {shape[0]} rows")
            if out is not None:
                out[r0:r0 + len(block)] = block
            elif on_block is not None:
                on_block(r0, block)
            seen = r0 + len(block)
    if seen != shape[0]:
        raise InputFileError(label, f"truncated: {seen} rows, expected {shape[0]}")
    return out


def read_text_rows(files: FileSet, name: str, delimiter: str = "\t") -> list[list[str]]:
    """A small label file as rows of stripped fields (trailing empty fields dropped)."""
    with files.open(name) as fh:
        raw = fh.read()
    text = raw.decode("utf-8-sig", errors="replace") if raw[:3] == b"\xef\xbb\xbf" else None
    if text is None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = [f.strip().strip('"') for f in line.split(delimiter)]
        while fields and not fields[-1]:
            fields.pop()
        rows.append(fields)
    return rows


# ------------------------------------------------------------------------------------------------
# building the model
# ------------------------------------------------------------------------------------------------
def safe_divide_columns(M: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``M diag(x)^-1`` with zero columns where ``x = 0`` (in place when `M` is writeable)."""
    inv = np.zeros_like(x, dtype=float)
    nz = x != 0
    inv[nz] = 1.0 / x[nz]
    M *= inv[None, :]
    return M


def build_mrio(*, Z: np.ndarray, Y: np.ndarray | None, F: np.ndarray, regions: Sequence[str],
               sectors: Sequence[str], stressors: Sequence[str], stressor_units: Sequence[str],
               fd_categories: Sequence[str] = (), F_Y: np.ndarray | None = None,
               x: np.ndarray | None = None, meta: dict[str, Any] | None = None,
               sparse: bool | None = None) -> MRIO:
    """An [MRIO][spendprint.core.model.MRIO] from flows.

    ``x = Z 1 + Y 1`` when `x` is None (money unit of the table); ``A = Z diag(x)^-1`` and
    ``S = F diag(x)^-1``, both with zero columns where ``x = 0`` (zero-output sectors). Negative
    entries (inventory changes in Y, small negative flows) are kept as they are.

    `Z` and `F` are consumed: they are divided in place to become `A` and `S`.

    Parameters
    ----------
    sparse : bool, optional
        Store `A` as CSR; by default when fewer than 10 % of its entries are non-zero and
        ``n >= 2000``.
    """
    if x is None:
        x = Z.sum(axis=1) + (Y.sum(axis=1) if Y is not None else 0.0)
    x = np.ascontiguousarray(x, dtype=float)
    A = safe_divide_columns(Z, x)
    S = safe_divide_columns(np.asarray(F, dtype=float), x) if F.size else np.zeros((0, len(x)))
    n = A.shape[0]
    if sparse is None:
        sparse = n >= 2000 and np.count_nonzero(A) < 0.1 * n * n
    A_out: Any = sps.csr_array(A) if sparse else A
    return MRIO(A=A_out, x=x, S=S, regions=tuple(regions), sectors=tuple(sectors),
                stressors=tuple(stressors), stressor_units=tuple(stressor_units), Y=Y,
                fd_categories=tuple(fd_categories), F_Y=F_Y, meta=meta or {})


def unique_names(names: Sequence[str], qualifiers: Sequence[str]) -> list[str]:
    """`names`, each qualified as ``"qualifier: name"`` only where a name repeats."""
    seen: dict[str, int] = {}
    for nm in names:
        seen[nm] = seen.get(nm, 0) + 1
    out = [f"{q}: {nm}" if seen[nm] > 1 and q else nm for nm, q in zip(names, qualifiers, strict=True)]
    counts: dict[str, int] = {}
    for i, nm in enumerate(out):  # still duplicated (same qualifier): number them
        counts[nm] = counts.get(nm, 0) + 1
        if counts[nm] > 1:
            out[i] = f"{nm} #{counts[nm]}"
    return out
