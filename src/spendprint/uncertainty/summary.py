"""Summaries of Monte Carlo footprints: moments, percentiles, ranks, MC error, sample adequacy.

Percentiles are one variable ``percentiles`` with a ``quantile`` dimension (0.025, 0.05, 0.5,
0.95, 0.975), so ``ds.percentiles.sel(quantile=0.975)`` is p97.5; `percentile_columns`
gives them as separately named arrays (``p2_5``, ``p5``, ``p50``, ``p95``, ``p97_5``) for tables.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

QUANTILES = (0.025, 0.05, 0.5, 0.95, 0.975)
#: Default precision target: relative Monte Carlo standard error of the mean.
MCSE_TARGET = 0.01


def _ranks(E: np.ndarray) -> np.ndarray:
    """Rank of every category per (sample, stressor), 1 = largest footprint (ties by position)."""
    order = np.argsort(-E, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, E.shape[-1] + 1)[None, None, :], axis=-1)
    return ranks


def summarise(footprint: xr.DataArray, deterministic: xr.DataArray | None = None, *,
              mcse_target: float = MCSE_TARGET, quantiles=QUANTILES,
              category_dim: str = "category") -> xr.Dataset:
    """Summarise samples of footprints with dims (sample, stressor, category).

    Returns
    -------
    xarray.Dataset over (stressor, category), in the footprint's unit:
        ``mean``, ``sd`` (ddof=1), ``percentiles`` (quantile, stressor, category);
        ``p_top5``, ``p_top10``: share of samples in which the category ranks in the top 5 / 10 of
        its stressor (rank 1 = largest); ``rank_lo``, ``rank_hi``: 90 % rank interval (5th and
        95th percentile of the rank); ``mcse = sd / sqrt(N)``: Monte Carlo standard error of the
        mean; ``rel_mcse = mcse / |mean|``; ``enough_samples = rel_mcse <= mcse_target`` (the
        sample count is large enough for the stated precision of the mean);
        ``samples_needed = N (rel_mcse / target)^2``: samples for the target; with one sample
        ``sd``, ``mcse``, ``rel_mcse`` and ``samples_needed`` are NaN and no category has enough
        samples; ``deterministic`` if given. attrs ``enough_samples_all`` and
        ``enough_samples_share``.
    """
    fp = footprint.transpose("sample", "stressor", category_dim)
    E = np.asarray(fp.values, dtype=np.float64)
    N = E.shape[0]
    coords = {d: fp[d] for d in ("stressor", category_dim) if d in fp.coords}
    for c in fp.coords:
        if c not in fp.dims and "sample" not in fp[c].dims:
            coords[c] = fp[c]
    dims = ("stressor", category_dim)
    mean = E.mean(axis=0)
    # one sample has no spread estimate: sd, mcse and rel_mcse are NaN, never "enough samples"
    sd = E.std(axis=0, ddof=1) if N > 1 else np.full_like(mean, np.nan)
    q = np.quantile(E, list(quantiles), axis=0) if N else np.full((len(quantiles), *mean.shape), np.nan)
    ranks = _ranks(E)
    mcse = sd / np.sqrt(max(N, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(mean != 0, mcse / np.abs(mean), np.where(mcse == 0, 0.0, np.inf))
    rel = np.where(np.isnan(mcse), np.nan, rel)
    enough = (rel <= mcse_target) & (N > 1)
    ds = xr.Dataset(
        {
            "mean": (dims, mean), "sd": (dims, sd),
            "percentiles": (("quantile", *dims), q),
            "p_top5": (dims, (ranks <= 5).mean(axis=0)),
            "p_top10": (dims, (ranks <= 10).mean(axis=0)),
            "rank_lo": (dims, np.quantile(ranks, 0.05, axis=0, method="lower").astype(np.int64)),
            "rank_hi": (dims, np.quantile(ranks, 0.95, axis=0, method="higher").astype(np.int64)),
            "mcse": (dims, mcse), "rel_mcse": (dims, rel), "enough_samples": (dims, enough),
            "samples_needed": (dims, np.ceil(N * (rel / mcse_target) ** 2) if N > 1
                               else np.full_like(mean, np.nan)),
        },
        coords={**coords, "quantile": list(quantiles)},
    )
    if deterministic is not None:
        ds["deterministic"] = deterministic.transpose(*dims).reset_coords(drop=True)
    ds.attrs.update(samples=N, mcse_target=float(mcse_target),
                    enough_samples_all=bool(enough.all()),
                    enough_samples_share=float(enough.mean()) if enough.size else 1.0,
                    enough_samples_criterion="relative MC standard error of the mean <= "
                                             "mcse_target")
    return ds


def percentile_columns(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """``{"p2_5": ..., "p5": ..., "p50": ..., "p95": ..., "p97_5": ...}`` from ``percentiles``."""
    out = {}
    for qv in ds["quantile"].values:
        name = f"p{100 * float(qv):g}".replace(".", "_")
        out[name] = ds["percentiles"].sel(quantile=qv, drop=True)
    return out
