"""One registry of the kernels: each kernel with a naive numpy reference and seeded inputs.

The same entries drive the kernel tests (``tests/test_kernel_registry.py``: kernel output equals
the reference within the entry's tolerance) and the asv benchmarks
(``benchmarks/bench_kernels.py``: kernel and reference timed on the same inputs, so the ratio
comes from one run), as in numbagg. A new kernel is added here once and is then tested and
benchmarked. References are plain numpy, written for clarity, not speed.

Each entry's ``make(n, rng)`` builds the inputs of size ``n``; ``run(inputs)`` calls the kernel
and returns its result; ``reference(inputs)`` computes the same result in numpy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from . import perturb as KP
from . import random as KR


@dataclass(frozen=True)
class KernelEntry:
    """A kernel, its numpy reference and how to make inputs (see the module docstring)."""

    name: str
    make: Callable[[int, np.random.Generator], dict[str, Any]]
    run: Callable[[dict[str, Any]], Any]
    reference: Callable[[dict[str, Any]], Any]
    rtol: float = 1e-12
    atol: float = 0.0
    sizes: tuple[int, ...] = (1_000, 100_000)  # benchmark sizes (elements or matrix order)


# ---- references -----------------------------------------------------------------------------
def splitmix_bits(key: np.uint64, elements: np.ndarray) -> np.ndarray:
    """``bits(key, e) = mix64(key + e G)`` in numpy uint64 arithmetic (wrapping)."""
    e = np.asarray(elements, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(key) + e * KR.GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _ref_uniform(d: dict[str, Any]) -> np.ndarray:
    k = (splitmix_bits(d["key"], d["elements"]) >> np.uint64(11)).astype(np.float64)
    return (k + 0.5) * 2.0**-53


def _ref_csr_matmat(d: dict[str, Any]) -> np.ndarray:
    indptr, indices, values, X = d["indptr"], d["indices"], d["values"], d["X"]
    n_rows = len(indptr) - 1
    T = np.zeros((n_rows, X.shape[1]))
    for r in range(n_rows):
        T[r, indices[indptr[r]:indptr[r + 1]]] = values[0, indptr[r]:indptr[r + 1]]
    return np.stack([T @ X[b] for b in range(X.shape[0])])


def _ref_dense_to_csr(d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    M = d["M"]
    rows, cols = np.nonzero(M)  # row-major order: columns sorted within rows
    indptr = np.zeros(M.shape[0] + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    return np.cumsum(indptr), cols.astype(np.int32), M[rows, cols]


# ---- inputs ---------------------------------------------------------------------------------
def _make_stream(n: int, rng: np.random.Generator) -> dict[str, Any]:
    return {"key": KR.stream_key(int(rng.integers(1 << 30)), KR.DOMAIN_A, 0),
            "elements": rng.integers(0, 1 << 40, size=n).astype(np.int64)}


def _make_exp(n: int, rng: np.random.Generator) -> dict[str, Any]:
    return {"x": rng.uniform(-700.0, 700.0, size=n)}


def _make_log(n: int, rng: np.random.Generator) -> dict[str, Any]:
    return {"x": np.exp(rng.uniform(-700.0, 700.0, size=n))}


def _make_csr(n: int, rng: np.random.Generator) -> dict[str, Any]:
    order = max(8, int(np.sqrt(n)))
    M = np.where(rng.random((order, order)) < 0.3, rng.random((order, order)), 0.0)
    indptr, indices, data = KP.dense_to_csr(M, False)
    return {"indptr": indptr, "rows": np.arange(order, dtype=np.int64), "indices": indices,
            "values": data[None, :].copy(), "X": rng.random((2, order, 5)),
            "active": np.ones(2, dtype=bool)}


def _make_dense(n: int, rng: np.random.Generator) -> dict[str, Any]:
    order = max(8, int(np.sqrt(n)))
    return {"M": np.where(rng.random((order, order)) < 0.3, rng.random((order, order)), 0.0)}


def _out_like(shape, dtype=np.float64):
    return np.empty(shape, dtype=dtype)


# ---- runners --------------------------------------------------------------------------------
def _run_uniform(d):
    out = _out_like(d["elements"].shape)
    KR.fill_uniform(d["key"], d["elements"], out)
    return out


def _run_exp(d):
    out = _out_like(d["x"].shape)
    KR.fill_exp(d["x"], out)
    return out


def _run_log(d):
    out = _out_like(d["x"].shape)
    _fill_log(d["x"], out)
    return out


@nb.njit(cache=False, nogil=True)
def _fill_log(x, out):
    """``out[i] = log_pos(x[i])``: a compiled loop around the inlined helper."""
    for i in range(x.shape[0]):
        out[i] = KR.log_pos(x[i])


def _run_csr(d):
    X = d["X"]
    out = np.zeros((X.shape[0], len(d["indptr"]) - 1, X.shape[2]))
    KP.csr_matmat(d["indptr"], d["rows"], d["indices"], d["values"], X, d["active"], out)
    return out


def _run_dense(d):
    return KP.dense_to_csr(d["M"], False)


REGISTRY: dict[str, KernelEntry] = {e.name: e for e in (
    KernelEntry("fill_uniform", _make_stream, _run_uniform, _ref_uniform, rtol=0.0),
    KernelEntry("fill_exp", _make_exp, _run_exp, lambda d: np.exp(d["x"]), rtol=2e-15),
    KernelEntry("log_pos", _make_log, _run_log, lambda d: np.log(d["x"]), rtol=0.0,
                atol=2e-13, sizes=(1_000,)),
    KernelEntry("csr_matmat", _make_csr, _run_csr, _ref_csr_matmat, rtol=1e-12,
                sizes=(10_000, 1_000_000)),
    KernelEntry("dense_to_csr", _make_dense, _run_dense, _ref_dense_to_csr, rtol=0.0,
                sizes=(10_000, 1_000_000)),
)}
