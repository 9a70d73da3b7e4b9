"""Issue 17 over HTTP against a real uvicorn server: limits, errors, files, CORS, docs, fuzz, load."""

from __future__ import annotations

import os
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from .test_api import LIMITS, MODEL, Server, demo_ledger_rows, make_data_dir

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = LIMITS + 'cors_origins = ["https://dash.example.org"]\nmax_sample_cells = 20000\n'


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    data = make_data_dir(tmp_path_factory.mktemp("hard") / "data", SETTINGS)
    from spendprint.api.auth import KeyStore

    key = KeyStore(data / "spendprint.sqlite").create("hardening")[1]
    srv = Server(data).start()
    yield {"data": data, "key": key, "server": srv}
    srv.stop()


@pytest.fixture(scope="module")
def client(env):
    with httpx.Client(base_url=env["server"].url, headers={"X-API-Key": env["key"]},
                      timeout=60.0) as c:
        yield c


def body(**kw) -> dict:
    return {"ledger": demo_ledger_rows()[:6], "concordance": "demo", "stressors": ["CO2e"], **kw}


# ---- uploads: bounded header work, header-only files -------------------------------------------
def test_wide_header_upload_is_413_at_once(client):
    csv = (",".join(f"c{i}" for i in range(400_000)) + "\n").encode()  # 2.6 MB, one line
    t = time.perf_counter()
    r = client.post(f"/models/{MODEL}/footprints/upload",
                    files={"ledger": ("wide.csv", csv[:900_000], "text/csv")})
    dt = time.perf_counter() - t
    assert r.status_code == 413, r.text[:500]
    assert dt < 10  # was 13 minutes of CPU for 400,000 columns


def test_header_only_upload_is_422_not_500(client):
    r = client.post(f"/models/{MODEL}/footprints/upload",
                    files={"ledger": ("h.csv", b"category,amount,currency,year\n", "text/csv")})
    assert r.status_code == 422, r.text[:500]
    assert "no data rows" in r.json()["detail"]


def test_empty_stressor_list_is_422(client):
    r = client.post(f"/models/{MODEL}/footprints", json=body(stressors=[]))
    assert r.status_code == 422 and "concatenate" not in r.text
    r = client.post("/jobs", json={**body(stressors=[]), "model": MODEL, "samples": 4})
    assert r.status_code == 422


def test_values_echoed_in_errors_are_truncated(client):
    huge = "x" * 600_000  # below max_body_bytes = 1e6
    rows = demo_ledger_rows()[:2]
    rows[0] = {**rows[0], "category": huge}
    r = client.post(f"/models/{MODEL}/footprints", json=body(ledger=rows))
    assert r.status_code == 422
    assert len(r.content) < 20_000, len(r.content)  # was twice the input
    r = client.get(f"/models/{MODEL}/multipliers", params={"stressor": huge[:6000]})
    assert r.status_code == 422 and len(r.content) < 20_000


# ---- jobs: size limits, deletion, files ---------------------------------------------------------
def test_job_beyond_samples_x_categories_is_413(client):
    r = client.post("/jobs", json={**body(), "model": MODEL, "samples": 500,
                                   "ledger": demo_ledger_rows()})
    assert r.status_code == 413, r.text[:500]
    assert r.json()["limit"] == "max_sample_cells" and r.json()["requested"] > 20_000


