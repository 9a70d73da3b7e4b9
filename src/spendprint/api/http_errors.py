"""HTTP errors: every refusal is a JSON body ``{"error": code, "detail": message, ...}``.

* :class:`ApiError` for 401/403/404/409 and the like;
* :class:`LimitExceeded` for a configured limit (413, 422, 429): the body names the limit, its value
  and what the request asked for;
* :class:`spendprint.errors.SpendprintError` (bad input found by the library) -> 422 with the message;
* request validation errors -> 422 without echoing the input back;
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

log = logging.getLogger("spendprint.api")


class ApiError(Exception):
    """An HTTP error with a JSON body."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
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


def json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


def install_handlers(app: FastAPI) -> None:
    """Register the exception handlers described in the module docstring."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return json_error(exc.status, exc.body(), exc.headers)

    @app.exception_handler(SpendprintError)
    async def _spendprint_error(request: Request, exc: SpendprintError) -> JSONResponse:
        body: dict[str, Any] = {"error": "invalid_input", "detail": str(exc)}
        if isinstance(exc, LedgerError):
            body["problems"] = exc.problems[:200]
        return json_error(422, body)

    @app.exception_handler(ValueError)
    async def _value_error(request: Request, exc: ValueError) -> JSONResponse:
        # bad values that the library did not wrap (pandas parsing, numpy casts): still the input
        log.info("ValueError mapped to 422: %s", exc)
        return json_error(422, {"error": "invalid_input", "detail": str(exc)[:2000]})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()[:50]]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return json_error(422, {"error": "invalid_request", "detail": detail, "errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return json_error(exc.status_code, {"error": code, "detail": str(exc.detail)},
                          getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return json_error(500, {"error": "internal_error",
                                "detail": f"internal error ({type(exc).__name__}); see the server log"})
