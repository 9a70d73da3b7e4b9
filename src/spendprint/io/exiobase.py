"""EXIOBASE 3 as distributed (``IOT_YYYY_pxp.zip`` / ``IOT_YYYY_ixi.zip``, zip or extracted folder).

Layout (the pymrio text format, which EXIOBASE 3 is published in)::

    IOT_2022_pxp/                  one top folder inside the zip
        file_parameters.json       {"systemtype": "IOSystem", "files": {"A": {"name": "A.txt",
                                    "nr_index_col": "2", "nr_header": "2"}, ...}}
        metadata.json              optional: name, version, system, description
        A.txt  Z.txt (optional)    n x n, money per money / money
        Y.txt                      n x (R x f) final demand, header rows region, category
        x.txt                      n x 1 gross output ("indout")
        unit.txt                   money unit per sector ("M.EUR")
        satellite/  impacts/       up to 3.8: F.txt, S.txt (or only F), F_Y.txt (or F_hh.txt), unit.txt
        air_emissions/ employment/ energy/ land/ material/ nutrients/ water/ ...   from 3.9

Every matrix file is tab-separated: ``nr_header`` header rows (region, sector or region,
category), then (when there are two header rows) one row of index names, then the data rows with
``nr_index_col`` label columns ((region, sector) in the core, (stressor[, compartment]) in the
extensions) followed by the numbers.

The numbers are parsed with `pyarrow.csv` (multi-threaded C++) in row blocks written straight
into a preallocated float64 array, so a 9,800 x 9,800 ``A.txt`` (about 1.5 GB of text) parses in
seconds and at most one block is held twice in memory.

`write_exiobase3_like` writes a `MRIO` in the same layout (3.8 or 3.9
extension folders, folder or zip): the test fixtures and benchmarks use it, so nothing needs a
download.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import fnmatch
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import InputFileError, LabelMismatchError

__all__ = ["read_exiobase3", "write_exiobase3_like", "read_exiobase_table"]

#: Extension folders whose rows are characterised impacts (kept only with ``impacts=True``).
IMPACT_FOLDERS = ("impacts", "impact")
#: Folders of the 3.9+ layout that `write_exiobase3_like` uses by default.
LAYOUT_39_EMPLOYMENT_UNITS = ("h", "hours", "1000 h", "persons", "1000 p")
_BLOCK_SIZE = 16 << 20  # bytes of text per pyarrow block (parsed in parallel)


#: Patterns for the EXIOBASE rows behind spendprint's standard indicators, most preferred first.
_GHG_PATTERNS = (r"^GHG emissions AR5 \(GWP100\)", r"^GHG emissions \(GWP100\)", r"^GHG emissions.*GWP100")
_HOURS_PATTERN = r"^Employment hours"
_HOUR_UNITS = {"h": 1.0, "hr": 1.0, "hours": 1.0, "1000 h": 1e3, "1000 hr": 1e3, "m.hr": 1e6,
               "mhr": 1e6, "million hours": 1e6}


def standard_indicators(names: tuple[str, ...], units: tuple[str, ...]):
    """Characterisation rows for spendprint's standard indicator names on EXIOBASE labels.

    ``CO2e`` [kg CO2e] is the GWP100 greenhouse-gas impact row EXIOBASE ships (AR5 preferred);
    ``Employment hours`` [h] is the sum of the ``Employment hours: ...`` rows (skill and gender),
    converted from their unit (``M.hr`` in EXIOBASE 3). Either is left out if the rows are absent
    or already named so. Returns ``(C, impacts, impact_units)`` or ``(None, (), ())``.
    """
    import re

    rows, impacts, impact_units = [], [], []
    k = len(names)
    if "CO2e" not in names:
        for pattern in _GHG_PATTERNS:
            hit = [i for i, nm in enumerate(names) if re.search(pattern, nm)]
            if hit:
                unit = units[hit[0]].strip().lower()
                factor = 1e3 if unit.startswith("t") else 1.0
                row = np.zeros(k)
                row[hit[0]] = factor
                rows.append(row)
                impacts.append("CO2e")
                impact_units.append("kg CO2e")
                break
    if "Employment hours" not in names:
        hit = [i for i, nm in enumerate(names) if re.search(_HOURS_PATTERN, nm)]
        factors = [_HOUR_UNITS.get(units[i].strip().lower()) for i in hit]
        if hit and all(f is not None for f in factors):
            row = np.zeros(k)
            row[hit] = factors
            rows.append(row)
            impacts.append("Employment hours")
            impact_units.append("h")
    if not rows:
        return None, (), ()
    return np.vstack(rows), tuple(impacts), tuple(impact_units)


# ------------------------------------------------------------------------------------------------
# where the files are: a folder or a zip with one top folder
# ------------------------------------------------------------------------------------------------
class _Source:
    """Files of one EXIOBASE system, in a folder or inside a zip archive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self.root: Path | str
        if not path.exists():
            raise InputFileError(path, "no such file or folder; expected an EXIOBASE 3 IOT zip "
                                       "(e.g. IOT_2022_pxp.zip) or its extracted folder")
        if path.is_dir():
            self.root = self._find_root_dir(path)
            self.names: set[str] = set()
        else:
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise InputFileError(path, f"not a readable zip archive ({exc}); the download may "
                                           "be incomplete") from exc
            self.names = {n for n in self._zip.namelist() if not n.endswith("/")}
            self.root = self._find_root_zip()

    @classmethod
    def single_file(cls, path: Path) -> _Source:
        """A source that holds one loose file (for `read_exiobase_table` on a path)."""
        self = cls.__new__(cls)
        self.path, self._zip, self.root, self.names = path, None, path.parent, set()
        return self

    # -- locating the core ------------------------------------------------------------------------
    @staticmethod
    def _is_core_dir(d: Path) -> bool:
        return (d / "file_parameters.json").exists() or (d / "A.txt").exists() or (d / "Z.txt").exists()

    def _find_root_dir(self, path: Path) -> Path:
        if self._is_core_dir(path):
            return path
        subs = [d for d in sorted(path.iterdir()) if d.is_dir() and self._is_core_dir(d)]
        if len(subs) == 1:
            return subs[0]
        raise InputFileError(path / "A.txt", "missing: the folder holds no EXIOBASE core "
                                             "(A.txt / Z.txt / file_parameters.json)")

    def _find_root_zip(self) -> str:
        cands = sorted({n.rsplit("/", 1)[0] if "/" in n else "" for n in self.names
                        if n.rsplit("/", 1)[-1] in ("A.txt", "Z.txt")}, key=len)
        if not cands:
            raise InputFileError(f"{self.path}:A.txt", "missing: the archive holds no A.txt or Z.txt")
        return cands[0]

    # -- file access ------------------------------------------------------------------------------
    def rel(self, *parts: str) -> str:
        return "/".join(p for p in (*((self.root,) if isinstance(self.root, str) and self.root
                                      else ()), *parts) if p)

    def label(self, *parts: str) -> str:
        if self._zip is not None:
            return f"{self.path}:{self.rel(*parts)}"
        return str(Path(self.root, *parts))

    def exists(self, *parts: str) -> bool:
        if self._zip is not None:
            return self.rel(*parts) in self.names
        return Path(self.root, *parts).is_file()

    @contextlib.contextmanager
    def open(self, *parts: str) -> Iterator[IO[bytes]]:
        if not self.exists(*parts):
            raise InputFileError(self.label(*parts), "missing file")
        try:
            if self._zip is not None:
                fh: IO[bytes] = self._zip.open(self.rel(*parts))
            else:
                fh = open(Path(self.root, *parts), "rb")  # noqa: SIM115
        except (OSError, zipfile.BadZipFile) as exc:
            raise InputFileError(self.label(*parts), f"cannot be opened: {exc}") from exc
        with fh:
            yield fh

    def local_path(self, *parts: str) -> str | None:
        """The file's path on disk (None inside a zip)."""
        return None if self._zip is not None else str(Path(self.root, *parts))

    def read_text(self, *parts: str) -> str:
        with self.open(*parts) as fh:
            return fh.read().decode("utf-8")

    def subdirs(self) -> list[str]:
        if self._zip is not None:
            prefix = f"{self.root}/" if self.root else ""
            found = {n[len(prefix):].split("/", 1)[0] for n in self.names
                     if n.startswith(prefix) and "/" in n[len(prefix):]}
            return sorted(found)
        return sorted(d.name for d in Path(self.root).iterdir() if d.is_dir())

    @property
    def root_name(self) -> str:
        return Path(str(self.root)).name if str(self.root) else self.path.stem

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


