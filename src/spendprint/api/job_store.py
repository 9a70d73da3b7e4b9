"""Monte Carlo jobs: persisted in SQLite, run in worker processes, resumed after a restart.

Life of a job: ``queued`` -> ``running`` -> ``done`` | ``failed`` | ``cancelled``.

* ``POST /jobs`` validates the inputs (they are resolved and stored with the job, so a resumed job
  computes from exactly what was submitted) and inserts a ``queued`` row; a key with
  ``max_jobs_per_key`` queued or running jobs gets 429.
* A dispatcher thread in the server starts up to ``job_workers`` worker processes
  (``python -m spendprint.api.worker DATA_DIR JOB_ID``, see `.worker`); each writes its
  progress and its outcome to the database and its results under ``jobs/<id>/``.
* ``DELETE /jobs/{id}`` marks an active job ``cancelled`` and terminates its process; on a
  finished job it deletes the job and its files.
* Finished jobs older than ``job_retention_s`` are deleted with their files by the dispatcher.
* Files: ``jobs/`` and each job's folder are 0700, the worker runs with umask 077 (its results
  are 0600).
* At start-up, jobs left ``running`` by a previous server (killed, crashed) go back to ``queued``:
  the worker resumes from the job's Zarr store, so finished chunks are not computed again. A
  worker whose server died exits by itself, and a per-job lock file keeps two workers of the same
  job from ever running at once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .db import connect, init_db
from .http_errors import ApiError, LimitExceeded

log = logging.getLogger("spendprint.api.job_store")

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
_ID_RE = re.compile(r"^[0-9a-f]{32}$")
#: Exit code of a worker that found its server gone.
ORPHAN_EXIT = 75


def job_dir(jobs_dir: Path, job_id: str) -> Path:
    if not _ID_RE.match(job_id):
        raise ApiError(404, "not_found", f"no job {job_id!r}")
    return jobs_dir / job_id


class JobStore:
    """The ``jobs`` table. Every method is one short transaction."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        init_db(self.db_path)

    def submit(self, key_id: str, kind: str, model: str, spec: dict[str, Any],
               max_active: int, warning: str | None = None,
               samples_total: int | None = None) -> dict[str, Any]:
        """Insert a queued job, unless ``key_id`` already has ``max_active`` active ones (429)."""
        job_id = secrets.token_hex(16)
        with connect(self.db_path) as con:  # BEGIN IMMEDIATE: the count and the insert are atomic
            active = con.execute(
                f"SELECT COUNT(*) FROM jobs WHERE key_id = ? AND status IN {ACTIVE}", (key_id,)
            ).fetchone()[0]
            if active >= max_active:
                raise LimitExceeded(429, "max_jobs_per_key", max_active, active + 1,
                                    "the number of queued and running jobs of this API key")
            con.execute(
                "INSERT INTO jobs (id, key_id, kind, model, spec, status, created, stage, "
                "samples_done, samples_total, warning) "
                "VALUES (?, ?, ?, ?, ?, 'queued', ?, 'queued', ?, ?, ?)",
                (job_id, key_id, kind, model, json.dumps(spec), time.time(),
                 0 if samples_total else None, samples_total, warning))
        return self.get(job_id)  # type: ignore[return-value]

    def get(self, job_id: str, with_spec: bool = False) -> dict[str, Any] | None:
        with connect(self.db_path, write=False) as con:
            row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        spec = out.pop("spec")
        if with_spec:
            out["spec"] = json.loads(spec)
        return out

    def list(self, key_id: str, limit: int = 100) -> list[dict[str, Any]]:
        with connect(self.db_path, write=False) as con:
            rows = con.execute(
                "SELECT * FROM jobs WHERE key_id = ? ORDER BY created DESC LIMIT ?", (key_id, limit))
            return [{k: v for k, v in dict(r).items() if k != "spec"} for r in rows]

    def claim_next(self) -> str | None:
        """Move the oldest queued job to running and return its id."""
        with connect(self.db_path) as con:
            row = con.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created LIMIT 1"
                              ).fetchone()
            if row is None:
                return None
            con.execute("UPDATE jobs SET status = 'running', attempts = attempts + 1, "
                        "started = COALESCE(started, ?), message = 'starting', "
                        "stage = 'starting' WHERE id = ?",
                        (time.time(), row["id"]))
            return str(row["id"])

    def requeue_running(self) -> list[str]:
        """At start-up: jobs a previous server left running go back to the queue."""
        with connect(self.db_path) as con:
            ids = [r["id"] for r in con.execute("SELECT id FROM jobs WHERE status = 'running'")]
            con.execute("UPDATE jobs SET status = 'queued', stage = 'queued', message = "
                        "'resuming after a server restart' WHERE status = 'running'")
        return ids

    def set_progress(self, job_id: str, progress: float, message: str = "",
                     stage: str | None = None, done: int | None = None,
                     total: int | None = None) -> None:
        """Record a running job's progress (0-1), message, stage and samples done / total
        (``None`` keeps the stored value)."""
        with connect(self.db_path) as con:
            con.execute("UPDATE jobs SET progress = ?, message = ?, stage = COALESCE(?, stage), "
                        "samples_done = COALESCE(?, samples_done), "
                        "samples_total = COALESCE(?, samples_total) "
                        "WHERE id = ? AND status = 'running'",
                        (float(min(max(progress, 0.0), 1.0)), message[:500], stage, done, total,
                         job_id))

    def finish(self, job_id: str, status: str, error: str | None = None, message: str = "") -> bool:
        """Record the outcome of a running job (not of one cancelled meanwhile)."""
        with connect(self.db_path) as con:
            cur = con.execute(
                "UPDATE jobs SET status = ?, error = ?, message = ?, finished = ?, stage = ?, "
                "progress = CASE WHEN ? = 'done' THEN 1.0 ELSE progress END "
                "WHERE id = ? AND status = 'running'",
                (status, error, message[:500], time.time(), status, status, job_id))
            return cur.rowcount > 0

    def delete(self, job_id: str) -> bool:
        """Delete a finished job's row (an active one is left alone)."""
        with connect(self.db_path) as con:
            cur = con.execute(f"DELETE FROM jobs WHERE id = ? AND status IN {FINISHED}", (job_id,))
            return cur.rowcount > 0

    def purge(self, older_than: float) -> list[str]:
        """Delete finished jobs that finished before ``older_than`` (epoch s); their ids."""
        with connect(self.db_path) as con:
            ids = [r["id"] for r in con.execute(
                f"SELECT id FROM jobs WHERE status IN {FINISHED} AND COALESCE(finished, created) < ?",
                (older_than,))]
            con.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in ids])
        return ids

    def cancel(self, job_id: str) -> str | None:
        """Cancel an active job; return its previous status (None if there is no such job)."""
        with connect(self.db_path) as con:
            row = con.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            if row["status"] in ACTIVE:
                con.execute("UPDATE jobs SET status = 'cancelled', finished = ?, message = "
                            "'cancelled by request', stage = 'cancelled' WHERE id = ?",
                            (time.time(), job_id))
            return str(row["status"])


