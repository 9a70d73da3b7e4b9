"""The server's SQLite database (API keys and jobs), shared by the server and its job processes."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    created REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    stage TEXT,
    samples_done INTEGER,
    samples_total INTEGER,
    warning TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_key ON jobs (key_id, status);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created);
"""

#: Columns added to ``jobs`` after the first release (added to older databases on open).
ADDED_JOB_COLUMNS = (("stage", "TEXT"), ("samples_done", "INTEGER"), ("samples_total", "INTEGER"),
                     ("warning", "TEXT"))


def init_db(path: Path) -> None:
    """Create the tables if needed and switch the file to WAL (readers never block the writer).

    The database holds API key hashes and submitted ledgers: it is created (and kept) readable
    by its owner only (0600; SQLite gives its ``-wal`` and ``-shm`` files the same mode).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    secure_file(path)
    con = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    try:
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(SCHEMA)
        have = {r[1] for r in con.execute("PRAGMA table_info(jobs)")}
        for col, kind in ADDED_JOB_COLUMNS:  # a database of an older server
            if col not in have:
                con.execute(f"ALTER TABLE jobs ADD COLUMN {col} {kind}")
    finally:
        con.close()
    for suffix in ("-wal", "-shm"):
        secure_file(path.with_name(path.name + suffix))


def secure_file(path: Path, mode: int = 0o600) -> None:
    """``chmod mode`` when ``path`` exists and is more open (an older server made it 0644)."""
    try:
        if path.stat().st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except FileNotFoundError:
        pass


@contextlib.contextmanager
def connect(path: Path, write: bool = True) -> Iterator[sqlite3.Connection]:
    """A short-lived connection in one transaction (``BEGIN IMMEDIATE`` when it will write),
    committed on success, rolled back on error, always closed."""
    con = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    con.row_factory = sqlite3.Row
    try:
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        yield con
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()
