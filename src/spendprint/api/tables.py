"""Serialisation of result tables: JSON, CSV or Parquet, chosen by ``format`` or ``Accept``.

No maths: xarray results are only reshaped into long tables (``to_dataframe``) here.
"""

from __future__ import annotations

import io
import json
import math
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from fastapi import Response

PARQUET_MEDIA = "application/vnd.apache.parquet"
CSV_MEDIA = "text/csv"
JSON_MEDIA = "application/json"


class Format(StrEnum):
    json = "json"
    csv = "csv"
    parquet = "parquet"


def negotiate(fmt: Format | None, accept: str | None) -> Format:
    """The explicit ``format`` query parameter, else the first supported type in ``Accept``."""
    if fmt is not None:
        return fmt
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in (PARQUET_MEDIA, "application/x-parquet", "application/parquet"):
            return Format.parquet
        if media in (CSV_MEDIA, "application/csv"):
            return Format.csv
        if media in (JSON_MEDIA, "*/*", "application/*"):
            return Format.json
    return Format.json


def _clean(value: Any) -> Any:
    """JSON-safe scalar: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``df`` as dicts of JSON-safe scalars (floats keep their full precision)."""
    cols = [str(c) for c in df.columns]
    columns = []
    for c in df.columns:
        arr = df[c].to_numpy()
        if arr.dtype.kind == "f":
            values = arr.tolist()
            if not np.isfinite(arr).all():
                values = [v if math.isfinite(v) else None for v in values]
        elif arr.dtype.kind in "iub":
            values = arr.tolist()
        else:
            values = [_clean(v) for v in arr.tolist()]
        columns.append(values)
    return [dict(zip(cols, row, strict=True)) for row in zip(*columns, strict=True)]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=False, separators=(",", ":"), default=_default).encode()


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return _clean(value)
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    return str(value)


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(content=dumps(obj), status_code=status, media_type=JSON_MEDIA)


def table_response(df: pd.DataFrame, fmt: Format, envelope: dict[str, Any] | None = None,
                   filename: str = "table") -> Response:
    """``df`` as CSV, Parquet, or JSON ``{**envelope, "rows": [...]}``."""
    if fmt is Format.csv:
        return Response(content=df.to_csv(index=False), media_type=CSV_MEDIA,
                        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})
    if fmt is Format.parquet:
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return Response(content=buf.getvalue(), media_type=PARQUET_MEDIA,
                        headers={"Content-Disposition": f'attachment; filename="{filename}.parquet"'})
    return json_response({**(envelope or {}), "rows": records(df)})


def long_table(ds: xr.Dataset | xr.DataArray, dims: tuple[str, ...]) -> pd.DataFrame:
    """Variables of ``ds`` whose dims are within ``dims``, as one row per label combination
    (first dim slowest), label columns first.

    Coordinates along those dims (e.g. ``unit`` along ``stressor``) become columns too.
    """
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name=ds.name or "value")
    order = [d for d in dims if d in ds.dims]
    shape = tuple(ds.sizes[d] for d in order)
    cols: dict[str, Any] = {}
    for i, d in enumerate(order):  # the label grid, row-major over ``order``
        labels = ds[d].to_numpy() if d in ds.coords else np.arange(shape[i])
        reps = int(np.prod(shape[i + 1:], dtype=np.int64))
        tiles = int(np.prod(shape[:i], dtype=np.int64))
        codes = np.tile(np.repeat(np.arange(len(labels)), reps), tiles)
        if labels.dtype.kind in "OUS" and pd.Index(labels).is_unique:
            # text labels as a categorical: one copy of each string (Parquet: dictionary-encoded)
            cols[d] = pd.Categorical.from_codes(codes, categories=pd.Index(labels.astype(str)))
        else:
            cols[d] = labels[codes]
    names = [v for v in ds.data_vars if set(ds[v].dims) <= set(order)]
    names += [c for c in ds.coords if c not in order and ds[c].dims and set(ds[c].dims) <= set(order)]
    for name in names:
        var = ds[name]
        present = [d for d in order if d in var.dims]
        arr = var.transpose(*present).to_numpy()
        idx = tuple(slice(None) if d in present else np.newaxis for d in order)
        cols[str(name)] = np.broadcast_to(arr[idx], shape).reshape(-1)
    return pd.DataFrame(cols)
