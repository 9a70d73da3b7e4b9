"""Models and concordances registered by name from the server's data directory.

* models: native stores ``<data-dir>/models/<name>`` (``MRIO.to_zarr`` / ``spendprint mrio synth``);
* concordances: ``<data-dir>/concordances/<name>.csv|.parquet|.xlsx``, plus the built-in ``demo``;
* prices: ``<data-dir>/prices/<name>.csv|.yaml|...`` read by ``Prices.read``, plus ``default``.

A request only ever gives a *name*, checked against `NAME_RE`; the path is built here and
must stay inside its folder. Opened models live in an LRU of bounded size; a model is factorised
once when it is opened (under a per-model lock, so concurrent first requests share the work) and
keeps its factorisation (``MRIO.solver``) for as long as it stays in the LRU.
"""

from __future__ import annotations

import collections
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputFileError
from .http_errors import ApiError

NAME_RE_TEXT = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx", ".tsv")
_PRICE_SUFFIXES = (".csv", ".xlsx", ".parquet")


def check_name(name: str, what: str) -> str:
    """``name`` if it is a plain resource name (no separators, no ``..``), else a 404."""
    import re

    if not isinstance(name, str) or not re.match(NAME_RE_TEXT, name) or ".." in name:
        raise ApiError(404, "not_found", f"no {what} named {name!r} (names are 1-64 letters, "
                                         "digits, '_', '.', '-')")
    return name


def _inside(folder: Path, candidate: Path) -> bool:
    try:
        candidate.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Entry:
    stamp: float
    mrio: Any
    multipliers: dict[str, Any]


class ModelRegistry:
    """Names -> native MRIO stores, with an LRU of opened, factorised models."""

    def __init__(self, folder: Path, capacity: int = 2) -> None:
        self.folder = Path(folder)
        self.capacity = max(1, int(capacity))
        self._lru: collections.OrderedDict[str, _Entry] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = collections.defaultdict(threading.Lock)
        self._info: dict[str, tuple[float, dict[str, Any]]] = {}

    # ---- paths and metadata (cheap: group attributes only) -----------------------------------
    def path(self, name: str) -> Path:
        check_name(name, "model")
        p = self.folder / name
        if not (_inside(self.folder, p) and (p / "zarr.json").is_file()):
            raise ApiError(404, "not_found", f"no model named {name!r}; GET /models lists them")
        return p

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        out = []
        for p in sorted(self.folder.iterdir()):
            if p.name.startswith(".") or not (p / "zarr.json").is_file():
                continue
            try:
                check_name(p.name, "model")
                self.attrs(p.name)
            except (ApiError, InputFileError):
                continue
            out.append(p.name)
        return out

    def _stamp(self, name: str) -> float:
        return (self.path(name) / "zarr.json").stat().st_mtime

    def attrs(self, name: str) -> dict[str, Any]:
        """The store's attributes (labels, units, meta) without reading any array."""
        stamp = self._stamp(name)
        cached = self._info.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        path = self.path(name) / "zarr.json"
        try:
            attrs = json.loads(path.read_text()).get("attributes", {})
        except (OSError, ValueError) as exc:
            raise InputFileError(path, f"cannot read store metadata: {exc}") from exc
        if attrs.get("format") != "spendprint-mrio":
            raise InputFileError(path.parent, "not a spendprint MRIO store")
        self._info[name] = (stamp, attrs)
        return attrs

    # ---- opened models ---------------------------------------------------------------------
    def get(self, name: str) -> Any:
        """The opened MRIO ``name`` with its factorisation ready (cached, LRU)."""
        return self._entry(name).mrio

    def _entry(self, name: str) -> _Entry:
        stamp = self._stamp(name)
        with self._lock:
            entry = self._lru.get(name)
            if entry is not None and entry.stamp == stamp:
                self._lru.move_to_end(name)
                return entry
            name_lock = self._name_locks[name]
        with name_lock:  # one thread opens and factorises; the others wait for it
            with self._lock:
                entry = self._lru.get(name)
                if entry is not None and entry.stamp == stamp:
                    self._lru.move_to_end(name)
                    return entry
            from ..io.native_store import open_mrio

            mrio = open_mrio(self.path(name))
            _ = mrio.solver  # factorise now, once, outside any request's own timing thereafter
            entry = _Entry(stamp, mrio, {})
            with self._lock:
                self._lru[name] = entry
                self._lru.move_to_end(name)
                while len(self._lru) > self.capacity:
                    self._lru.popitem(last=False)
            return entry

    def multipliers(self, name: str) -> Any:
        """``sp.multipliers(model)`` for all indicators, computed once per opened model."""
        entry = self._entry(name)
        found = entry.multipliers.get("all")
        if found is None:
            with self._name_locks[name]:
                found = entry.multipliers.get("all")
                if found is None:
                    from ..labelled.footprints import multipliers

                    found = multipliers(entry.mrio)
                    entry.multipliers["all"] = found
        return found

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._lru)


class TableRegistry:
    """Named files in one folder (concordances, prices), with optional built-ins."""

    def __init__(self, folder: Path, what: str, suffixes: tuple[str, ...],
                 builtins: tuple[str, ...] = (), folders: bool = False) -> None:
        self.folder, self.what, self.suffixes, self.builtins = Path(folder), what, suffixes, builtins
        self.folders = folders  # a sub-folder <name>/ also counts (price tables)

    def names(self) -> list[str]:
        found = set(self.builtins)
        if self.folder.is_dir():
            for p in self.folder.iterdir():
                if p.name.startswith("."):
                    continue
                stem = p.name if (self.folders and p.is_dir()) else p.stem
                if p.is_dir() and not self.folders:
                    continue
                if p.is_file() and p.suffix.lower() not in self.suffixes:
                    continue
                try:
                    found.add(check_name(stem, self.what))
                except ApiError:
                    continue
        return sorted(found)

    def path(self, name: str) -> Path | None:
        """The file for ``name``, or None for a built-in; 404 when there is neither."""
        check_name(name, self.what)
        for suffix in self.suffixes:
            p = self.folder / f"{name}{suffix}"
            if p.is_file() and _inside(self.folder, p):
                return p
        p = self.folder / name
        if self.folders and p.is_dir() and _inside(self.folder, p):
            return p
        if name in self.builtins:
            return None
        raise ApiError(404, "not_found", f"no {self.what} named {name!r}; available: "
                                         f"{self.names()[:50]}")


def concordance_registry(folder: Path) -> TableRegistry:
    return TableRegistry(folder, "concordance", _TABLE_SUFFIXES, builtins=("demo",))


def prices_registry(folder: Path) -> TableRegistry:
    return TableRegistry(folder, "prices", _PRICE_SUFFIXES, builtins=("default",), folders=True)
