"""API keys: created by ``spendprint apikey create NAME``, stored salted and hashed in SQLite.

A key reads ``sp_<id>_<secret>``: ``id`` (public, 12 hex) finds the row, ``secret`` (43 url-safe
characters, 256 bits) is checked against ``sha256(salt || secret)`` with a constant-time compare.
The secret itself is never stored; it is shown once, when the key is created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ValidationError
from .db import connect, init_db

_KEY_RE = re.compile(r"^sp_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,63}$")


@dataclass(frozen=True)
class KeyInfo:
    """A verified key: its public id and the name it was created with."""

    id: str
    name: str


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


class KeyStore:
    """API keys in the ``api_keys`` table of the server database."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        init_db(self.db_path)

    def create(self, name: str) -> tuple[KeyInfo, str]:
        """Create a key; return its info and the full key (shown to the user once)."""
        if not _NAME_RE.match(name or ""):
            raise ValidationError(f"key name {name!r} must be 1-64 characters: letters, digits, "
                                  "space, '_', '.', '@', '-', starting with a letter or digit")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        with connect(self.db_path) as con:
            con.execute("INSERT INTO api_keys (id, name, salt, hash, created) VALUES (?, ?, ?, ?, ?)",
                        (key_id, name, salt, _digest(salt, secret), time.time()))
        return KeyInfo(key_id, name), f"sp_{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        with connect(self.db_path) as con:
            cur = con.execute("UPDATE api_keys SET revoked = 1 WHERE id = ?", (key_id,))
            return cur.rowcount > 0

    def list(self) -> list[dict[str, object]]:
        with connect(self.db_path, write=False) as con:
            rows = con.execute("SELECT id, name, created, revoked FROM api_keys ORDER BY created")
            return [dict(r) for r in rows]

    def verify(self, key: str) -> KeyInfo | None:
        """The key's info if ``key`` is a valid, unrevoked key, else None."""
        m = _KEY_RE.match(key or "")
        if not m:
            return None
        key_id, secret = m.groups()
        with connect(self.db_path, write=False) as con:
            row = con.execute("SELECT name, salt, hash, revoked FROM api_keys WHERE id = ?",
                              (key_id,)).fetchone()
        if row is None or row["revoked"]:
            return None
        if not hmac.compare_digest(_digest(bytes(row["salt"]), secret), bytes(row["hash"])):
            return None
        return KeyInfo(key_id, row["name"])


# ---- FastAPI dependencies ---------------------------------------------------------------------
def key_dependencies(store: KeyStore, public_reads: bool):
    """``(require_key, read_access)``: FastAPI dependencies for computing/writing and for reads.

    No key: 401 (with ``WWW-Authenticate``); a key that is not valid: 403. ``read_access`` lets
    requests without a key through when ``public_reads`` is set, but still rejects a wrong key.
    """
    from fastapi import Security
    from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

    from .http_errors import ApiError

    header = APIKeyHeader(name="X-API-Key", auto_error=False,
                          description="API key from `spendprint apikey create NAME`.")
    bearer = HTTPBearer(auto_error=False, description="The same API key as a Bearer token.")

    def _presented(x_api_key: str | None, cred: HTTPAuthorizationCredentials | None) -> str | None:
        if x_api_key:
            return x_api_key
        if cred is not None and cred.credentials:
            return cred.credentials
        return None

    def _check(key: str) -> KeyInfo:
        info = store.verify(key)
        if info is None:
            raise ApiError(403, "forbidden", "the API key is not valid (unknown, revoked or "
                                             "malformed)")
        return info

    def require_key(x_api_key: str | None = Security(header),
                    cred: HTTPAuthorizationCredentials | None = Security(bearer)) -> KeyInfo:
        key = _presented(x_api_key, cred)
        if key is None:
            raise ApiError(401, "unauthorized", "this endpoint needs an API key: send it as "
                           "`X-API-Key: <key>` or `Authorization: Bearer <key>`",
                           headers={"WWW-Authenticate": "Bearer"})
        return _check(key)

    def read_access(x_api_key: str | None = Security(header),
                    cred: HTTPAuthorizationCredentials | None = Security(bearer)) -> KeyInfo | None:
        key = _presented(x_api_key, cred)
        if key is None and public_reads:
            return None
        return require_key(x_api_key, cred)

    return require_key, read_access