# ------------------------------------------------------------------------------------------------
# one table
# ------------------------------------------------------------------------------------------------
@dataclass
class Table:
    """A parsed EXIOBASE text table: row labels, column labels and float64 values."""

    rows: list[tuple[str, ...]]
    cols: list[tuple[str, ...]]
    values: np.ndarray
    index_names: tuple[str, ...] = ()


def _split(line: bytes) -> list[str]:
    text = line.decode("utf-8").rstrip("\r\n")
    return next(csv.reader([text], delimiter="\t"), [])


def _header(fh: IO[bytes], label: str, n_header: int, n_index: int | None):
    """Read the header lines; return (col labels, index names, n_index, lines consumed)."""
    lines = []
    for _ in range(n_header + 1):
        line = fh.readline()
        if not line:
            break
        lines.append(_split(line))
    if len(lines) < n_header:
        raise InputFileError(label, f"truncated: expected {n_header} header row(s), found {len(lines)}")
    first = lines[0]
    if n_index is None:
        if n_header == 1:
            n_index = max(1, len(first) - 1)
        else:
            n_index = next((i for i in range(1, len(first)) if first[i] != ""), len(first))
    cols = list(zip(*(ln[n_index:] for ln in lines[:n_header]), strict=False))
    if n_header > 1:
        widths = {len(ln) for ln in lines[:n_header]}
        if len(widths) != 1:
            raise InputFileError(label, f"header rows have different lengths {sorted(widths)}")
    consumed = n_header
    index_names: tuple[str, ...] = tuple(first[:n_index]) if n_header == 1 else ()
    if n_header > 1 and len(lines) > n_header:
        cand = lines[n_header]
        if all(c == "" for c in cand[n_index:]):  # the row of index names pandas writes
            consumed += 1
            index_names = tuple(cand[:n_index])
    return cols, index_names, n_index, consumed


def _locate(fh_factory, skip: int, test) -> tuple[int, list[str]] | None:
    """First data row (0-based) after ``skip`` lines for which ``test(cells)`` is true."""
    with fh_factory() as fh:
        for _ in range(skip):
            fh.readline()
        for r, line in enumerate(fh):
            cells = _split(line)
            if test(cells):
                return r, cells
    return None


