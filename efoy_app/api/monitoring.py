"""`GET /api/v1/health` (public: is this worker fit to serve?) and `GET /api/v1/metrics`
(Prometheus text format, for the monitoring server only).

Who may read the metrics: with EFOY_METRICS_TOKEN set, whoever sends
`Authorization: Bearer <token>` (from anywhere, loopback included); without it, the machine
itself only: a client whose socket address is 127.0.0.1 or ::1 and whose request carries no
proxy header (a reverse proxy on the same machine connects from 127.0.0.1 too, on behalf of
anyone). A missing or wrong token answers 401; no token configured and not local answers 403.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from efoy_app import health, metrics
from efoy_app.api.errors import error_response
from efoy_app.api.schemas import CamelModel, ErrorOut, error_responses
from efoy_app.db import get_engine
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import utcnow
from efoy_app.routes import API as API_PREFIX
from efoy_app.settings import get_settings

router = APIRouter(prefix=API_PREFIX, tags=["meta"])
log = get_logger("monitoring")
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
METRICS_MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NO_STORE = {"Cache-Control": "no-store"}
T = TypeVar("T")
# Health's own threads: checks stuck on a dead host wait here, not in the pool the routes share.
_HEALTH_THREADS = anyio.CapacityLimiter(4)


class CheckOut(CamelModel):
    status: str = Field(description="ok | down | not_configured | unknown")
    reason: str | None = Field(default=None, description="Why, when not ok (no URLs, no hosts)")
    backlog: int | None = Field(default=None, description="mail: unsent emails")
    oldest_age_seconds: float | None = Field(
        default=None, description="mail: how long the oldest unsent email has waited"
    )


class ChecksOut(CamelModel):
    database: CheckOut
    redis: CheckOut
    mail: CheckOut


class HealthOut(CamelModel):
    status: str = Field(description="ok")
    checks: ChecksOut


class UnhealthyOut(ErrorOut):
    """The error body, plus every check (which of them is down)."""

    down: list[str] = Field(description="The checks that are down: database, redis, mail")
    checks: ChecksOut


def _check_database() -> tuple[health.Check, health.Backlog | None]:
    return health.check_database(get_engine())


async def _bounded(func: Callable[..., T], seconds: float, *args: object) -> T | None:
    """`func(*args)` in a worker thread, given up (None) after `seconds`: a black-holed host
    must not hold a load balancer's probe for the driver's two minutes."""
    with anyio.move_on_after(seconds):
        return await anyio.to_thread.run_sync(
            func, *args, abandon_on_cancel=True, limiter=_HEALTH_THREADS
        )
    return None


@router.get(
    "/health",
    response_model=HealthOut,
    response_model_exclude_none=True,
    responses={503: {"model": UnhealthyOut, "description": "One or more checks are down"}},
)
async def health_check() -> Response:
    """Public. 200 when the database answers, Redis answers (only checked with
    REFLEX_REDIS_URL set) and, with SMTP_HOST set, the oldest unsent email is younger than
    EFOY_HEALTH_MAIL_MAX_AGE_SECONDS; else 503 naming what is down."""
    settings = get_settings()
    timeout = settings.health_timeout_seconds
    checked = await _bounded(_check_database, timeout)
    database, backlog = checked if checked else (health.Check(health.DOWN, "timed out"), None)
    redis_check = health.Check(health.NOT_CONFIGURED)
    if settings.redis_url:
        redis_check = await _bounded(
            health.check_redis, timeout + 0.5, settings.redis_url, timeout
        ) or health.Check(health.DOWN, "timed out")
    mail = health.check_mail(
        backlog,
        smtp_configured=bool(settings.smtp_host),
        max_age_seconds=settings.health_mail_max_age_seconds,
        now=utcnow(),
    )
    report = health.Health({"database": database, "redis": redis_check, "mail": mail})
    checks = {name: check.as_json() for name, check in report.checks.items()}
    if report.ok:
        return JSONResponse({"status": "ok", "checks": checks}, headers=NO_STORE)
    down = report.down
    log_kv(log, "health.down", level=logging.WARNING, down=",".join(down))
    reasons = "; ".join(f"{name}: {report.checks[name].reason or 'down'}" for name in down)
    body = {
        "error": {"code": "unhealthy", "message": f"Not healthy: {reasons}."},
        "down": down,
        "checks": checks,
    }
    return JSONResponse(body, status_code=503, headers=NO_STORE)


def _refusal(request: Request, authorization: str | None) -> JSONResponse | None:
    """None when this request may read the metrics, else the 401 or 403 to answer."""
    token = get_settings().metrics_token
    expected = token.get_secret_value() if token is not None else ""
    if expected:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), expected.encode()
        ):
            return None
        return error_response(
            401,
            "unauthorized",
            "Send Authorization: Bearer <EFOY_METRICS_TOKEN>.",
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    client = request.client.host if request.client else ""
    proxied = any(name in request.headers for name in PROXY_HEADERS)
    if client in LOCAL_ADDRESSES and not proxied:
        return None
    return error_response(
        403,
        "forbidden",
        "Metrics are served to this machine only; set EFOY_METRICS_TOKEN to scrape from elsewhere.",
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {METRICS_MEDIA_TYPE: {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition format",
        },
        **error_responses(
            401,
            403,
            s401="EFOY_METRICS_TOKEN is set: no or wrong `Authorization: Bearer <token>`",
            s403="EFOY_METRICS_TOKEN is not set and the request is not from this machine",
        ),
    },
)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus metrics: with EFOY_METRICS_TOKEN set, `Authorization: Bearer <token>`;
    without it, from this machine only (127.0.0.1 / ::1, no proxy headers)."""
    refused = _refusal(request, request.headers.get("authorization"))
    if refused is not None:
        return refused
    settings = get_settings()
    collector = metrics.DatabaseCollector(
        get_engine, grace_seconds=lambda: settings.reconcile_grace_seconds
    )
    body = await anyio.to_thread.run_sync(metrics.exposition, collector)
    return Response(body, media_type=METRICS_MEDIA_TYPE, headers=NO_STORE)
