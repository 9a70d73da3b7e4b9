"""Multipliers and footprints: the exact Leontief engine, with labelled (xarray) results.

Symbols as in `spendprint.core.model`; ``L = (I - A)^-1`` is never formed unless asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy.linalg import blas

from ..core.model import MRIO
from ..errors import LabelMismatchError, ValidationError

CORE_DIMS = ("region", "sector")


def _indicators(mrio: MRIO, stressors: str | Sequence[str] | None) -> list[str]:
    if stressors is None:
        return list(mrio.indicators)
    if isinstance(stressors, str):
        stressors = [stressors]
    mrio.indicator_positions(list(stressors))  # raises on unknown names
    return list(stressors)


def _units(mrio: MRIO, names: list[str]) -> list[str]:
    lookup = dict(zip(mrio.indicators, mrio.indicator_units, strict=True))
    return [lookup[s] for s in names]


def multipliers(mrio: MRIO, stressors: str | Sequence[str] | None = None) -> xr.DataArray:
    """Total (direct + supply-chain) multipliers ``M = S (I - A)^-1``.

    Computed from the adjoint system ``(I - A)^T M^T = S^T``: one factorisation, k solves.

    Returns
    -------
    xarray.DataArray, dims (stressor, region, sector)
        Stressor per unit of final demand (e.g. kg CO2e per M EUR); attrs ``units`` per stressor.
    """
    names = _indicators(mrio, stressors)
    R, P = len(mrio.regions), len(mrio.sectors)
    M = multiplier_matrix(mrio, names).reshape(len(names), R, P)
    return xr.DataArray(
        M, dims=("stressor", *CORE_DIMS),
        coords={"stressor": names, "region": list(mrio.regions), "sector": list(mrio.sectors),
                "unit": ("stressor", [f"{u} / {mrio.meta['money_unit']}" for u in _units(mrio, names)])},
        name="multiplier",
    )


def multiplier_matrix(mrio: MRIO, names: list[str]) -> np.ndarray:
    """Rows of ``M = S (I - A)^-1`` (len(names) x n) from the model's one cache
    (`spendprint.core.plan.SolveCache`): rows not cached yet cost one adjoint solve together."""
    return mrio.cache.multiplier_rows(names)


def leontief(mrio: MRIO) -> xr.DataArray:
    """The Leontief inverse ``L = (I - A)^-1``, only for users who ask for it (n x n, dense).

    dims (origin_region, origin_sector, region, sector): input from the origin sector per unit of
    final demand for (region, sector).
    """
    n, R, P = mrio.n, len(mrio.regions), len(mrio.sectors)
    L = mrio.solver.solve(np.eye(n)).reshape(R, P, R, P)
    return xr.DataArray(
        L, dims=("origin_region", "origin_sector", *CORE_DIMS),
        coords={"origin_region": list(mrio.regions), "origin_sector": list(mrio.sectors),
                "region": list(mrio.regions), "sector": list(mrio.sectors)},
        name="L",
    )


def as_demand(mrio: MRIO, y: xr.DataArray | np.ndarray) -> xr.DataArray:
    """Wrap a demand as a DataArray with dims (region, sector, *extra), checking its labels.

    An ndarray of shape (n,) or (n, m) is taken in the model's sector order; (n, m) gets an extra
    dim ``demand``.
    """
    R, P = len(mrio.regions), len(mrio.sectors)
    coords = {"region": list(mrio.regions), "sector": list(mrio.sectors)}
    if isinstance(y, np.ndarray):
        if y.shape[0] != mrio.n or y.ndim > 2:
            raise LabelMismatchError(f"demand has shape {y.shape}; expected ({mrio.n},) or ({mrio.n}, m)")
        if y.ndim == 1:
            return xr.DataArray(y.reshape(R, P), dims=CORE_DIMS, coords=coords)
        return xr.DataArray(y.reshape(R, P, y.shape[1]), dims=(*CORE_DIMS, "demand"), coords=coords)
    if not isinstance(y, xr.DataArray):
        raise ValidationError(f"demand must be an xarray.DataArray or ndarray, not {type(y).__name__}")
    for d in CORE_DIMS:
        if d not in y.dims:
            raise LabelMismatchError(f"demand lacks dim {d!r}; it has {y.dims}")
    for d, labels in coords.items():
        if d in y.coords:
            got = [str(v) for v in y[d].values]
            if got != labels:
                if sorted(got) == sorted(labels):
                    y = y.sel({d: labels})
                else:
                    extra = sorted(set(got) - set(labels))[:5]
                    raise LabelMismatchError(f"demand {d} labels do not match the model: unknown {extra}")
        elif y.sizes[d] != len(labels):
            raise LabelMismatchError(f"demand has {y.sizes[d]} {d}s, the model {len(labels)}")
    return y.assign_coords(coords)


def _footprint_block(solver, S: np.ndarray, y2: np.ndarray, by_origin: bool,
                     M: np.ndarray | None = None):
    """Core maths on a block of demand columns: y2 (n, m) -> totals (k, m) etc.

    With the multipliers ``M`` at hand and no origin breakdown wanted, the total is ``M y``; else
    ``S x_y`` with ``x_y = (I - A)^-1 y`` from one multi-column solve.
    """
    if M is not None and not by_origin:
        return blas.dgemm(1.0, M, y2), blas.dgemm(1.0, S, y2), None
    xy = solver.solve(y2)  # (n, m): output needed in every sector, x_y = L y
    # scipy's BLAS, as in the solver: mixing numpy's and scipy's OpenBLAS pools is slow on few cores
    total = blas.dgemm(1.0, S, xy)
    direct = blas.dgemm(1.0, S, y2)
    if by_origin:
        return total, direct, S[:, :, None] * xy[None, :, :]
    return total, direct, None


def footprint(mrio: MRIO, y: xr.DataArray | np.ndarray, stressors: str | Sequence[str] | None = None,
              by_origin: bool = False) -> xr.Dataset:
    """Footprint of final demand ``y``: ``E = M y = S (I - A)^-1 y``.

    Parameters
    ----------
    y : DataArray with dims (region, sector, *extra), or ndarray (n,) / (n, m)
        Final demand in the model's money unit; extra dims (categories, scenarios) are batched into
        one multi-column solve. A dask-backed ``y`` chunked over its extra dims stays lazy.
    by_origin : bool
        Also return ``by_origin = S diag(x_y)`` with dims (stressor, origin_region, origin_sector,
        *extra): where in the world the impacts happen.

    Returns
    -------
    xarray.Dataset
        ``total`` (stressor, *extra); ``direct`` = ``S y`` (the impacts of the sectors that deliver
        the final products themselves, tier 0); ``supply_chain`` = total - direct; optionally
        ``by_origin``.
    """
    names = _indicators(mrio, stressors)
    S = mrio.S_all(names)
    ya = as_demand(mrio, y)
    solver = mrio.solver
    R, P, k = len(mrio.regions), len(mrio.sectors), len(names)
    # without origin breakdown, M y needs only k adjoint solves (cached) instead of m solves
    M = multiplier_matrix(mrio, names) if not by_origin else None
    extra = [d for d in ya.dims if d not in CORE_DIMS]
    ya = ya.transpose(*extra, *CORE_DIMS)

    def kernel(arr: np.ndarray):
        lead = arr.shape[:-2]
        m = int(np.prod(lead)) if lead else 1
        y2 = np.ascontiguousarray(arr.reshape(m, R * P).T, dtype=np.float64)
        total, direct, orig = _footprint_block(solver, S, y2, by_origin, M)
        outs = [total.T.reshape(*lead, k), direct.T.reshape(*lead, k)]
        if by_origin:
            outs.append(np.moveaxis(orig, -1, 0).reshape(*lead, k, R, P))
        return tuple(outs)

    out_core = [["stressor"], ["stressor"]] + ([["stressor", "origin_region", "origin_sector"]]
                                                if by_origin else [])
    if ya.chunks is not None:
        ya = ya.chunk({d: -1 for d in CORE_DIMS})
    res = xr.apply_ufunc(
        kernel, ya, input_core_dims=[list(CORE_DIMS)], output_core_dims=out_core,
        dask="parallelized", output_dtypes=[np.float64] * len(out_core),
        dask_gufunc_kwargs={"output_sizes": {"stressor": k, "origin_region": R, "origin_sector": P}},
    )
    res = res if isinstance(res, tuple) else (res,)
    coords = {"stressor": names, "unit": ("stressor", _units(mrio, names))}
    ds = xr.Dataset({"total": res[0], "direct": res[1]})
    ds["supply_chain"] = ds["total"] - ds["direct"]
    if by_origin:
        ds["by_origin"] = res[2].assign_coords(origin_region=list(mrio.regions),
                                               origin_sector=list(mrio.sectors))
    ds = ds.assign_coords(coords)
    order = ["stressor", *extra]
    for v in ds.data_vars:
        rest = [d for d in ds[v].dims if d not in order]
        ds[v] = ds[v].transpose(*order, *rest)
    return ds
