"""Format detection: one entry point, [read_mrio][spendprint.io.detect.read_mrio], for every database.

Each format is a [Format][spendprint.io.detect.Format] in the `FORMATS` table: a name, a cheap
`detect(path) -> bool` that only looks at file names (never parses a table), a `read(path, **kw)`
that returns an `MRIO`, and a one-line description of what the reader expects (shown when nothing
matches). Readers are imported lazily, so adding a format costs nothing at import time.

To add a database, write its `detect`/`read` pair in its own module and add one line to `FORMATS`
(keep the table sorted by name, one entry per line).
"""

from __future__ import annotations

import importlib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputFileError


@dataclass(frozen=True)
class Format:
    """One MRIO database format.

    Attributes
    ----------
    name : str
        The name given to `read_mrio(..., format=name)` and `spendprint mrio import --format`.
    detect : callable
        `detect(path: Path) -> bool`: whether `path` looks like this format (file names only).
    reader : str
        `"module:function"` of the reader, imported on first use; called as `reader(path, **kw)`.
    expects : str
        What the reader expects, for the error message when no format matches.
    """

    name: str
    detect: Callable[[Path], bool]
    reader: str
    expects: str

    def read(self, path: str | Path, **kw: Any) -> Any:
        module, func = self.reader.split(":")
        return getattr(importlib.import_module(module, __package__), func)(path, **kw)


# ---- detectors (cheap: file names only) ----------------------------------------------------------
def _zip_names(path: Path) -> list[str]:
    if not (path.is_file() and zipfile.is_zipfile(path)):
        return []
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def is_native(path: Path) -> bool:
    """A spendprint Zarr store: a folder with `zarr.json` at its top."""
    return path.is_dir() and (path / "zarr.json").is_file()


def is_exiobase3(path: Path) -> bool:
    """EXIOBASE 3 / pymrio text layout: `A.txt`/`Z.txt`/`file_parameters.json` in the folder, in one
    sub-folder, or in a zip (`IOT_YYYY_pxp.zip`)."""
    core = ("A.txt", "Z.txt", "file_parameters.json")
    if path.is_dir():
        if is_native(path):
            return False
        if any((path / c).is_file() for c in core):
            return True
        return any(d.is_dir() and any((d / c).is_file() for c in core) for d in path.iterdir())
    if path.name.upper().startswith("IOT_") and path.suffix.lower() == ".zip":
        return True  # the reader says what is wrong with a damaged download
    return any(n.rsplit("/", 1)[-1] in ("A.txt", "Z.txt") for n in _zip_names(path))


def is_useeio(path: Path) -> bool:
    """USEEIO API JSON layout: `sectors.json` and `matrix/A.json` in the folder."""
    return path.is_dir() and (path / "sectors.json").is_file() and (path / "matrix" / "A.json").is_file()


# ---- the table: one entry per line, sorted by name (other readers add their line here) ----------
FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("eora26", lambda p: importlib.import_module(".eora", __package__).is_eora26(p), ".eora:read_eora26", "Eora26 year: Eora26_YYYY_bp.zip or folder with Eora26_YYYY_bp_T/FD/VA/Q/QY.txt and labels_*.txt (or indices.zip); a folder of years needs year="),  # noqa: E501
    Format("exiobase3", is_exiobase3, ".exiobase:read_exiobase3", "EXIOBASE 3 IOT zip (IOT_YYYY_pxp.zip) or folder with A.txt/Z.txt, Y.txt, x.txt, satellite/"),  # noqa: E501
    Format("figaro", lambda p: importlib.import_module(".figaro", __package__).looks_like_figaro(p), ".figaro:read_figaro", "Eurostat FIGARO matrix CSV (matrix_eu-ic-io_ind-by-ind_*.csv / prod-by-prod), a zip or folder holding it"),  # noqa: E501
    Format("gloria", lambda p: importlib.import_module(".gloria", __package__).is_gloria(p), ".gloria:read_gloria", "GLORIA release folder: *_T-Results_YYYY_0VV_Markup001(full).csv, *_Y-, *_V-Results (zip or CSVs), optional *_TQ-/*_YQ-Results, GLORIA_ReadMe_0VV.xlsx"),  # noqa: E501
    Format("icio", lambda p: importlib.import_module(".icio", __package__).looks_like_icio(p), ".icio:read_oecd_icio", "OECD ICIO yearly CSV (ICIO2021_2018.csv, 2020.csv) or the OECD zip/folder of years (pass year=)"),  # noqa: E501
    Format("native", is_native, ".native_store:open_mrio", "spendprint Zarr store (folder with zarr.json) from `spendprint mrio import`/`synth`"),  # noqa: E501
    Format("useeio", is_useeio, ".useeio:read_useeio", "USEEIO API JSON folder: sectors.json, indicators.json, matrix/A.json, matrix/D.json or B.json+C.json"),  # noqa: E501
    Format("wiod", lambda p: importlib.import_module(".wiod", __package__).is_wiod(p), ".wiod:read_wiod", "WIOD world table: wiotYY_row_apr12.xlsx (2013 release) or WIOTYYYY_Nov16_ROW.xlsb (2016), or a folder/zip of them (pass year=)"),  # noqa: E501
)}


def _expected() -> str:
    return "; ".join(f"{f.name}: {f.expects}" for f in FORMATS.values())


def detect_format(path: str | Path) -> str:
    """The name of the one format in `FORMATS` whose detector accepts `path`.

    Raises
    ------
    InputFileError
        `path` does not exist, several formats match (pass `format=`), or none matches (the
        message lists each format and what it expects).
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(p, f"no such file or folder. Known formats: {_expected()}")
    matches = []
    for f in FORMATS.values():
        try:
            if f.detect(p):
                matches.append(f.name)
        except OSError:
            continue
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InputFileError(p, f"looks like several formats ({', '.join(matches)}); pass "
                                f"--format (format=) to choose")
    hint = ""
    if p.is_file() and p.suffix.lower() == ".zip" and not zipfile.is_zipfile(p):
        hint = " (it is not a readable zip archive: the download may be incomplete)"
    raise InputFileError(p, f"not a recognised MRIO database{hint}; pass --format. Known formats: "
                            f"{_expected()}")


def read_mrio(path: str | Path, format: str | None = None, **kw: Any) -> Any:
    """Read an MRIO database of any registered format, detected from its files unless given.

    Parameters
    ----------
    path : str or Path
        A file or folder of one of the formats in `FORMATS`.
    format : str, optional
        A key of `FORMATS` (e.g. `"exiobase3"`, `"useeio"`, `"native"`); detected when omitted.
    **kw
        Passed to the format's reader (e.g. `stressors=` for EXIOBASE, `year=` for GLORIA).

    Returns
    -------
    MRIO
        The model, with labels, units and `meta` (source, version, year, currency, money_unit,
        price_basis, system).

    Raises
    ------
    InputFileError
        Unknown format name, a path that matches no format, or the reader's own file errors.
    """
    p = Path(path)
    if format is None:
        format = detect_format(p)
    elif format not in FORMATS:
        raise InputFileError(p, f"unknown format {format!r}; known formats: {_expected()}")
    elif not p.exists():
        raise InputFileError(p, f"no such file or folder (expected {FORMATS[format].expects})")
    return FORMATS[format].read(p, **kw)