def _wait(client, job_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = client.get(f"/jobs/{job_id}").json()
        if s["status"] in ("done", "failed", "cancelled"):
            return s
        time.sleep(0.2)
    raise AssertionError(s)


def test_job_files_private_result_streamed_and_deletable(env, client):
    r = client.post("/jobs", json={**body(), "model": MODEL, "samples": 32, "chunk_size": 16,
                                   "uncertainty": {"a_rsd": 0.1, "s_rsd": 0.1}})
    assert r.status_code == 202, r.text[:500]
    job_id = r.json()["id"]
    s = _wait(client, job_id)
    assert s["status"] == "done", s
    assert "flagged" in s["message"]
    data = env["data"]
    assert stat.S_IMODE(os.stat(data / "spendprint.sqlite").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data / "jobs").st_mode) == 0o700
    wdir = data / "jobs" / job_id
    assert stat.S_IMODE(os.stat(wdir).st_mode) == 0o700
    for f in ("samples.parquet", "summary.json", "worker.log"):
        assert stat.S_IMODE(os.stat(wdir / f).st_mode) == 0o600, f
    # CSV streamed in batches equals the Parquet file row for row
    import io

    import pandas as pd

    csv = client.get(f"/jobs/{job_id}/result", params={"format": "csv"})
    pq = client.get(f"/jobs/{job_id}/result", params={"format": "parquet"})
    assert csv.status_code == pq.status_code == 200
    a = pd.read_csv(io.StringIO(csv.text))
    b = pd.read_parquet(io.BytesIO(pq.content))
    assert len(a) == len(b) and len(a) % 32 == 0 and len(a) > 0
    np.testing.assert_allclose(a["footprint"].to_numpy(), b["footprint"].to_numpy(), rtol=1e-15)
    # a finished job can be deleted: row and files go
    r = client.delete(f"/jobs/{job_id}")
    assert r.status_code == 200 and r.json()["message"] == "deleted"
    assert client.get(f"/jobs/{job_id}").status_code == 404 and not wdir.exists()


def test_retention_purges_finished_jobs(tmp_path):
    from spendprint.api.job_store import JobManager, JobStore

    store = JobStore(tmp_path / "db.sqlite")
    old = store.submit("k", "footprint", MODEL, {}, 5)["id"]
    new = store.submit("k", "footprint", MODEL, {}, 5)["id"]
    for _ in (old, new):
        assert store.claim_next() in (old, new)
    store.finish(old, "done")
    store.finish(new, "done")
    (tmp_path / "jobs" / old).mkdir(parents=True)
    with __import__("spendprint.api.db", fromlist=["connect"]).connect(store.db_path) as con:
        con.execute("UPDATE jobs SET finished = ? WHERE id = ?", (time.time() - 3600, old))
    mgr = JobManager(store, tmp_path, tmp_path / "jobs", retention_s=600)
    assert mgr.purge(force=True) == [old]
    assert store.get(old) is None and store.get(new) is not None
    assert not (tmp_path / "jobs" / old).exists()
    assert JobManager(store, tmp_path, tmp_path / "jobs", retention_s=0).purge(force=True) == []


# ---- CORS and docs -----------------------------------------------------------------------------
def test_cors_only_for_configured_origins(client):
    ok = client.options("/models", headers={"Origin": "https://dash.example.org",
                                            "Access-Control-Request-Method": "GET"})
    assert ok.headers.get("access-control-allow-origin") == "https://dash.example.org"
    bad = client.get("/models", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in bad.headers


def test_cors_off_by_default(tmp_path):
    from fastapi.testclient import TestClient

    from spendprint.api.app import create_app
    from spendprint.api.settings import Settings

    with TestClient(create_app(Settings.load(tmp_path))) as c:
        r = c.get("/health", headers={"Origin": "https://dash.example.org"})
        assert "access-control-allow-origin" not in r.headers


def test_docs_load_nothing_from_a_cdn(client):
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "cdn." not in html and "googleapis" not in html and "jsdelivr" not in html
        for ref in [p.split('"')[1] for p in html.split("src=")[1:]]:
            assert ref.startswith("/docs-assets/"), ref
            r = client.get(ref)
            assert r.status_code == 200 and len(r.content) > 100_000


# ---- fuzz: no input gives a 500 ---------------------------------------------------------------
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
cell = st.one_of(text, st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20),
                 st.none(), st.booleans())
