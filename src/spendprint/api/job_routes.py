"""Routes of Monte Carlo jobs: submit, list, status, result, cancel or delete (see ``job_store``).

Bounded work: a Monte Carlo job is refused at submission (413) when samples x categories x
indicators exceed ``max_sample_cells`` or its memory estimate exceeds ``job_memory_budget``;
results are streamed from disk (CSV in row batches, Parquet as the file) and refused (413) above
``max_result_bytes``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Response

from .auth import KeyInfo
from .http_errors import ApiError, LimitExceeded, error_responses
from .inputs import ledger_rows_of, resolve
from .job_store import ACTIVE, JobManager, JobStore, job_dir
from .schemas import JobList, JobRequest, JobStatus, JobTable
from .tables import Format, long_table, negotiate, records, table_response

if TYPE_CHECKING:
    from .app import AppState


def _utc(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(float(t), tz=UTC)


def _status(row: dict[str, Any]) -> JobStatus:
    base = f"/jobs/{row['id']}"
    return JobStatus(**{k: row[k] for k in ("id", "kind", "model", "status", "progress", "message",
                                            "error", "attempts")},
                     stage=row.get("stage"), samples_done=row.get("samples_done"),
                     samples_total=row.get("samples_total"), warning=row.get("warning"),
                     created=_utc(row["created"]), started=_utc(row.get("started")),
                     finished=_utc(row.get("finished")),
                     links={"self": base, "result": f"{base}/result", "table": f"{base}/table"})


def _frame_rows(df) -> list[dict[str, Any]]:
    return records(df.reset_index(drop=True))


def snapshot(state: AppState, req: JobRequest) -> dict[str, Any]:
    """Validate the job's inputs against the model now (422 at submission, not a failed job later)
    and freeze them, so that a resumed job computes from exactly what was submitted."""
    from ..procurement import procurement_demand
    from .worker import payloads, uncertainty_from

    kinds = payloads()
    if req.kind not in kinds:
        raise ApiError(422, "invalid_input", f"job kind {req.kind!r} is not available in this "
                                             f"server (available: {sorted(kinds)})")
    ledger, concordance, prices = resolve(state, req)
    with state.computing():
        mrio = state.models.get(req.model)
        y = procurement_demand(mrio, ledger, concordance, prices=prices,
                               buyer_region=req.buyer_region)
    if req.stressors:
        mrio.indicator_positions(list(req.stressors))
    if req.kind == "monte_carlo":
        uncertainty_from(req.uncertainty)  # raises on bad parameters
        check_job_size(state, mrio, y, req)
    return {
        "ledger": ledger_rows_of(ledger),
        "concordance": _frame_rows(concordance.frame),
        "prices": {k: _frame_rows(getattr(prices, k))
                   for k in ("rates", "index", "margins", "margin_sectors")},
        "buyer_region": req.buyer_region,
        "stressors": list(req.stressors) if req.stressors else None,
        "samples": req.samples, "seed": req.seed, "chunk_size": req.chunk_size,
        # None: the shipped default (resolved by the worker); {}: everything certain
        "uncertainty": req.uncertainty,
    }


#: Monte Carlo samples of a job that does not say.
DEFAULT_SAMPLES = 1000
#: Rows of a CSV result streamed per batch.
CSV_BATCH_ROWS = 65_536
#: Bytes per CSV row assumed when estimating a download (labels and a float of 17 digits).
CSV_ROW_BYTES = 48


def check_job_size(state: AppState, mrio, y, req: JobRequest) -> None:
    """413 when the job's samples x categories x indicators or its memory estimate are too big."""
    from ..uncertainty.montecarlo import estimate_memory

    settings = state.settings
    m = int(y.sizes.get("category", 1)) if hasattr(y, "sizes") else 1
    k = len(req.stressors) if req.stressors else len(mrio.indicators)
    cells = int(req.samples or DEFAULT_SAMPLES) * m * k
    if cells > settings.max_sample_cells:
        raise LimitExceeded(413, "max_sample_cells", settings.max_sample_cells, cells,
                            f"samples x categories x indicators ({req.samples} x {m} x {k})")
    need = estimate_memory(mrio, y, int(req.samples or DEFAULT_SAMPLES), req.chunk_size,
                           stressors=list(req.stressors) if req.stressors else None)
    if need > settings.job_memory_budget:
        raise LimitExceeded(413, "job_memory_budget", settings.job_memory_budget, need,
                            "the job's estimated Monte Carlo memory (bytes)")

