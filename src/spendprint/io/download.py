"""Download MRIO databases: resumable, checksum-verified, and only when asked.

This is the only module of spendprint that touches the network, and only when
[download][spendprint.io.download.download] is called (`spendprint mrio download`). It uses the
standard library (`urllib.request`) only.

* **EXIOBASE 3** from its Zenodo record (one record per version, files `IOT_<year>_<system>.zip`).
  The record's JSON (`<base>/api/records/<id>`) lists every file with its size and MD5 checksum;
  the download is verified against that checksum, and a missing year is an error that lists the
  years the record has.
* **Direct links** (OECD ICIO, FIGARO, WIOD, USEEIO): these publishers give no stable file
  listing, so the file's URL is passed with `url=` (the landing page is named in the error);
  a checksum can be given with `checksum="md5:..."` or `"sha256:..."`.
* **Login only** (GLORIA, Eora26): no public download URL; the error says where to register.

Transfers go into `<file>.part` and resume with an HTTP `Range: bytes=<have>-` request after an
interruption (up to `retries` times per call; a later call resumes too). The finished file is
renamed into place only after its size and checksum are right; a file whose checksum is wrong is
deleted and refused. The base URL of the Zenodo API is `https://zenodo.org`, replaced by
`url=` or the `SPENDPRINT_DOWNLOAD_BASE` environment variable (tests point it at 127.0.0.1).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SpendprintError, ValidationError

#: Environment variable replacing the base URL of the Zenodo API (default `https://zenodo.org`).
BASE_ENV = "SPENDPRINT_DOWNLOAD_BASE"
ZENODO = "https://zenodo.org"
_CHUNK = 1 << 20
_UA = "spendprint-download (+https://github.com/spendprint)"

Progress = Callable[[int, int | None], None]


class DownloadError(SpendprintError):
    """A download failed (server error, too many interruptions); the message says what to do."""


class ChecksumError(DownloadError):
    """The downloaded file does not have the checksum the source publishes; it was deleted."""


class UnavailableError(DownloadError, ValidationError):
    """The database, version, year or system cannot be downloaded (lists what can)."""


@dataclass(frozen=True)
class Source:
    """Where a database is published.

    Attributes
    ----------
    name : str
        Database name as written in messages.
    kind : str
        `"zenodo"` (file list with checksums from a Zenodo record), `"direct"` (pass `url=`) or
        `"login"` (no public download URL).
    landing : str
        Page a user can open to find files, licence and terms.
    records : dict
        Zenodo record id per version (kind `"zenodo"`).
    default_version : str
        Version downloaded when none is given.
    pattern : str
        File name for a year and system (kind `"zenodo"`).
    systems : tuple of str
        Systems the record has (`pxp`, `ixi`).
    licence : str
        The data licence as the publisher states it.
    """

    name: str
    kind: str
    landing: str
    records: dict[str, str] = field(default_factory=dict)
    default_version: str = ""
    pattern: str = ""
    systems: tuple[str, ...] = ()
    licence: str = ""


#: Known databases. Zenodo record ids: EXIOBASE 3.8.2 = 5589597 (1995-2022), 3.9.5 = 14869924.
DATABASES: dict[str, Source] = {
    "exiobase3": Source(
        "EXIOBASE 3", "zenodo", "https://doi.org/10.5281/zenodo.3583070",
        records={"3.8.2": "5589597", "3.9.5": "14869924"}, default_version="3.8.2",
        pattern="IOT_{year}_{system}.zip", systems=("pxp", "ixi"), licence="CC BY-SA 4.0"),
    "oecd-icio": Source(
        "OECD ICIO", "direct",
        "https://www.oecd.org/en/data/datasets/inter-country-input-output-tables.html",
        licence="OECD terms (free reuse with attribution)"),
    "figaro": Source(
        "FIGARO (Eurostat)", "direct",
        "https://ec.europa.eu/eurostat/web/esa-supply-use-input-tables/database",
        licence="Eurostat reuse policy (CC BY 4.0)"),
    "wiod": Source("WIOD", "direct", "https://www.rug.nl/ggdc/valuechain/wiod/",
                   licence="CC BY 4.0"),
    "useeio": Source("USEEIO", "direct", "https://www.epa.gov/land-research/"
                     "us-environmentally-extended-input-output-useeio-models",
                     licence="US federal work (public domain)"),
    "gloria": Source("GLORIA", "login", "https://ielab.info/resources/gloria",
                     licence="free for research after registration (IELab terms)"),
    "eora26": Source("Eora26", "login", "https://worldmrio.com/",
                     licence="free for academic use after registration; commercial licence"),
}

_ALIASES = {"exiobase": "exiobase3", "exio3": "exiobase3", "exiobase-3": "exiobase3",
            "icio": "oecd-icio", "oecd": "oecd-icio", "oecd_icio": "oecd-icio",
            "eora": "eora26"}


def database_source(database: str) -> tuple[str, Source]:
    """The registry key and [Source][spendprint.io.download.Source] of a database name."""
    key = str(database).strip().lower().replace(" ", "-")
    key = _ALIASES.get(key, key)
    if key not in DATABASES:
        raise UnavailableError(f"unknown database {database!r}; known: {', '.join(DATABASES)}")
    return key, DATABASES[key]


def _base(url: str | None) -> str:
    return (url or os.environ.get(BASE_ENV) or ZENODO).rstrip("/")


def _get_json(url: str, timeout: float) -> dict:
    req = urllib.request.Request(url, headers={"User-Agent": _UA, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DownloadError(f"{url}: {exc}") from None


@dataclass(frozen=True)
class RemoteFile:
    """One file of a record: name, URL, size in bytes (or None) and checksum `algo:hex`."""

    key: str
    url: str
    size: int | None
    checksum: str | None


def zenodo_files(record: str, base: str | None = None, timeout: float = 60.0) -> list[RemoteFile]:
    """Files of a Zenodo record from its JSON (`<base>/api/records/<record>`).

    Reads `files[].key`, `size`, `checksum` (`md5:<hex>`) and `links.self` / `links.content`
    (falling back to `<base>/api/records/<record>/files/<key>/content`).
    """
    b = _base(base)
    data = _get_json(f"{b}/api/records/{record}", timeout)
    files = data.get("files")
    if isinstance(files, dict):  # the older API nests them under "entries"
        files = list(files.get("entries", {}).values())
    out = []
    for f in files or []:
        key = f.get("key") or f.get("filename")
        links = f.get("links") or {}
        link = links.get("content") or links.get("self") or links.get("download")
        out.append(RemoteFile(key=str(key),
                              url=link or f"{b}/api/records/{record}/files/{key}/content",
                              size=int(f["size"]) if f.get("size") is not None else None,
                              checksum=f.get("checksum")))
    return out


def available(database: str, system: str = "pxp", version: str | None = None,
              url: str | None = None, timeout: float = 60.0) -> list[int]:
    """Years a Zenodo-published database has for a system (reads the record; network)."""
    key, src = database_source(database)
    if src.kind != "zenodo":
        raise UnavailableError(f"{src.name} publishes no file list; see {src.landing}")
    rid = _record(src, version)
    rx = re.compile(re.escape(src.pattern).replace(r"\{year\}", r"(\d{4})")
                    .replace(r"\{system\}", re.escape(system)) + "$")
    years = {int(m.group(1)) for f in zenodo_files(rid, url, timeout) if (m := rx.match(f.key))}
    return sorted(years)


def _record(src: Source, version: str | None) -> str:
    v = version or src.default_version
    if v not in src.records:
        raise UnavailableError(f"{src.name} version {v!r} has no known Zenodo record; known "
                               f"versions: {', '.join(src.records)}")
    return src.records[v]


def _hash(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _split_checksum(checksum: str) -> tuple[str, str]:
    algo, _, want = checksum.partition(":")
    return ("md5", algo.strip().lower()) if not want else (algo.lower(), want.strip().lower())


def _matches(path: Path, checksum: str | None) -> bool:
    """Whether `path` has `checksum` (`algo:hex`; True when there is none to check)."""
    if not checksum:
        return True
    algo, want = _split_checksum(checksum)
    return _hash(path, algo) == want


def fetch(url: str, target: str | os.PathLike[str], size: int | None = None,
          checksum: str | None = None, progress: Progress | None = None, retries: int = 5,
          timeout: float = 60.0, backoff: float = 1.0) -> Path:
    """Download `url` to `target`, resuming `<target>.part` with HTTP Range requests.

    Parameters
    ----------
    url : str
        File URL.
    target : path
        Final file; written only once size and checksum are right (rename of the `.part`).
    size : int, optional
        Expected size in bytes (from the record); default the server's `Content-Length`.
    checksum : str, optional
        `"md5:<hex>"`, `"sha256:<hex>"` (any `hashlib` algorithm).
    progress : callable, optional
        `progress(bytes_done, bytes_total_or_None)` after every chunk.
    retries : int
        Interruptions tolerated in this call (each one resumes where the last stopped).
    backoff : float
        Seconds before the first retry, doubled each time (capped at 30 s).

    Raises
    ------
    ChecksumError
        The complete file has another checksum (the `.part` is deleted).
    DownloadError
        HTTP errors, or still incomplete after `retries` resumptions (the `.part` is kept).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    last: Exception | None = None
    total = size
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        if total is not None and have > total:
            part.unlink()
            have = 0
        if total is not None and have == total:
            break
        headers = {"User-Agent": _UA}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=timeout) as resp:
                if have and resp.status != 206:  # the server ignored the Range: start again
                    have = 0
                cr = resp.headers.get("Content-Range")
                if have and cr:
                    m = re.match(r"bytes (\d+)-", cr)
                    if not m or int(m.group(1)) != have:
                        raise DownloadError(f"{url}: server answered Range {have}- with {cr}")
                length = resp.headers.get("Content-Length")
                if total is None and length is not None:
                    total = have + int(length)
                with part.open("ab" if have else "wb") as fh:
                    while chunk := resp.read(_CHUNK):
                        fh.write(chunk)
                        have += len(chunk)
                        if progress is not None:
                            progress(have, total)
            if total is None or have >= total:
                break
            last = DownloadError(f"connection closed at {have} of {total} bytes")
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and total is not None and have == total:
                break
            if exc.code == 416:  # our .part is not a prefix the server knows: start over
                part.unlink(missing_ok=True)
                last = exc
                continue
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (http.client.IncompleteRead, urllib.error.URLError, ConnectionError,
                TimeoutError, OSError) as exc:
            last = exc
        if attempt < retries:
            time.sleep(min(backoff * 2 ** attempt, 30.0))
    else:
        got = part.stat().st_size if part.exists() else 0
        raise DownloadError(f"{url}: incomplete after {retries} resumptions ({got} of "
                            f"{total if total is not None else '?'} bytes; last error: {last}); "
                            f"{part} is kept: run the download again to resume")
    if checksum:
        algo, want = _split_checksum(checksum)
        got_hash = _hash(part, algo)
        if got_hash != want:
            part.unlink(missing_ok=True)
            raise ChecksumError(f"{target.name}: {algo} checksum {got_hash} does not match the "
                                f"published {want} (file deleted; download it again)")
    os.replace(part, target)
    return target


