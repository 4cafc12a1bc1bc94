"""The monitoring pieces without HTTP: the database collector's figures over known rows, the
quantiles, the reconciliation counters, the health checks' verdicts, and the JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import socket
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine
from sqlmodel import Session

from efoy_app import health, metrics
from efoy_app.log_format import EfoyJsonFormatter, scrub
from efoy_app.logs import log_kv
from efoy_app.models import (
    BOOKING_HELD,
    EMAIL_FAILED,
    EMAIL_QUEUED,
    EMAIL_SENDING,
    EMAIL_SENT,
    EVENT_FAILED,
    EVENT_IGNORED,
    EVENT_PROCESSED,
    PAYMENT_PAID,
    PAYMENT_PENDING,
    REFUND_PENDING,
    REFUND_SUCCEEDED,
    Booking,
    OutboxEmail,
    Payment,
    Refund,
    WebhookEvent,
    utcnow,
)

NOW = utcnow()


def _values(engine: Engine, grace: int = 120) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.DatabaseCollector(lambda: engine, lambda: grace, lambda: NOW))
    return registry


def _event(n: int, type_: str, status: str, took: float | None, age: timedelta) -> WebhookEvent:
    received = NOW - age
    return WebhookEvent(
        stripe_event_id=f"evt_{n}",
        type=type_,
        payload="{}",
        status=status,
        received_at=received,
        processed_at=received + timedelta(seconds=took) if took is not None else None,
    )


def _booking_payment(session: Session, doctor, patient, *, status: str, currency: str, hour: int):  # type: ignore[no-untyped-def]
    starts = (NOW + timedelta(days=3)).replace(hour=hour, minute=0, second=0, microsecond=0)
    booking = Booking(
        patient_id=patient.id,
        doctor_id=doctor.id,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        status=BOOKING_HELD,
        price_minor=4500,
        currency=currency,
        hold_expires_at=NOW - timedelta(hours=1),
        created_at=NOW - timedelta(hours=2),
    )
    session.add(booking)
    session.flush()
    payment = Payment(
        booking_id=booking.id,
        doctor_id=doctor.id,
        kind="checkout",
        status=status,
        amount_minor=4500,
        currency=currency,
        created_at=NOW - timedelta(hours=2),
    )
    session.add(payment)
    session.flush()
    return payment


def test_database_figures_match_the_rows(session: Session, engine: Engine, make_doctor, patient):  # type: ignore[no-untyped-def]
    doctor = make_doctor()
    session.add_all(
        [
            _event(1, "checkout.session.completed", EVENT_PROCESSED, 0.2, timedelta(minutes=5)),
            _event(2, "checkout.session.completed", EVENT_PROCESSED, 0.4, timedelta(minutes=4)),
            _event(3, "checkout.session.completed", EVENT_FAILED, None, timedelta(hours=1)),
            _event(4, "charge.refunded", EVENT_FAILED, None, timedelta(days=3)),  # not recent
            _event(5, "customer.created", EVENT_IGNORED, 3.0, timedelta(minutes=1)),
        ]
    )
    paid = _booking_payment(session, doctor, patient, status=PAYMENT_PAID, currency="USD", hour=9)
    _booking_payment(session, doctor, patient, status=PAYMENT_PAID, currency="USD", hour=10)
    _booking_payment(session, doctor, patient, status=PAYMENT_PENDING, currency="ETB", hour=11)
    session.add_all(
        [
            Refund(
                payment_id=paid.id,
                amount_minor=100,
                currency="USD",
                status=REFUND_PENDING,
                created_at=NOW - timedelta(minutes=10),
            ),
            Refund(
                payment_id=paid.id,
                amount_minor=200,
                currency="USD",
                status=REFUND_PENDING,
                created_at=NOW - timedelta(minutes=3),
            ),
            Refund(
                payment_id=paid.id,
                amount_minor=300,
                currency="USD",
                status=REFUND_SUCCEEDED,
                created_at=NOW - timedelta(days=1),
            ),
        ]
    )
    for status, age in [
        (EMAIL_QUEUED, timedelta(minutes=30)),
        (EMAIL_QUEUED, timedelta(minutes=1)),
        (EMAIL_SENDING, timedelta(minutes=2)),
        (EMAIL_FAILED, timedelta(days=2)),  # given up: not in the backlog
        (EMAIL_SENT, timedelta(days=9)),
    ]:
        session.add(
            OutboxEmail(
                to_address="a@example.com",
                subject="s",
                body="b",
                status=status,
                created_at=NOW - age,
            )
        )
    session.commit()

    got = _values(engine, grace=120).get_sample_value
    assert got("efoy_database_up") == 1
    assert (
        got("efoy_webhook_events", {"type": "checkout.session.completed", "status": "processed"})
        == 2
    )
    assert (
        got("efoy_webhook_events", {"type": "checkout.session.completed", "status": "failed"}) == 1
    )
    assert got("efoy_webhook_events", {"type": "charge.refunded", "status": "failed"}) == 1
    assert got("efoy_webhook_events", {"type": "customer.created", "status": "ignored"}) == 1
    assert got("efoy_webhook_events_failed_recent") == 1  # the 3-day-old one is past the window
    assert got("efoy_webhook_processing_sample_events") == 3
    assert got("efoy_webhook_processing_seconds", {"quantile": "0.5"}) == pytest.approx(0.4)
    assert got("efoy_webhook_processing_seconds", {"quantile": "1"}) == pytest.approx(3.0)
    assert got("efoy_payments", {"status": "paid", "currency": "USD"}) == 2
    assert got("efoy_payments", {"status": "pending", "currency": "ETB"}) == 1
    assert got("efoy_payments", {"status": "pending", "currency": "USD"}) is None
    assert got("efoy_payments_flagged") == 0
    assert got("efoy_payments_stale") == 1  # pending, its hold ended an hour ago
    assert got("efoy_refunds", {"status": "pending"}) == 2
    assert got("efoy_refunds", {"status": "succeeded"}) == 1
    assert got("efoy_refunds_pending_oldest_age_seconds") == pytest.approx(600, abs=1)
    assert got("efoy_outbox_emails", {"status": "queued"}) == 2
    assert got("efoy_outbox_emails", {"status": "sending"}) == 1
    assert got("efoy_outbox_emails", {"status": "failed"}) == 1
    assert got("efoy_outbox_backlog") == 3
    assert got("efoy_outbox_oldest_age_seconds") == pytest.approx(1800, abs=1)


def test_an_empty_database_answers_zeros_not_gaps(engine: Engine) -> None:
    got = _values(engine).get_sample_value
    assert got("efoy_database_up") == 1
    assert got("efoy_outbox_backlog") == 0
    assert got("efoy_outbox_oldest_age_seconds") == 0
    assert got("efoy_refunds_pending_oldest_age_seconds") == 0
    assert got("efoy_webhook_processing_sample_events") == 0
    assert got("efoy_webhook_processing_seconds", {"quantile": "0.5"}) is None


def test_an_unreadable_database_is_database_up_0_and_nothing_else(caplog) -> None:  # type: ignore[no-untyped-def]
    def broken() -> Engine:
        raise ConnectionRefusedError("postgresql://efoy:hunter2@db:5432/efoy")

    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.DatabaseCollector(broken))
    assert registry.get_sample_value("efoy_database_up") == 0
    assert registry.get_sample_value("efoy_outbox_backlog") is None
    assert "hunter2" not in caplog.text


def test_nearest_rank_quantiles() -> None:
    assert metrics.quantiles([]) == {}
    assert metrics.quantiles([5.0]) == {0.5: 5.0, 0.9: 5.0, 0.99: 5.0, 1.0: 5.0}
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
    assert metrics.quantiles(values) == {0.5: 50.0, 0.9: 90.0, 0.99: 99.0, 1.0: 100.0}


def test_reconcile_passes_are_counted_with_what_they_fixed() -> None:
    got = metrics.PROCESS_REGISTRY.get_sample_value
    before = {
        "completed": got("efoy_reconcile_runs_total", {"outcome": "completed"}),
        "skipped": got("efoy_reconcile_runs_total", {"outcome": "skipped"}),
        "error": got("efoy_reconcile_runs_total", {"outcome": "error"}),
        "fulfilled": got("efoy_reconcile_fixed_total", {"what": "payments_fulfilled"}),
        "refunds": got("efoy_reconcile_fixed_total", {"what": "refunds_submitted"}),
        "problems": got("efoy_reconcile_problems_total"),
    }
    metrics.record_reconcile(skipped=False, fulfilled=2, refunds_submitted=1, problems=3)
    metrics.record_reconcile(skipped=True)
    metrics.record_reconcile_error()
    assert got("efoy_reconcile_runs_total", {"outcome": "completed"}) == before["completed"] + 1
    assert got("efoy_reconcile_runs_total", {"outcome": "skipped"}) == before["skipped"] + 1
    assert got("efoy_reconcile_runs_total", {"outcome": "error"}) == before["error"] + 1
    assert (
        got("efoy_reconcile_fixed_total", {"what": "payments_fulfilled"}) == before["fulfilled"] + 2
    )
    assert got("efoy_reconcile_fixed_total", {"what": "refunds_submitted"}) == before["refunds"] + 1
    assert got("efoy_reconcile_problems_total") == before["problems"] + 3
    last = got("efoy_reconcile_last_completed_timestamp_seconds")
    assert abs(last - utcnow().timestamp()) < 5


def test_the_run_pass_wrapper_counts_a_pass_that_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from efoy_app import reconcile

    def boom(**_: object) -> None:
        raise RuntimeError("stripe down")

    monkeypatch.setattr(reconcile, "reconcile_once", boom)
    got = metrics.PROCESS_REGISTRY.get_sample_value
    before = got("efoy_reconcile_runs_total", {"outcome": "error"})
    with pytest.raises(RuntimeError):
        reconcile.run_pass(120)
    assert got("efoy_reconcile_runs_total", {"outcome": "error"}) == before + 1


def test_mail_is_down_only_with_smtp_and_an_old_backlog() -> None:
    old = health.Backlog(4, NOW - timedelta(minutes=20))
    assert (
        health.check_mail(old, smtp_configured=True, max_age_seconds=900, now=NOW).status == "down"
    )
    assert health.check_mail(old, smtp_configured=True, max_age_seconds=0, now=NOW).status == "ok"
    assert (
        health.check_mail(old, smtp_configured=True, max_age_seconds=1800, now=NOW).status == "ok"
    )
    unsent = health.check_mail(old, smtp_configured=False, max_age_seconds=900, now=NOW)
    assert (unsent.status, unsent.details["backlog"]) == ("not_configured", 4)
    assert unsent.details["oldestAgeSeconds"] == pytest.approx(1200)
    assert health.check_mail(None, smtp_configured=True, max_age_seconds=900, now=NOW).status == (
        "unknown"
    )
    empty = health.Backlog(0, None)
    assert health.check_mail(empty, smtp_configured=True, max_age_seconds=1, now=NOW).status == "ok"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redis_on_a_closed_port_is_down_without_its_password() -> None:
    check = health.check_redis(f"redis://:hunter2-redis@127.0.0.1:{_closed_port()}/0", 0.5)
    assert check.status == "down"
    assert check.reason == "unreachable (ConnectionError)"
    assert "hunter2" not in json.dumps(check.as_json())
    assert health.check_redis(None, 0.5).status == "not_configured"


def test_a_database_that_refuses_is_down(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from efoy_app.db import make_engine

    url = f"postgresql+psycopg://efoy:hunter2-db@127.0.0.1:{_closed_port()}/efoy"
    check, backlog = health.check_database(make_engine(url))
    assert (check.status, backlog) == ("down", None)
    assert check.reason == "unreachable (OperationalError)"


def _json_lines(emit) -> list[dict]:  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EfoyJsonFormatter())
    logger = logging.getLogger("efoy.test_json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the secrets below must not reach the run's own log files
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_log_kv_line_is_one_json_object_with_its_fields() -> None:
    [line] = _json_lines(
        lambda lg: log_kv(
            lg,
            "webhook.processed",
            event_id="evt_1",
            type="charge.refunded",
            duration_ms=3.5,
            attempts=2,
            error=None,
        )
    )
    assert set(line) == {
        "timestamp",
        "level",
        "logger",
        "message",
        "event",
        "event_id",
        "type",
        "duration_ms",
        "attempts",
    }
    assert (line["level"], line["logger"]) == ("INFO", "efoy.test_json")
    assert (line["message"], line["event"]) == ("webhook.processed", "webhook.processed")
    assert (line["event_id"], line["duration_ms"], line["attempts"]) == ("evt_1", 3.5, 2)
    assert line["timestamp"].endswith("+00:00")


def test_secrets_never_reach_a_json_line() -> None:
    secrets = [
        "sk_live_51Habcdefghijklmnop",
        "whsec_0123456789abcdef",
        "pi_3Nabc_secret_XYZ123",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    ]

    def emit(lg: logging.Logger) -> None:
        log_kv(
            lg,
            "stripe.call",
            detail=" ".join(secrets),
            password="hunter2-pass",
            url="postgresql://efoy:hunter2-url@db/efoy",
        )
        lg.warning("header was Authorization: Bearer abc.def-ghi")
        log_kv(lg, "clash", message="not the message", timestamp="not the time")

    lines = _json_lines(emit)
    text = json.dumps(lines)
    for secret in [*secrets, "hunter2-pass", "hunter2-url", "abc.def-ghi"]:
        assert secret not in text
    assert lines[0]["password"] == "[redacted]"
    assert lines[0]["url"] == "postgresql://[redacted]@db/efoy"
    assert (lines[2]["message"], lines[2]["field_message"]) == ("clash", "not the message")
    assert lines[2]["field_timestamp"] == "not the time"
    assert lines[2]["timestamp"].startswith(str(utcnow().year))


def test_scrub_keeps_ordinary_text() -> None:
    assert scrub("payment 42 paid: cs_test_a1b2 (evt_9)") == "payment 42 paid: cs_test_a1b2 (evt_9)"


def test_log_format_setting_refuses_a_typo(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from efoy_app.settings import Settings

    assert Settings(EFOY_LOG_FORMAT="JSON").log_format == "json"
    with pytest.raises(ValidationError):
        Settings(EFOY_LOG_FORMAT="jsno")


def test_several_workers_add_up_through_the_multiprocess_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two processes count passes; a third's exposition shows both (PROMETHEUS_MULTIPROC_DIR)."""
    import os
    import subprocess
    import sys

    from efoy_app.launcher import ROOT

    folder = tmp_path / "prom"
    folder.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "PYTHONPATH": str(ROOT),
        "REFLEX_DB_URL": f"sqlite:///{tmp_path / 'mp.db'}",
        "EFOY_ENV": "demo",
    }
    count = "from efoy_app import metrics; metrics.record_reconcile(skipped=False, fulfilled=2)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, cwd=ROOT, check=True)
    show = (
        "from efoy_app import metrics\n"
        "from efoy_app.db import get_engine\n"
        "print(metrics.exposition(metrics.DatabaseCollector(get_engine)).decode())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", show], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    assert 'efoy_reconcile_runs_total{outcome="completed"} 2.0' in out
    assert 'efoy_reconcile_fixed_total{what="payments_fulfilled"} 4.0' in out
    assert "efoy_database_up 0.0" in out  # no tables in that file: still an answer
