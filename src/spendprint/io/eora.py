"""Eora26 (worldmrio.com, 189 countries + ROW x 26 sectors) as downloaded.

Layout of one year and price basis (``bp`` basic prices, ``pp`` purchaser prices)::

    Eora26_2015_bp.zip               (or its extracted folder)
        Eora26_2015_bp_T.txt         n_T x n_T intermediate flows
        Eora26_2015_bp_FD.txt        n_T x n_FD final demand
        Eora26_2015_bp_VA.txt        n_VA x n_T primary inputs (value added)
        Eora26_2015_bp_Q.txt         n_Q x n_T satellite accounts of industries
        Eora26_2015_bp_QY.txt        n_Q x n_FD satellite accounts of final demand
        labels_T.txt labels_FD.txt labels_VA.txt labels_Q.txt    (in the zip, or in indices.zip
                                                                  next to it)

All files are tab-separated without header. Label rows are ``country name, ISO3 code, kind,
sector`` (T and FD), ``kind, name`` (VA) and ``stressor (unit), source`` (Q), sometimes with a
trailing tab. The rest of the world (``ROW``) has a single ``TOTAL`` sector and is dropped, as
pymrio does (its flows are recorded in ``meta["dropped_ROW"]``), so every region has the same 26
sectors. Money values are thousand US dollars (k USD; pymrio issue 175 and the Eora FAQ).
Gross output is not shipped: ``x = Z 1 + Y 1``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..core.model import MRIO
from ..errors import InputFileError
from ._mrio_tables import FileSet, build_mrio, read_numeric, read_text_rows, unique_names

__all__ = ["read_eora26", "is_eora26"]

_EXPECTS = ("an Eora26 year: Eora26_YYYY_bp.zip (or folder) with Eora26_YYYY_bp_T.txt, _FD.txt, "
            "_VA.txt, _Q.txt, _QY.txt and labels_T/FD/VA/Q.txt (or indices.zip)")
_ROW = "ROW"


def is_eora26(path: Path) -> bool:
    """An Eora26 year (file names only): an ``Eora26_YYYY_xx_T.txt`` in the tree or a zip."""
    try:
        return bool(FileSet(path, _EXPECTS).find_all(r"Eora26_\d{4}_(bp|pp)_T\.txt"))
    except (InputFileError, OSError):
        return False


def _labels(files: FileSet, name: str, width: int) -> list[list[str]]:
    rows = read_text_rows(files, name, "\t")
    for i, r in enumerate(rows):
        if len(r) < width:
            raise InputFileError(files.label(name), f"row {i + 1} has {len(r)} label fields, "
                                                    f"expected {width}: {r}")
    return rows


def read_eora26(path: str | Path, year: int | None = None, price: str = "bp", *,
                sparse: bool | None = None) -> MRIO:
    """Read an Eora26 year as an industry-by-industry MRIO (ROW dropped).

    Parameters
    ----------
    path : str or Path
        ``Eora26_YYYY_bp.zip``, its extracted folder, or a folder holding such zips (then `year`
        picks one); the label files may sit in ``indices.zip`` next to the data.
    year : int, optional
        Year to read when the folder holds several.
    price : {"bp", "pp"}
        Basic or purchaser prices.
    sparse : bool, optional
        Store `A` as CSR (default: when under 10 % of it is non-zero and ``n >= 2000``).

    Returns
    -------
    MRIO
        Regions: ISO3 codes (labels_T column 2); sectors: the 26 Eora sector names; final-demand
        categories from labels_FD; stressors: the value-added rows (``Primary input: <name>``,
        k USD) then the satellite rows of labels_Q (``stressor`` or ``stressor: source`` where a
        stressor repeats, unit from the parenthesis in its name). Money unit ``k USD``;
        ``x = Z 1 + Y 1``, ``A = Z diag(x)^-1``, ``S = F diag(x)^-1`` (zero where ``x = 0``).

    Raises
    ------
    InputFileError
        Missing files, label files whose rows do not match the tables, regions with different
        sector lists, or non-numeric values (the message names the file and row).
    """
    if price not in ("bp", "pp"):
        raise InputFileError(path, f"price must be 'bp' or 'pp', not {price!r}")
    files = FileSet(path, _EXPECTS)
    indices = Path(path).parent / "indices.zip"
    if Path(path).is_file() and indices.is_file():  # labels downloaded separately
        files.add(indices)
    with files:
        y = str(year) if year is not None else r"\d{4}"
        t_name = files.find(rf"Eora26_{y}_{price}_T\.txt", f"Eora26 T table ({price})")
        assert t_name is not None
        yr = int(re.search(r"_(\d{4})_", t_name).group(1))  # type: ignore[union-attr]
        stem = f"Eora26_{yr}_{price}"
        names = {k: files.find(rf"{stem}_{k}\.txt", f"Eora26 {k} table") for k in
                 ("FD", "VA", "Q", "QY")}
        labs = {k: files.find(rf"labels_{k}\.txt", f"Eora26 labels_{k}") for k in
                ("T", "FD", "VA", "Q")}
        lt = _labels(files, labs["T"], 4)  # type: ignore[arg-type]
        lf = _labels(files, labs["FD"], 4)  # type: ignore[arg-type]
        lv = _labels(files, labs["VA"], 1)  # type: ignore[arg-type]
        lq = _labels(files, labs["Q"], 1)  # type: ignore[arg-type]
        nT, nF, nV, nQ = len(lt), len(lf), len(lv), len(lq)

        keep_t = np.array([r[1] != _ROW for r in lt])
        keep_f = np.array([r[1] != _ROW for r in lf])
        regions: list[str] = []
        sectors_of: dict[str, list[str]] = {}
        for r in (r for r, k in zip(lt, keep_t, strict=True) if k):
            if r[1] not in sectors_of:
                regions.append(r[1])
                sectors_of[r[1]] = []
            sectors_of[r[1]].append(r[3])
        sectors = sectors_of[regions[0]] if regions else []
        bad = [c for c in regions if sectors_of[c] != sectors]
        if bad or not sectors:
            raise InputFileError(files.label(labs["T"]),  # type: ignore[arg-type]
                                 f"regions {bad[:3]} do not list the same sectors as "
                                 f"{regions[:1]} in the same order")
        # region-major order as shipped: check it
        order = [r[1] for r, k in zip(lt, keep_t, strict=True) if k]
        if order != [c for c in regions for _ in sectors]:
            raise InputFileError(files.label(labs["T"]),  # type: ignore[arg-type]
                                 "sectors are not grouped by region")
        fd_regions = [r[1] for r, k in zip(lf, keep_f, strict=True) if k]
        cats = [r[3] for r, k in zip(lf, keep_f, strict=True) if k and r[1] == regions[0]]
        if fd_regions != [c for c in regions for _ in cats]:
            raise InputFileError(files.label(labs["FD"]),  # type: ignore[arg-type]
                                 "final-demand columns are not (region, category) for the same "
                                 "regions and categories")

        T = read_numeric(files, t_name, (nT, nT), "\t")
        FD = read_numeric(files, names["FD"], (nT, nF), "\t")  # type: ignore[arg-type]
        VA = read_numeric(files, names["VA"], (nV, nT), "\t")  # type: ignore[arg-type]
        Q = read_numeric(files, names["Q"], (nQ, nT), "\t")  # type: ignore[arg-type]
        QY = read_numeric(files, names["QY"], (nQ, nF), "\t")  # type: ignore[arg-type]
        assert T is not None and FD is not None and VA is not None and Q is not None
        assert QY is not None
        dropped = {"T": float(T[~keep_t].sum() + T[keep_t][:, ~keep_t].sum()),
                   "FD": float(FD[~keep_t].sum() + FD[keep_t][:, ~keep_f].sum()),
                   "VA": float(VA[:, ~keep_t].sum()), "Q": float(np.abs(Q[:, ~keep_t]).sum())}
        Z = np.ascontiguousarray(T[np.ix_(keep_t, keep_t)])
        del T
        Y = np.ascontiguousarray(FD[np.ix_(keep_t, keep_f)])
        F = np.vstack([VA[:, keep_t], Q[:, keep_t]])
        F_Y = np.vstack([np.zeros((nV, int(keep_f.sum()))), QY[:, keep_f]])

    va_names = [f"Primary input: {r[-1]}" for r in lv]
    q_units, q_stress, q_src = [], [], []
    for r in lq:
        m = re.match(r"^(.*?)\s*\(([^()]*)\)\s*$", r[0])
        q_stress.append(m.group(1) if m else r[0])
        q_units.append(m.group(2) if m else "")
        q_src.append(r[1] if len(r) > 1 else "")
    repeats = {s for s in q_stress if q_stress.count(s) > 1}
    q_names = [f"{s}: {src}" if s in repeats and src else s for s, src in zip(q_stress, q_src,
                                                                                strict=True)]
    stressors = unique_names(va_names + q_names, [""] * (nV + nQ))
    meta = {"source": "Eora26", "version": None, "year": yr, "currency": "USD",
            "money_unit": "k USD", "price_basis": "basic" if price == "bp" else "purchaser",
            "system": "ixi", "path": str(path),
            "dropped_ROW": dropped}
    return build_mrio(Z=Z, Y=Y, F=F, F_Y=F_Y, regions=regions, sectors=sectors,
                      stressors=stressors, stressor_units=["k USD"] * nV + q_units,
                      fd_categories=cats, meta=meta, sparse=sparse)
