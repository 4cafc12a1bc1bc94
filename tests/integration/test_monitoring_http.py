"""/api/v1/health and /api/v1/metrics over real HTTP: the shared API (database up) and an API of
its own in a process pointed at a PostgreSQL port nobody listens on, with JSON logs."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, col, func, select

from efoy_app.launcher import ROOT
from efoy_app.models import EMAIL_QUEUED, EVENT_FAILED, OutboxEmail, Payment, WebhookEvent, utcnow
from tests.conftest import free_port
from tests.log_scan import run_log_path

METRICS_TOKEN = "efoy-metrics-" + secrets.token_hex(16)
FROM_ELSEWHERE = httpx.HTTPTransport(local_address="127.0.0.2")  # "another machine"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_health_is_200_with_every_check_when_all_is_up(api_server) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{api_server.url}/api/v1/health", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["redis"] == {"status": "not_configured"}
    assert body["checks"]["mail"]["status"] == "not_configured"  # no SMTP_HOST here


def test_health_is_503_naming_redis_when_redis_is_unreachable(api_server) -> None:  # type: ignore[no-untyped-def]
    api_server.set_env(REFLEX_REDIS_URL=f"redis://:hunter2-redis@127.0.0.1:{_closed_port()}/0")
    try:
        r = httpx.get(f"{api_server.url}/api/v1/health", timeout=10)
    finally:
        api_server.set_env(REFLEX_REDIS_URL=None)
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["down"] == ["redis"]
    assert body["error"] == {
        "code": "unhealthy",
        "message": "Not healthy: redis: unreachable (ConnectionError).",
    }
    assert body["checks"]["database"] == {"status": "ok"}
    assert "hunter2" not in r.text and "127.0.0.1" not in r.text
    assert httpx.get(f"{api_server.url}/api/v1/health", timeout=10).status_code == 200


def test_health_is_503_naming_mail_when_the_oldest_unsent_email_is_too_old(api_server) -> None:  # type: ignore[no-untyped-def]
    with Session(api_server.engine) as s:
        row = OutboxEmail(
            to_address="late@example.com",
            subject="s",
            body="b",
            status=EMAIL_QUEUED,
            created_at=utcnow() - timedelta(hours=2),
        )
        s.add(row)
        s.commit()
        row_id = row.id
        unsent = s.exec(
            select(func.count()).where(col(OutboxEmail.status).in_(("queued", "sending")))
        ).one()
    api_server.set_env(SMTP_HOST="127.0.0.1", EFOY_HEALTH_MAIL_MAX_AGE_SECONDS="3600")
    try:
        r = httpx.get(f"{api_server.url}/api/v1/health", timeout=10)
        api_server.set_env(EFOY_HEALTH_MAIL_MAX_AGE_SECONDS="0")  # 0: never down for mail
        never = httpx.get(f"{api_server.url}/api/v1/health", timeout=10)
    finally:
        api_server.set_env(SMTP_HOST=None, EFOY_HEALTH_MAIL_MAX_AGE_SECONDS=None)
        with Session(api_server.engine) as s:
            s.delete(s.get(OutboxEmail, row_id))
            s.commit()
    assert r.status_code == 503, r.text
    mail = r.json()["checks"]["mail"]
    assert r.json()["down"] == ["mail"]
    assert mail["status"] == "down"
    assert mail["reason"] == "oldest unsent email waits over 3600 s"
    assert mail["backlog"] == unsent
    assert 7190 < mail["oldestAgeSeconds"] < 7300
    assert never.status_code == 200, never.text
    assert never.json()["checks"]["mail"]["status"] == "ok"


def test_metrics_without_a_token_answer_this_machine_only(api_server) -> None:  # type: ignore[no-untyped-def]
    url = f"{api_server.url}/api/v1/metrics"
    local = httpx.get(url, timeout=10)
    assert local.status_code == 200, local.text
    assert local.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert _samples(local.text)[("efoy_database_up", ())] == 1

    with httpx.Client(transport=FROM_ELSEWHERE) as other:
        elsewhere = other.get(url, timeout=10)
    assert elsewhere.status_code == 403
    assert elsewhere.json()["error"]["code"] == "forbidden"

    proxied = httpx.get(url, headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10)
    assert proxied.status_code == 403  # a proxy on this machine speaks for someone else
    assert proxied.json()["error"]["code"] == "forbidden"


def test_metrics_with_a_token_want_it_from_everyone(api_server) -> None:  # type: ignore[no-untyped-def]
    url = f"{api_server.url}/api/v1/metrics"
    api_server.set_env(EFOY_METRICS_TOKEN=METRICS_TOKEN)
    try:
        anonymous = httpx.get(url, timeout=10)  # from 127.0.0.1, but a token is set
        wrong = httpx.get(url, headers={"Authorization": "Bearer not-it"}, timeout=10)
        basic = httpx.get(url, headers={"Authorization": f"Basic {METRICS_TOKEN}"}, timeout=10)
        with httpx.Client(transport=FROM_ELSEWHERE) as other:
            right = other.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    finally:
        api_server.set_env(EFOY_METRICS_TOKEN=None)
    for refused in (anonymous, wrong, basic):
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "unauthorized"
        assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert right.status_code == 200, right.text
    assert METRICS_TOKEN not in right.text
    assert ("efoy_database_up", ()) in _samples(right.text)


def test_metrics_count_what_the_database_holds(api_server) -> None:  # type: ignore[no-untyped-def]
    from efoy_app.reconcile import run_pass

    event_type = f"efoy.monitor_test.{secrets.token_hex(4)}"
    with Session(api_server.engine) as s:
        for n in range(3):
            s.add(
                WebhookEvent(
                    stripe_event_id=f"evt_monitor_{event_type}_{n}",
                    type=event_type,
                    payload="{}",
                    status=EVENT_FAILED,
                    attempts=10,  # given up: reconciliation leaves them as they are
                    error="boom",
                )
            )
        s.commit()
        by_status = {
            (status, currency): n
            for status, currency, n in s.exec(
                select(Payment.status, Payment.currency, func.count()).group_by(
                    Payment.status, Payment.currency
                )
            ).all()
        }
    before = _samples(httpx.get(f"{api_server.url}/api/v1/metrics", timeout=10).text)
    run_pass(grace_seconds=10**7)  # nothing old enough to touch: a pass that fixes nothing
    got = _samples(httpx.get(f"{api_server.url}/api/v1/metrics", timeout=10).text)

    assert got[("efoy_webhook_events", (("status", "failed"), ("type", event_type)))] == 3
    assert got[("efoy_webhook_events_failed_recent", ())] >= 3
    payments = {
        (dict(labels)["status"], dict(labels)["currency"]): value
        for (name, labels), value in got.items()
        if name == "efoy_payments"
    }
    assert payments == by_status
    runs = ("efoy_reconcile_runs_total", (("outcome", "completed"),))
    skipped = ("efoy_reconcile_runs_total", (("outcome", "skipped"),))
    assert got[runs] + got[skipped] == before[runs] + before[skipped] + 1
    assert got[("efoy_reconcile_last_completed_timestamp_seconds", ())] > 0 or got[skipped] > 0


@dataclass
class DownApi:
    url: str
    log_path: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> list[str]:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        return self.log_path.read_text().splitlines()


DB_PASSWORD = "hunter2-" + secrets.token_hex(6)


@pytest.fixture
def database_down(tmp_path: Path) -> Iterator[DownApi]:
    """The API in a process of its own, its database a PostgreSQL port nobody listens on,
    logging JSON."""
    port = free_port()
    env = {
        **os.environ,
        "REFLEX_DB_URL": f"postgresql+psycopg://efoy:{DB_PASSWORD}@127.0.0.1:{_closed_port()}/efoy",
        "EFOY_ENV": "demo",
        "EFOY_JWT_SECRET": secrets.token_urlsafe(48),
        "EFOY_LOG_FORMAT": "json",
        "FRONTEND_URL": f"http://127.0.0.1:{port}",
        "PYTHONPATH": str(ROOT),
    }
    log_path = run_log_path("api-database-down.log") or tmp_path / "api.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "efoy_app.api.app:create_api", "--factory",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    api = DownApi(f"http://127.0.0.1:{port}", log_path, proc)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{api.url}/api/v1/health", timeout=5)  # 503 here: up, its database not
            break
        except httpx.TransportError:
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.1)
    try:
        yield api
    finally:
        api.stop()


def test_a_database_that_is_down_is_503_and_logged_as_json(database_down: DownApi) -> None:
    started = time.monotonic()
    r = httpx.get(f"{database_down.url}/api/v1/health", timeout=10)
    took = time.monotonic() - started
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["down"] == ["database"]
    assert body["error"]["code"] == "unhealthy"
    assert body["error"]["message"] == "Not healthy: database: unreachable (OperationalError)."
    assert body["checks"]["database"] == {
        "status": "down",
        "reason": "unreachable (OperationalError)",
    }
    assert body["checks"]["mail"] == {"status": "unknown", "reason": "database down"}
    assert DB_PASSWORD not in r.text and "efoy:" not in r.text
    assert took < 3

    m = httpx.get(f"{database_down.url}/api/v1/metrics", timeout=10)
    assert m.status_code == 200, m.text
    got = _samples(m.text)
    assert got[("efoy_database_up", ())] == 0
    assert ("efoy_outbox_backlog", ()) not in got

    lines = database_down.stop()
    ours = [json.loads(line) for line in lines if line.startswith("{")]
    assert all(set(o) >= {"timestamp", "level", "logger", "message"} for o in ours)
    events = [(o["logger"], o.get("event"), o.get("down"), o.get("error")) for o in ours]
    assert ("efoy.monitoring", "health.down", "database", None) in events
    assert ("efoy.metrics", "metrics.database_error", None, "OperationalError") in events
    assert not [line for line in lines if "efoy." in line and not line.startswith("{")]
    assert not [line for line in lines if DB_PASSWORD in line]
