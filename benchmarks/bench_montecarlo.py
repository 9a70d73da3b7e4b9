"""asv benchmarks of the Monte Carlo engine (spendprint.uncertainty, spendprint.kernels).

Seeded inputs are built in ``setup``; the Numba kernels are compiled there too (warm-up on the
real arrays with one sample), so the timed part is the steady state. ``peakmem_`` variants measure
the same calls. ``benchmarks/mc_speed.py`` is the script that compares against per-sample
refactorisation and measures the dask cluster.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

import spendprint as sp
from spendprint import kernels as K
from spendprint.kernels import random as KR
from spendprint.uncertainty.iteration import aligned_empty
from spendprint.uncertainty.sampler import build_problem, sample_group

from ._common import SIZES, world

#: Everything uncertain: all nonzeros of A (RSD 0.2) and S (every stressor), spend and composition.
SPEC = sp.Uncertainty(a_rsd=0.2, s_rsd={"CO2": 0.04, "CH4": 0.12, "N2O": 0.33,
                                        "Employment hours": 0.10},
                      spend_rsd=0.1, dirichlet=50.0)


def mc_demand(mrio: sp.MRIO, m: int = 100, seed: int = 0) -> xr.DataArray:
    """Procurement-like demand: each of m categories buys 1-3 products from every region that
    supplies them (M EUR), so a category column has about 1-3 x R nonzeros."""
    rng = np.random.default_rng([seed, mrio.n, m])
    R, P = len(mrio.regions), len(mrio.sectors)
    y = np.zeros((R, P, m))
    for c in range(m):
        prods = rng.choice(P, size=rng.integers(1, 4), replace=False)
        w = rng.dirichlet(np.ones(prods.size))
        for p, wp in zip(prods, w, strict=True):
            origin = rng.dirichlet(np.full(R, 0.3))
            y[:, p, c] += rng.lognormal(0.0, 1.0) * wp * origin
    return xr.DataArray(y, dims=("region", "sector", "category"),
                        coords={"region": list(mrio.regions), "sector": list(mrio.sectors),
                                "category": [f"cat{c:03d}" for c in range(m)]})


def mc_problem(n: int, group_size: int | None = None, storage: str = "csr"):
    mrio = world(n)
    y = mc_demand(mrio).transpose("region", "sector", "category").values.reshape(mrio.n, -1)
    names = list(mrio.indicators)
    return mrio, build_problem(mrio, y, SPEC, names, [str(i) for i in range(y.shape[1])],
                               tol=1e-9, group_size=group_size, storage=storage)


class Kernels:
    """One group of samples: perturbation of all nonzeros, one product with the perturbed A^T
    (materialised), the same product fused with the perturbation."""

    params = [SIZES]
    param_names = ["n"]
    timeout = 600

    def setup(self, n: int) -> None:
        _, p = mc_problem(n, group_size=4)
        self.sys = p.system
        self.sigma = p.a_sigma
        G = p.group_size
        self.keys = np.array([K.stream_key(0, KR.DOMAIN_A, s) for s in range(G)], dtype=np.uint64)
        self.zb = np.zeros((G, 1))
        self.buf = self.sys.value_buffer(G)
        self.X = aligned_empty((G, self.sys.n, p.W.shape[0]))  # right-hand sides of one sample
        self.X[...] = np.random.default_rng(0).random(self.X.shape)
        self.out = np.empty_like(self.X)
        self.active = np.ones(G, dtype=bool)
        self.time_perturb(n)
        self.time_matmat(n)
        s = self.sys  # compile the fused kernel (one segment) outside the timings
        K.csr_perturb_matmat(s.indptr[:2], s.rows, s.indices, s.data, self.sigma, s.n, True, 0, 1,
                             self.zb, self.keys, self.X, self.out)

    def time_perturb(self, n: int) -> None:
        self.sys.perturb(self.sigma, 0, 1, self.zb, self.keys, self.buf)

    def time_matmat(self, n: int) -> None:
        self.sys.matmat(self.buf, self.X, self.active, self.out)

    def time_fused_matmat(self, n: int) -> None:
        s = self.sys
        K.csr_perturb_matmat(s.indptr, s.rows, s.indices, s.data, self.sigma, s.n, s.adjoint, 0,
                             1, self.zb, self.keys, self.X, self.out)


class SampleGroup:
    """A whole group of 4 samples: draws, perturbed solves to 1e-9, footprints of 100 categories."""

    params = [SIZES]
    param_names = ["n"]
    timeout = 900
    number = 1
    repeat = 2

    def setup(self, n: int) -> None:
        _, self.p = mc_problem(n, group_size=4)
        self.buf = self.p.system.value_buffer(4)
        sample_group(self.p, 0, 0, self.buf)  # JIT warm-up

    def time_group_of_4(self, n: int) -> None:
        sample_group(self.p, 0, 1, self.buf)

    def peakmem_group_of_4(self, n: int) -> None:
        sample_group(self.p, 0, 1, self.buf)


class MonteCarloInProcess:
    """``sp.monte_carlo`` in this process (no cluster), 16 samples at n = 1,000."""

    timeout = 600

    def setup(self) -> None:
        self.mrio = world(1000)
        self.y = mc_demand(self.mrio)
        sp.monte_carlo(self.mrio, self.y, SPEC, samples=8, seed=0, client="sync")

    def time_monte_carlo_16(self) -> None:
        sp.monte_carlo(self.mrio, self.y, SPEC, samples=16, seed=1, client="sync")
