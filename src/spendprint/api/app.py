"""The FastAPI application: ``create_app(settings)``; ``spendprint serve`` runs it on uvicorn.

Routes (see ``docs/http-api.md``):

* ``GET /health``; ``GET /models``; ``GET /models/{name}``; ``GET /models/{name}/multipliers``;
  ``GET /concordances``; ``GET /concordances/{name}`` -- public unless ``public_reads = false``;
* ``POST /models/{name}/footprints`` (JSON) and ``POST /models/{name}/footprints/upload``
  (multipart CSV) -- need a key;
* ``POST /jobs``, ``GET /jobs``, ``GET /jobs/{id}``, ``GET /jobs/{id}/result``,
  ``DELETE /jobs/{id}`` -- need a key; a key sees only its own jobs.

The layer holds no maths: it validates, authorises, calls the Python API and serialises.

``/docs`` (Swagger UI) and ``/redoc`` load their scripts from ``/docs-assets``, files installed
with the package ``fastapi-offline`` (see ``spendprint/data/README_API_ASSETS.md``): no CDN, no
web fonts. CORS is off unless ``cors_origins`` lists browser origins.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Query
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from .auth import KeyInfo, KeyStore, key_dependencies
from .http_errors import ApiError, LimitExceeded, error_responses, install_handlers
from .registry import ModelRegistry, concordance_registry, prices_registry
from .schemas import (
    Concordance,
    Health,
    Indicator,
    ModelInfo,
    ModelList,
    ModelSummary,
    Multipliers,
    NameList,
)
from .settings import Settings
from .tables import Format, long_table, negotiate, table_response

log = logging.getLogger("spendprint.api")


class AppState:
    """What the routes share: settings, keys, registries, the compute gate and the job manager."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.keys = KeyStore(settings.db_path)
        self.models = ModelRegistry(settings.models_dir, settings.max_models_in_memory)
        self.concordances = concordance_registry(settings.concordances_dir)
        self.prices = prices_registry(settings.prices_dir)
        self.compute_gate = threading.BoundedSemaphore(max(1, settings.compute_slots))
        self._blas_limit = None
        threads = 1 if settings.compute_slots > 1 else settings.blas_threads
        if threads > 0:
            # set once for the whole process (a per-call limit would be restored by one thread
            # while another still computes); several computations at once need one thread each
            import scipy.linalg  # noqa: F401  load both OpenBLAS builds before limiting them
            from threadpoolctl import threadpool_limits

            self._blas_limit = threadpool_limits(threads)
        self.jobs = None  # set by the jobs module when it is available

    @contextlib.contextmanager
    def computing(self):
        """Hold one of ``compute_slots`` while computing: every call that reaches BLAS (opening
        and factorising a model included) runs inside this gate, and never nests in it."""
        with self.compute_gate:
            yield


