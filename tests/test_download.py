"""Downloads against a local HTTP server on 127.0.0.1 serving a fake Zenodo record."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from spendprint.io.download import (
    BASE_ENV,
    ChecksumError,
    DownloadError,
    UnavailableError,
    available,
    download,
    fetch,
)

RECORD = "5589597"  # EXIOBASE 3.8.2


def _zip_bytes(n: int = 300_000) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("IOT_2022_pxp/A.txt", bytes(range(256)) * (n // 256))
    return buf.getvalue()


class Server:
    """Serves `/api/records/<id>` (Zenodo JSON) and `/files/<name>` with Range support.

    `cut[name] = k` makes the next `k` plain GETs of that file send the headers of the whole
    file, half of the body, and close the connection. `ignore_range` makes it answer 200.
    """

    def __init__(self, files: dict[str, bytes], md5: dict[str, str] | None = None):
        self.files, self.md5 = files, md5 or {}
        self.cut: dict[str, int] = {}
        self.ignore_range = False
        self.log: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # keep pytest output clean
                pass

            def do_GET(self):  # noqa: N802
                rng = self.headers.get("Range")
                outer.log.append((self.path, rng))
                if self.path.startswith("/api/records/"):
                    rid = self.path.rsplit("/", 1)[1]
                    if rid != RECORD:
                        return self._send(404, b"{}")
                    body = json.dumps(outer.record()).encode()
                    return self._send(200, body, "application/json")
                name = self.path.rsplit("/", 1)[1]
                data = outer.files.get(name)
                if data is None:
                    return self._send(404, b"not found")
                start = 0
                if rng and not outer.ignore_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        return self._send(416, b"")
                if outer.cut.get(name, 0) > 0 and not rng:
                    outer.cut[name] -= 1
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                if start:
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None

            def _send(self, code, body, ctype="text/plain"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def record(self) -> dict:
        return {"id": int(RECORD), "files": [
            {"key": k, "size": len(v),
             "checksum": "md5:" + self.md5.get(k, hashlib.md5(v).hexdigest()),
             "links": {"self": f"{self.base}/files/{k}"}}
            for k, v in self.files.items()]}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    files = {"IOT_2021_pxp.zip": _zip_bytes(120_000), "IOT_2022_pxp.zip": _zip_bytes(),
             "IOT_2022_ixi.zip": _zip_bytes(50_000), "README.txt": b"EXIOBASE"}
    s = Server(files)
    yield s
    s.close()


def test_download_verified(server, tmp_path):
    seen = []
    p = download("exiobase3", 2022, tmp_path, system="pxp", url=server.base,
                 progress=lambda d, t: seen.append((d, t)))
    assert p == tmp_path / "IOT_2022_pxp.zip"
    assert p.read_bytes() == server.files["IOT_2022_pxp.zip"]
    assert zipfile.ZipFile(p).namelist() == ["IOT_2022_pxp/A.txt"]
    assert seen[-1] == (len(server.files["IOT_2022_pxp.zip"]),) * 2
    assert not (tmp_path / "IOT_2022_pxp.zip.part").exists()
    # a second call finds the verified file and downloads nothing
    n = sum(1 for path, _ in server.log if path.startswith("/files/"))
    download("exiobase3", 2022, tmp_path, url=server.base)
    assert sum(1 for path, _ in server.log if path.startswith("/files/")) == n


def test_interrupted_transfer_resumes_with_range(server, tmp_path):
    name = "IOT_2022_pxp.zip"
    data = server.files[name]
    server.cut[name] = 1
    p = download("exiobase3", 2022, tmp_path, url=server.base, backoff=0)
    assert p.read_bytes() == data
    gets = [r for path, r in server.log if path == f"/files/{name}"]
    assert gets == [None, f"bytes={len(data) // 2}-"]


def test_interrupted_beyond_retries_keeps_part_and_next_call_resumes(server, tmp_path):
    name = "IOT_2022_pxp.zip"
    data = server.files[name]
    server.cut[name] = 1
    with pytest.raises(DownloadError, match="resume"):
        download("exiobase3", 2022, tmp_path, url=server.base, retries=0, backoff=0)
    part = tmp_path / (name + ".part")
    assert part.stat().st_size == len(data) // 2 and not (tmp_path / name).exists()
    p = download("exiobase3", 2022, tmp_path, url=server.base, backoff=0)
    assert p.read_bytes() == data
    assert server.log[-1] == (f"/files/{name}", f"bytes={len(data) // 2}-")


def test_server_ignoring_range_restarts(server, tmp_path):
    name = "IOT_2022_pxp.zip"
    server.cut[name] = 1
    server.ignore_range = True
    p = download("exiobase3", 2022, tmp_path, url=server.base, backoff=0)
    assert p.read_bytes() == server.files[name]


def test_corrupt_file_refused(tmp_path):
    files = {"IOT_2022_pxp.zip": _zip_bytes(40_000)}
    s = Server(files, md5={"IOT_2022_pxp.zip": "0" * 32})
    try:
        with pytest.raises(ChecksumError, match="does not match"):
            download("exiobase3", 2022, tmp_path, url=s.base)
    finally:
        s.close()
    assert list(tmp_path.iterdir()) == []  # nothing half-verified left behind


def test_missing_year_lists_available(server, tmp_path):
    with pytest.raises(UnavailableError, match=r"IOT_1990_pxp.zip; years available for pxp: "
                                               r"2021-2022"):
        download("exiobase3", 1990, tmp_path, url=server.base)
    assert available("exiobase3", "ixi", url=server.base) == [2022]


def test_other_databases(server, tmp_path, monkeypatch):
    with pytest.raises(UnavailableError, match="register"):
        download("gloria", 2022, tmp_path)
    with pytest.raises(UnavailableError, match="--url"):
        download("oecd-icio", 2020, tmp_path)
    with pytest.raises(UnavailableError, match="known"):
        download("nosuchdb", 2020, tmp_path)
    with pytest.raises(UnavailableError, match="ixi"):
        download("exiobase3", 2022, tmp_path, system="ixx", url=server.base)
    with pytest.raises(UnavailableError, match="3.8.2"):
        download("exiobase3", 2022, tmp_path, version="9.9", url=server.base)
    data = server.files["README.txt"]
    p = download("figaro", None, tmp_path, url=f"{server.base}/files/README.txt",
                 checksum="sha256:" + hashlib.sha256(data).hexdigest())
    assert p.read_bytes() == data
    with pytest.raises(ChecksumError):
        fetch(f"{server.base}/files/README.txt", tmp_path / "x.txt", checksum="md5:00")
    with pytest.raises(DownloadError, match="404"):
        fetch(f"{server.base}/files/nothing.zip", tmp_path / "n.zip")
    # the environment variable replaces the Zenodo base URL
    monkeypatch.setenv(BASE_ENV, server.base)
    assert download("exiobase3", 2021, tmp_path / "env").name == "IOT_2021_pxp.zip"


def test_cli_exit_codes(server, tmp_path, monkeypatch):
    from spendprint.cli import main

    monkeypatch.setenv(BASE_ENV, server.base)
    assert main(["mrio", "download", "exiobase3", "--year", "2022", "--system", "pxp",
                 str(tmp_path)]) == 0
    assert (tmp_path / "IOT_2022_pxp.zip").read_bytes() == server.files["IOT_2022_pxp.zip"]
    assert main(["mrio", "download", "exiobase3", "--year", "1990", str(tmp_path)]) == 2
    assert main(["mrio", "download", "gloria", "--year", "2022", str(tmp_path)]) == 2
    monkeypatch.setenv(BASE_ENV, "http://127.0.0.1:9")  # nothing listens: a network error
    assert main(["mrio", "download", "exiobase3", "--year", "2022", str(tmp_path / "b")]) == 2
