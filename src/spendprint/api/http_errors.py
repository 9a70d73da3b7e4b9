"""HTTP errors: every refusal is a JSON body ``{"error": code, "detail": message, ...}``.

* `ApiError` for 401/403/404/409 and the like;
* `LimitExceeded` for a configured limit (413, 422, 429): the body names the limit, its value
  and what the request asked for;
* `spendprint.errors.SpendprintError` (bad input found by the library) -> 422 with the message;
* request validation errors -> 422 without echoing the input back;
* [TableTooLargeError][spendprint.io.tabular.TableTooLargeError] (header too wide, line too long)
  -> 413;
* every text that goes back is cut to [MAX_ECHO][spendprint.api.http_errors.MAX_ECHO] characters
  (a 9 MB category name is not echoed in an 18 MB body);
* anything else -> 500 with no internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import LedgerError, SpendprintError
from ..io.tabular import TableTooLargeError

log = logging.getLogger("spendprint.api")

#: Most characters of any message sent back; values inside it are cut to MAX_VALUE.
MAX_ECHO = 2000
MAX_VALUE = 200


def truncate(text: Any, limit: int = MAX_ECHO) -> str:
    """``str(text)`` cut to ``limit`` characters, saying how long it was."""
    s = str(text)
    return s if len(s) <= limit else s[:limit] + f"... ({len(s):,} characters)"


def _clip(obj: Any, depth: int = 0) -> Any:
    if isinstance(obj, str):
        return truncate(obj, MAX_VALUE)
    if isinstance(obj, dict) and depth < 4:
        return {truncate(k, MAX_VALUE): _clip(v, depth + 1) for k, v in list(obj.items())[:50]}
    if isinstance(obj, list | tuple) and depth < 4:
        return [_clip(v, depth + 1) for v in list(obj)[:50]]
    return obj if isinstance(obj, int | float | bool | type(None)) else truncate(obj, MAX_VALUE)


class ApiError(Exception):
    """An HTTP error with a JSON body."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        detail = truncate(detail)
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail
        self.headers, self.extra = headers, extra

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail, **self.extra}


class LimitExceeded(ApiError):
    """A request beyond a configured limit; the body says which limit, its value and the request's."""

    def __init__(self, status: int, limit: str, maximum: int, requested: int | None, what: str) -> None:
        got = "" if requested is None else f" (this request: {requested})"
        super().__init__(status, "limit_exceeded",
                         f"{what} exceeds the limit {limit} = {maximum}{got}",
                         limit=limit, maximum=maximum, requested=requested)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring ``codes`` with the one error model
    [ErrorBody][spendprint.api.schemas.ErrorBody] (what the handlers below send)."""
    from .schemas import ErrorBody

    text = {400: "Bad request", 401: "No API key", 403: "The API key is not valid",
            404: "Not found", 409: "Conflict (the job is not finished)",
            413: "A configured size limit was exceeded", 422: "Invalid request or input",
            429: "Too many active jobs for this API key", 500: "Internal error"}
    return {c: {"model": ErrorBody, "description": text.get(c, "Error")} for c in codes}


def json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


def install_handlers(app: FastAPI) -> None:
    """Register the exception handlers described in the module docstring."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return json_error(exc.status, exc.body(), exc.headers)

    @app.exception_handler(TableTooLargeError)
    async def _too_large(request: Request, exc: TableTooLargeError) -> JSONResponse:
        return json_error(413, {"error": "limit_exceeded", "detail": truncate(exc)})

    @app.exception_handler(SpendprintError)
    async def _spendprint_error(request: Request, exc: SpendprintError) -> JSONResponse:
        body: dict[str, Any] = {"error": "invalid_input", "detail": truncate(exc)}
        if isinstance(exc, LedgerError):
            body["problems"] = _clip(list(exc.problems[:200]))
        return json_error(422, body)

    @app.exception_handler(ValueError)
    async def _value_error(request: Request, exc: ValueError) -> JSONResponse:
        # bad values that the library did not wrap (pandas parsing, numpy casts): still the input
        log.info("ValueError mapped to 422: %s", exc)
        return json_error(422, {"error": "invalid_input", "detail": str(exc)[:2000]})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [truncate(p, MAX_VALUE) for p in list(e.get("loc", ()))[:10]],
                   "msg": truncate(e.get("msg", ""), MAX_VALUE),
                   "type": truncate(e.get("type", ""), MAX_VALUE)} for e in exc.errors()[:50]]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return json_error(422, {"error": "invalid_request", "detail": detail, "errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return json_error(exc.status_code, {"error": code, "detail": truncate(exc.detail)},
                          getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return json_error(500, {"error": "internal_error",
                                "detail": f"internal error ({type(exc).__name__}); see the server log"})