class JobManager:
    """Starts worker processes for queued jobs and watches them (one dispatcher thread)."""

    def __init__(self, store: JobStore, data_dir: Path, jobs_dir: Path, workers: int = 1,
                 threads: int = 1, poll_s: float = 0.2, retention_s: float = 0,
                 purge_every_s: float = 60.0) -> None:
        self.store, self.data_dir, self.jobs_dir = store, Path(data_dir), Path(jobs_dir)
        self.retention_s, self.purge_every_s = float(retention_s), float(purge_every_s)
        self._last_purge = 0.0
        self.workers, self.poll_s = max(1, int(workers)), poll_s
        self.threads = max(1, int(threads))
        self._procs: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self.jobs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.jobs_dir, 0o700)
        resumed = self.store.requeue_running()
        if resumed:
            log.warning("resuming %d job(s) left running: %s", len(resumed), resumed)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="spendprint-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop dispatching and terminate workers; their jobs stay ``running`` and resume at the
        next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            procs = list(self._procs.values())
        for p in procs:
            _terminate(p)

    def wake(self) -> None:
        self._wake.set()

    # ---- dispatching -----------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._reap()
                self.purge()
                while len(self._procs) < self.workers and not self._stop.is_set():
                    job_id = self.store.claim_next()
                    if job_id is None:
                        break
                    self._spawn(job_id)
            except Exception:  # keep dispatching whatever happens to one job
                log.exception("job dispatcher error")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def purge(self, force: bool = False) -> list[str]:
        """Delete finished jobs older than the retention (at most every ``purge_every_s``)."""
        now = time.time()
        if self.retention_s <= 0 or (not force and now - self._last_purge < self.purge_every_s):
            return []
        self._last_purge = now
        ids = self.store.purge(now - self.retention_s)
        for job_id in ids:
            shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
        if ids:
            log.info("removed %d finished job(s) past the retention of %g s", len(ids),
                     self.retention_s)
        return ids

    def delete(self, job_id: str) -> bool:
        """Delete a finished job and its files."""
        ok = self.store.delete(job_id)
        if ok:
            shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
        return ok

    def _spawn(self, job_id: str) -> None:
        wdir = self.jobs_dir / job_id
        wdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS"):
            env[var] = str(self.threads)
        fd = os.open(wdir / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        logf = os.fdopen(fd, "ab")  # handed to the child
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "spendprint.api.worker", str(self.data_dir), job_id],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, umask=0o077)
        finally:
            logf.close()
        with self._lock:
            self._procs[job_id] = proc
        log.info("job %s started in process %d", job_id, proc.pid)

    def _reap(self) -> None:
        with self._lock:
            items = list(self._procs.items())
        for job_id, proc in items:
            rc = proc.poll()
            if rc is None:
                continue
            with self._lock:
                self._procs.pop(job_id, None)
            row = self.store.get(job_id)
            if row is not None and row["status"] == "running":
                tail = _tail(self.jobs_dir / job_id / "worker.log")
                self.store.finish(job_id, "failed", error=f"worker process exited with code {rc}"
                                  + (f": {tail}" if tail else ""))

    def cancel(self, job_id: str) -> None:
        with self._lock:
            proc = self._procs.pop(job_id, None)
        if proc is not None:
            _terminate(proc)
        shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
        self._wake.set()


def _terminate(proc: subprocess.Popen, grace: float = 3.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the worker and anything it started
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait(grace)


def _tail(path: Path, n: int = 600) -> str:
    try:
        data = path.read_bytes()[-n:].decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return data.splitlines()[-1] if data else ""
