"""Native MRIO store in Zarr: lossless, opens in seconds at EXIOBASE size.

Layout (Zarr v3 group): arrays ``A`` (dense) or ``A_data``/``A_indices``/``A_indptr`` (CSR), ``x``,
``S``, optional ``Y``, ``F_Y``, ``C``; group attributes hold labels, units and ``meta``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sps
import zarr

from ..errors import InputFileError, ValidationError
from .atomic import atomic_path

if TYPE_CHECKING:
    from ..core.model import MRIO

FORMAT = "spendprint-mrio"
FORMAT_VERSION = 1
_LABELS = ("regions", "sectors", "stressors", "stressor_units", "fd_categories", "impacts",
           "impact_units")


def _put(group: zarr.Group, name: str, arr: np.ndarray) -> None:
    arr = np.ascontiguousarray(arr)
    if arr.ndim == 2:
        rows = max(1, min(arr.shape[0], (16 << 20) // max(1, arr.shape[1] * arr.itemsize)))
        chunks: tuple[int, ...] = (rows, arr.shape[1])
    else:
        chunks = (max(1, min(arr.shape[0], 4 << 20)),)
    z = group.create_array(name, shape=arr.shape, dtype=arr.dtype, chunks=chunks)
    z[...] = arr


def _refuse_non_finite(mrio: MRIO, path: str | Path) -> None:
    for name in ("A", "x", "S", "Y", "F_Y", "C"):
        arr = getattr(mrio, name)
        if arr is None:
            continue
        vals = arr.data if sps.issparse(arr) else np.asarray(arr)
        bad = ~np.isfinite(vals)
        if bad.any():
            raise ValidationError(f"refusing to write {path}: {name} contains {int(bad.sum())} "
                                  f"NaN/inf value(s); footprints from it would be NaN")


def write_mrio(mrio: MRIO, path: str | Path) -> None:
    """Write ``mrio`` to a Zarr store at ``path`` atomically (see module docstring).

    Refuses (`ValidationError`, nothing written) a model with NaN or inf in `A`, `x`, `S`, `Y`,
    `F_Y` or `C`.
    """
    _refuse_non_finite(mrio, path)
    with atomic_path(path) as tmp:
        g = zarr.open_group(str(tmp), mode="w")
        if sps.issparse(mrio.A):
            A = sps.csr_array(mrio.A)
            _put(g, "A_data", A.data.astype(np.float64))
            _put(g, "A_indices", A.indices.astype(np.int64))
            _put(g, "A_indptr", A.indptr.astype(np.int64))
        else:
            _put(g, "A", np.asarray(mrio.A, dtype=np.float64))
        _put(g, "x", mrio.x)
        _put(g, "S", mrio.S)
        for name in ("Y", "F_Y", "C"):
            arr = getattr(mrio, name)
            if arr is not None:
                _put(g, name, np.asarray(arr, dtype=np.float64))
        attrs = {label: list(getattr(mrio, label)) for label in _LABELS}
        attrs["meta"] = json.loads(json.dumps(dict(mrio.meta), default=str))
        attrs["format"] = FORMAT
        attrs["format_version"] = FORMAT_VERSION
        attrs["sparse"] = bool(sps.issparse(mrio.A))
        g.attrs.update(attrs)


def open_mrio(path: str | Path, validate: bool = False) -> MRIO:
    """Open a native store written by `MRIO.to_zarr` (or `spendprint mrio import`).

    Always runs the cheap fatal checks
    ([quick_checks][spendprint.core.validation.quick_checks]: shapes, finite values, spectral
    radius of A below one by bounds), whatever `validate` says; `validate=True` adds the full
    [validate][spendprint.core.validation.validate] (warnings do not raise).

    Raises
    ------
    InputFileError
        Missing, foreign or damaged store.
    ValidationError, NotProductiveError
        The stored model is non-finite or not productive (the message names the store).
    """
    from ..core.model import MRIO
    from ..core.validation import quick_checks
    from ..core.validation import validate as full_validate

    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such MRIO store; create one with `spendprint mrio import` "
                                   "or `spendprint mrio synth`")
    try:
        g = zarr.open_group(str(path), mode="r")
        attrs = dict(g.attrs)
    except Exception as exc:  # zarr raises several types for a non-store
        raise InputFileError(path, f"not a Zarr store ({type(exc).__name__}: {exc})") from exc
    if attrs.get("format") != FORMAT:
        raise InputFileError(path, f"not a spendprint MRIO store (format attribute is "
                                   f"{attrs.get('format')!r}, expected {FORMAT!r})")
    try:
        names = set(g.array_keys())
        if attrs.get("sparse"):
            n = len(attrs["regions"]) * len(attrs["sectors"])
            A = sps.csr_array((g["A_data"][...], g["A_indices"][...], g["A_indptr"][...]), shape=(n, n))
        else:
            A = g["A"][...]
        opt = {k: (g[k][...] if k in names else None) for k in ("Y", "F_Y", "C")}
        m = MRIO(A=A, x=g["x"][...], S=g["S"][...], meta=attrs.get("meta", {}),
                 **{label: tuple(attrs.get(label, ())) for label in _LABELS}, **opt)
    except (KeyError, ValueError, OSError) as exc:
        raise InputFileError(path, f"store is incomplete or damaged: {type(exc).__name__}: {exc}") from exc
    try:
        quick_checks(m)
        if validate:
            full_validate(m)
    except InputFileError:
        raise
    except ValidationError as exc:
        raise type(exc)(f"{path}: {exc}") from exc
    return m


def _register() -> None:
    from ..core.model import WRITERS

    WRITERS["zarr"] = write_mrio


_register()
