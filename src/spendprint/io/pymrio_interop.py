"""Conversion between `spendprint.MRIO` and `pymrio.IOSystem` (pymrio optional).

pymrio is imported only when one of these functions is called; without it they raise a
`SpendprintError` that says how to install it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LabelMismatchError, SpendprintError, ValidationError

__all__ = ["from_pymrio", "to_pymrio"]


def _pymrio() -> Any:
    try:
        import pymrio
    except ImportError as exc:  # pragma: no cover - exercised only without pymrio
        raise SpendprintError(
            "pymrio is not installed; install it with `pip install pymrio` or "
            "`pip install spendprint[pymrio]`") from exc
    return pymrio


def _frame(df: Any, what: str) -> pd.DataFrame:
    if df is None:
        raise ValidationError(f"the pymrio system has no {what}")
    if isinstance(df, pd.Series):
        df = df.to_frame()
    return df


def _row_name(label: Any) -> str:
    if isinstance(label, tuple):
        return " - ".join(str(p) for p in label if str(p) != "") or str(label)
    return str(label)


def _money_unit(io: Any) -> tuple[str, str]:
    from .exiobase import _money_unit as parse

    unit = getattr(io, "unit", None)
    if isinstance(unit, pd.DataFrame) and unit.size:
        return parse(str(unit.iloc[0, 0]))
    return "M EUR", "EUR"


def from_pymrio(iosystem: Any, extensions: str | Sequence[str] | None = None) -> Any:
    """Build an `MRIO` from a `pymrio.IOSystem`.

    Parameters
    ----------
    iosystem : pymrio.IOSystem
        Needs ``Y`` and ``A`` (or ``Z`` and ``x``, from which ``A = Z diag(x)^-1`` is computed;
        ``x = Z 1 + Y 1`` when ``x`` is missing). Nothing is computed on the pymrio side.
    extensions : str or sequence of str, optional
        Extensions to take (instance names such as ``"emissions"`` or set names such as
        ``"Factor Inputs"``); all by default. Each row becomes one stressor: intensities ``S``
        (taken from the extension, or ``F diag(x)^-1``) in stressor unit per money unit, and
        ``F_Y`` where present. Multi-level row labels are joined with ``" - "``; a name present in
        two extensions is prefixed with the extension's instance name.

    Returns
    -------
    MRIO
        Dense ``A``; labels from the system; money unit from ``iosystem.unit`` (``"Mill USD"``
        -> ``"M USD"``); ``meta["source"]`` ``"pymrio: <name>"``.
    """
    _pymrio()
    from ..core.model import MRIO

    io = iosystem
    if getattr(io, "A", None) is None and getattr(io, "Z", None) is None:
        raise ValidationError("the pymrio system has neither A nor Z")
    Y = _frame(io.Y, "final demand Y")
    regions = [str(r) for r in io.get_regions()]
    sectors = [str(s) for s in io.get_sectors()]
    idx = pd.MultiIndex.from_product([regions, sectors])
    cats = list(dict.fromkeys(str(c) for c in Y.columns.get_level_values(-1)))
    fd_idx = pd.MultiIndex.from_product([regions, cats])

    def core(df: pd.DataFrame, what: str, columns: pd.Index | None = None) -> np.ndarray:
        df = df.copy(deep=False)
        df.index = pd.MultiIndex.from_tuples([tuple(str(v) for v in t) for t in df.index])
        if columns is not None:
            df.columns = pd.MultiIndex.from_tuples([tuple(str(v) for v in t) for t in df.columns])
        try:
            df = df.reindex(index=idx, columns=columns)
        except (ValueError, TypeError) as exc:
            raise LabelMismatchError(f"pymrio {what} labels cannot be aligned: {exc}") from exc
        vals = df.to_numpy(dtype=np.float64)
        if np.isnan(vals).any():
            raise LabelMismatchError(f"pymrio {what} does not cover every (region, sector) pair")
        return vals

    x = None if io.x is None else core(_frame(io.x, "x"), "x")[:, 0]
    Yv = core(Y, "Y", fd_idx)
    if io.A is not None:
        A = core(io.A, "A", idx)
    elif io.Z is not None:
        Z = core(io.Z, "Z", idx)
        if x is None:
            x = Z.sum(axis=1) + Yv.sum(axis=1)
        A = Z / np.where(x == 0, 1.0, x)[None, :]
        A[:, x == 0] = 0.0
    else:
        raise ValidationError("the pymrio system has neither A nor Z")
    if x is None:
        from ..core.leontief import LeontiefSolver

        x = LeontiefSolver(A).solve(Yv.sum(axis=1))

    wanted = None if extensions is None else ([extensions] if isinstance(extensions, str)
                                              else list(extensions))
    blocks = []
    for inst in io.get_extensions():
        ext = getattr(io, inst)
        if wanted is not None and inst not in wanted and ext.name not in wanted:
            continue
        if ext.S is not None:
            S_df = ext.S
            S = core(S_df.T, f"{inst}.S", None).T
        elif ext.F is not None:
            S_df = ext.F
            F = core(S_df.T, f"{inst}.F", None).T
            S = F / np.where(x == 0, 1.0, x)[None, :]
            S[:, x == 0] = 0.0
        else:
            continue
        names = [_row_name(r) for r in S_df.index]
        units = [""] * len(names)
        if isinstance(ext.unit, pd.DataFrame) and "unit" in ext.unit.columns:
            lookup = {_row_name(k): str(v) for k, v in ext.unit["unit"].items()}
            units = [lookup.get(nm, "") for nm in names]
        F_Y = None
        if ext.F_Y is not None:
            fy = ext.F_Y.copy(deep=False)
            fy.columns = pd.MultiIndex.from_tuples([tuple(str(v) for v in t) for t in fy.columns])
            F_Y = fy.reindex(columns=fd_idx).fillna(0.0).to_numpy(dtype=np.float64)
        blocks.append((inst, names, units, S, F_Y))
    if wanted is not None:
        found = {b[0] for b in blocks} | {getattr(io, b[0]).name for b in blocks}
        missing = [w for w in wanted if w not in found]
        if missing:
            raise LabelMismatchError(f"pymrio extension(s) {missing} not found; the system has "
                                     f"{list(io.get_extensions())}")
    allnames = [nm for b in blocks for nm in b[1]]
    dup = {nm for nm in allnames if allnames.count(nm) > 1}
    stressors = [f"{b[0]}: {nm}" if nm in dup else nm for b in blocks for nm in b[1]]
    S_all = np.vstack([b[3] for b in blocks]) if blocks else np.zeros((0, len(idx)))
    has_fy = any(b[4] is not None for b in blocks)
    F_Y = (np.vstack([b[4] if b[4] is not None else np.zeros((len(b[1]), len(fd_idx)))
                      for b in blocks]) if has_fy else None)
    money_unit, currency = _money_unit(io)
    meta_obj = getattr(io, "meta", None)
    name = getattr(meta_obj, "name", None) or "IOSystem"
    meta = {"source": f"pymrio: {name}", "currency": currency, "money_unit": money_unit,
            "system": str(getattr(meta_obj, "system", None) or "pxp")}
    return MRIO(A=np.ascontiguousarray(A), x=np.ascontiguousarray(x, dtype=np.float64),
                S=np.ascontiguousarray(S_all), regions=tuple(regions), sectors=tuple(sectors),
                stressors=tuple(stressors), stressor_units=tuple(u for b in blocks for u in b[2]),
                Y=np.ascontiguousarray(Yv), fd_categories=tuple(cats), F_Y=F_Y, meta=meta)


def to_pymrio(mrio: Any, include_Z: bool = True) -> Any:
    """Build a `pymrio.IOSystem` from an `MRIO`.

    Parameters
    ----------
    mrio : MRIO
        The model (dense or sparse A).
    include_Z : bool
        Also set ``Z = A diag(x)`` (as EXIOBASE's files provide it); otherwise pymrio computes it
        in ``calc_all``.

    Returns
    -------
    pymrio.IOSystem
        ``A``, ``x`` (column ``indout``), ``Y``, ``unit`` (e.g. ``"M EUR"``), optionally ``Z``;
        extension ``stressors`` with ``F = S diag(x)``, ``S``, ``F_Y`` (when the model has it) and
        units; characterised impacts (``C``) as a second extension ``impacts`` (``F = C F``,
        ``S = C S``). Nothing is computed: call ``calc_all()`` for pymrio's accounts.
    """
    pymrio = _pymrio()
    idx = pd.MultiIndex.from_product([list(mrio.regions), list(mrio.sectors)],
                                     names=["region", "sector"])
    fd_idx = pd.MultiIndex.from_product([list(mrio.regions), list(mrio.fd_categories)],
                                        names=["region", "category"])
    A = mrio.dense_A()
    x = np.asarray(mrio.x, dtype=np.float64)
    Adf = pd.DataFrame(A, index=idx, columns=idx)
    io = pymrio.IOSystem(
        A=Adf, Z=pd.DataFrame(A * x[None, :], index=idx, columns=idx) if include_Z else None,
        x=pd.DataFrame({"indout": x}, index=idx),
        Y=None if mrio.Y is None else pd.DataFrame(np.asarray(mrio.Y), index=idx, columns=fd_idx),
        unit=pd.DataFrame({"unit": [str(mrio.meta.get("money_unit", "M EUR"))] * len(idx)}, index=idx),
        name=str(mrio.meta.get("source", "spendprint")), system=mrio.meta.get("system"),
        year=mrio.meta.get("year"),
    )

    def ext(name: str, rows: Sequence[str], units: Sequence[str], S: np.ndarray,
            F_Y: np.ndarray | None, index_name: str):
        rix = pd.Index(list(rows), name=index_name)
        return pymrio.Extension(
            name=name, S=pd.DataFrame(S, index=rix, columns=idx),
            F=pd.DataFrame(S * x[None, :], index=rix, columns=idx),
            F_Y=None if F_Y is None else pd.DataFrame(F_Y, index=rix, columns=fd_idx),
            unit=pd.DataFrame({"unit": list(units)}, index=rix))

    io.stressors = ext("stressors", mrio.stressors, mrio.stressor_units, np.asarray(mrio.S),
                       None if mrio.F_Y is None else np.asarray(mrio.F_Y), "stressor")
    if mrio.C is not None and mrio.impacts:
        C = np.asarray(mrio.C)
        io.impacts = ext("impacts", mrio.impacts, mrio.impact_units, C @ np.asarray(mrio.S),
                         None if mrio.F_Y is None else C @ np.asarray(mrio.F_Y), "impact")
    return io
