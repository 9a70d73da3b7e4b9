"""Dask clusters that spendprint starts and owns: a local cluster of single-threaded workers."""

from __future__ import annotations

import os

from .tuning import WORKER_ENV


def local_client(n_workers: int | None = None):
    """A local ``dask.distributed`` cluster: one single-threaded worker process per core.

    BLAS (OpenBLAS/MKL/OpenMP) and Numba use one thread inside each worker.
    """
    from distributed import Client, LocalCluster

    n = n_workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, env=WORKER_ENV,
                           dashboard_address=None)
    return Client(cluster)


