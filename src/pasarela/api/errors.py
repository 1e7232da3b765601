"""The API's one error shape, ``{"error": {"code", "message", "field"?}}``, and the one table that
turns an error class into an HTTP status (domain code never names a status)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pasarela.core.errors import (
    ConfigError,
    Conflict,
    Forbidden,
    InvalidInput,
    MaybeSent,
    NeedsAttention,
    NotFound,
    PasarelaError,
    ProviderRejected,
    SurelyNotSent,
    UnreadableData,
    UserError,
)

# Most specific first: the first class an error is an instance of decides its status.
STATUS_OF: list[tuple[type[PasarelaError], int]] = [
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Forbidden, 403),
    (UserError, 400),
    (UnreadableData, 422),
    (SurelyNotSent, 503),
    (ProviderRejected, 422),
    (NeedsAttention, 502),
    (MaybeSent, 502),
    (ConfigError, 500),
    (PasarelaError, 502),
]
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    503: "unavailable",
}


def status_of(error: PasarelaError) -> int:
    return next(status for cls, status in STATUS_OF if isinstance(error, cls))


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    inner: dict[str, Any] = {"code": code, "message": message}
    if field:
        inner["field"] = field
    inner.update(extra)
    return {"error": inner}


def error_response(error: PasarelaError) -> JSONResponse:
    status = status_of(error)
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if status == 503:
        headers["Retry-After"] = str(int(retry_after or 5))
    return JSONResponse({"error": error.to_dict()}, status_code=status, headers=headers)


def _field_of(loc: Any) -> str:
    parts = [str(p) for p in (loc or ()) if p not in ("body", "query", "path", "header")]
    return ".".join(parts)


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """FastAPI's request validation, in the same shape: the first problem names the field."""
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    field = _field_of(first.get("loc"))
    message = f"{field}: {first.get('msg', 'valor inválido')}" if field else str(first.get("msg", "solicitud inválida"))
    details = [{"field": _field_of(e.get("loc")), "message": str(e.get("msg", ""))} for e in errors]
    return JSONResponse(error_body("invalid_input", message, field or None, details=details), status_code=422)


def install(app: FastAPI) -> None:
    @app.exception_handler(PasarelaError)
    async def _pasarela_error(_: Request, exc: PasarelaError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)
