"""Seeded inputs shared by the benchmarks (a synthetic world of about n sectors)."""

from __future__ import annotations

import functools

import numpy as np

import spendprint as sp

#: Sizes the asv benchmarks run at (EXIOBASE 3 pxp is 49 x 200 = 9,800).
SIZES = [1000, 4900, 9800]
SEED = 0


def shape_for(n: int) -> tuple[int, int]:
    """(regions, products) with regions <= 49, products <= 200 and R * P closest to n.

    Ties go to more products, so 9,800 -> 49 x 200, 4,900 -> 25 x 196, 1,000 -> 5 x 200.
    """
    best = min((abs(R * P - n), -P, R, P) for R in range(1, 50) for P in range(1, 201))
    return best[2], best[3]


@functools.lru_cache(maxsize=2)
def world(n: int, seed: int = SEED) -> sp.MRIO:
    """The deterministic synthetic world of about ``n`` sectors (cached per process)."""
    R, P = shape_for(n)
    return sp.synthetic_mrio(regions=R, sectors=P, seed=seed)


def demands(n_sectors: int, m: int = 100, seed: int = SEED) -> np.ndarray:
    """``m`` seeded demand vectors (n_sectors x m), in M EUR, about 30 % of entries nonzero."""
    rng = np.random.default_rng([seed, n_sectors, m])
    return rng.lognormal(0.0, 1.0, (n_sectors, m)) * (rng.random((n_sectors, m)) < 0.3)
