"""asv benchmarks of the exact engine: factorisation, multipliers, footprints, store open.

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
