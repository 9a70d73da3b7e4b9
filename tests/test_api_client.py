"""A Python client generated from the served ``/openapi.json`` (openapi-python-client) against a
real ``spendprint serve`` on 127.0.0.1: successes and every error code parse into the declared
models; the HTTP jobs use the shipped default uncertainty and say when a spec is certain; xlsx
and Parquet uploads give the same footprints as CSV.

Runs offline: the generator's post hooks (ruff/black formatting) are switched off.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import shutil
import subprocess
import sys
import time

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.test_api import (
    Server,
    create_key,
    demo_ledger_rows,
    make_data_dir,
    python_footprint,
)

LIMITS = """\
public_reads = true
max_body_bytes = 60000
max_ledger_rows = 400
max_samples = 500
max_jobs_per_key = 4
job_workers = 1
"""

GENERATOR = shutil.which("openapi-python-client") or shutil.which(
    "openapi-python-client", path=str(__import__("pathlib").Path(sys.executable).parent))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = make_data_dir(tmp_path_factory.mktemp("api-client"), LIMITS)
    key = create_key(root)
    srv = Server(root).start()
    yield srv, key, root
    srv.stop()


@pytest.fixture(scope="module")
def gen(served, tmp_path_factory):
    """The generated package ``spendprint_client``, imported from a temporary folder."""
    if GENERATOR is None:
        pytest.skip("openapi-python-client is not installed (test extra)")
    srv, _, _ = served
    work = tmp_path_factory.mktemp("client")
    (work / "openapi.json").write_bytes(httpx.get(f"{srv.url}/openapi.json").content)
    (work / "config.yaml").write_text("post_hooks: []\n")  # no ruff/black runs: offline
    out = subprocess.run([GENERATOR, "generate", "--path", str(work / "openapi.json"),
                          "--output-path", str(work / "spendprint_client"), "--meta", "none",
                          "--config", str(work / "config.yaml"), "--fail-on-warning"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module("spendprint_client")
    finally:
        sys.path.remove(str(work))
        for name in [m for m in sys.modules if m.startswith("spendprint_client")]:
            del sys.modules[name]


def _mod(gen, path: str):
    return importlib.import_module(f"spendprint_client.{path}")


def _clients(gen, served):
    srv, key, _ = served
    return (gen.Client(base_url=srv.url, raise_on_unexpected_status=True),
            gen.AuthenticatedClient(base_url=srv.url, token=key, raise_on_unexpected_status=True))


def _request(gen, rows, **extra):
    models = _mod(gen, "models")
    return models.FootprintRequest.from_dict({"ledger": rows, "stressors": ["CO2e", "CO2"],
                                              **extra})


def test_operation_ids_are_readable(served):
    srv, _, _ = served
    schema = httpx.get(f"{srv.url}/openapi.json").json()
    ids = {op["operationId"] for ops in schema["paths"].values() for op in ops.values()}
    assert {"list_models", "get_model", "get_multipliers", "post_footprints", "upload_footprints",
            "submit_job", "get_job", "get_job_results", "get_job_table", "cancel_job",
            "list_jobs", "get_health"} <= ids
    for ops in schema["paths"].values():  # one error model everywhere, no FastAPI default left
        for op in ops.values():
            for code, resp in op["responses"].items():
                if code.startswith(("4", "5")):
                    ref = resp["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (op["operationId"], code)
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_success_and_errors_parse(gen, served):
    srv, _, root = served
    anon, auth = _clients(gen, served)
    models = _mod(gen, "models")
    ErrorBody = models.ErrorBody

    r = _mod(gen, "api.models.list_models").sync_detailed(client=anon)
    assert r.status_code == 200 and isinstance(r.parsed, models.ModelList)
    assert r.parsed.models[0].name == "demo" and r.parsed.models[0].n == 8 * 60

    r = _mod(gen, "api.models.get_model").sync_detailed("no-such-model", client=anon)
    assert r.status_code == 404 and isinstance(r.parsed, ErrorBody)
    assert r.parsed.error == "not_found" and "no-such-model" in r.parsed.detail

    rows = demo_ledger_rows()
    post = _mod(gen, "api.footprints.post_footprints")
    r = post.sync_detailed("demo", client=anon, body=_request(gen, rows))
    assert r.status_code == 401 and isinstance(r.parsed, ErrorBody)
    assert r.parsed.error == "unauthorized"

    r = post.sync_detailed("demo", client=auth, body=_request(gen, rows))
    assert r.status_code == 200 and isinstance(r.parsed, models.FootprintResponse)
    ref = python_footprint(root, rows, stressors=["CO2e", "CO2"])
    for row in r.parsed.rows:  # typed fields, equal to the Python API
        assert isinstance(row.footprint, float) and isinstance(row.rank, int)
        want = ref.sel(category=row.category, stressor=row.stressor)
        np.testing.assert_allclose(row.footprint, float(want["footprint"]), rtol=1e-12)
        np.testing.assert_allclose(row.spend, float(want["spend"]), rtol=1e-12)
        assert row.unit == str(want["unit"].values)

    # 422 from the library (a category the concordance lacks): problems listed
    bad = [{**rows[0], "category": "no such category"}]
    r = post.sync_detailed("demo", client=auth, body=_request(gen, bad))
    assert r.status_code == 422 and isinstance(r.parsed, ErrorBody)
    assert r.parsed.error == "invalid_input" and r.parsed.problems
    # 422 from request validation (year out of range): the schema problems, typed
    r = post.sync_detailed("demo", client=auth, body=_request(gen, [{**rows[0], "year": 1800}]))
    assert r.status_code == 422 and isinstance(r.parsed, ErrorBody)
    assert r.parsed.error == "invalid_request"
    assert isinstance(r.parsed.errors[0], models.ValidationIssue)
    assert "year" in [str(p) for p in r.parsed.errors[0].loc]
    # 413: a body above max_body_bytes
    big = demo_ledger_rows() * 40
    r = post.sync_detailed("demo", client=auth, body=_request(gen, big))
    assert r.status_code == 413 and isinstance(r.parsed, ErrorBody)
    assert r.parsed.error == "limit_exceeded" and r.parsed.limit == "max_body_bytes"
    assert r.parsed.maximum == 60000


def _wait(gen, auth, job_id: str, timeout: float = 240.0):
    get_job = _mod(gen, "api.jobs.get_job")
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = get_job.sync_detailed(job_id, client=auth).parsed
        seen.append((st.status.value, st.stage, st.samples_done))
        if st.status.value in ("done", "failed", "cancelled"):
            return st, seen
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {seen[-5:]}")


def test_jobs_default_uncertainty_and_certain_warning(gen, served):
    _, auth = _clients(gen, served)
    models = _mod(gen, "models")
    submit = _mod(gen, "api.jobs.submit_job")
    table = _mod(gen, "api.jobs.get_job_table")
    rows = demo_ledger_rows()[:4]
    base = {"model": "demo", "ledger": rows, "stressors": ["CO2e"], "samples": 32, "seed": 3}

    r = submit.sync_detailed(client=auth, body=models.JobRequest.from_dict(base))
    assert r.status_code == 202 and isinstance(r.parsed, models.JobStatus)
    assert r.parsed.warning is None or isinstance(r.parsed.warning, type(models.UNSET)) or \
        not r.parsed.warning
    assert isinstance(r.parsed.created, dt.datetime) and r.parsed.created.tzinfo is not None
    assert r.parsed.samples_total == 32
    default_id = r.parsed.id
    r = submit.sync_detailed(client=auth, body=models.JobRequest.from_dict(
        {**base, "uncertainty": {}}))
    assert r.status_code == 202
    assert r.parsed.warning == ("the uncertainty specification leaves every parameter certain; "
                                "the spread is zero")
    certain_id = r.parsed.id

    st, seen = _wait(gen, auth, default_id)
    assert st.status.value == "done", st.error
    assert st.samples_done == 32 and st.stage == "done" and st.progress == 1.0
    assert isinstance(st.finished, dt.datetime) and st.finished >= st.started >= st.created
    t = table.sync_detailed(default_id, client=auth)
    assert t.status_code == 200 and isinstance(t.parsed, models.JobTable)
    trow = t.parsed.rows[0]
    assert isinstance(trow, models.JobTableRow) and trow.unit
    # the default perturbs A, S, spend and composition: a real spread (not 1e-11)
    assert all(r.sd > 0.01 * r.mean for r in t.parsed.rows)
    assert "p2.5" in trow.additional_properties or "p5" in trow.additional_properties

    st, _ = _wait(gen, auth, certain_id)
    assert st.status.value == "done", st.error
    assert st.warning and "certain" in st.warning
    t = table.sync_detailed(certain_id, client=auth).parsed
    for r in t.rows:
        assert r.sd <= 1e-9 * abs(r.mean)
        np.testing.assert_allclose(r.mean, r.deterministic, rtol=1e-9)

    # 409 for a result not there yet is an ErrorBody too; 404 for an unknown job
    r = _mod(gen, "api.jobs.get_job").sync_detailed("0" * 32, client=auth)
    assert r.status_code == 404 and isinstance(r.parsed, models.ErrorBody)
    # the flat table as CSV and Parquet equals the JSON records
    srv, key, _ = served
    h = {"X-API-Key": key}
    csv = pd.read_csv(io.StringIO(httpx.get(f"{srv.url}/jobs/{default_id}/table?format=csv",
                                            headers=h).text))
    pq = pd.read_parquet(io.BytesIO(httpx.get(f"{srv.url}/jobs/{default_id}/table?format=parquet",
                                              headers=h).content))
    js = httpx.get(f"{srv.url}/jobs/{default_id}/table", headers=h).json()["rows"]
    assert len(csv) == len(pq) == len(js)
    np.testing.assert_allclose(csv["sd"], [r["sd"] for r in js], rtol=1e-12)
    np.testing.assert_allclose(pq["mean"], [r["mean"] for r in js], rtol=0)


def test_xlsx_and_parquet_uploads_equal_csv(served):
    srv, key, _ = served
    h = {"X-API-Key": key}
    df = pd.DataFrame(demo_ledger_rows())
    csv = df.to_csv(index=False).encode()
    xlsx = io.BytesIO()
    df.to_excel(xlsx, index=False, sheet_name="spend")
    parquet = io.BytesIO()
    df.to_parquet(parquet, index=False)  # typed columns, nulls where a row has no value
    from spendprint.procurement.demo import demo_inputs

    conc = demo_inputs()[1].frame.reset_index(drop=True)
    conc_pq = io.BytesIO()
    conc.astype({"weight": float}).to_parquet(conc_pq, index=False)

    def post(files, data=None):
        r = httpx.post(f"{srv.url}/models/demo/footprints/upload", headers=h, files=files,
                       data={"stressors": "CO2e", **(data or {})}, timeout=60)
        assert r.status_code == 200, r.text
        return pd.DataFrame(r.json()["rows"]).set_index("category")["footprint"]

    ref = post({"ledger": ("ledger.csv", csv)})
    got_x = post({"ledger": ("ledger.xlsx", xlsx.getvalue())}, {"sheet": "spend"})
    got_p = post({"ledger": ("ledger.parquet", parquet.getvalue()),
                  "concordance_file": ("conc.parquet", conc_pq.getvalue())})
    pd.testing.assert_series_equal(got_x.loc[ref.index], ref, rtol=1e-12)
    pd.testing.assert_series_equal(got_p.loc[ref.index], ref, rtol=1e-12)
    # other headers mapped with the `columns` form field (as Ledger.read(columns=...))
    renamed = df.rename(columns={"amount": "Sum NOK", "category": "Gruppe"}).to_csv(index=False)
    got_c = post({"ledger": ("mine.csv", renamed.encode())},
                 {"columns": "Sum NOK=amount,Gruppe=category"})
    pd.testing.assert_series_equal(got_c.loc[ref.index], ref, rtol=1e-12)
    # a file named .xlsx that is not one, and a missing sheet: 422 naming the file
    for files, data in ((("ledger", ("x.xlsx", csv)),), None), (
            (("ledger", ("l.xlsx", xlsx.getvalue())),), {"sheet": "nope"}):
        r = httpx.post(f"{srv.url}/models/demo/footprints/upload", headers=h, files=dict(files),
                       data=data or {}, timeout=60)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "invalid_input" and ".xlsx" in r.json()["detail"]


def test_docs_are_served_from_installed_files(served):
    srv, _, _ = served
    page = httpx.get(f"{srv.url}/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert httpx.get(f"{srv.url}/docs-assets/swagger-ui-bundle.js").status_code == 200
    redoc = httpx.get(f"{srv.url}/redoc").text
    assert "/docs-assets/redoc.standalone.js" in redoc and "fonts.googleapis" not in redoc
    r = httpx.get(f"{srv.url}/no/such/route")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