def summary_table(summary: dict[str, Any]):
    """A job's ``summary.json`` (``xarray.Dataset.to_dict``) as a flat table: one row per
    (stressor, category); ``percentiles`` (quantile, ...) become columns ``p<100 q>``; variables
    with other dims are left out (they stay in ``/result``)."""
    import xarray as xr

    ds = xr.Dataset.from_dict(summary)
    dims = tuple(d for d in ("stressor", "category") if d in ds.dims)
    if "percentiles" in ds and "quantile" in ds["percentiles"].dims:
        for q in ds["quantile"].to_numpy():
            ds[f"p{float(q) * 100:g}"] = ds["percentiles"].sel(quantile=q, drop=True)
        ds = ds.drop_vars("percentiles")
    ds = ds.drop_vars([v for v in ds.data_vars if not set(ds[v].dims) <= set(dims)])
    return long_table(ds, dims)


FormatQ = Annotated[Format | None, Query(description="json (records), csv or parquet; default "
                                                     "from Accept, else json.")]
ResultFormatQ = Annotated[Format | None, Query(description="json: summaries; csv or parquet: the "
                                                           "samples.")]
AcceptH = Annotated[str | None, Header(include_in_schema=False)]


def install(app: FastAPI, state: AppState, require_key) -> None:
    settings = state.settings
    store = JobStore(settings.db_path)
    manager = JobManager(store, settings.data_dir, settings.jobs_dir, workers=settings.job_workers,
                         threads=settings.job_threads, retention_s=settings.job_retention_s)
    state.jobs = manager
    writer = Depends(require_key)

    def own(job_id: str, key: KeyInfo) -> dict[str, Any]:
        job_dir(settings.jobs_dir, job_id)  # validates the id
        row = store.get(job_id)
        if row is None or row["key_id"] != key.id:
            raise ApiError(404, "not_found", f"no job {job_id!r} for this API key")
        return row

    @app.post("/jobs", response_model=JobStatus, status_code=202, tags=["jobs"],
              responses=error_responses(401, 403, 404, 413, 422, 429))
    def submit_job(body: JobRequest, response: Response, key: KeyInfo = writer) -> JobStatus:
        """Submit a Monte Carlo job; returns its id at once (202). Poll ``GET /jobs/{id}``."""
        if body.kind == "monte_carlo":
            body.samples = body.samples or DEFAULT_SAMPLES
            if body.samples > settings.max_samples:
                raise LimitExceeded(422, "max_samples", settings.max_samples, body.samples,
                                    "the number of samples")
        active = [j for j in store.list(key.id, limit=1000) if j["status"] in ACTIVE]
        if len(active) >= settings.max_jobs_per_key:  # cheap early refusal; submit re-checks
            raise LimitExceeded(429, "max_jobs_per_key", settings.max_jobs_per_key,
                                len(active) + 1, "the number of queued and running jobs of this "
                                                 "API key")
        state.models.path(body.model)
        spec = snapshot(state, body)
        warning = None
        if body.kind == "monte_carlo":
            from .worker import CERTAIN_WARNING, uncertainty_from

            if uncertainty_from(body.uncertainty).is_certain:
                warning = CERTAIN_WARNING
        row = store.submit(key.id, body.kind, body.model, spec, settings.max_jobs_per_key,
                           warning=warning,
                           samples_total=body.samples if body.kind == "monte_carlo" else None)
        manager.wake()
        response.headers["Location"] = f"/jobs/{row['id']}"
        return _status(row)

    @app.get("/jobs", response_model=JobList, tags=["jobs"], responses=error_responses(401, 403))
    def list_jobs(key: KeyInfo = writer) -> JobList:
        """The latest 100 jobs of this API key, newest first."""
        return JobList(jobs=[_status(r) for r in store.list(key.id)])

    one = error_responses(401, 403, 404, 422)

    @app.get("/jobs/{job_id}", response_model=JobStatus, tags=["jobs"], responses=one)
    def get_job(job_id: str, key: KeyInfo = writer) -> JobStatus:
        """Status and progress (0-1) of a job."""
        return _status(own(job_id, key))

    @app.delete("/jobs/{job_id}", response_model=JobStatus, tags=["jobs"], responses=one)
    def cancel_job(job_id: str, key: KeyInfo = writer) -> JobStatus:
        """Cancel a queued or running job; delete a finished one and its files (it is then 404).

        The answer is the job's last status (``cancelled`` for an active job; for a finished one
        its final status with ``message = "deleted"``).
        """
        row = own(job_id, key)
        previous = store.cancel(job_id)
        if previous in ACTIVE:
            manager.cancel(job_id)
            return _status(store.get(job_id) or row)
        if not manager.delete(job_id):  # deleted meanwhile by another request or the retention
            raise ApiError(404, "not_found", f"no job {job_id!r} for this API key")
        return _status({**row, "message": "deleted"})

    results = {**one, **error_responses(409, 413)}

    def finished(job_id: str, key: KeyInfo):
        """(row, work dir) of a finished job of ``key`` (409 while it is not done)."""
        row = own(job_id, key)
        if row["status"] != "done":
            raise ApiError(409, "conflict", f"job {job_id} is {row['status']}"
                           + (f": {row['error']}" if row.get("error") else "")
                           + ("" if row["status"] in ("failed", "cancelled") else
                              f" (progress {row['progress']:.0%}); poll GET /jobs/{job_id}"),
                           job_status=row["status"])
        wdir = job_dir(settings.jobs_dir, job_id)
        if not (wdir / "summary.json").is_file():
            raise ApiError(404, "not_found", f"the result files of job {job_id} are missing from "
                                             "the data directory")
        return row, wdir

    @app.get("/jobs/{job_id}/table", response_model=JobTable, tags=["jobs"],
             responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}},
                        **results})
    def get_job_table(job_id: str, format: FormatQ = None, accept: AcceptH = None,
                      key: KeyInfo = writer):
        """The summaries of a finished job as one flat table: a row per (indicator, category).

        Monte Carlo: ``deterministic``, ``mean``, ``sd``, one column per percentile (``p2.5``,
        ``p50``, ...), rank bounds and probabilities, Monte Carlo standard errors, the ``unit``;
        a footprint job: the columns of a footprint row. JSON records, CSV or Parquet
        (``?format=`` or ``Accept``).
        """
        row, wdir = finished(job_id, key)
        df = summary_table(json.loads((wdir / "summary.json").read_text()))
        return table_response(df, negotiate(format, accept),
                              {"id": job_id, "kind": row["kind"], "model": row["model"]},
                              filename=f"job-{job_id}-table")

    @app.get("/jobs/{job_id}/result", tags=["jobs"],
             responses={200: {"content": {"application/json": {}, "text/csv": {},
                                          "application/vnd.apache.parquet": {}},
                              "description": "JSON: {id, kind, model, summary} with the summary "
                                             "in xarray.Dataset.to_dict form; CSV/Parquet: the "
                                             "samples."},
                        **results})
    def get_job_results(job_id: str, format: ResultFormatQ = None, accept: AcceptH = None,
                        key: KeyInfo = writer):
        """Results of a finished job.

        JSON: the summaries (every variable without a ``sample`` dim) in
        ``xarray.Dataset.to_dict`` form (``xr.Dataset.from_dict`` rebuilds them). CSV/Parquet:
        the per-sample footprints as a long table (the summaries when the job has no samples).
        """
        row, wdir = finished(job_id, key)
        fmt = negotiate(format, accept)
        if fmt is Format.json:
            summary = (wdir / "summary.json").read_bytes()
            head = json.dumps({"id": job_id, "kind": row["kind"], "model": row["model"]})[:-1]
            return Response(content=head.encode() + b',"summary":' + summary + b"}",
                            media_type="application/json")
        samples = wdir / "samples.parquet"
        if samples.exists():
            return stream_samples(samples, fmt, job_id, settings.max_result_bytes)
        else:
            import xarray as xr

            ds = xr.Dataset.from_dict(json.loads((wdir / "summary.json").read_text()))
            df = long_table(ds, tuple(ds.dims))
        return table_response(df, fmt, filename=f"job-{job_id}")


