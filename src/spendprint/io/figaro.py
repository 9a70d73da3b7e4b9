"""Eurostat FIGARO inter-country input-output tables (industry-by-industry and product-by-product).

Eurostat publishes each year as one comma-separated "matrix" file,
``matrix_eu-ic-io_ind-by-ind_23ed_2021.csv`` or ``matrix_eu-ic-io_prod-by-prod_23ed_2021.csv``
(often zipped)::

    rowLabels,AR_A01,AR_A02,...,ZA_U,AR_P3_S13,AR_P3_S14,AR_P3_S15,AR_P51G,AR_P5M,...
    AR_A01,   Z (country_industry x country_industry)   Y (country_final-demand use)
    ...
    W2_D21X31,   taxes less subsidies on products
    W2_OP_RES,   direct purchases abroad by residents
    W2_OP_NRES,  purchases of non-residents in the territory
    W2_D1,       compensation of employees
    W2_D29X39,   other net taxes on production
    W2_B2A3G,    operating surplus and mixed income, gross

Country codes are Eurostat's two-letter codes (``EL`` Greece, ``FIGW1`` the rest of the world);
industries are NACE Rev. 2 codes (``A01``, ``C10T12``), products CPA 2.1 codes with a ``CPA_``
prefix (``CPA_A01``), which the sector labels keep. Codes split at the first underscore, so
``AR_P3_S13`` is (``AR``, ``P3_S13``). Final-demand uses: ``P3_S13`` government, ``P3_S14``
households, ``P3_S15`` NPISH final consumption, ``P51G`` gross fixed capital formation, ``P5M``
changes in inventories and valuables (may be negative; kept).

From the 2024 edition Eurostat also (or only) publishes the long "flatfile" layout,
``flatfile_eu-ic-io_ind-by-ind_24ed_2022.csv``: one line per cell with the columns ``refArea,
rowIi, counterpartArea, colIi, obsValue`` (``rowPi``/``colPi`` for products); it is pivoted into
the same matrix (see [read_flatfile][spendprint.io.figaro.read_flatfile]).

Gross output is not a row of the file: ``x = Z 1 + Y 1`` (which equals the column total ``1' Z
+ 1' W`` of a balanced table). FIGARO has no environmental extension in this file; the primary
inputs (the ``W2_*`` rows, money) are kept as stressors, named by code and meaning
(``D1 Compensation of employees``), in ``M EUR``; ``S`` is money per money and the total
multipliers of all primary-input rows sum to one for every sector.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError
from .icio import (
    CsvSource,
    LabelledMatrix,
    coefficients,
    find_csv,
    gather,
    per_output,
    read_labelled_matrix,
    region_major,
    split_code,
)

__all__ = ["read_figaro", "looks_like_figaro", "FIGARO_FD_CODES", "FIGARO_PRIMARY_INPUTS"]

#: Final-demand uses of the FIGARO matrices (ESA 2010 codes).
FIGARO_FD_CODES = ("P3_S13", "P3_S14", "P3_S15", "P51G", "P5M")
#: Primary-input rows (ESA 2010 codes) and their meaning.
FIGARO_PRIMARY_INPUTS = {
    "D21X31": "Taxes less subsidies on products",
    "OP_RES": "Direct purchases abroad by residents",
    "OP_NRES": "Purchases of non-residents in the territory",
    "D1": "Compensation of employees",
    "D29X39": "Other net taxes on production",
    "B2A3G": "Operating surplus and mixed income, gross",
}
_TOTALS = ("TOTAL", "OUTPUT", "P1", "TS_BP")
_NAME_RX = r"(matrix|flatfile|figaro).*\.csv$"


#: Columns of Eurostat's long "flatfile" layout: row area and item, column area and item, value.
FLAT_COLUMNS = {"refArea": ("refArea",), "row": ("rowIi", "rowPi", "rowIp"),
                "counterpartArea": ("counterpartArea",), "col": ("colIi", "colPi", "colIp"),
                "obsValue": ("obsValue",)}


def read_flatfile(src: CsvSource) -> LabelledMatrix:
    """Pivot a FIGARO flatfile (one value per line) into the labelled matrix of the matrix layout.

    Each line holds ``refArea, rowIi, counterpartArea, colIi, obsValue`` (products: ``rowPi`` /
    ``colPi``; other columns are ignored); row code ``refArea_rowIi`` and column code
    ``counterpartArea_colIi`` as in the matrix file; pairs absent from the file are zero, a pair
    given twice is an error. Rows and columns are put in the order of the matrix files: codes
    sorted (``AR, AT, ..., FI, FIGW1, FR``; ``A01, A02, ...``), the ``W2_*`` primary-input rows
    last in their published order, final-demand columns after the industries.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    with src.open() as fh:
        header = fh.readline().decode("utf-8-sig").rstrip("\r\n").split(",")
    header = [h.strip().strip('"') for h in header]
    pick = {}
    for key, options in FLAT_COLUMNS.items():
        hit = next((o for o in options if o in header), None)
        if hit is None:
            raise InputFileError(src.label, f"flatfile without a {'/'.join(options)} column "
                                            f"(header: {header[:8]})")
        pick[key] = hit
    types = {pick[k]: pa.string() for k in ("refArea", "row", "counterpartArea", "col")}
    types[pick["obsValue"]] = pa.float64()
    try:
        with src.open() as fh:
            table = pacsv.read_csv(
                str(src.path) if src.member is None else fh,
                convert_options=pacsv.ConvertOptions(include_columns=list(pick.values()),
                                                     column_types=types, null_values=[""],
                                                     strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        raise InputFileError(src.label, f"cannot be parsed: {str(exc).splitlines()[0]}") from exc

    def codes(area: str, item: str):
        joined = pc.binary_join_element_wise(table.column(pick[area]), table.column(pick[item]),
                                             "_")
        enc = pc.dictionary_encode(joined).combine_chunks()
        return enc.dictionary.to_pylist(), enc.indices.to_numpy(zero_copy_only=False)

    rows, ri = codes("refArea", "row")
    cols, ci = codes("counterpartArea", "col")
    # the order of the matrix files: codes sorted (AR, AT, ..., FI, FIGW1, FR; A01, A02, ...),
    # primary-input rows after the industries in their published order
    prim = list(FIGARO_PRIMARY_INPUTS)

    def row_key(code: str):
        area, _, item = code.partition("_")
        return (item in prim, prim.index(item) if item in prim else 0, area, item)

    ri, rows = _reorder(ri, rows, row_key)
    ci, cols = _reorder(ci, cols, lambda c: (c.partition("_")[2] in FIGARO_FD_CODES, c))
    vals = table.column(pick["obsValue"]).to_numpy(zero_copy_only=False)
    vals = np.where(np.isnan(vals), 0.0, vals)
    flat = ri.astype(np.int64) * len(cols) + ci
    if np.unique(flat).size != flat.size:
        dup = int(flat[np.argmax(np.bincount(flat))])
        raise InputFileError(src.label, f"({rows[dup // len(cols)]}, {cols[dup % len(cols)]}) "
                                        "appears on more than one line")
    values = np.zeros((len(rows), len(cols)))
    values.ravel()[flat] = vals
    return LabelledMatrix(rows=[str(r) for r in rows], cols=[str(c) for c in cols], values=values)


def _reorder(idx: np.ndarray, labels: list[str], key) -> tuple[np.ndarray, list[str]]:
    """Relabel dictionary indices so that the labels come sorted by ``key``."""
    order = sorted(range(len(labels)), key=lambda i: key(labels[i]))
    new_pos = np.empty(len(labels), dtype=np.int64)
    new_pos[order] = np.arange(len(labels))
    return new_pos[idx], [labels[i] for i in order]


def read_figaro(path: str | Path, year: int | None = None) -> Any:
    """Read one FIGARO matrix file (industry-by-industry or product-by-product; zip or CSV).

    Parameters
    ----------
    path : str or Path
        ``matrix_eu-ic-io_ind-by-ind_*.csv`` / ``matrix_eu-ic-io_prod-by-prod_*.csv`` or the
        long ``flatfile_eu-ic-io_*.csv`` (recognised by its ``obsValue`` column), a zip holding
        it, or a folder.
    year : int, optional
        Year to pick when the zip/folder holds several files (also overrides the year read from
        the file name).

    Returns
    -------
    MRIO
        ``A = Z diag(x)^-1`` (EUR per EUR, zero columns where ``x = 0``), ``x = Z 1 + Y 1``
        (``M EUR``), ``Y`` by (country, use), one stressor per primary-input row (``M EUR``;
        ``S = W diag(x)^-1``), meta (source ``"FIGARO"``, version = edition from the file name
        such as ``"23ed"``, year, currency EUR, money unit ``M EUR``, basic prices, system
        ``ixi`` or ``pxp`` (``CPA_`` codes or ``prod-by-prod`` in the name)).

    Raises
    ------
    InputFileError
        Missing or damaged file, non-numeric cell, an unlabelled row or column, or sectors that
        are not a full country x industry grid.
    """
    from ..core.model import MRIO

    src = find_csv(path, "FIGARO matrix or flatfile CSV", _NAME_RX, year)
    with src.open() as fh:
        head = fh.readline().decode("utf-8-sig")
    mat = read_flatfile(src) if "obsValue" in head else read_labelled_matrix(src)
    label = src.label
    fd_codes = set(FIGARO_FD_CODES)

    # columns: sector columns (their set), final demand, totals
    zj, z_pairs, yj, y_pairs, dropped = [], [], [], [], []
    for j, code in enumerate(mat.cols):
        parts = split_code(code)
        if parts is None:
            if code.upper() in _TOTALS:
                dropped.append(code)
                continue
            raise InputFileError(label, f"column {code!r} is not COUNTRY_CODE (e.g. AT_A01)")
        if parts[1] in fd_codes:
            yj.append(j)
            y_pairs.append(parts)
        elif parts[1].upper() in _TOTALS:
            dropped.append(code)
        else:
            zj.append(j)
            z_pairs.append(parts)
    if not zj:
        raise InputFileError(label, "no COUNTRY_INDUSTRY columns: this is not a FIGARO matrix")
    # the order of the rows defines the sector order (region-major)
    col_set = set(z_pairs)
    col_regions = {r for r, _ in z_pairs}
    row_pairs = []
    for code, p in zip(mat.rows, map(split_code, mat.rows), strict=True):
        if p is not None and p in col_set:
            row_pairs.append(p)
        elif p is not None and p[0] in col_regions and p[1].upper() not in _TOTALS:
            raise InputFileError(label, f"row {code!r}: {p[1]!r} is not one of the industry "
                                        "columns of that country")
    regions, sectors = region_major(row_pairs or z_pairs, label, "the industry rows")
    P = len(sectors)
    pos = {(r, s): a * P + b for a, r in enumerate(regions) for b, s in enumerate(sectors)}
    n = len(pos)
    extra = [f"{r}_{s}" for r, s in col_set if (r, s) not in pos]
    if extra:
        raise InputFileError(label, f"{len(extra)} industry column(s) have no row, e.g. {extra[0]}")
    fd_regions = list(dict.fromkeys(r for r, _ in y_pairs))
    stray = [r for r in fd_regions if r not in set(regions)]
    if stray:
        raise InputFileError(label, f"final-demand columns for countries {stray[:5]} that have no "
                                    "industry columns")
    present = {c for _, c in y_pairs}
    cats = [c for c in FIGARO_FD_CODES if c in present]  # ESA order, whatever the file's
    f = len(cats)
    reg_pos = {r: i for i, r in enumerate(regions)}
    cat_pos = {c: i for i, c in enumerate(cats)}

    # rows: sectors (same codes as the columns) and primary inputs (any other region, e.g. W2)
    r_src, r_dst, w_src, w_names = [], [], [], []
    for i, code in enumerate(mat.rows):
        parts = split_code(code)
        if parts is None:
            if code.upper() in _TOTALS:
                continue
            raise InputFileError(label, f"row {code!r} is not COUNTRY_CODE (e.g. AT_A01, W2_D1)")
        if parts in pos:
            r_src.append(i)
            r_dst.append(pos[parts])
        elif parts[0] in reg_pos:
            raise InputFileError(label, f"row {code!r}: {parts[1]!r} is not one of the "
                                        "industry columns of that country")
        elif parts[1].upper() in _TOTALS:
            continue
        else:
            w_src.append(i)
            w_names.append(parts)
    missing = [f"{r}_{s}" for r, s in pos if (r, s) not in col_set]
    if missing:
        raise InputFileError(label, f"{len(missing)} industry row(s) have no column, e.g. "
                                    f"{missing[0]}")
    nc = n + len(regions) * f
    c_dst = [pos[p] for p in z_pairs] + [n + reg_pos[r] * f + cat_pos[c] for r, c in y_pairs]
    V = mat.values
    del mat
    core = gather(V, r_dst, r_src, n, c_dst, zj + yj, nc)
    W = gather(V, list(range(len(w_src))), w_src, len(w_src), c_dst, zj + yj, nc)
    del V
    Z, Y = np.ascontiguousarray(core[:, :n]), np.ascontiguousarray(core[:, n:])
    del core
    x = Z.sum(axis=1) + Y.sum(axis=1)
    regions_w = {r for r, _ in w_names}
    names = [f"{c} {FIGARO_PRIMARY_INPUTS[c]}" if c in FIGARO_PRIMARY_INPUTS else c
             for _, c in w_names]
    if len(regions_w) > 1:
        names = [f"{r} {nm}" for (r, _), nm in zip(w_names, names, strict=True)]
    S = per_output(W[:, :n], x)
    F_Y = np.ascontiguousarray(W[:, n:])
    A = coefficients(Z, x)
    name = f"{src.name} {src.path.name}"
    pxp = "prod-by-prod" in name.lower() or all(s.upper().startswith("CPA_") for s in sectors)
    ed = re.search(r"(\d{2})ed", name)
    yr = year
    if yr is None:
        y = re.findall(r"(?<!\d)(19[6-9]\d|20\d\d)(?!\d)", name)
        yr = int(y[-1]) if y else None
    meta = {"source": "FIGARO", "version": f"{ed.group(1)}ed" if ed else None, "year": yr,
            "currency": "EUR", "money_unit": "M EUR", "price_basis": "basic",
            "system": "pxp" if pxp else "ixi", "x_from": "Z 1 + Y 1", "path": str(path),
            "dropped_columns": dropped,
            "notes": "Primary inputs (W2 rows) are kept as stressors in M EUR per M EUR; "
                     "FIGARO's matrix file has no environmental extension."}
    return MRIO(A=A, x=x, S=S, regions=tuple(regions), sectors=tuple(sectors),
                stressors=tuple(names), stressor_units=("M EUR",) * len(names), Y=Y,
                fd_categories=tuple(cats), F_Y=F_Y, meta=meta)


def looks_like_figaro(path: str | Path) -> bool:
    """True if ``path`` (a CSV, zip or folder) is named like a FIGARO matrix file
    (``*eu-ic-io*`` or ``*figaro*``) or holds one; file names only, nothing is parsed."""
    p = Path(path)
    rx = re.compile(r"eu-ic-io|figaro", flags=re.IGNORECASE)
    if p.is_file() and p.suffix.lower() == ".csv":
        return bool(rx.search(p.name))
    return any(rx.search(Path(nm).name) and nm.lower().endswith(".csv") for nm in _names(p))


def _names(p: Path) -> list[str]:
    if p.is_dir():
        return [q.name for q in p.iterdir() if q.is_file()]
    if p.is_file() and zipfile.is_zipfile(p):
        try:
            with zipfile.ZipFile(p) as zf:
                return zf.namelist()
        except (zipfile.BadZipFile, OSError):
            return []
    return []