class BodyLimitMiddleware:
    """Refuse request bodies above ``max_bytes`` with a JSON 413 that names the limit.

    The body is read (up to the limit) before the app sees it, whatever the transfer encoding.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, send: Send, requested: int | None) -> None:
        from .tables import dumps

        exc = LimitExceeded(413, "max_body_bytes", self.max_bytes, requested, "the request body")
        body = dumps(exc.body())
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
                if declared is not None and declared > self.max_bytes:
                    await self._refuse(send, declared)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, None)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _model_summary(name: str, attrs: dict) -> ModelSummary:
    meta = attrs.get("meta", {}) or {}
    regions, sectors = attrs.get("regions", []), attrs.get("sectors", [])
    return ModelSummary(
        name=name, source=meta.get("source"), year=meta.get("year"), currency=meta.get("currency"),
        money_unit=meta.get("money_unit"), regions=len(regions), sectors=len(sectors),
        n=len(regions) * len(sectors),
        indicators=list(attrs.get("stressors", [])) + list(attrs.get("impacts", [])))


def _check_labels(what: str, asked: list[str] | None, known: list[str]) -> list[str] | None:
    if not asked:
        return None
    unknown = [a for a in asked if a not in set(known)]
    if unknown:
        raise ApiError(422, "invalid_input", f"unknown {what} label(s) {unknown[:10]}; the model "
                       f"has {len(known)}: {known[:20]}{' ...' if len(known) > 20 else ''}")
    return list(dict.fromkeys(asked))


def create_app(settings: Settings) -> FastAPI:
    """The application for ``settings`` (data directory, limits, public reads)."""
    state = AppState(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.jobs is not None:
            state.jobs.start()
        if settings.preload:
            threading.Thread(target=_preload, name="spendprint-preload", daemon=True).start()
        try:
            yield
        finally:
            if state.jobs is not None:
                state.jobs.stop()

    def _preload() -> None:
        for name in settings.preload:
            try:
                with state.computing():
                    state.models.get(name)
                    state.models.multipliers(name)
                log.info("preloaded model %s", name)
            except Exception:  # a bad preload name must not stop the server
                log.exception("could not preload model %s", name)

    app = FastAPI(
        docs_url=None, redoc_url=None,
        title="spendprint HTTP API",
        version=__version__,
        description=("Supply-chain footprints of procurement with EE-MRIO models: models, "
                     "multipliers, per-category footprints and Monte Carlo jobs. Endpoints that "
                     "compute or write need an API key (`X-API-Key` or `Authorization: Bearer`)."),
        lifespan=lifespan,
        # operation ids are the route functions' names (list_models, get_multipliers, ...)
        generate_unique_id_function=lambda route: route.name,
        # every answer may be a 500, and any body a 413 (BodyLimitMiddleware)
        responses=error_responses(500),
    )
    app.state.spendprint = state
    install_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_credentials=False, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"],
                           max_age=600)
    _install_docs(app)
    require_key, read_access = key_dependencies(state.keys, settings.public_reads)
    reader = Depends(read_access)

    reads = error_responses(401, 403, 404, 422)

    @app.get("/health", response_model=Health, tags=["server"])
    def get_health() -> Health:
        """Liveness: always public."""
        return Health(version=__version__, models_loaded=state.models.loaded())

    @app.get("/models", response_model=ModelList, tags=["models"], responses=reads)
    def list_models(_: KeyInfo | None = reader) -> ModelList:
        """The models in ``<data-dir>/models`` with their sizes and indicators."""
        return ModelList(models=[_model_summary(n, state.models.attrs(n)) for n in state.models.names()])

    @app.get("/models/{name}", response_model=ModelInfo, tags=["models"], responses=reads)
    def get_model(name: str, _: KeyInfo | None = reader) -> ModelInfo:
        """Regions, sectors, indicators with units, year, currency and the rest of the metadata."""
        attrs = state.models.attrs(name)
        meta = attrs.get("meta", {}) or {}
        stressors, impacts = list(attrs.get("stressors", [])), list(attrs.get("impacts", []))
        indicators = (
            [Indicator(name=s, unit=u, kind="stressor")
             for s, u in zip(stressors, attrs.get("stressor_units", []), strict=False)]
            + [Indicator(name=s, unit=u, kind="impact")
               for s, u in zip(impacts, attrs.get("impact_units", []), strict=False)])
        regions, sectors = list(attrs.get("regions", [])), list(attrs.get("sectors", []))
        return ModelInfo(
            name=name, source=meta.get("source"), year=meta.get("year"), currency=meta.get("currency"),
            money_unit=meta.get("money_unit"), price_basis=meta.get("price_basis"),
            system=meta.get("system"), n=len(regions) * len(sectors), regions=regions,
            sectors=sectors, indicators=indicators, fd_categories=list(attrs.get("fd_categories", [])),
            meta=meta, loaded=name in state.models.loaded())

    @app.get("/models/{name}/multipliers", response_model=Multipliers, tags=["models"],
             responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}},
                        **reads})
    def get_multipliers(
        name: str, _: KeyInfo | None = reader,
        stressor: Annotated[list[str] | None, Query(description="Indicator(s); repeat for several.")] = None,
        region: Annotated[list[str] | None, Query(description="Region(s) of final demand.")] = None,
        sector: Annotated[list[str] | None, Query(description="Product(s)/sector(s).")] = None,
        format: Annotated[Format | None, Query(description="json, csv or parquet; default from "
                                                           "Accept, else json.")] = None,
        accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    ):
        """Total multipliers ``M = S (I - A)^-1`` (indicator per unit of final demand), filtered.

        Multipliers are computed once per opened model (adjoint solves) and then only sliced.
        """
        attrs = state.models.attrs(name)
        sel = {
            "stressor": _check_labels("stressor", stressor,
                                      list(attrs.get("stressors", [])) + list(attrs.get("impacts", []))),
            "region": _check_labels("region", region, list(attrs.get("regions", []))),
            "sector": _check_labels("sector", sector, list(attrs.get("sectors", []))),
        }
        with state.computing():
            M = state.models.multipliers(name)
        M = M.sel({k: v for k, v in sel.items() if v is not None})
        df = long_table(M.rename("multiplier"), ("stressor", "region", "sector"))
        df = df[["stressor", "region", "sector", "multiplier", "unit"]]
        return table_response(df, negotiate(format, accept), {"model": name},
                              filename=f"{name}-multipliers")

    @app.get("/concordances", response_model=NameList, tags=["inputs"], responses=reads)
    def list_concordances(_: KeyInfo | None = reader) -> NameList:
        """Concordances in ``<data-dir>/concordances`` and the built-in ``demo``."""
        return NameList(names=state.concordances.names())

    @app.get("/concordances/{name}", response_model=Concordance, tags=["inputs"], responses=reads)
    def get_concordance(name: str, _: KeyInfo | None = reader):
        """The rows (category, sector, weight, origin_region) of a named concordance."""
        from .inputs import load_concordance
        from .tables import json_response, records

        conc = load_concordance(state, name)
        return json_response({"name": name, "rows": records(conc.frame.reset_index(drop=True))})

    @app.get("/prices", response_model=NameList, tags=["inputs"], responses=reads)
    def list_prices(_: KeyInfo | None = reader) -> NameList:
        """Price settings in ``<data-dir>/prices`` and the built-in ``default``."""
        return NameList(names=state.prices.names())

    _install_routes(app, state, require_key)
    return app


def docs_assets_dir():
    """The folder of the Swagger UI and ReDoc files (package ``fastapi-offline``), or None."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    from pathlib import Path

    folder = Path(fastapi_offline.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def _install_docs(app: FastAPI) -> None:
    """``/docs`` and ``/redoc`` served from installed files (never a CDN)."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    assets = docs_assets_dir()
    if assets is not None:
        from fastapi.staticfiles import StaticFiles

        app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    def missing() -> HTMLResponse:
        return HTMLResponse("<p>API docs need the package fastapi-offline (it ships Swagger UI "
                            "and ReDoc); the OpenAPI schema is at <a href='/openapi.json'>"
                            "/openapi.json</a>.</p>", status_code=503)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        if assets is None:
            return missing()
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json",
                                   title=f"{app.title} - Swagger UI",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        if assets is None:
            return missing()
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json",
                              title=f"{app.title} - ReDoc",
                              redoc_js_url="/docs-assets/redoc.standalone.js",
                              redoc_favicon_url="/docs-assets/favicon.png",
                              with_google_fonts=False)


def _install_routes(app: FastAPI, state: AppState, require_key) -> None:
    """Footprint and job routes (modules of their own)."""
    from .footprint_routes import install as install_footprints
    from .job_routes import install as install_jobs

    install_footprints(app, state, require_key)
    install_jobs(app, state, require_key)