def stream_samples(path, fmt: Format, job_id: str, max_bytes: int):
    """The per-sample table of a job, streamed from its Parquet file (memory: one row batch)."""
    import pyarrow.parquet as pq
    from fastapi.responses import FileResponse, StreamingResponse

    from .tables import CSV_MEDIA, PARQUET_MEDIA

    pf = pq.ParquetFile(path)
    rows = pf.metadata.num_rows
    if fmt is Format.parquet:
        size = path.stat().st_size
        if size > max_bytes:
            raise LimitExceeded(413, "max_result_bytes", max_bytes, size,
                                "the Parquet result (bytes)")
        return FileResponse(path, media_type=PARQUET_MEDIA, filename=f"job-{job_id}.parquet")
    estimate = rows * CSV_ROW_BYTES
    if estimate > max_bytes:
        raise ApiError(413, "limit_exceeded",
                       f"the CSV result of {rows:,} rows would be about {estimate:,} bytes, above "
                       f"the limit max_result_bytes = {max_bytes:,}; use format=parquet or the "
                       f"JSON summaries", limit="max_result_bytes", maximum=max_bytes,
                       requested=estimate)

    def batches():
        first = True
        for batch in pf.iter_batches(batch_size=CSV_BATCH_ROWS):
            df = batch.to_pandas()
            yield df.to_csv(index=False, header=first).encode()
            first = False
        if first:  # no rows: the header alone
            yield ",".join(pf.schema_arrow.names).encode() + b"\n"

    return StreamingResponse(batches(), media_type=CSV_MEDIA,
                             headers={"Content-Disposition": f'attachment; filename="job-{job_id}.csv"'})
