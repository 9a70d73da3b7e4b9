"""asv benchmarks of every kernel of the registry, kernel and numpy reference on the same inputs.

The ratio reference / kernel of one run is the kernel's speed-up over naive numpy.
"""

from __future__ import annotations

import numpy as np

from spendprint.kernels.kernel_registry import REGISTRY

_NAMES = sorted(REGISTRY)
_SIZES = sorted({s for e in REGISTRY.values() for s in e.sizes})


class Kernels:
    params = [_NAMES, _SIZES]
    param_names = ["kernel", "n"]

    def setup(self, name, n):
        entry = REGISTRY[name]
        if n not in entry.sizes:
            raise NotImplementedError  # asv skips the combination
        self.entry = entry
        self.inputs = entry.make(n, np.random.default_rng(0))
        entry.run(self.inputs)  # compile outside the timed part

    def time_kernel(self, name, n):
        self.entry.run(self.inputs)

    def time_reference(self, name, n):
        self.entry.reference(self.inputs)
