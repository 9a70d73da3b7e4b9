"""Structural path analysis and production layers: along which supply chains a footprint arises.

Symbols as in `spendprint.core.model` (money is the model's money unit, e.g. M EUR):
``s`` (n) intensities of one stressor [unit / money], ``m^T = s^T (I - A)^-1`` the total
multipliers [unit / money], ``y`` (n) final demand [money], ``E = m^T y`` the footprint [unit].

*Structural paths.* ``E`` is the sum over all supply-chain paths ``p = (i_0, i_1, ..., i_d)`` of

$$
e_p = s_{i_d} A_{i_d i_{d-1}} \\cdots A_{i_1 i_0} y_{i_0},
$$

read as: final demand buys product ``i_0`` (stage 0, the product bought), which buys from
``i_1`` (stage 1), ..., and the impact happens in ``i_d`` (stage ``d``, the *tier* or depth of the
path). Paths are enumerated depth-first by a Numba kernel (`spendprint.kernels.pathsearch`) that
prunes a node when the value of its whole subtree, ``m_{i_d} v_p``, is below the threshold.
Everything not listed is kept as a *remainder by stage*, so listed values plus remainders add up to
``E`` exactly (up to rounding).

*Production layers.* ``E = sum_t S A^t y``: tier ``t`` is the impact of the ``t``-th round of
inputs, computed by repeated products with ``A`` (no inverse); the ``rest`` after ``max_tier``
is ``S (I - A)^-1 y - sum_t S A^t y`` from one solve.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sps
import xarray as xr

from ..core.model import MRIO
from ..errors import LabelMismatchError, ValidationError
from .footprints import CORE_DIMS, _indicators, _units, as_demand

#: Most paths a threshold of 0 (exhaustive enumeration) may list before it is refused.
MAX_EXHAUSTIVE_PATHS = 5_000_000
#: Label of the traced quantity in `risk_paths`.
RISK_NAME = "risk-weighted hours"

_COLUMNS: weakref.WeakKeyDictionary[MRIO, Any] = weakref.WeakKeyDictionary()

__all__ = ["path_tree", "production_layers", "risk_paths", "structural_paths",
           "structural_paths_by_category"]


# ---- inputs -----------------------------------------------------------------------------------
def _column_access(mrio: MRIO) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``A`` in the form the kernel reads columns from, made once per model and cached with it:
    ``A^T`` in C order (a dense copy of ``A``, n^2 x 8 bytes), or the CSC arrays
    ``(indptr, indices, data)`` of a sparse ``A``."""
    cached = _COLUMNS.get(mrio)
    if cached is None:
        if sps.issparse(mrio.A):
            csc = sps.csc_array(mrio.A, dtype=np.float64)
            csc.sum_duplicates()
            cached = (csc.indptr.astype(np.int64), csc.indices.astype(np.int64),
                      np.ascontiguousarray(csc.data, dtype=np.float64))
        else:
            from ..kernels.pathsearch import transpose_into

            A = np.ascontiguousarray(mrio.A, dtype=np.float64)
            cached = np.empty((A.shape[1], A.shape[0]), dtype=np.float64)
            transpose_into(A, cached)
        _COLUMNS[mrio] = cached
    return cached


def _flat(mrio: MRIO, arr: np.ndarray | xr.DataArray, what: str) -> np.ndarray:
    """A (region, sector) DataArray or an (n,) ndarray as a float64 vector in model order."""
    if isinstance(arr, xr.DataArray):
        da = as_demand(mrio, arr)
        extra = [d for d in da.dims if d not in CORE_DIMS]
        if extra:
            raise ValidationError(
                f"{what} has extra dims {extra}; give one vector (region, sector), or use "
                f"structural_paths_by_category for a demand with a category dim")
        vec = np.asarray(da.transpose(*CORE_DIMS).values, dtype=np.float64).ravel()
    else:
        vec = np.asarray(arr, dtype=np.float64)
        if vec.shape != (mrio.n,):
            raise LabelMismatchError(f"{what} has shape {vec.shape}; expected ({mrio.n},) in the "
                                     f"model's region-major sector order")
    _check_nonnegative(mrio, vec, what)
    return np.ascontiguousarray(vec)


