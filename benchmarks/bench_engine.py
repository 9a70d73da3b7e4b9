"""asv benchmarks of the exact engine: factorisation, multipliers, footprints, block Jacobi vs LU,
store open.

Each class builds its seeded world in ``setup`` (outside the timed part); ``peakmem_`` variants
measure the peak resident memory of the same call.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import spendprint as sp

from ._common import SIZES, demands, world


class Factorisation:
    """LU of (I - A) (float32 + float64 refinement by default)."""

    params = [SIZES]
    param_names = ["n"]
    timeout = 300

    def setup(self, n: int) -> None:
        self.A = world(n).A

    def time_factorise(self, n: int) -> None:
        sp.LeontiefSolver(self.A)

    def peakmem_factorise(self, n: int) -> None:
        sp.LeontiefSolver(self.A)


class Multipliers:
    """Multipliers of the 5 indicators (CO2, CH4, N2O, hours, CO2e) by the adjoint system."""

    params = [SIZES]
    param_names = ["n"]
    timeout = 300

    def setup(self, n: int) -> None:
        self.mrio = world(n)
        _ = self.mrio.solver  # factorised once, outside the timed part

    def time_multipliers_factorised(self, n: int) -> None:
        sp.multipliers(self.mrio)

    def time_multipliers_from_scratch(self, n: int) -> None:
        sp.multipliers(self.mrio.replace())  # a copy without the cached factorisation

    def peakmem_multipliers_from_scratch(self, n: int) -> None:
        sp.multipliers(self.mrio.replace())


class Footprint:
    """Footprints of 100 demand vectors, with and without the origin breakdown."""

    params = [SIZES]
    param_names = ["n"]
    timeout = 300

    def setup(self, n: int) -> None:
        self.mrio = world(n)
        _ = self.mrio.solver
        self.y = demands(self.mrio.n)

    def time_footprint(self, n: int) -> None:
        sp.footprint(self.mrio, self.y)

    def time_footprint_by_origin(self, n: int) -> None:
        sp.footprint(self.mrio, self.y, by_origin=True)

    def peakmem_footprint_by_origin(self, n: int) -> None:
        sp.footprint(self.mrio, self.y, by_origin=True)


class ExactEngine:
    """Multipliers + footprints (100 demands, by origin) from a fresh solver: the block-Jacobi
    engine (the MRIO's ``auto`` choice) against the LU path; `benchmarks.exact_engine` adds
    pymrio and the side-by-side ratios."""

    params = [SIZES, ["block", "lu"]]
    param_names = ["n", "method"]
    timeout = 600

    def setup(self, n: int, method: str) -> None:
        self.base = world(n)
        self.y = demands(self.base.n)

    def _run(self, method: str) -> None:
        m = self.base.replace()  # no cached solver
        if method == "lu":
            m.__dict__["solver"] = sp.LeontiefSolver(m.A, method="dense")
        sp.multipliers(m)
        sp.footprint(m, self.y, by_origin=True)

    def time_multipliers_and_footprints(self, n: int, method: str) -> None:
        self._run(method)

    def peakmem_multipliers_and_footprints(self, n: int, method: str) -> None:
        self._run(method)

    def time_solver_setup(self, n: int, method: str) -> None:
        if method == "lu":
            sp.LeontiefSolver(self.base.A, method="dense")
        else:
            sp.LeontiefSolver(self.base.A, blocks=len(self.base.sectors))


class StoreOpen:
    """Open a native Zarr store (the issue asks for under 5 s at 9,800 sectors)."""

    params = [SIZES]
    param_names = ["n"]
    timeout = 300

    def setup(self, n: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="sp-bench-"))
        self.path = self.tmp / "world.zarr"
        world(n).to_zarr(self.path)

    def teardown(self, n: int) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def time_open_mrio(self, n: int) -> None:
        sp.open_mrio(self.path)

    def peakmem_open_mrio(self, n: int) -> None:
        sp.open_mrio(self.path)
