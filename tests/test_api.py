"""HTTP API against a real uvicorn process on 127.0.0.1 (``python -m spendprint.cli serve``).

The server helpers and fixtures here are imported by the other ``test_api_*`` modules.
"""

from __future__ import annotations

import asyncio
import functools
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import spendprint as sp

MODEL = "demo"
LIMITS = """\
public_reads = true
max_body_bytes = 1000000
max_ledger_rows = 400
max_samples = 500
max_jobs_per_key = 2
job_workers = 1
"""


# ---- server helpers -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the test process dies (no stray servers after a crash)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Server:
    """``spendprint serve`` in a subprocess on a free loopback port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log = self.data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 40.0) -> Server:
        self.port = free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "spendprint.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--data-dir", str(self.data_dir)],
                stdout=log, stderr=subprocess.STDOUT, env=env,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # bounded wait for the first answer
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def make_data_dir(root: Path, settings: str = LIMITS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    sp.synthetic_mrio(regions=8, sectors=60, seed=1).to_zarr(root / "models" / MODEL)
    (root / "settings.toml").write_text(settings)
    return root


def create_key(data_dir: Path, name: str = "tests") -> str:
    """Through the CLI, as a user would: the key is the only line on stdout."""
    out = subprocess.run([sys.executable, "-m", "spendprint.cli", "apikey", "create", name,
                          "--data-dir", str(data_dir)], capture_output=True, text=True, check=True)
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("sp_")
    return key


def demo_ledger_rows(scale: float = 1.0) -> list[dict]:
    return [{**row, "amount": row["amount"] * scale} for row in _demo_rows()]


@functools.lru_cache(maxsize=1)
def _demo_rows() -> tuple[dict, ...]:
    from spendprint.procurement.demo import demo_inputs

    ledger, _ = demo_inputs()
    df = ledger.frame.reset_index(drop=True)
    rows = []
    for r in df.itertuples():
        row = {"category": str(r.category), "amount": float(r.amount),
               "currency": str(r.currency), "year": int(r.year)}
        if str(r.supplier_country):
            row["supplier_country"] = str(r.supplier_country)
        if str(r.price_basis) != "purchaser":
            row["price_basis"] = str(r.price_basis)
        rows.append(row)
    return tuple(rows)


def python_footprint(data_dir: Path, rows: list[dict], stressors=None, buyer_region="NO"):
    """The same computation through the Python API."""
    from spendprint.procurement import Ledger, Prices, procurement_footprint
    from spendprint.procurement.demo import demo_inputs

    mrio = sp.open_mrio(data_dir / "models" / MODEL)
    ledger = Ledger.from_frame(pd.DataFrame(rows), source="test")
    return procurement_footprint(mrio, ledger, demo_inputs()[1], prices=Prices.default(),
                                 buyer_region=buyer_region, stressors=stressors, by_origin=False)


def assert_rows_match(rows: list[dict], ds, rtol: float = 1e-12) -> None:
    got = pd.DataFrame(rows).set_index(["category", "stressor"])
    assert len(got) == ds.sizes["category"] * ds.sizes["stressor"]
    for var in ("footprint", "direct", "supply_chain", "intensity", "share", "rank"):
        want = ds[var].transpose("category", "stressor").to_series()
        np.testing.assert_allclose(got.loc[want.index, var].to_numpy(dtype=float),
                                   want.to_numpy(dtype=float), rtol=rtol, atol=0)
    spend = ds["spend"].to_series()
    np.testing.assert_allclose(got.xs(str(ds["stressor"].values[0]), level="stressor")
                               .loc[spend.index, "spend"].to_numpy(), spend.to_numpy(), rtol=rtol)


# ---- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("api") / "data")


@pytest.fixture(scope="session")
def api_key(data_dir) -> str:
    return create_key(data_dir)


@pytest.fixture(scope="session")
def server(data_dir, api_key):
    """One server for this module and the schemathesis module."""
    srv = Server(data_dir).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server, api_key):
    with httpx.Client(base_url=server.url, headers={"X-API-Key": api_key}, timeout=60.0) as c:
        yield c


@pytest.fixture(scope="module")
def anon(server):
    with httpx.Client(base_url=server.url, timeout=60.0) as c:
        yield c


# ---- models and multipliers -----------------------------------------------------------------
def test_openapi_and_docs(anon):
    schema = anon.get("/openapi.json").json()
    for path in ("/models", "/models/{name}", "/models/{name}/multipliers",
                 "/models/{name}/footprints", "/models/{name}/footprints/upload", "/jobs",
                 "/jobs/{job_id}", "/jobs/{job_id}/result"):
        assert path in schema["paths"], path
    assert "X-API-Key" in str(schema["components"]["securitySchemes"])
    assert anon.get("/docs").status_code == 200


def test_models_list_and_metadata(anon, data_dir):
    mrio = sp.open_mrio(data_dir / "models" / MODEL)
    models = anon.get("/models").json()["models"]
    assert [m["name"] for m in models] == [MODEL]
    assert models[0]["n"] == mrio.n
    info = anon.get(f"/models/{MODEL}").json()
    assert info["regions"] == list(mrio.regions) and info["sectors"] == list(mrio.sectors)
    assert [i["name"] for i in info["indicators"]] == list(mrio.indicators)
    assert [i["unit"] for i in info["indicators"]] == list(mrio.indicator_units)
    assert info["year"] == 2022 and info["currency"] == "EUR" and info["money_unit"] == "M EUR"


@pytest.mark.parametrize("name", ["nope", "..", "a%2F..%2F..", ".hidden", "x" * 80])
def test_unknown_or_unsafe_model_names_are_404(anon, name):
    r = anon.get(f"/models/{name}")
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"


def test_multipliers_equal_python_api(anon, data_dir):
    mrio = sp.open_mrio(data_dir / "models" / MODEL)
    M = sp.multipliers(mrio)
    params = [("stressor", "CO2e"), ("stressor", "CH4"), ("region", "NO"), ("region", "CN"),
              ("sector", "Chemicals nec")]
    rows = anon.get(f"/models/{MODEL}/multipliers", params=params).json()["rows"]
    assert len(rows) == 4
    for row in rows:
        want = float(M.sel(stressor=row["stressor"], region=row["region"], sector=row["sector"]))
        assert row["multiplier"] == pytest.approx(want, rel=1e-12)
    # CSV by format, Parquet by Accept
    csv = anon.get(f"/models/{MODEL}/multipliers", params={"stressor": "CO2", "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    df = pd.read_csv(io.StringIO(csv.text))
    assert len(df) == mrio.n
    np.testing.assert_allclose(df["multiplier"], M.sel(stressor="CO2").values.ravel(), rtol=1e-12)
    pq = anon.get(f"/models/{MODEL}/multipliers", params={"region": "NO"},
                  headers={"Accept": "application/vnd.apache.parquet"})
    dfp = pd.read_parquet(io.BytesIO(pq.content))
    assert len(dfp) == len(mrio.indicators) * len(mrio.sectors)
    bad = anon.get(f"/models/{MODEL}/multipliers", params={"region": "XX"})
    assert bad.status_code == 422 and "XX" in bad.json()["detail"]


# ---- footprints -----------------------------------------------------------------------------
def test_footprint_json_equals_python_api(client, data_dir):
    rows = demo_ledger_rows()
    r = client.post(f"/models/{MODEL}/footprints", json={"ledger": rows, "concordance": "demo"})
    assert r.status_code == 200, r.text
    body = r.json()
    ds = python_footprint(data_dir, rows)
    assert body["categories"] == ds.sizes["category"]
    assert_rows_match(body["rows"], ds)


def test_footprint_csv_upload_and_formats(client, data_dir):
    rows = demo_ledger_rows()
    csv = pd.DataFrame(rows).to_csv(index=False)
    r = client.post(f"/models/{MODEL}/footprints/upload",
                    files={"ledger": ("ledger.csv", csv, "text/csv")},
                    data={"concordance": "demo", "stressors": ["CO2e", "CH4"]})
    assert r.status_code == 200, r.text
    ds = python_footprint(data_dir, rows, stressors=["CO2e", "CH4"])
    assert_rows_match(r.json()["rows"], ds)
    # the same as Parquet, with origins
    r = client.post(f"/models/{MODEL}/footprints?format=parquet",
                    json={"ledger": rows, "stressors": ["CO2e"], "by_origin": True})
    df = pd.read_parquet(io.BytesIO(r.content))
    origin_cols = [c for c in df.columns if c.startswith("origin_")]
    assert len(origin_cols) == 8
    np.testing.assert_allclose(df[origin_cols].sum(axis=1), df["footprint"], rtol=1e-9)


def test_footprint_inline_concordance(client, data_dir):
    conc = [{"category": "Gloves", "sector": "Rubber and plastic products (25)", "weight": 1.0}]
    ledger = [{"category": "Gloves", "amount": 1.0e6, "currency": "NOK", "year": 2023}]
    r = client.post(f"/models/{MODEL}/footprints",
                    json={"ledger": ledger, "concordance": conc, "stressors": ["CO2e"]})
    assert r.status_code == 200, r.text
    assert r.json()["rows"][0]["footprint"] > 0


@pytest.mark.parametrize("body", [
    {"ledger": [{"category": "Nope", "amount": 1.0, "currency": "NOK", "year": 2023}]},
    {"ledger": [{"category": "Gloves", "amount": -5.0, "currency": "NOK", "year": 2023}],
     "concordance": [{"category": "Gloves", "sector": "Rubber and plastic products (25)"}]},
    {"ledger": [{"category": "Gloves", "amount": 5.0, "currency": "XYZ", "year": 2023}],
     "concordance": [{"category": "Gloves", "sector": "Rubber and plastic products (25)"}]},
    {"ledger": [{"category": "Gloves", "amount": 5.0, "currency": "NOK", "year": 2023}],
     "concordance": [{"category": "Gloves", "sector": "No such product"}]},
    {"ledger": [{"category": "Gloves", "amount": 5.0, "currency": "NOK", "year": 2023}],
     "concordance": [{"category": "Gloves", "sector": "Rubber and plastic products (25)",
                      "weight": 0.5}]},
    {"ledger": [{"category": "X", "amount": 1.0, "currency": "NOK", "year": 2023}],
     "buyer_region": "Atlantis"},
    {"ledger": [{"category": "X", "amount": 1.0, "currency": "NOK", "year": 2023}],
     "stressors": ["Unobtainium"]},
    {"ledger": []},
    {"ledger": "not a list"},
])
def test_bad_input_is_422_not_500(client, body):
    r = client.post(f"/models/{MODEL}/footprints", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_bad_csv_upload_is_422(client):
    for content in (b"", b"\xff\xfe\x00garbage", b"category,amount\nA,1\n", b'a,"b\n'):
        r = client.post(f"/models/{MODEL}/footprints/upload",
                        files={"ledger": ("l.csv", content, "text/csv")})
        assert r.status_code == 422, (content, r.text)


def test_fifty_concurrent_footprints_are_all_correct(server, api_key, data_dir):
    cats = list(dict.fromkeys(r["category"] for r in demo_ledger_rows()))[:12]
    scales = [1.0, 2.0, 0.5, 3.0, 0.25]

    def rows(scale: float) -> list[dict]:
        return [r for r in demo_ledger_rows(scale) if r["category"] in cats]

    want = {s: python_footprint(data_dir, rows(s), stressors=["CO2e"]) for s in scales}

    async def run() -> list[tuple[float, httpx.Response]]:
        async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": api_key},
                                     timeout=120.0) as c:
            async def one(i: int):
                s = scales[i % len(scales)]
                body = {"ledger": rows(s), "stressors": ["CO2e"]}
                return s, await c.post(f"/models/{MODEL}/footprints", json=body)
            return await asyncio.gather(*(one(i) for i in range(50)))

    results = asyncio.run(run())
    assert len(results) == 50
    for s, r in results:
        assert r.status_code == 200, r.text
        assert_rows_match(r.json()["rows"], want[s])


# ---- security and limits --------------------------------------------------------------------
def test_compute_needs_a_valid_key(server, anon):
    body = {"ledger": demo_ledger_rows()[:3]}
    r = anon.post(f"/models/{MODEL}/footprints", json=body)
    assert r.status_code == 401 and r.headers.get("www-authenticate") == "Bearer"
    assert r.json()["error"] == "unauthorized"
    for headers in ({"X-API-Key": "sp_000000000000_" + "x" * 43}, {"X-API-Key": "garbage"},
                    {"Authorization": "Bearer sp_123456789abc_" + "y" * 43}):
        r = anon.post(f"/models/{MODEL}/footprints", json=body, headers=headers)
        assert r.status_code == 403, headers
        assert r.json()["error"] == "forbidden"
    assert anon.post("/jobs", json={}).status_code == 401
    assert anon.get("/jobs").status_code == 401
    assert anon.get("/jobs/" + "0" * 32).status_code == 401
    assert anon.delete("/jobs/" + "0" * 32).status_code == 401


def test_bearer_token_works(anon, api_key):
    r = anon.post(f"/models/{MODEL}/footprints", json={"ledger": demo_ledger_rows()[:3]},
                  headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 200, r.text


def test_body_size_limit_is_413(client):
    big = {"ledger": demo_ledger_rows(), "pad": "x" * 1_100_000}
    r = client.post(f"/models/{MODEL}/footprints", json=big)
    assert r.status_code == 413
    assert r.json()["limit"] == "max_body_bytes" and r.json()["maximum"] == 1_000_000


def test_body_size_limit_without_content_length(client):
    def chunks():
        for _ in range(30):
            yield b"x" * 50_000

    r = client.post(f"/models/{MODEL}/footprints", content=chunks(),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["limit"] == "max_body_bytes"


def test_ledger_rows_limit_is_413(client):
    rows = [{"category": "Gloves", "amount": 1.0, "currency": "NOK", "year": 2023}] * 401
    r = client.post(f"/models/{MODEL}/footprints", json={"ledger": rows})
    assert r.status_code == 413
    body = r.json()
    assert body["limit"] == "max_ledger_rows" and body["maximum"] == 400 and body["requested"] == 401
    csv = pd.DataFrame(rows).to_csv(index=False)
    r = client.post(f"/models/{MODEL}/footprints/upload", files={"ledger": ("l.csv", csv)})
    assert r.status_code == 413 and r.json()["limit"] == "max_ledger_rows"


def test_revoked_key_is_403(client, data_dir):
    from spendprint.api.auth import KeyStore

    info, key = KeyStore(data_dir / "spendprint.sqlite").create("short-lived")
    url = f"/models/{MODEL}/footprints"
    body = {"ledger": demo_ledger_rows()[:2]}
    assert client.post(url, json=body, headers={"X-API-Key": key}).status_code == 200
    out = subprocess.run([sys.executable, "-m", "spendprint.cli", "apikey", "revoke", info.id,
                          "--data-dir", str(data_dir)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert client.post(url, json=body, headers={"X-API-Key": key}).status_code == 403
    # the stored row holds a salted hash, never the key
    import sqlite3

    with sqlite3.connect(data_dir / "spendprint.sqlite") as con:
        dump = "\n".join(con.iterdump())
    assert key[16:] not in dump and len(key[16:]) >= 40  # sp_ + 12 hex + _ + secret


def test_settings_precedence(tmp_path):
    from spendprint.api.settings import Settings
    from spendprint.errors import ValidationError

    (tmp_path / "settings.toml").write_text("max_samples = 7\npublic_reads = false\n")
    s = Settings.load(tmp_path, environ={"SPENDPRINT_MAX_SAMPLES": "9"})
    assert s.max_samples == 9 and s.public_reads is False
    assert Settings.load(tmp_path, environ={}, max_samples=11).max_samples == 11
    with pytest.raises(ValidationError, match="unknown setting"):
        Settings.load(tmp_path, environ={}, nonsense=1)
    with pytest.raises(ValidationError, match="max_samples"):
        Settings.load(tmp_path, environ={"SPENDPRINT_MAX_SAMPLES": "many"})


# ---- schemathesis: no request produces a server error ----------------------------------------
def _served_schema() -> dict:
    """The OpenAPI document the server publishes (the same app, built here so that pytest can
    collect one test per operation; ``test_schema_is_the_served_one`` checks they agree)."""
    import tempfile

    from spendprint.api.app import create_app
    from spendprint.api.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        return create_app(Settings.load(tmp, blas_threads=0)).openapi()


try:
    import schemathesis
    from hypothesis import HealthCheck, settings
    from schemathesis.checks import not_a_server_error
except ImportError:  # pragma: no cover - schemathesis is a test extra
    schemathesis = None

if schemathesis is not None:
    SCHEMA = _served_schema()
    schema = schemathesis.openapi.from_dict(SCHEMA)

    def test_schema_is_the_served_one(anon):
        assert anon.get("/openapi.json").json() == SCHEMA

    @schema.parametrize()
    @settings(max_examples=20, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def test_schemathesis_no_server_errors(case, server, data_dir):
        key = _schemathesis_key(data_dir)
        case.call_and_validate(base_url=server.url, headers={"X-API-Key": key},
                               checks=[not_a_server_error], timeout=60)


@functools.lru_cache(maxsize=1)
def _schemathesis_key(data_dir: Path) -> str:
    from spendprint.api.auth import KeyStore

    return KeyStore(data_dir / "spendprint.sqlite").create("schemathesis")[1]
