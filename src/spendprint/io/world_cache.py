"""The synthetic default world, generated once and kept in the user's cache folder.

Generating the 49 x 200 world takes several seconds; opening it from the native store takes a
fraction of that. The cache entry is keyed by the generator's parameters and the package
version, so a new release (which may change the generator) never reads an old world. Folder:
``$SPENDPRINT_CACHE_DIR``, else ``$XDG_CACHE_HOME/spendprint``, else ``~/.cache/spendprint``.
Set ``SPENDPRINT_CACHE_DIR=off`` to generate every time. A damaged entry is regenerated; an
unwritable folder only costs the time saved.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ..core.model import MRIO
from ..core.synthetic import synthetic_mrio
from ..errors import SpendprintError
from .native_store import open_mrio, write_mrio


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when caching is switched off."""
    env = os.environ.get("SPENDPRINT_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "0", "off", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spendprint"


def _package_version() -> str:
    try:
        return version("spendprint")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "dev"


def world_key(regions: int, sectors: int, seed: int) -> str:
    """File name of a cached world: generator parameters and package version."""
    return f"synthetic-{regions}x{sectors}-seed{seed}-v{_package_version()}.zarr"


def cached_synthetic_mrio(regions: int = 49, sectors: int = 200, seed: int = 0) -> MRIO:
    """`synthetic_mrio(regions, sectors, seed)`, from the cache when it is there.

    The cached world is bit for bit the generated one (the native store is lossless).
    """
    folder = cache_dir()
    if folder is None:
        return synthetic_mrio(regions=regions, sectors=sectors, seed=seed)
    path = folder / world_key(regions, sectors, seed)
    if (path / "zarr.json").is_file():
        try:
            return open_mrio(path)
        except (SpendprintError, OSError, ValueError, KeyError):
            pass  # damaged or foreign entry: generate and replace it
    mrio = synthetic_mrio(regions=regions, sectors=sectors, seed=seed)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_mrio(mrio, path)
    except OSError:
        pass  # read-only home, full disk: the cache is an optimisation only
    return mrio
