"""Every API failure as JSON `{"error": {"code", "message"}}`: domain errors, FastAPI's own
validation errors, unknown routes, a busy database and unexpected exceptions alike.

A traceback goes to the server log only; the client gets "Internal error".
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from efoy_app.domain.errors import DomainError, LoginThrottled, TooSoon
from efoy_app.routes import API_AREA

log = logging.getLogger("efoy.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


async def send_error(
    send: Send, status: int, code: str, message: str, headers: list[tuple[bytes, bytes]]
) -> None:
    """The same JSON error, from an ASGI middleware that answers before any app runs."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": start + headers})
    await send({"type": "http.response.body", "body": body})


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts)


def describe_validation(errors: list[dict[str, Any]]) -> str:
    """ "startsAt: Input should be a valid datetime; doctorId: Field required"."""
    described = []
    for err in errors[:5]:
        field = _field(tuple(err.get("loc", ())))
        msg = str(err.get("msg", "invalid"))
        described.append(f"{field}: {msg}" if field else msg)
    return "; ".join(described) or "Invalid request."


def _is_busy(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(
        marker in text
        for marker in ("database is locked", "could not serialize", "deadlock detected")
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        headers: dict[str, str] = {}
        if exc.http_status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, LoginThrottled | TooSoon):
            headers["Retry-After"] = str(exc.retry_after_seconds)
        return error_response(exc.http_status, exc.code, exc.message, headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "validation_error", describe_validation(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        fallback = "error" if exc.status_code < 500 else "server_error"
        code = _HTTP_CODES.get(exc.status_code, fallback)
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> Response:
        if _is_busy(exc):
            log.warning("database busy on %s %s: %s", request.method, request.url.path, exc.orig)
            return error_response(
                503, "busy", "The service is busy. Please try again.", {"Retry-After": "1"}
            )
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        if request.url.path.startswith(API_AREA):
            return error_response(500, "internal_error", "Internal error")
        return PlainTextResponse("Internal Server Error", status_code=500)
