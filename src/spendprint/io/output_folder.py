"""One run owns its output folder: a lock file, a staging folder, and one move into place.

```python
with OutputSet(out, "run") as outset:
    write_report(outset.path("report.html"))
    ds.to_zarr(outset.path("results.zarr"))
# here every output of the run is in `out`, and nothing of an earlier run remains
```

* **Lock.** Entering opens `out/.spendprint.lock` and takes an exclusive `fcntl.flock` on it for
  the life of the run, then writes the pid, host, start time and kind of the run into it. A
  second run into the same folder raises [InputFileError][spendprint.errors.InputFileError]
  naming the holder (CLI exit 2). The kernel drops the lock of a process that dies (SIGKILL
  included), so a stale lock file of a dead run is simply taken over: no pid guessing and no
  race between two processes taking over at once. (``flock`` is per host on some network file
  systems: two hosts writing into one NFS folder are not excluded there.)
* **Staging.** Outputs are written under `out/.staging-<kind>` ([OutputSet.path][spendprint.io.output_folder.OutputSet.path]).
  The name is fixed per kind so that a resumable store (e.g. `samples.zarr` of a Monte Carlo run
  killed by SIGKILL) is found by the next run; anything else a dead run left there is removed on
  entry.
* **Commit.** On success every staged entry is renamed into `out` (same file system, so each
  rename is atomic); an entry it replaces is first moved aside and is restored if a later rename
  fails, so `out` holds either the complete previous set or the complete new one. Outputs of the
  previous set (listed in `out/.spendprint-set.json`) and known outputs of any kind of run
  ([KNOWN_OUTPUTS][spendprint.io.output_folder.KNOWN_OUTPUTS], e.g. a stale `samples.zarr` of an
  earlier Monte Carlo run next to a deterministic run) that the new set lacks are removed.
  Files the user put in `out` are left alone.
* **Failure.** An exception (including a full disk, `OSError` `ENOSPC`/`EDQUOT`, which becomes an
  `InputFileError` "disk full ..." so the CLI exits 2) leaves the previous set untouched and
  removes the staging folder. A `KeyboardInterrupt` keeps only the resumable entries in staging
  (so the interrupted Monte Carlo resumes) and removes the rest. The lock is released either way.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import InputFileError

LOCK_NAME = ".spendprint.lock"
MANIFEST_NAME = ".spendprint-set.json"
#: Outputs any kind of spendprint run writes; removed when the new set lacks them.
KNOWN_OUTPUTS = frozenset({"run.json", "report.html", "categories.csv", "categories.parquet",
                           "results.zarr", "samples.zarr", "paths.csv", "scenarios.csv",
                           "labour_risk.csv", "savings.csv", "hotspots.csv", "report.xlsx",
                           "concordance_used.csv", "yoy.csv", "scenarios.zarr",
                           "categories_by_year.csv", "categories_by_year.parquet"})
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


class OutputSet:
    """Context manager giving a run exclusive use of ``out`` and an all-or-nothing output set.

    Parameters
    ----------
    out : path
        The output folder (created, with parents, if missing). An existing file there is an
        [InputFileError][spendprint.errors.InputFileError].
    kind : str
        Kind of run (``"run"``, ``"batch"``, ...): names the staging folder and is recorded in
        the lock and the manifest.
    resumable : names
        Staged entries kept across a crash or Ctrl-C so that the next run can resume from them
        (default ``("samples.zarr",)``).
    """

    def __init__(self, out: str | os.PathLike, kind: str, *,
                 resumable: Iterable[str] = ("samples.zarr",)):
        if not kind or not str(kind).replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"kind must be a short identifier, not {str(kind)[:40]!r}")
        self.out = Path(out)
        self.kind = str(kind)
        self.resumable = frozenset(resumable)
        self.staging = self.out / f".staging-{self.kind}"
        self.lock = self.out / LOCK_NAME
        self._token = uuid.uuid4().hex
        self._held = False
        self._fd: int | None = None
        self.committed: list[str] = []

    # ---- lock -------------------------------------------------------------------------------
    def _holder(self) -> dict[str, Any]:
        try:
            return json.loads(self.lock.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _acquire(self) -> None:
        import fcntl

        info = {"pid": os.getpid(), "host": socket.gethostname(), "kind": self.kind,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "token": self._token}
        fd = os.open(self.lock, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise InputFileError(self.out, f"cannot lock {self.lock}: {exc.strerror}") from exc
            holder = self._holder()
            raise InputFileError(
                self.out, f"another spendprint {holder.get('kind', 'run')} is writing to this "
                          f"folder (pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, "
                          f"started {holder.get('started', '?')}); wait for it or choose another "
                          f"--out") from None
        # ours: a lock left by a dead process is released by the kernel, so it is taken over
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        self._held = True

    def _release(self) -> None:
        fd = getattr(self, "_fd", None)
        if self._held and fd is not None:
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)  # closing drops the flock
                self._fd = None
        self._held = False

    # ---- context ----------------------------------------------------------------------------
    def __enter__(self) -> OutputSet:
        if self.out.exists() and not self.out.is_dir():
            raise InputFileError(self.out, "--out names an existing file; give a folder")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise InputFileError(self.out, "a parent of --out is a file") from None
        except OSError as exc:
            raise InputFileError(self.out, f"cannot create the output folder: {exc.strerror}") from exc
        self._acquire()
        try:
            if self.staging.exists():  # left by a run that died: keep only what resumes
                for p in self.staging.iterdir():
                    if p.name not in self.resumable:
                        _remove(p)
            self.staging.mkdir(exist_ok=True)
        except BaseException:
            self._release()
            raise
        return self

    def path(self, name: str) -> Path:
        """Where to write output ``name`` (a file or folder directly under ``out``)."""
        if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
            raise ValueError(f"output name must be a plain file name, not {name[:80]!r}")
        return self.staging / name

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        try:
            if exc_type is None:
                try:
                    self._commit()
                except OSError as err:
                    self._discard(keep_resumable=False)
                    if err.errno in _DISK_FULL:
                        raise InputFileError(self.out, "disk full while moving the outputs into "
                                                       "place; the previous outputs are kept") from err
                    raise
            else:
                self._discard(keep_resumable=issubclass(exc_type, KeyboardInterrupt))
                if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
                    raise InputFileError(self.out, "disk full while writing the outputs; the "
                                                   "previous outputs are kept") from exc
        finally:
            self._release()
        return False

    # ---- commit / discard -------------------------------------------------------------------
    def _previous(self) -> set[str]:
        try:
            data = json.loads((self.out / MANIFEST_NAME).read_text(encoding="utf-8"))
            return {str(n) for n in data.get("files", []) if "/" not in str(n)}
        except (OSError, ValueError, AttributeError):
            return set()

    def _commit(self) -> None:
        new = sorted(p.name for p in self.staging.iterdir())
        stale = (self._previous() | KNOWN_OUTPUTS) - set(new)
        aside = self.out / f".replaced-{self._token[:12]}"
        aside.mkdir()
        moved: list[str] = []
        set_aside: list[str] = []
        try:
            for name in sorted(stale | set(new)):
                target = self.out / name
                if target.exists() or target.is_symlink():
                    os.replace(target, aside / name)
                    set_aside.append(name)
            for name in new:
                os.replace(self.staging / name, self.out / name)
                moved.append(name)
            tmp = self.out / f"{MANIFEST_NAME}.{self._token[:12]}.tmp"
            tmp.write_text(json.dumps({"kind": self.kind, "files": new,
                                       "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}),
                           encoding="utf-8")
            os.replace(tmp, self.out / MANIFEST_NAME)
        except BaseException:
            # roll back: the new entries out, the previous ones back
            for name in moved:
                _remove(self.out / name)
            for name in set_aside:
                try:
                    os.replace(aside / name, self.out / name)
                except OSError:
                    pass
            for p in self.out.glob(f"{MANIFEST_NAME}.*.tmp"):
                _remove(p)
            shutil.rmtree(aside, ignore_errors=True)
            raise
        shutil.rmtree(aside, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        self.committed = new

    def _discard(self, keep_resumable: bool) -> None:
        if not self.staging.exists():
            return
        if keep_resumable and any((self.staging / n).exists() for n in self.resumable):
            for p in self.staging.iterdir():
                if p.name not in self.resumable:
                    _remove(p)
        else:
            shutil.rmtree(self.staging, ignore_errors=True)