def _arrow_error(exc: Exception, label: str, fh_factory, skip: int, ncols: int, n_index: int):
    """Turn a pyarrow parse/conversion error into an InputFileError naming the row."""
    msg = str(exc)
    m = re.search(r"In CSV column #(\d+): CSV conversion error to double: invalid value '(.*)'", msg)
    if m:
        col, bad = int(m.group(1)), m.group(2)
        hit = _locate(fh_factory, skip, lambda c: len(c) > col and c[col] == bad)
        where = (f"data row {hit[0] + 1} (line {hit[0] + skip + 1}, {tuple(hit[1][:n_index])}), "
                 if hit else "")
        return InputFileError(label, f"{where}column {col + 1}: {bad!r} is not a number")
    m = re.search(r"Expected (\d+) columns, got (\d+)", msg)
    if m:
        hit = _locate(fh_factory, skip, lambda c: len(c) != ncols)
        where = f" at data row {hit[0] + 1} (line {hit[0] + skip + 1})" if hit else ""
        return InputFileError(label, f"truncated or malformed{where}: expected {ncols} columns, "
                                     f"got {m.group(2)}")
    return InputFileError(label, f"cannot be parsed: {msg.splitlines()[0]}")


def read_exiobase_table(src: _Source | str | Path, *parts: str, n_header: int = 2,
                        n_index: int | None = None, n_rows: int | None = None) -> Table:
    """Parse one EXIOBASE text table (see the module docstring for the layout).

    Parameters
    ----------
    src : _Source or path
        The system (folder or zip) or, with no ``parts``, the path of a single text file.
    parts : str
        Path of the file inside the system, e.g. ``"satellite", "F.txt"``.
    n_header, n_index : int
        Header rows and label columns (``n_index`` detected from the header when None).
    n_rows : int, optional
        Expected number of data rows; when given the values are written into one preallocated
        array and a different count is an error.

    Returns
    -------
    Table
        Row labels, column labels and values (float64, shape rows x columns).

    Raises
    ------
    InputFileError
        Missing, truncated or non-numeric file; the message names the file and, where known, the row.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not isinstance(src, _Source):
        file = Path(src)
        src, parts = _Source.single_file(file), (file.name,)
    label = src.label(*parts)
    with src.open(*parts) as fh:
        cols, index_names, n_index, skip = _header(fh, label, n_header, n_index)
    ncols = n_index + len(cols)
    k = len(cols)
    names = [f"c{j}" for j in range(ncols)]
    types = {nm: (pa.string() if j < n_index else pa.float64()) for j, nm in enumerate(names)}
    rows: list[tuple[str, ...]] = []
    blocks: list[np.ndarray] = []
    out = np.empty((n_rows, k)) if n_rows is not None else None
    r0 = 0
    try:
        with src.open(*parts) as fh:
            # a plain file is handed to arrow by name: its own reader is about 2x faster than
            # reading through a Python file object (zip members have to go that way)
            handle = src.local_path(*parts) or fh
            # read_csv parses blocks on all cores (the streaming reader is about 2x slower); the
            # batches are released one by one as they are copied into the float64 array
            table = pacsv.read_csv(
                handle,
                read_options=pacsv.ReadOptions(skip_rows=skip, column_names=names,
                                               block_size=_BLOCK_SIZE),
                parse_options=pacsv.ParseOptions(delimiter="\t"),
                convert_options=pacsv.ConvertOptions(column_types=types,
                                                     strings_can_be_null=False),
            )
        batches = table.to_batches()[::-1]
        del table
        while batches:
            batch = batches.pop()
            m = batch.num_rows
            if m == 0:
                continue
            labels = [batch.column(j).to_pylist() for j in range(n_index)]
            rows.extend(zip(*labels, strict=True))
            if out is not None and r0 + m > out.shape[0]:
                raise InputFileError(label, f"has more than the expected {n_rows} data rows")
            dest = out[r0:r0 + m] if out is not None else np.empty((m, k))
            # 512 columns at a time -> contiguous (512, m) block -> one cache-friendly transposed
            # copy into place (writing column by column into C order is 2-3x slower)
            for j0 in range(0, k, 512):
                j1 = min(k, j0 + 512)
                tmp = np.empty((j1 - j0, m))
                for j in range(j0, j1):
                    tmp[j - j0] = batch.column(n_index + j).to_numpy(zero_copy_only=False)
                dest[:, j0:j1] = tmp.T
            del batch
            if out is None:
                blocks.append(dest)
            r0 += m
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise _arrow_error(exc, label, lambda: src.open(*parts), skip, ncols, n_index) from exc
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise InputFileError(label, f"truncated or damaged ({type(exc).__name__}: {exc})") from exc
    if out is not None:
        if r0 != n_rows:
            raise InputFileError(label, f"truncated: {r0} data rows, expected {n_rows}")
        values = out
    else:
        values = np.concatenate(blocks) if blocks else np.empty((0, k))
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = (int(v) for v in np.argwhere(bad)[0])
        raise InputFileError(label, f"empty or non-finite value at data row {r + 1} "
                                    f"({rows[r]}), column {c + n_index + 1} ({cols[c]})")
    return Table(rows=rows, cols=cols, values=values, index_names=index_names)


# ------------------------------------------------------------------------------------------------
# the whole system
# ------------------------------------------------------------------------------------------------
def _file_params(src: _Source, *folder: str) -> dict[str, Any]:
    if not src.exists(*folder, "file_parameters.json"):
        return {}
    try:
        return json.loads(src.read_text(*folder, "file_parameters.json"))
    except json.JSONDecodeError as exc:
        raise InputFileError(src.label(*folder, "file_parameters.json"), f"not valid JSON: {exc}") from exc


def _fmt(params: dict[str, Any], key: str, default_index: int | None, default_header: int):
    entry = params.get("files", {}).get(key, {})
    n_index = int(entry["nr_index_col"]) if "nr_index_col" in entry else default_index
    n_header = int(entry["nr_header"]) if "nr_header" in entry else default_header
    return entry.get("name", f"{key}.txt"), n_index, n_header


def _region_major(labels: list[tuple[str, ...]], label: str, what: str):
    """Split (region, item) labels into regions and items; require the region-major product."""
    regions = list(dict.fromkeys(lab[0] for lab in labels))
    items = [lab[1] for lab in labels if lab[0] == regions[0]] if regions else []
    expected = [(r, s) for r in regions for s in items]
    if [tuple(lab[:2]) for lab in labels] != expected:
        raise InputFileError(label, f"the {what} labels are not (region x {what.split()[-1]}) in "
                                    f"region-major order with the same items in every region")
    return regions, items


def _money_unit(unit: str) -> tuple[str, str]:
    """'M.EUR' / 'Mill EUR' / 'M EUR' -> ('M EUR', 'EUR')."""
    u = unit.strip()
    m = re.fullmatch(r"(?:M|Mill|Mio|million)[.\s_]*([A-Za-z]{3})", u, flags=re.IGNORECASE)
    if m:
        cur = m.group(1).upper()
        return f"M {cur}", cur
    parts = u.replace(".", " ").split()
    return u, (parts[-1].upper() if parts else "EUR")


def _ext_units(src: _Source, folder: str, n_rows: int, rows: list[tuple[str, ...]]) -> list[str]:
    if not src.exists(folder, "unit.txt"):
        return [""] * n_rows
    text = src.read_text(folder, "unit.txt").splitlines()
    table = [next(csv.reader([ln], delimiter="\t")) for ln in text if ln.strip()]
    if not table:
        return [""] * n_rows
    head, body = table[0], table[1:]
    ucol = head.index("unit") if "unit" in head else len(head) - 1
    lookup = {tuple(r[:ucol]): r[ucol] if len(r) > ucol else "" for r in body}
    return [lookup.get(tuple(r), lookup.get(tuple(r[:1]), "")) for r in rows]


def _join(label: tuple[str, ...]) -> str:
    return " - ".join(p for p in label if p != "") if len(label) > 1 else label[0]


@dataclass
class _Ext:
    folder: str
    names: list[str]
    units: list[str]
    S: np.ndarray
    F_Y: np.ndarray | None


def _read_extension(src: _Source, folder: str, cols: list[tuple[str, ...]],
                    fd_cols: list[tuple[str, ...]] | None, x: np.ndarray) -> _Ext | None:
    params = _file_params(src, folder)
    have = {k: src.exists(folder, f"{k}.txt") for k in ("S", "F", "F_Y", "F_hh")}
    if not (have["S"] or have["F"]):
        return None
    key = "S" if have["S"] else "F"
    fname, n_index, n_header = _fmt(params, key, None, 2)
    t = read_exiobase_table(src, folder, fname, n_header=n_header, n_index=n_index)
    if t.cols != cols:
        raise InputFileError(src.label(folder, fname), f"columns do not match A.txt ({len(t.cols)} "
                                                       f"columns, expected {len(cols)} in the same order)")
    if key == "S":
        S = t.values
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            S = np.where(x[None, :] != 0, t.values / np.where(x == 0, 1.0, x)[None, :], 0.0)
    F_Y = None
    fy_key = "F_Y" if have["F_Y"] else ("F_hh" if have["F_hh"] else None)
    if fy_key is not None and fd_cols is not None:
        fy_name, fy_index, fy_header = _fmt(params, fy_key, len(t.rows[0]) if t.rows else None, 2)
        ty = read_exiobase_table(src, folder, fy_name, n_header=fy_header, n_index=fy_index)
        if ty.cols != fd_cols:
            raise InputFileError(src.label(folder, fy_name),
                                 "columns do not match Y.txt (region, category) in the same order")
        if ty.rows != t.rows:
            raise InputFileError(src.label(folder, fy_name), f"rows do not match {fname}")
        F_Y = ty.values
    names = [_join(r) for r in t.rows]
    units = _ext_units(src, folder, len(names), t.rows)
    return _Ext(folder=folder, names=names, units=units, S=S, F_Y=F_Y)


def _select(names: list[str], stressors: Sequence[str] | str | None) -> list[int]:
    if stressors is None:
        return list(range(len(names)))
    if isinstance(stressors, str):
        stressors = [stressors]
    picked: list[int] = []
    for pat in stressors:
        hits = [i for i, nm in enumerate(names) if nm == pat or
                (any(ch in pat for ch in "*?[") and fnmatch.fnmatchcase(nm, pat))]
        if not hits:
            close = difflib.get_close_matches(pat, names, n=5, cutoff=0.5)
            raise LabelMismatchError(f"stressor {pat!r} is not in this EXIOBASE extension set"
                                     + (f"; did you mean {close}?" if close else
                                        f" ({len(names)} rows available)"))
        picked.extend(i for i in hits if i not in picked)
    return picked


def _guess_meta(src: _Source, layout: str, n_sectors: int) -> dict[str, Any]:
    md: dict[str, Any] = {}
    if src.exists("metadata.json"):
        with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
            md = json.loads(src.read_text("metadata.json"))
    text = " ".join([src.path.name, src.root_name, str(md.get("name", "")),
                     str(md.get("description", ""))])
    m = re.search(r"IOT_(\d{4})_(pxp|ixi)", text)
    year = int(m.group(1)) if m else None
    if year is None:
        y = re.search(r"\b(19[6-9]\d|20\d\d)\b", text)
        year = int(y.group(1)) if y else None
    system = (m.group(2) if m else str(md.get("system", "")).lower())
    if system not in ("pxp", "ixi"):
        system = "ixi" if n_sectors == 163 else "pxp"
    v = re.search(r"3\.\d+(?:\.\d+)*", str(md.get("version", "")))
    version = v.group(0) if v else ("3.8" if layout == "3.8" else "3.9")
    is_exio = bool(m) or "exio" in text.lower()
    source = (f"EXIOBASE {version}" if is_exio
              else f"pymrio text format ({md.get('name') or src.root_name})")
    return {"source": source, "year": year, "system": system,
            "layout": "satellite/impacts (<= 3.8)" if layout == "3.8" else "extension folders (>= 3.9)",
            "description": str(md.get("description", "")), "path": str(src.path)}


def _gross_output(core: np.ndarray, Y: np.ndarray, is_z: bool, label: str):
    """x when there is no ``x.txt``: ``x = Z 1 + Y 1`` from Z, or ``x = (I - A)^-1 Y 1`` from A.

    Returns ``(x, how)``; raises `InputFileError` if ``I - A`` is singular.
    """
    y = Y.sum(axis=1)
    if is_z:
        return core.sum(axis=1) + y, "Z 1 + Y 1"
    import scipy.linalg as sla

    try:
        x = sla.solve(np.eye(core.shape[0]) - core, y, check_finite=False)
    except (sla.LinAlgError, ValueError) as exc:
        raise InputFileError(label, f"no x.txt and I - A is singular, so x = (I - A)^-1 Y 1 "
                                    f"cannot be formed ({exc})") from exc
    return x, "(I - A)^-1 Y 1"


#: GWP100 factors of IPCC AR5 (no climate-carbon feedback), as in EXIOBASE's GHG impact rows.
GWP100_AR5 = {"CO2": 1.0, "CH4": 28.0, "N2O": 265.0}
_AIR_ROW = re.compile(r"^(CO2|CH4|N2O)\b.*\bair$")
_MASS_TO_KG = {"kg": 1.0, "t": 1e3, "tonnes": 1e3, "gg": 1e6, "kt": 1e6, "mt": 1e9}


def _add_ghg_from_air(C, impacts, impact_units, names, units):
    """Append a ``CO2e`` [kg CO2e] row ``sum_g GWP_g m_g`` over the fossil CO2, CH4 and N2O air
    emission rows (names ``"CO2 - combustion - air"``; biogenic CO2 left out), when present.

    EXIOBASE's own ``GHG emissions AR5 (GWP100)`` row also counts SF6 and F-gases; this row is
    the part from the three main gases, used only when a release ships no ``impacts/`` folder.
    """
    k = len(names)
    row = np.zeros(k)
    for i, (nm, u) in enumerate(zip(names, units, strict=True)):
        m = _AIR_ROW.match(nm)
        factor = _MASS_TO_KG.get(u.strip().lower())
        if m and factor is not None and "biogenic" not in nm.lower():
            row[i] = GWP100_AR5[m.group(1)] * factor
    if not row.any():
        return C, impacts, impact_units
    C = row[None, :] if C is None else np.vstack([C, row])
    return C, (*impacts, "CO2e"), (*impact_units, "kg CO2e")


def read_exiobase3(path: str | Path, stressors: Sequence[str] | str | None = None,
                   impacts: bool = True) -> Any:
    """Read EXIOBASE 3 (``IOT_YYYY_pxp.zip`` / ``IOT_YYYY_ixi.zip``, zip or extracted folder).

    Parameters
    ----------
    path : str or Path
        The zip as downloaded, its extracted top folder, or the folder above it.
    stressors : str or sequence of str, optional
        Extension rows to keep (exact names or glob patterns such as ``"CO2*"``); all by default.
        Rows of 3.9 extensions with several index levels are named by joining the levels with
        ``" - "``; a name present in two extensions is prefixed with its folder (``"folder: name"``).
    impacts : bool
        Include the rows of the ``impacts/`` folder (characterised indicators such as GHG
        emissions in kg CO2-eq) as extra stressor rows.

    Returns
    -------
    MRIO
        Dense ``A`` (money per money), ``x`` and ``Y`` in ``meta["money_unit"]`` (``"M EUR"``),
        ``S`` (stressor unit per M EUR) for the selected rows, ``F_Y`` (stressor unit) when the
        extensions have it, labels, units and ``meta`` (source ``"EXIOBASE 3.x"``, year, currency
        EUR, money unit, system pxp/ixi, layout). EXIOBASE's impacts are plain rows of ``S``;
        ``C`` adds the standard indicators ``CO2e`` and ``Employment hours`` where the rows
        behind them are present (see [standard_indicators][spendprint.io.exiobase.standard_indicators]).

    Notes
    -----
    Quirks of real releases handled here:

    * **no ``x.txt``** (and none named in ``file_parameters.json``): with ``Z.txt``,
      ``x = Z 1 + Y 1`` and ``A = Z diag(x)^-1``; with ``A.txt`` only, ``x = (I - A)^-1 Y 1``
      (a dense LU solve). ``meta["x_from"]`` says which. A ``file_parameters.json`` that lists
      ``x`` while the file is absent is a damaged download and an error.
    * **ixi and pxp**: the system comes from the name (``IOT_2022_ixi``), ``metadata.json`` or
      the sector count (163 industries = ixi); the layout is the same.
    * **3.9+ without ``impacts/``**: when no GHG impact row exists, ``CO2e`` [kg CO2e] is formed
      from the fossil ``CO2``, ``CH4`` and ``N2O`` air-emission rows with the GWP100 factors of
      IPCC AR5 (1, 28, 265); ``meta["co2e_from"]`` records it.
    * **extensions with one or several index columns** (``stressor`` or ``stressor,
      compartment``): the count comes from ``file_parameters.json`` or the header; the levels
      are joined with ``" - "`` and units matched on all levels.

    Raises
    ------
    InputFileError
        A file is missing, truncated, has the wrong shape or a non-numeric value (the message
        names the file and, where known, the row).
    LabelMismatchError
        A requested stressor does not exist.
    """
    from ..core.model import MRIO

    src = _Source(Path(path))
    try:
        params = _file_params(src)
        # -- core -------------------------------------------------------------------------------
        x_name, x_index, x_header = _fmt(params, "x", 2, 1)
        a_name, a_index, a_header = _fmt(params, "A", 2, 2)
        z_name, z_index, z_header = _fmt(params, "Z", 2, 2)
        y_name, y_index, y_header = _fmt(params, "Y", 2, 2)
        if not src.exists(y_name):
            raise InputFileError(src.label(y_name), "missing file (final demand Y is required)")
        listed = params.get("files", {})
        if not src.exists(x_name) and "x" in listed:
            # file_parameters.json names x.txt: its absence means a damaged download
            raise InputFileError(src.label(x_name), "missing file (gross output x is required: "
                                                    "file_parameters.json lists it)")
        x: np.ndarray | None = None
        n: int | None = None
        if src.exists(x_name):
            tx = read_exiobase_table(src, x_name, n_header=x_header, n_index=x_index)
            if tx.values.shape[1] != 1:
                raise InputFileError(src.label(x_name), f"expected one value column, found "
                                                        f"{tx.values.shape[1]}")
            n = len(tx.rows)
            x = np.ascontiguousarray(tx.values[:, 0])
            x_from = x_name
        # without x.txt, Z gives x = Z 1 + Y 1 exactly; A alone needs x = (I - A)^-1 Y 1
        use_z = src.exists(z_name) and (not src.exists(a_name) or x is None)
        if not use_z and src.exists(a_name):
            ta = read_exiobase_table(src, a_name, n_header=a_header, n_index=a_index, n_rows=n)
            A = ta.values
            core_label = src.label(a_name)
        elif use_z:
            ta = read_exiobase_table(src, z_name, n_header=z_header, n_index=z_index, n_rows=n)
            A = ta.values
            core_label = src.label(z_name)
        else:
            raise InputFileError(src.label(a_name), "missing file (neither A.txt nor Z.txt is present)")
        n = len(ta.rows)
        if len(ta.cols) != n or [tuple(c) for c in ta.cols] != ta.rows:
            raise InputFileError(core_label, f"shape {A.shape} or labels do not match: rows and "
                                             f"columns must be the same {n} (region, sector) pairs"
                                             + (f" as in {x_name}" if x is not None else ""))
        if x is not None and ta.rows != tx.rows:
            raise InputFileError(src.label(x_name), f"rows are not in the order of {core_label}")
        ty = read_exiobase_table(src, y_name, n_header=y_header, n_index=y_index, n_rows=n)
        if ty.rows != ta.rows:
            raise InputFileError(src.label(y_name), f"rows do not match {Path(core_label).name}'s "
                                                    "(region, sector) order")
        if x is None:
            x, x_from = _gross_output(A, ty.values, is_z=use_z, label=core_label)
        if use_z:
            A /= np.where(x == 0, 1.0, x)[None, :]
            A[:, x == 0] = 0.0
        regions, sectors = _region_major(ta.rows, core_label, "region, sector")
        y_regions, fd_categories = _region_major([tuple(c) for c in ty.cols], src.label(y_name),
                                                 "column region, category")
        if y_regions != regions:
            raise InputFileError(src.label(y_name), f"final-demand regions {y_regions[:5]}... differ "
                                                    f"from A.txt's {regions[:5]}...")
        money_unit, currency = "M EUR", "EUR"
        if src.exists("unit.txt"):
            body = [ln.split("\t") for ln in src.read_text("unit.txt").splitlines()[1:] if ln.strip()]
            units = {r[-1].strip() for r in body if r}
            if units:
                money_unit, currency = _money_unit(sorted(units)[0])
        # -- extensions -------------------------------------------------------------------------
        folders = src.subdirs()
        layout = "3.8" if "satellite" in folders else ("3.9" if folders else "3.8")
        exts = []
        for folder in folders:
            if not impacts and folder.lower() in IMPACT_FOLDERS:
                continue
            ext = _read_extension(src, folder, ta.cols, [tuple(c) for c in ty.cols], x)
            if ext is not None:
                exts.append(ext)
        # satellite first, impacts last, the rest alphabetical
        exts.sort(key=lambda e: (e.folder.lower() in IMPACT_FOLDERS, e.folder != "satellite", e.folder))
        all_names: list[str] = []
        for e in exts:
            all_names.extend(e.names)
        dup = {nm for nm in all_names if all_names.count(nm) > 1} if len(exts) > 1 else set()
        names = [f"{e.folder}: {nm}" if nm in dup else nm for e in exts for nm in e.names]
        units_all = [u for e in exts for u in e.units]
        k_total = len(names)
        S_all = np.vstack([e.S for e in exts]) if exts else np.zeros((0, n))
        has_fy = any(e.F_Y is not None for e in exts)
        F_Y_all = (np.vstack([e.F_Y if e.F_Y is not None else np.zeros((len(e.names), ty.values.shape[1]))
                              for e in exts]) if has_fy else None)
        pick = _select(names, stressors)
        assert S_all.shape[0] == k_total
        meta = _guess_meta(src, layout, len(sectors))
        meta.update({"currency": currency, "money_unit": money_unit, "price_basis": "basic",
                     "extensions": [e.folder for e in exts], "x_from": x_from,
                     "core": Path(core_label).name})
        snames = tuple(names[i] for i in pick)
        sunits = tuple(units_all[i] for i in pick)
        C, imp_names, imp_units = standard_indicators(snames, sunits)
        if "CO2e" not in snames and "CO2e" not in imp_names:
            # 3.9+ releases without impacts/: CO2e from the air emissions (GWP100, AR5)
            C, imp_names, imp_units = _add_ghg_from_air(C, imp_names, imp_units, snames, sunits)
            if "CO2e" in imp_names:
                meta["co2e_from"] = "air emissions CO2 + 28 CH4 + 265 N2O (GWP100 AR5)"
        return MRIO(
            A=A, x=x, S=np.ascontiguousarray(S_all[pick]), regions=tuple(regions),
            sectors=tuple(sectors), stressors=snames, stressor_units=sunits, Y=ty.values,
            fd_categories=tuple(fd_categories),
            F_Y=None if F_Y_all is None else np.ascontiguousarray(F_Y_all[pick]),
            C=C, impacts=imp_names, impact_units=imp_units, meta=meta,
        )
    finally:
        src.close()


# ------------------------------------------------------------------------------------------------
# writer (fixtures, benchmarks, exchange)
# ------------------------------------------------------------------------------------------------
def _write_table(fh: IO[bytes], values: np.ndarray, row_labels: list[tuple[str, ...]],
                 col_labels: list[tuple[str, ...]], col_level_names: Sequence[str],
                 index_names: Sequence[str], block_rows: int = 256) -> None:
    """Write one table in the pymrio/EXIOBASE text layout (numbers in shortest round-trip form)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    ni = len(index_names)
    pad = [""] * (ni - 1)
    if len(col_level_names) == 1:  # one header row holding the index names and the column name
        fh.write(("\t".join([*index_names, *(c[0] for c in col_labels)]) + "\n").encode())
    else:
        for lvl, name in enumerate(col_level_names):
            fh.write(("\t".join([name, *pad, *(c[lvl] for c in col_labels)]) + "\n").encode())
        fh.write(("\t".join([*index_names, *([""] * len(col_labels))]) + "\n").encode())
    opts = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    k = values.shape[1]
    for r0 in range(0, values.shape[0], block_rows):
        blk = values[r0:r0 + block_rows]
        lab = row_labels[r0:r0 + block_rows]
        arrays = [pa.array([lb[i] for lb in lab], pa.string()) for i in range(ni)]
        blkT = np.ascontiguousarray(blk.T)
        arrays += [pa.array(blkT[j]) for j in range(k)]
        table = pa.Table.from_arrays(arrays, names=[f"c{j}" for j in range(ni + k)])
        buf = io.BytesIO()
        pacsv.write_csv(table, buf, opts)
        fh.write(buf.getvalue())