def _check_nonnegative(mrio: MRIO, vec: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(vec) | (vec < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        P = len(mrio.sectors)
        raise ValidationError(
            f"{what} has {int(bad.sum())} negative or non-finite value(s), first {vec[i]:g} at "
            f"{i} ({mrio.regions[i // P]}/{mrio.sectors[i % P]}); structural path analysis needs "
            f"values >= 0 (clip or split positive and negative parts)")


def _intensity(mrio: MRIO, stressor: str | None, intensity: Any) -> tuple[np.ndarray, str, str]:
    """The traced intensity ``s`` (n,), its name and its unit per money unit."""
    money = mrio.meta["money_unit"]
    if intensity is not None:
        if stressor is not None:
            raise ValidationError("give either stressor or intensity, not both")
        s = _flat(mrio, intensity, "intensity")
        is_da = isinstance(intensity, xr.DataArray)
        units = str(intensity.attrs.get("units", "")) if is_da else ""
        name = str(intensity.name) if is_da and intensity.name else "intensity"
        # a path's value is intensity x money: "h / M EUR" -> "h"
        return s, name, units.split(f" / {money}")[0] if units else "unit"
    if stressor is None:
        stressor = mrio.impacts[0] if mrio.impacts else mrio.indicators[0]
    names = _indicators(mrio, stressor)
    s = np.ascontiguousarray(mrio.S_all(names)[0], dtype=np.float64)
    _check_nonnegative(mrio, s, f"intensity of {stressor!r}")
    return s, names[0], _units(mrio, names)[0]


def _check_params(threshold: float, max_depth: int, top: int | None) -> None:
    if not (np.isfinite(threshold) and 0.0 <= threshold < 1.0):
        raise ValidationError(f"threshold is a share of the total in [0, 1), got {threshold!r}")
    if int(max_depth) != max_depth or not 0 <= max_depth <= 64:
        raise ValidationError(f"max_depth must be an integer in [0, 64], got {max_depth!r}")
    if top is not None and (int(top) != top or top < 1):
        raise ValidationError(f"top must be a positive integer or None, got {top!r}")


def _check_exhaustive(mrio: MRIO, Y: np.ndarray, max_depth: int) -> None:
    """With threshold 0 every path is listed: refuse when there would be too many.

    The number of paths of depth ``t`` with a non-zero flow is ``1^T B^t c`` with ``B`` the
    pattern of ``A`` (``A != 0``) and ``c`` the pattern of the demand (summed over columns of Y).
    """
    B = (mrio.A != 0).astype(np.float64)
    layer = (Y.reshape(mrio.n, -1) != 0).sum(axis=1).astype(np.float64)
    count = 0.0
    for _ in range(int(max_depth) + 1):
        count += float(layer.sum())
        if count > MAX_EXHAUSTIVE_PATHS:
            raise ValidationError(
                f"threshold 0 lists every supply-chain path up to depth {max_depth}: more than "
                f"{MAX_EXHAUSTIVE_PATHS:,} here; give a threshold > 0 (e.g. 1e-4) or a smaller "
                f"max_depth")
        layer = B @ layer


def _multipliers(mrio: MRIO, s: np.ndarray, indicator: str | None = None) -> np.ndarray:
    """``m = (I - A)^-T s`` from the model's factorisation; rounding below ``s`` is clipped
    (``m >= s >= 0`` holds exactly for a productive non-negative ``A``). Cached per model and
    intensity vector in the model's one cache, so that further categories of the same stressor
    cost no solve."""
    if indicator is not None:  # a named indicator: the row the footprints use too
        return np.maximum(mrio.cache.multiplier_rows([indicator])[0], s)
    return np.maximum(mrio.cache.vector_multipliers(s), s)


# ---- the numeric core (numpy in, numpy out; what a dask task runs) ------------------------------
def _trace(cols: Any, s: np.ndarray, m: np.ndarray, y: np.ndarray, threshold: float,
           max_depth: int) -> dict[str, Any]:
    """Enumerate the paths of one demand vector (numpy in, numpy out: what a dask task runs)."""
    from ..kernels.pathsearch import enumerate_paths

    total = float(m @ y)
    # at most 1 / threshold paths can be listed (each >= threshold * E, together <= E)
    capacity = min(int(1.0 / threshold) + 2, 1 << 16) if threshold > 0 else 4096
    paths, values, depths, subtree, remainder, visited = enumerate_paths(
        cols, y, s, m, threshold * total, int(max_depth), capacity)
    return {"paths": paths, "values": values, "depths": depths, "subtree": subtree,
            "remainder": remainder, "visited": int(visited), "total": total}


def _trace_task(model: tuple[Any, np.ndarray, np.ndarray], y: np.ndarray, threshold: float,
                max_depth: int) -> dict[str, Any]:
    """One category's task: ``model = (columns of A, s, m)`` is the graph's single shared key."""
    cols, s, m = model
    return _trace(cols, s, m, y, threshold, max_depth)


def _frame(mrio: MRIO, raw: dict[str, Any], name: str, unit: str, threshold: float,
           max_depth: int, top: int | None) -> pd.DataFrame:
    """Labelled, sorted table of one enumeration (see `structural_paths`)."""
    paths, values, depths = raw["paths"], raw["values"], raw["depths"]
    D = int(max_depth) + 1
    order = np.lexsort(tuple(paths[:, t] for t in range(D - 1, -1, -1)) + (-values,))
    paths, values, depths, subtree = paths[order], values[order], depths[order], raw["subtree"][order]
    remainder = raw["remainder"].copy()
    if top is not None and len(values) > top:
        np.add.at(remainder, depths[top:], values[top:])
        paths, values, depths, subtree = paths[:top], values[:top], depths[:top], subtree[:top]
    total = raw["total"]
    R, P = len(mrio.regions), len(mrio.sectors)
    reg = np.array([*mrio.regions, None], dtype=object)
    sec = np.array([*mrio.sectors, None], dtype=object)
    cols: dict[str, Any] = {
        "value": values,
        "share": values / total if total > 0 else np.zeros_like(values),
        "depth": depths,
        "subtree": subtree,
    }
    for t in range(D):
        idx = paths[:, t]
        ok = idx >= 0
        cols[f"region_{t}"] = reg[np.where(ok, idx // P, R)]
        cols[f"sector_{t}"] = sec[np.where(ok, idx % P, P)]
    last = paths[np.arange(len(depths)), depths]
    cols["region"] = reg[last // P]
    cols["sector"] = sec[last % P]
    cols["path"] = [" <- ".join(f"{reg[i // P]}/{sec[i % P]}" for i in row[:d + 1])
                    for row, d in zip(paths.tolist(), depths.tolist(), strict=True)]
    df = pd.DataFrame(cols)
    listed = float(values.sum())
    df.attrs.update({
        "stressor": name, "unit": unit, "total": total,
        "coverage": listed / total if total > 0 else 1.0,
        "remainder": [float(r) for r in remainder],
        "threshold": float(threshold), "max_depth": int(max_depth),
        "visited": raw["visited"], "money_unit": str(mrio.meta["money_unit"]),
    })
    return df


# ---- public API -------------------------------------------------------------------------------
def structural_paths(mrio: MRIO, y: np.ndarray | xr.DataArray, stressor: str | None = None,
                     intensity: np.ndarray | xr.DataArray | None = None, threshold: float = 1e-3,
                     max_depth: int = 8, top: int | None = None) -> pd.DataFrame:
    """Structural path analysis of one demand vector: the supply-chain paths that carry ``E``.

    Each path ``p = (i_0, ..., i_d)`` has the value

    $$
    e_p = s_{i_d} A_{i_d i_{d-1}} \\cdots A_{i_1 i_0} y_{i_0}
    $$

    and the enumeration prunes a node when its subtree value ``m_{i_d} A_{i_d i_{d-1}} \\cdots
    y_{i_0}`` is below ``threshold * E`` (``m^T = s^T (I - A)^-1``, ``E = m^T y``).

    Parameters
    ----------
    mrio : MRIO
    y : ndarray (n,) or DataArray (region, sector)
        Final demand [money unit of the model], non-negative.
    stressor : str, optional
        Indicator to trace (a stressor or impact of ``mrio.indicators``); default the first impact
        (``CO2e`` for the synthetic model), else the first stressor.
    intensity : ndarray (n,) or DataArray (region, sector), optional
        Any non-negative intensity vector ``s`` [unit / money] to trace instead of a stressor,
        e.g. risk-weighted hours per M EUR from ``spendprint.procurement.risk_intensity``.
    threshold : float
        Share of ``E`` in [0, 1): a path is listed if its value is at least ``threshold * E``, and a
        subtree is pruned if its value is below it. 0 enumerates every path up to ``max_depth``
        (exponential: tiny models only; refused above ``MAX_EXHAUSTIVE_PATHS`` paths).
    max_depth : int
        Deepest stage enumerated (0 lists only the direct impacts ``s_i y_i``).
    top : int, optional
        Keep only the ``top`` largest paths (the others are added to the remainder of their stage).

    Returns
    -------
    pandas.DataFrame
        One row per path, sorted by ``value`` (descending). Columns: ``value`` (``e_p``, in the
        stressor's unit), ``share`` (``e_p / E``), ``depth`` (``d``, the tier where the impact
        happens), ``subtree`` (``m_{i_d} v_p``: the path's last node and everything upstream of
        it, [unit]), ``region_k``/``sector_k`` for stages ``k = 0 .. max_depth`` (stage 0 = the
        final-demand product bought, stage ``depth`` = where the impact happens, ``None`` beyond),
        ``region``/``sector`` (those of stage ``depth``) and ``path`` (``"R/product <- R/input <-
        ..."``, each stage supplied by the next). ``attrs``: ``stressor``, ``unit``, ``total``
        (``E``), ``coverage`` (sum of listed values / ``E``), ``remainder`` (list of
        ``max_depth + 2`` values [unit]: what was not listed, by the stage at which it was pruned
        or left unlisted; the last entry is everything beyond ``max_depth``), ``threshold``,
        ``max_depth``, ``visited`` (nodes visited), ``money_unit``. ``sum(value) +
        sum(remainder) == total``.

    Raises
    ------
    ValidationError
        Negative or non-finite demand or intensity, bad parameters, a demand with extra dims.
    LabelMismatchError
        Unknown stressor, demand labels or shape that do not match the model.

    Notes
    -----
    Cost: one solve ``(I - A)^T m = s`` with the model's factorisation (cached per model and
    intensity), then the search, whose work grows with the number of nodes visited (at most
    ``(max_depth + 1) / threshold``), not with ``n^2``. The first call on a dense model keeps a
    C-ordered copy of ``A^T`` with the model (``n^2 x 8`` bytes: 768 MB at n = 9,800) so that
    columns are read contiguously.
    """
    _check_params(threshold, max_depth, top)
    s, name, unit = _intensity(mrio, stressor, intensity)
    yv = _flat(mrio, y, "demand")
    if threshold == 0:
        _check_exhaustive(mrio, yv, max_depth)
    m = _multipliers(mrio, s, name if intensity is None else None)
    raw = _trace(_column_access(mrio), s, m, yv, float(threshold), int(max_depth))
    return _frame(mrio, raw, name, unit, threshold, max_depth, top)


def structural_paths_by_category(mrio: MRIO, demand: xr.DataArray, stressor: str | None = None,
                                 intensity: np.ndarray | xr.DataArray | None = None,
                                 threshold: float = 1e-3, max_depth: int = 8, top: int | None = None,
                                 dim: str = "category", scheduler: Any = None) -> pd.DataFrame:
    """`structural_paths` for every category of a demand, in parallel with dask.

    The multipliers ``m`` come from one solve with the model's factorisation; the model's columns
    (``A^T`` or CSC) and ``s, m`` enter the dask graph once, as a single key that every category
    task shares (sent once per worker on a distributed cluster); each task runs the kernel (which
    releases the GIL) on one column of ``Y``.

    Parameters
    ----------
    demand : DataArray (region, sector, ``dim``)
        Final demand per category [money], non-negative (e.g. from
        ``spendprint.procurement.procurement_demand``).
    dim : str
        The category dimension.
    scheduler : optional
        Passed to `dask.compute` (default: the active client, else threads).
    stressor, intensity, threshold, max_depth, top
        As in `structural_paths`, per category.

    Returns
    -------
    pandas.DataFrame
        The per-category tables stacked, with a first column ``category``; sorted by category (in
        the demand's order), then value. ``attrs``: ``total``, ``coverage``, ``remainder``,
        ``visited`` as dicts keyed by category; ``stressor``, ``unit``, ``threshold``,
        ``max_depth``, ``money_unit``.
    """
    import dask

    _check_params(threshold, max_depth, top)
    if not isinstance(demand, xr.DataArray) or dim not in demand.dims:
        raise ValidationError(f"demand must be a DataArray with dims (region, sector, {dim!r})")
    da = as_demand(mrio, demand)
    other = [d for d in da.dims if d not in (*CORE_DIMS, dim)]
    if other:
        raise ValidationError(f"demand has dims {other} besides region, sector and {dim!r}")
    da = da.transpose(*CORE_DIMS, dim)
    cats = [str(c) for c in (da[dim].values if dim in da.coords else range(da.sizes[dim]))]
    Y = np.asarray(da.values, dtype=np.float64).reshape(mrio.n, len(cats))
    for c, cat in enumerate(cats):
        _check_nonnegative(mrio, Y[:, c], f"demand of {dim} {cat!r}")
    s, name, unit = _intensity(mrio, stressor, intensity)
    if threshold == 0:
        _check_exhaustive(mrio, Y, max_depth)
    m = _multipliers(mrio, s, name if intensity is None else None)
    model = dask.delayed((_column_access(mrio), s, m), name=f"spa-model-{uuid.uuid4().hex}",
                         traverse=False)
    trace = dask.delayed(_trace_task, pure=True)
    tasks = [trace(model, np.ascontiguousarray(Y[:, c]), float(threshold), int(max_depth))
             for c in range(len(cats))]
    raws = dask.compute(*tasks, scheduler=scheduler)
    frames = []
    for cat, raw in zip(cats, raws, strict=True):
        f = _frame(mrio, raw, name, unit, threshold, max_depth, top)
        f.insert(0, dim, cat)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({dim: []})
    out.attrs = {
        "stressor": name, "unit": unit, "threshold": float(threshold), "max_depth": int(max_depth),
        "money_unit": str(mrio.meta["money_unit"]),
        **{k: {cat: f.attrs[k] for cat, f in zip(cats, frames, strict=True)}
           for k in ("total", "coverage", "remainder", "visited")},
    }
    return out


def risk_paths(mrio: MRIO, y: np.ndarray | xr.DataArray, risk_intensity: np.ndarray | xr.DataArray,
               threshold: float = 1e-3, max_depth: int = 8, top: int | None = None,
               dim: str = "category") -> pd.DataFrame:
    """Due-diligence list: the supply chains that carry the risk-weighted working hours of a demand.

    `structural_paths` with ``intensity = risk_intensity`` (risk-weighted employment hours
    per money unit, e.g. ``spendprint.procurement.risk_intensity(mrio, risk_table)``), so that a
    path's value is ``r_{i_d} A_{i_d i_{d-1}} \\cdots y_{i_0}`` [risk-weighted h].

    Parameters
    ----------
    y : ndarray (n,), DataArray (region, sector) or DataArray (region, sector, ``dim``)
        Final demand [money]; with a ``dim`` the list is made per category (in parallel).
    risk_intensity : ndarray (n,) or DataArray (region, sector)
        Risk-weighted hours per money unit [h / money], non-negative.

    Returns
    -------
    pandas.DataFrame
        Sorted by risk-weighted hours (per category): ``tier`` (the path's depth: 0 = the supplier
        of the product bought, 1 = its direct suppliers, ...), ``country`` and ``product`` where the
        hours are worked, ``risk_weighted_hours``, ``share`` (of the total), ``path``, the product
        bought (``region_0``/``sector_0``) and the other stage columns of
        `structural_paths`; a first column ``category`` with a ``dim``.
    """
    if isinstance(y, xr.DataArray) and dim in y.dims:
        df = structural_paths_by_category(mrio, y, intensity=risk_intensity, threshold=threshold,
                                          max_depth=max_depth, top=top, dim=dim)
    else:
        df = structural_paths(mrio, y, intensity=risk_intensity, threshold=threshold,
                              max_depth=max_depth, top=top)
    attrs = dict(df.attrs)
    df = df.rename(columns={"depth": "tier", "region": "country", "sector": "product",
                            "value": "risk_weighted_hours"})
    lead = [c for c in (dim, "tier", "country", "product", "risk_weighted_hours", "share", "path")
            if c in df.columns]
    df = df[lead + [c for c in df.columns if c not in lead]]
    df.attrs = {**attrs, "stressor": RISK_NAME, "unit": "h"}
    return df


def path_tree(paths: pd.DataFrame, top: int = 20) -> pd.DataFrame:
    """Nodes of the tree formed by the ``top`` largest paths: what a tree, sunburst or Sankey needs.

    Parameters
    ----------
    paths : DataFrame
        From `structural_paths` (or `risk_paths`) for one category.
    top : int
        Number of paths drawn.

    Returns
    -------
    pandas.DataFrame
        One row per distinct path prefix: ``id`` (the prefix as ``"R/product <- ..."``),
        ``parent`` (the id of the prefix one stage shorter, ``""`` at stage 0), ``stage``,
        ``region``, ``sector``, ``label`` (``"R/product"``), ``value`` (sum of the drawn paths
        through this node, [unit]) and ``own`` (value of the path ending here, 0 if not drawn).
        A Sankey's links are ``parent -> id`` with ``value``.
    """
    vcol = "value" if "value" in paths.columns else "risk_weighted_hours"
    dcol = "depth" if "depth" in paths.columns else "tier"
    rows: dict[str, dict[str, Any]] = {}
    for _, r in paths.nlargest(top, vcol).iterrows():
        parent = ""
        for t in range(int(r[dcol]) + 1):
            label = f"{r[f'region_{t}']}/{r[f'sector_{t}']}"
            node = label if t == 0 else f"{parent} <- {label}"
            entry = rows.setdefault(node, {"id": node, "parent": parent, "stage": t,
                                           "region": r[f"region_{t}"], "sector": r[f"sector_{t}"],
                                           "label": label, "value": 0.0, "own": 0.0})
            entry["value"] += float(r[vcol])
            if t == int(r[dcol]):
                entry["own"] += float(r[vcol])
            parent = node
    cols = ["id", "parent", "stage", "region", "sector", "label", "value", "own"]
    return pd.DataFrame(list(rows.values()), columns=cols)


def production_layers(mrio: MRIO, y: np.ndarray | xr.DataArray,
                      stressors: str | Sequence[str] | None = None, max_tier: int = 10) -> xr.DataArray:
    """Production-layer decomposition ``E = sum_t S A^t y``: how much of a footprint each tier adds.

    Tier ``t`` is ``S A^t y`` [stressor unit] (tier 0 = the direct impacts of the sectors that
    deliver the final products, tier 1 = those of their direct suppliers, ...), computed by
    ``max_tier`` repeated products with ``A`` (no inverse); ``rest`` is
    ``S (I - A)^-1 y - sum_{t <= max_tier} S A^t y``, with the total from one solve.

    Parameters
    ----------
    y : ndarray (n,) / (n, m), or DataArray (region, sector, *extra)
        Final demand [money]; extra dims (e.g. ``category``) are kept.
    stressors : str or list of str, optional
        Indicators (default all of ``mrio.indicators``).
    max_tier : int
        Last tier listed (>= 0).

    Returns
    -------
    xarray.DataArray, dims (stressor, tier, *extra)
        ``tier`` coordinate ``"0", "1", ..., str(max_tier), "rest"``; the sum over ``tier`` is
        the footprint ``S (I - A)^-1 y``. Coordinate ``unit`` per stressor.
    """
    if int(max_tier) != max_tier or max_tier < 0:
        raise ValidationError(f"max_tier must be a non-negative integer, got {max_tier!r}")
    names = _indicators(mrio, stressors)
    S = mrio.S_all(names)
    ya = as_demand(mrio, y)
    extra = [d for d in ya.dims if d not in CORE_DIMS]
    ya = ya.transpose(*CORE_DIMS, *extra)
    shape = tuple(ya.sizes[d] for d in extra)
    width = int(np.prod(shape)) if shape else 1
    Y2 = np.asarray(ya.values, dtype=np.float64).reshape(mrio.n, width)
    solver = mrio.solver
    out = np.empty((len(names), int(max_tier) + 2, width))
    layer = Y2
    for t in range(int(max_tier) + 1):
        out[:, t] = S @ layer
        if t < max_tier:
            layer = solver.matvec(layer)
    out[:, -1] = S @ np.asarray(solver.solve(Y2)).reshape(mrio.n, width) - out[:, :-1].sum(axis=1)
    tiers = [str(t) for t in range(int(max_tier) + 1)] + ["rest"]
    coords: dict[str, Any] = {"stressor": names, "tier": tiers, "unit": ("stressor", _units(mrio, names))}
    coords.update({str(d): ya[d].values for d in extra if d in ya.coords})
    return xr.DataArray(out.reshape(len(names), len(tiers), *shape), dims=("stressor", "tier", *extra),
                        coords=coords, name="production_layer")
