"""What `GET /api/v1/health` checks: the database answers, Redis answers (when REFLEX_REDIS_URL
is set), and the email sender keeps up (the oldest unsent outbox message is not too old).

Cheap on purpose (load balancers call it every few seconds): one `SELECT 1` and one COUNT/MIN
over the outbox's unsent rows on one connection, and one Redis PING with a short timeout. A
check that fails says *what* is down and a short reason, never a URL, a host or an exception's
text (a database URL carries its password).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import redis
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col, func, select

from efoy_app.models import EMAIL_QUEUED, EMAIL_SENDING, OutboxEmail

OK = "ok"
DOWN = "down"
NOT_CONFIGURED = "not_configured"
UNKNOWN = "unknown"  # not checked: what it needs (the database) is down
UNSENT = (EMAIL_QUEUED, EMAIL_SENDING)


@dataclass
class Check:
    """One dependency's state; `reason` is a fixed phrase, safe to show anyone."""

    status: str
    reason: str | None = None
    details: dict[str, float | int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {"status": self.status}
        if self.reason:
            body["reason"] = self.reason
        body.update(self.details)
        return body


@dataclass
class Health:
    checks: dict[str, Check]

    @property
    def down(self) -> list[str]:
        return [name for name, check in self.checks.items() if check.status == DOWN]

    @property
    def ok(self) -> bool:
        return not self.down


@dataclass(frozen=True)
class Backlog:
    """The outbox's unsent messages: how many, and since when the oldest waits."""

    count: int
    oldest_created_at: datetime | None

    def oldest_age_seconds(self, now: datetime) -> float:
        if self.oldest_created_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_created_at).total_seconds())


def read_backlog(conn: Connection) -> Backlog:
    """One COUNT/MIN over the queued and sending rows (the sender's due index covers status)."""
    row = conn.execute(
        select(func.count(), func.min(OutboxEmail.created_at)).where(
            col(OutboxEmail.status).in_(UNSENT)
        )
    ).one()
    return Backlog(int(row[0]), row[1])


def check_database(engine: Engine) -> tuple[Check, Backlog | None]:
    """`SELECT 1`, then the outbox backlog on the same connection."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            backlog = read_backlog(conn)
    except Exception as exc:  # any driver's failure means the same to a load balancer
        return Check(DOWN, _reason(exc)), None
    return Check(OK), backlog


def check_mail(
    backlog: Backlog | None, *, smtp_configured: bool, max_age_seconds: int, now: datetime
) -> Check:
    """Down when SMTP_HOST is set and the oldest unsent message waited past the limit (the
    relay refuses, or no sender runs). Without SMTP_HOST nothing is meant to be sent, so the
    backlog is reported but is not a failure."""
    if backlog is None:
        return Check(UNKNOWN, "database down")
    age = round(backlog.oldest_age_seconds(now), 1)
    details: dict[str, float | int] = {"backlog": backlog.count, "oldestAgeSeconds": age}
    if not smtp_configured:
        return Check(NOT_CONFIGURED, "SMTP_HOST is not set", details)
    if max_age_seconds and age > max_age_seconds:
        return Check(DOWN, f"oldest unsent email waits over {max_age_seconds} s", details)
    return Check(OK, None, details)


@lru_cache(maxsize=4)
def _redis_client(url: str, timeout: float) -> redis.Redis:
    """One client (and connection pool) per URL, so a probe reuses its connection."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
    )


def check_redis(url: str | None, timeout: float) -> Check:
    """PING, only when REFLEX_REDIS_URL is set (Reflex keeps its state there then)."""
    if not url:
        return Check(NOT_CONFIGURED)
    try:
        client = _redis_client(url, timeout)
        if not client.ping():
            return Check(DOWN, "no PONG")
    except Exception as exc:
        return Check(DOWN, _reason(exc))
    return Check(OK)


def _reason(exc: BaseException) -> str:
    """A fixed phrase from the exception's kind, never its text (which may name the URL)."""
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or "Timeout" in name:
        return "timed out"
    return f"unreachable ({name})"
