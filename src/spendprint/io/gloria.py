"""GLORIA (Global Resource Input-Output Assessment, University of Sydney / UNEP IRP) as released.

Layout of a release (e.g. 059, 164 regions x 120 sectors), as downloaded::

    GLORIA_MRIOs_59_2019.zip                 (or its extracted folder)
        20240111_120secMother_AllCountries_002_T-Results_2019_059_Markup001(full).csv
        20240111_120secMother_AllCountries_002_Y-Results_2019_059_Markup001(full).csv
        20240111_120secMother_AllCountries_002_V-Results_2019_059_Markup001(full).csv
        ... Markup002-005 (trade and transport margins, taxes, subsidies): not read
    GLORIA_SatelliteAccounts_059_2019.zip    (optional)
        20240110_120secMother_AllCountries_002_TQ-Results_2019_059_Markup001(full).csv
        20240110_120secMother_AllCountries_002_YQ-Results_2019_059_Markup001(full).csv
    GLORIA_ReadMe_059.xlsx                   sheets Regions, Sectors, Value added and final
                                             demand, Satellites

Every CSV is comma-separated numbers only (no header, no label column). The labels come from the
ReadMe workbook, in this order:

* T (``2RP x 2RP``): rows and columns region-major; within a region first the ``P`` industries,
  then the ``P`` products. It holds the supply table ``V`` (industry rows, product columns) and the
  use table ``U`` (product rows, industry columns); the other blocks are zero.
* Y (``2RP x Rf``): final demand, product rows (industry rows are zero), columns
  (region, category).
* V (``R v x 2RP``): value added, rows (region, category), industry columns.
* TQ (``k x 2RP``) and YQ (``k x Rf``): satellite rows (ReadMe sheet Satellites), industry columns
  and final-demand columns.

The reader builds the product-by-product table under the industry-technology assumption
(Eurostat model B; GLORIA's supply table is diagonal, so every construct gives the same table):

    g = V 1 (industry output),  q = V^T 1 (product output = x),
    Z = U diag(g)^-1 V,   A = Z diag(q)^-1,   F = F_ind diag(g)^-1 V,   S = F diag(q)^-1.

Values are thousand US dollars at current basic prices (`Markup001`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sps

from ..core.model import MRIO
from ..errors import InputFileError
from ._mrio_tables import FileSet, build_mrio, read_numeric, unique_names

__all__ = ["read_gloria", "is_gloria"]

_EXPECTS = ("a GLORIA release: *_T-Results_YYYY_0VV_Markup001(full).csv, *_Y-Results_*, "
            "*_V-Results_* (zip or folder), optional satellite *_TQ-Results_*, *_YQ-Results_*, and "
            "GLORIA_ReadMe_0VV.xlsx")
_README = r"GLORIA_ReadMe_0?\d+[a-z]?\.xlsx"


def _pattern(kind: str, year: int | str | None) -> str:
    y = str(year) if year is not None else r"\d{4}"
    return rf".*_{kind}-Results_{y}_0?\d+[a-z]?_Markup001\(full\)\.csv"


def is_gloria(path: Path) -> bool:
    """A GLORIA release (file names only): a T-Results CSV in the folder tree or in a zip."""
    try:
        return bool(FileSet(path, _EXPECTS).find_all(_pattern("T", None)))
    except (InputFileError, OSError):
        return False


def _readme(files: FileSet, name: str) -> dict[str, list[str]]:
    import pandas as pd

    label = files.label(name)
    want = {"Regions": ["Region_acronyms"], "Sectors": ["Sector_names"],
            "Value added and final demand": ["Final_demand_names", "Value_added_names"],
            "Satellites": ["Sat_head_indicator", "Sat_indicator", "Sat_unit"]}
    try:
        with files.open(name) as fh:
            sheets = pd.read_excel(fh, sheet_name=list(want), dtype=str)
    except ValueError as exc:
        raise InputFileError(label, f"not the GLORIA ReadMe workbook ({exc}); it needs the sheets "
                                    f"{list(want)}") from exc
    except Exception as exc:  # zipfile/openpyxl errors on a damaged workbook
        raise InputFileError(label, f"not a readable xlsx workbook ({exc})") from exc
    out: dict[str, list[str]] = {}
    for sheet, cols in want.items():
        df = sheets[sheet]
        for col in cols:
            if col not in df.columns:
                raise InputFileError(label, f"sheet {sheet!r} has no column {col!r} "
                                            f"(columns: {list(df.columns)[:8]})")
            out[col] = [str(v).strip() for v in df[col].dropna()]
    if not out["Region_acronyms"] or not out["Sector_names"]:
        raise InputFileError(label, "no regions or no sectors listed in the ReadMe")
    return out


def _select(names: list[str], stressors: Sequence[str] | str | None) -> list[int]:
    if stressors is None:
        return list(range(len(names)))
    if isinstance(stressors, str):
        rx = re.compile(stressors)
        hit = [i for i, nm in enumerate(names) if rx.search(nm)]
        if not hit:
            raise InputFileError("stressors", f"no GLORIA satellite matches {stressors!r}; "
                                              f"examples: {names[:5]}")
        return hit
    lookup = {nm: i for i, nm in enumerate(names)}
    missing = [s for s in stressors if s not in lookup]
    if missing:
        raise InputFileError("stressors", f"unknown GLORIA satellite(s) {missing[:5]}; "
                                          f"examples: {names[:5]}")
    return [lookup[s] for s in stressors]


def read_gloria(path: str | Path, year: int | None = None, *,
                stressors: Sequence[str] | str | None = None,
                sparse: bool | None = None) -> MRIO:
    """Read a GLORIA release (basic prices) as a product-by-product MRIO.

    Parameters
    ----------
    path : str or Path
        A folder holding the MRIO zip (or its extracted CSVs), optionally the satellite zip, and
        the ReadMe workbook; or the MRIO zip itself when the ReadMe is inside it.
    year : int, optional
        The year to read when the folder holds several; otherwise taken from the file names.
    stressors : list of str or str, optional
        Satellite rows to keep: exact names, or one regular expression (e.g. ``"co2|ch4"``).
        Value-added rows are always kept. All satellites by default.
    sparse : bool, optional
        Store `A` as CSR (default: when under 10 % of it is non-zero and ``n >= 2000``).

    Returns
    -------
    MRIO
        ``R x P`` products (region-major), `A` and `x` in thousand USD, stressors: the value-added
        categories (``Value added: <name>``, k USD, summed over the region rows of V) then the
        satellites (ReadMe ``Sat_indicator``, qualified by ``Sat_head_indicator`` where a name
        repeats; units from ``Sat_unit``), ``Y`` and ``F_Y`` by (region, final-demand category).

    Raises
    ------
    InputFileError
        Missing files, a ReadMe without the expected sheets, tables whose size does not match the
        ReadMe's regions and sectors, or non-numeric values (the message names the file and row).

    Notes
    -----
    The construct is (module docstring) ``Z = U diag(g)^-1 V``, ``x = q = V^T 1``; zero-output
    products (regions without data, e.g. an empty region in some years) get zero columns.
    """
    files = FileSet(path, _EXPECTS)
    with files:
        t_name = files.find(_pattern("T", year), "GLORIA T-Results (Markup001)")
        m = re.search(r"_T-Results_(\d{4})_0?(\d+[a-z]?)_", t_name or "")
        year_found, version = (int(m.group(1)), m.group(2).zfill(3)) if m else (year, "unknown")
        y_name = files.find(_pattern("Y", year_found), "GLORIA Y-Results (Markup001)")
        v_name = files.find(_pattern("V", year_found), "GLORIA V-Results (Markup001)")
        tq_name = files.find(_pattern("TQ", year_found), "GLORIA TQ-Results", required=False)
        yq_name = files.find(_pattern("YQ", year_found), "GLORIA YQ-Results", required=False)
        readme = files.find(_README, "GLORIA ReadMe workbook (GLORIA_ReadMe_0VV.xlsx)")
        assert t_name and y_name and v_name and readme
        lab = _readme(files, readme)
        regions, sectors = lab["Region_acronyms"], lab["Sector_names"]
        fd, va = lab["Final_demand_names"], lab["Value_added_names"]
        R, P, nf, nv = len(regions), len(sectors), len(fd), len(va)
        n, nT = R * P, 2 * R * P

        idx = np.arange(nT)
        within = idx % (2 * P)
        is_ind = within < P
        pos = (idx // (2 * P)) * P + within % P  # position of the industry or product in R x P
        ind_cols, prod_cols = np.flatnonzero(is_ind), np.flatnonzero(~is_ind)

        # T: scatter U (products x industries, dense) and V (industries x products, sparse)
        U = np.zeros((n, n))
        v_rows: list[np.ndarray] = []
        v_cols: list[np.ndarray] = []
        v_vals: list[np.ndarray] = []

        def take_T(r0: int, block: np.ndarray) -> None:
            rows = np.arange(r0, r0 + len(block))
            prod = ~is_ind[rows]
            if prod.any():
                U[pos[rows[prod]]] = block[prod][:, ind_cols]
            if (~prod).any():
                sub = block[~prod][:, prod_cols]
                rr, cc = np.nonzero(sub)
                v_rows.append(pos[rows[~prod]][rr])
                v_cols.append(cc)
                v_vals.append(sub[rr, cc])

        read_numeric(files, t_name, (nT, nT), ",", on_block=take_T)

        def cat(parts: list[np.ndarray], dt: type) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, dt)

        V = sps.csr_array((cat(v_vals, float), (cat(v_rows, int), cat(v_cols, int))), shape=(n, n))
        g = np.asarray(V.sum(axis=1)).ravel()
        q = np.asarray(V.sum(axis=0)).ravel()
        ginv = np.zeros(n)
        ginv[g != 0] = 1.0 / g[g != 0]
        Vc = V.tocoo()
        diagonal = bool(np.all(Vc.row == Vc.col))
        if diagonal:  # GLORIA: industry p makes only product p -> Z = U diag(V_pp / g_p)
            d = np.zeros(n)
            d[Vc.row] = Vc.data
            U *= (ginv * d)[None, :]
            Z = U
        else:
            T = sps.csr_array(sps.diags(ginv) @ V)
            Z = np.asarray((T.T @ U.T).T)
            del U

        def to_products(F_ind: np.ndarray) -> np.ndarray:
            """Industry-column flows -> product columns: ``F_ind diag(g)^-1 V``."""
            if diagonal:
                return F_ind * (ginv * d)[None, :]
            return np.asarray((T.T @ F_ind.T).T)

        Yfull = np.zeros((n, R * nf))

        def take_Y(r0: int, block: np.ndarray) -> None:
            rows = np.arange(r0, r0 + len(block))
            prod = ~is_ind[rows]
            Yfull[pos[rows[prod]]] = block[prod]

        read_numeric(files, y_name, (nT, R * nf), ",", on_block=take_Y)

        Vfull = read_numeric(files, v_name, (R * nv, nT), ",")
        assert Vfull is not None
        VA = to_products(Vfull[:, ind_cols].reshape(R, nv, n).sum(axis=0))
        del Vfull

        names = [f"Value added: {v}" for v in va]
        units = ["k USD"] * nv
        F_parts, FY_parts = [VA], [np.zeros((nv, R * nf))]
        meta_extra: dict[str, Any] = {}
        if tq_name is not None:
            heads, inds, sat_units = (lab["Sat_head_indicator"], lab["Sat_indicator"],
                                      lab["Sat_unit"])
            k = len(inds)
            if not (len(heads) == len(sat_units) == k):
                raise InputFileError(files.label(readme), "sheet 'Satellites' has columns of "
                                                          "different lengths")
            sat_names = unique_names(inds, heads)
            keep = np.asarray(_select(sat_names, stressors), dtype=int)
            F_ind = np.zeros((len(keep), n))
            row_of = np.full(k, -1)
            row_of[keep] = np.arange(len(keep))

            def take_TQ(r0: int, block: np.ndarray) -> None:
                rows = np.arange(r0, r0 + len(block))
                sel = row_of[rows] >= 0
                F_ind[row_of[rows[sel]]] = block[sel][:, ind_cols]

            read_numeric(files, tq_name, (k, nT), ",", on_block=take_TQ)
            F_parts.append(to_products(F_ind))
            if yq_name is not None:
                FYq = read_numeric(files, yq_name, (k, R * nf), ",")
                assert FYq is not None
                FY_parts.append(FYq[keep])
            else:
                FY_parts.append(np.zeros((len(keep), R * nf)))
            names += [sat_names[i] for i in keep]
            units += [sat_units[i] for i in keep]
        else:
            meta_extra["note"] = "no satellite accounts (TQ-Results) found: value added only"

    meta = {"source": "GLORIA", "version": version, "year": year_found, "currency": "USD",
            "money_unit": "k USD", "price_basis": "basic", "system": "pxp",
            "construct": "industry technology (product by product)", "path": str(path),
            **meta_extra}
    return build_mrio(Z=Z, Y=Yfull, F=np.vstack(F_parts), F_Y=np.vstack(FY_parts), x=q,
                      regions=regions, sectors=sectors, stressors=names, stressor_units=units,
                      fd_categories=fd, meta=meta, sparse=sparse)