def _money_unit_exio(money_unit: str) -> str:
    m = re.fullmatch(r"M\s+([A-Za-z]{3})", money_unit.strip())
    return f"M.{m.group(1)}" if m else money_unit


def write_exiobase3_like(mrio: Any, path: str | Path, zip: bool = False, layout: str = "3.8",
                         include_Z: bool = False, extensions: dict[str, Sequence[str]] | None = None,
                         version: str | None = None, legacy_F_hh: bool = False,
                         compresslevel: int = 1) -> Path:
    """Write ``mrio`` in the EXIOBASE 3 distribution layout (test fixtures and benchmarks).

    Parameters
    ----------
    mrio : MRIO
        The model; stressors go to extension folders, characterised impacts (``C S``) to
        ``impacts/`` with ``F = C F``, ``S = C S``, ``F_Y = C F_Y``.
    path : str or Path
        Folder to write the system into (``zip=False``) or zip file to create (``zip=True``; the
        archive holds one top folder ``IOT_{year}_{system}/`` as EXIOBASE's downloads do).
    layout : {"3.8", "3.9"}
        ``3.8``: ``satellite/`` + ``impacts/``. ``3.9``: one folder per group of stressors
        (``extensions`` maps folder -> stressor names; default ``employment/`` for hour-like
        units and ``air_emissions/`` for the rest) + ``impacts/``.
    include_Z : bool
        Also write ``Z.txt`` (``Z = A diag(x)``, money).
    version : str, optional
        Version written to ``metadata.json`` (default ``"3.8.2"`` or ``"3.9.4"`` by layout).
    legacy_F_hh : bool
        Name the final-demand stressor file ``F_hh.txt`` (older 3.x releases) instead of ``F_Y.txt``.
    compresslevel : int
        zlib level of the zip (1 = fast).

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    Numbers are written in shortest round-trip form, so `read_exiobase3` gets the same
    float64 values back. Money is labelled ``M.EUR`` when ``meta["money_unit"]`` is ``"M EUR"``.
    The files are EXIOBASE-*like*: ``metadata.json`` says they were written by spendprint.
    """
    if layout not in ("3.8", "3.9"):
        raise ValueError(f"layout must be '3.8' or '3.9', not {layout!r}")
    path = Path(path)
    year = mrio.meta.get("year") or 2022
    system = mrio.meta.get("system") or "pxp"
    top = f"IOT_{year}_{system}"
    idx = [(r, s) for r in mrio.regions for s in mrio.sectors]
    fd = [(r, c) for r in mrio.regions for c in mrio.fd_categories]
    x = np.asarray(mrio.x, dtype=np.float64)
    A = mrio.dense_A()
    files: dict[str, Any] = {}  # relative name -> writer callback

    def table(values, rows, cols, levels, index_names):
        return lambda fh: _write_table(fh, np.asarray(values, dtype=np.float64), rows, cols, levels,
                                       index_names)

    core_params: dict[str, Any] = {"systemtype": "IOSystem", "files": {}}

    def core(key, values, cols, levels, nh):
        files[f"{key}.txt"] = table(values, idx, cols, levels, ("region", "sector"))
        core_params["files"][key] = {"name": f"{key}.txt", "nr_index_col": "2", "nr_header": str(nh)}

    core("A", A, idx, ("region", "sector"), 2)
    if include_Z:
        core("Z", A * x[None, :], idx, ("region", "sector"), 2)
    if mrio.Y is not None:
        core("Y", mrio.Y, fd, ("region", "category"), 2)
    core("x", x[:, None], [("indout",)], ("indout",), 1)
    core_params["files"]["unit"] = {"name": "unit.txt", "nr_index_col": "2", "nr_header": "1"}
    money = _money_unit_exio(str(mrio.meta.get("money_unit", "M EUR")))
    files["unit.txt"] = lambda fh: fh.write(
        ("region\tsector\tunit\n" + "".join(f"{r}\t{s}\t{money}\n" for r, s in idx)).encode())
    files["file_parameters.json"] = lambda fh: fh.write(json.dumps(core_params, indent=4).encode())
    files["metadata.json"] = lambda fh: fh.write(json.dumps({
        "name": top, "system": system, "version": version or ("3.8.2" if layout == "3.8" else "3.9.4"),
        "description": f"EXIOBASE 3-like {top} written by spendprint.write_exiobase3_like from "
                       f"{mrio.meta.get('source')} data (not real EXIOBASE data)",
    }, indent=4).encode())

    # extension groups
    groups: dict[str, list[int]] = {}
    if layout == "3.8":
        groups["satellite"] = list(range(len(mrio.stressors)))
    elif extensions is None:
        for i, u in enumerate(mrio.stressor_units):
            folder = "employment" if u.strip().lower() in LAYOUT_39_EMPLOYMENT_UNITS else "air_emissions"
            groups.setdefault(folder, []).append(i)
    else:
        pos = {s: i for i, s in enumerate(mrio.stressors)}
        for folder, names in extensions.items():
            groups[folder] = [pos[s] for s in names]
    F = mrio.S * x[None, :]

    def extension(folder, rows_names, units, S, Fm, FY, index_name):
        if not rows_names:
            return
        rows = [(nm,) for nm in rows_names]
        fy_name = "F_hh" if legacy_F_hh else "F_Y"
        fp: dict[str, Any] = {"systemtype": "Extension", "name": folder, "files": {}}
        for key, vals, cols in (("F", Fm, idx), ("S", S, idx), (fy_name, FY, fd)):
            if vals is None:
                continue
            files[f"{folder}/{key}.txt"] = table(vals, rows, cols,
                                                 ("region", "sector" if key in "FS" else "category"),
                                                 (index_name,))
            fp["files"][key] = {"name": f"{key}.txt", "nr_index_col": "1", "nr_header": "2"}
        unit_text = f"{index_name}\tunit\n" + "".join(
            f"{rows_names[i]}\t{units[i]}\n" for i in range(len(rows_names)))
        files[f"{folder}/unit.txt"] = lambda fh: fh.write(unit_text.encode())
        fp["files"]["unit"] = {"name": "unit.txt", "nr_index_col": "1", "nr_header": "1"}
        files[f"{folder}/file_parameters.json"] = lambda fh: fh.write(json.dumps(fp, indent=4).encode())

    for folder, pos_list in groups.items():
        extension(folder, [mrio.stressors[i] for i in pos_list],
                  [mrio.stressor_units[i] for i in pos_list], mrio.S[pos_list], F[pos_list],
                  None if mrio.F_Y is None else mrio.F_Y[pos_list], "stressor")
    if mrio.C is not None and mrio.impacts:
        C = np.asarray(mrio.C)
        extension("impacts", list(mrio.impacts), list(mrio.impact_units), C @ mrio.S, C @ F,
                  None if mrio.F_Y is None else C @ mrio.F_Y, "impact")

    if zip:
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED,
                             compresslevel=compresslevel) as zf:
            for rel, write in files.items():
                with zf.open(f"{top}/{rel}", "w", force_zip64=True) as fh:
                    write(fh)
    else:
        for rel, write in files.items():
            target = path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                write(fh)
    return path
