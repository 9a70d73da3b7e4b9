"""The HTTP API (``spendprint serve``): FastAPI over the Python API, with keys, limits and jobs.

>>> from spendprint.api import Settings, create_app
>>> app = create_app(Settings.load("spendprint-data"))   # doctest: +SKIP

See ``docs/http-api.md``. Importing this package imports neither FastAPI nor the models.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(name)