ledger_row = st.fixed_dictionaries(
    {"category": st.one_of(st.sampled_from(["Examination gloves", "Food - meat"]), text),
     "amount": st.one_of(st.floats(allow_nan=False, width=64), st.integers(-10, 10**30),
                         st.just(1e308), text),
     "currency": st.one_of(st.sampled_from(["NOK", "EUR", "USD"]), text),
     "year": st.one_of(st.integers(1900, 2100), cell)},
    optional={"supplier_country": st.one_of(st.sampled_from(["NO", "DE", "CN"]), text),
              "price_basis": st.one_of(st.sampled_from(["purchaser", "basic"]), text)})
conc_row = st.fixed_dictionaries({"category": text, "sector": text,
                                  "weight": st.one_of(st.floats(), st.integers(), text)},
                                 optional={"origin_region": st.one_of(st.just("NO"), text)})
uncertainty = st.dictionaries(
    st.sampled_from(["a_rsd", "s_rsd", "spend_rsd", "dirichlet", "a_size_rule", "a_size_range",
                     "correlation", "bogus"]),
    st.one_of(cell, st.lists(cell, max_size=3), st.dictionaries(text, cell, max_size=2)),
    max_size=3)
def post_json(client, url: str, payload):
    """POST ``payload`` as JSON text as Python writes it: NaN and Infinity literals included
    (json.loads on the server accepts them, so the server must cope)."""
    import json

    return client.post(url, content=json.dumps(payload).encode(),
                       headers={"Content-Type": "application/json"})


FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


@FUZZ
@given(rows=st.lists(ledger_row, min_size=0, max_size=4))
def test_fuzz_ledgers_never_500(client, rows):
    r = post_json(client, f"/models/{MODEL}/footprints", body(ledger=rows))
    assert r.status_code < 500, (r.status_code, r.text[:800], rows)
    if r.status_code == 200:  # never a wrong number with 200
        for row in r.json()["rows"]:
            assert row["footprint"] is not None and np.isfinite(row["footprint"]), row


@FUZZ
@given(conc=st.lists(conc_row, min_size=0, max_size=3))
def test_fuzz_concordances_never_500(client, conc):
    r = post_json(client, f"/models/{MODEL}/footprints", body(concordance=conc))
    assert r.status_code < 500, (r.status_code, r.text[:800], conc)


@FUZZ
@given(unc=uncertainty)
def test_fuzz_uncertainty_never_500(client, unc):
    r = post_json(client, "/jobs", {**body(), "model": MODEL, "samples": 2, "uncertainty": unc})
    assert r.status_code < 500, (r.status_code, r.text[:800], unc)
    if r.status_code == 202:
        client.delete(f"/jobs/{r.json()['id']}")


# ---- bounded load test ----------------------------------------------------------------------
def test_load_200_requests_50_threads(env, capsys):
    url = env["server"].url
    headers = {"X-API-Key": env["key"]}
    local = threading.local()
    req = body(ledger=demo_ledger_rows()[:3])

    def one(i: int) -> tuple[float, int]:
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = httpx.Client(base_url=url, headers=headers, timeout=120.0)
        t = time.perf_counter()
        if i % 4 == 0:
            r = c.post(f"/models/{MODEL}/footprints", json=req)
        elif i % 4 == 1:
            r = c.get(f"/models/{MODEL}/multipliers", params={"stressor": "CO2e", "region": "NO"})
        else:
            r = c.get("/models" if i % 4 == 2 else "/health")
        return time.perf_counter() - t, r.status_code

    client0 = httpx.Client(base_url=url, headers=headers, timeout=120.0)
    client0.get(f"/models/{MODEL}/multipliers", params={"stressor": "CO2e"})  # warm the model
    client0.close()
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(200)))
    lat = np.array([r[0] for r in results])
    codes = [r[1] for r in results]
    assert all(c == 200 for c in codes), sorted(set(codes))
    p50, p99 = np.percentile(lat, [50, 99])
    with capsys.disabled():
        print(f"\nload test: 200 requests, 50 threads: p50 {1000 * p50:.1f} ms, "
              f"p99 {1000 * p99:.1f} ms, max {1000 * lat.max():.1f} ms")
