"""Numba kernels of spendprint: plain loops over contiguous arrays (numpy + numba only).

* `spendprint.kernels.random`: counter-based random stream (SplitMix64 of
  (seed, domain, sample, element)), exact inverse normal (AS241), gamma variates.
* `spendprint.kernels.perturb`: lognormal perturbation of A (dense and CSR), materialised
  or fused with the matrix products of the Monte Carlo solver.

Kernels compile lazily on first call (nothing happens at import) and are cached on disk
(Numba's ``cache=True``: ``__pycache__`` beside the source, or Numba's user cache folder when
that is read-only), so a new process or dask worker loads them instead of compiling; the
``parallel=True`` builds of `spendprint.kernels.perturb.parallel` are not cached.
"""

from __future__ import annotations

from .perturb import (
    csr_matmat,
    csr_perturb_matmat,
    dense_perturb_matmat,
    dense_to_csr,
    lognormal_factors,
    perturb_csr,
    perturb_dense,
    segment_layout,
)
from .random import (
    fill_gamma_log,
    fill_ndtri,
    fill_std_normal,
    fill_uniform,
    stream_key,
)

__all__ = [
    "csr_matmat", "csr_perturb_matmat", "dense_to_csr", "dense_perturb_matmat", "fill_gamma_log", "fill_ndtri",
    "fill_std_normal", "fill_uniform", "lognormal_factors", "perturb_csr", "perturb_dense",
    "segment_layout", "stream_key",
]