def download(database: str, year: int | None, dest: str | os.PathLike[str], system: str = "pxp",
             url: str | None = None, progress: Progress | None = None, *,
             version: str | None = None, checksum: str | None = None, retries: int = 5,
             timeout: float = 60.0, backoff: float = 1.0) -> Path:
    """Download one file of an MRIO database into the folder `dest`.

    Parameters
    ----------
    database : str
        `exiobase3`, `oecd-icio`, `figaro`, `wiod`, `useeio` (direct link: pass `url`),
        `gloria`, `eora26` (login only: refused with the registration page).
    year : int
        Year of the table (EXIOBASE 3: 1995-2022 in 3.8.2).
    dest : path
        Folder; the file keeps the source's name (e.g. `IOT_2022_pxp.zip`).
    system : str
        `pxp` (product by product) or `ixi` (industry by industry).
    url : str, optional
        EXIOBASE 3: base URL of the Zenodo API (default `$SPENDPRINT_DOWNLOAD_BASE` or
        `https://zenodo.org`); direct-link databases: the file's URL.
    progress : callable, optional
        `progress(bytes_done, bytes_total_or_None)`.
    version : str, optional
        EXIOBASE 3 version (`3.8.2`, the default, or `3.9.5`).
    checksum : str, optional
        For direct links: `"md5:<hex>"` or `"sha256:<hex>"` to verify against.

    Returns
    -------
    Path
        The downloaded file (returned at once, without downloading, when it is already there
        with the published size and checksum).

    Raises
    ------
    UnavailableError
        Unknown database, version or system, a year the record lacks (the message lists the
        available years), a direct-link database without `url`, or a login-only database.
    ChecksumError, DownloadError
        See [fetch][spendprint.io.download.fetch].
    """
    key, src = database_source(database)
    dest = Path(dest)
    if src.kind == "login":
        raise UnavailableError(f"{src.name} has no public download URL: register at "
                               f"{src.landing}, download the files there and import them with "
                               f"`spendprint mrio import`")
    if src.kind == "direct":
        if not url:
            raise UnavailableError(f"{src.name} publishes no stable file list: open "
                                   f"{src.landing}, copy the link of the file for the year you "
                                   f"want and pass it with --url")
        name = Path(urllib.request.url2pathname(url.split("?")[0].rstrip("/"))).name or key
        return fetch(url, dest / name, checksum=checksum, progress=progress, retries=retries,
                     timeout=timeout, backoff=backoff)
    if system not in src.systems:
        raise UnavailableError(f"{src.name} has no system {system!r}; choose one of "
                               f"{', '.join(src.systems)}")
    if year is None:
        raise UnavailableError(f"{src.name}: give a year (--year)")
    rid = _record(src, version)
    files = zenodo_files(rid, url, timeout)
    want = src.pattern.format(year=int(year), system=system)
    hit = next((f for f in files if f.key == want), None)
    if hit is None:
        rx = re.compile(re.escape(src.pattern).replace(r"\{year\}", r"(\d{4})")
                        .replace(r"\{system\}", re.escape(system)) + "$")
        years = sorted({int(m.group(1)) for f in files if (m := rx.match(f.key))})
        shown = (f"{years[0]}-{years[-1]}" if years and years == list(range(years[0],
                 years[-1] + 1)) else ", ".join(map(str, years))) or "none"
        raise UnavailableError(f"{src.name} {version or src.default_version} (Zenodo record "
                               f"{rid}) has no {want}; years available for {system}: {shown}")
    target = dest / hit.key
    if target.exists() and (hit.size is None or target.stat().st_size == hit.size) and \
            _matches(target, hit.checksum):
        if progress is not None:
            progress(target.stat().st_size, hit.size)
        return target
    return fetch(hit.url, target, size=hit.size, checksum=hit.checksum, progress=progress,
                 retries=retries, timeout=timeout, backoff=backoff)
