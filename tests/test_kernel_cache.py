"""The Numba kernels are cached on disk: a new process (a new dask worker) loads them instead of
compiling (issue 11, defect 5)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import numpy as np
from spendprint import kernels as K
out = np.empty(8)
K.fill_uniform(K.stream_key(1, 0, 0), np.arange(8, dtype=np.int64), out)
print(sum(K.fill_uniform.stats.cache_hits.values()), sum(K.fill_uniform.stats.cache_misses.values()))
"""


def test_second_process_loads_the_kernel_from_the_disk_cache():
    runs = [subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                           timeout=300) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    hits, misses = (int(v) for v in runs[1].stdout.split())
    assert hits >= 1 and misses == 0, runs[1].stdout
