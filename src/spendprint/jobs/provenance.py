"""Provenance for ``run.json``: input hashes, package versions, settings, timings."""

from __future__ import annotations

import hashlib
import platform
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("spendprint", "numpy", "scipy", "numba", "xarray", "dask", "distributed", "pandas",
            "pyarrow", "zarr")


def sha256_path(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (sorted relative paths and contents)."""
    p = Path(path)
    h = hashlib.sha256()
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


class Timer:
    """Collects named wall-clock timings (seconds)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 4)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.timings)
