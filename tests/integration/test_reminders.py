"""Reminders before appointments, on SQLite and PostgreSQL, with a test clock: queued once when
the appointment is 24 hours away and delivered through a real SMTP server (aiosmtpd); not
before, not twice (two passes at once), not for a cancelled booking, not for one booked inside
the window, and not when switched off.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.db import get_engine
from efoy_app.domain import booking_cancel
from efoy_app.domain.mail_delivery import send_due
from efoy_app.domain.reminders import queue_due_reminders
from efoy_app.models import Booking, Doctor, OutboxEmail, Payment, User
from efoy_app.settings import get_settings
from tests.integration.support import BACKENDS, seeded_engine
from tests.integration.test_mail_delivery import Recorder, SmtpServer, point_at

STARTS = datetime(2026, 12, 10, 7, 0, tzinfo=UTC)  # 10:00 in Addis Ababa


@pytest.fixture(params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """A seeded database of each kind, also the app's own (REFLEX_DB_URL), as the sender uses."""
    with seeded_engine(request.param, tmp_path) as eng:
        monkeypatch.setenv("REFLEX_DB_URL", eng.url.render_as_string(hide_password=False))
        get_settings.cache_clear()
        get_engine.cache_clear()
        yield eng
        get_engine().dispose()
        get_engine.cache_clear()
    get_settings.cache_clear()


def confirmed(engine: Engine, *, paid_at: datetime, starts: datetime = STARTS,
              status: str = "confirmed") -> int:  # fmt: skip
    """A booking of a patient in Addis Ababa with its paid payment; its id."""
    with Session(engine) as s:
        doctor = s.exec(select(Doctor).order_by(Doctor.id)).first()
        patient = User(
            email=f"r{starts.timestamp()}{paid_at.timestamp()}@example.com",
            password_hash="!",
            full_name="አበበ ከበደ",
            timezone="Africa/Addis_Ababa",
        )
        s.add(patient)
        s.flush()
        booking = Booking(
            patient_id=patient.id, doctor_id=doctor.id, starts_at=starts,
            ends_at=starts + timedelta(minutes=30), status=status,
            price_minor=doctor.fee_minor, currency=doctor.currency,
        )  # fmt: skip
        s.add(booking)
        s.flush()
        s.add(
            Payment(booking_id=booking.id, kind="checkout", status="paid",
                    amount_minor=doctor.fee_minor, currency=doctor.currency, paid_at=paid_at)
        )  # fmt: skip
        s.commit()
        return booking.id


def reminders(engine: Engine) -> list[tuple[int, str, str]]:
    with Session(engine) as s:
        rows = s.exec(select(OutboxEmail).where(OutboxEmail.kind == "reminder")).all()
        return [(e.booking_id, e.status, e.subject) for e in rows]


def test_a_reminder_is_queued_once_when_due_and_sent_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    booking_id = confirmed(engine, paid_at=STARTS - timedelta(days=5))
    assert queue_due_reminders(STARTS - timedelta(hours=24, minutes=1), engine) == 0
    assert reminders(engine) == []

    due = STARTS - timedelta(hours=23, minutes=59)
    results: list[int] = []
    barrier = threading.Barrier(4, timeout=30)

    def one_pass() -> None:
        barrier.wait()
        results.append(queue_due_reminders(due, engine))

    threads = [threading.Thread(target=one_pass) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [0, 0, 0, 1]  # four workers' passes at once: one reminder
    subject = "Reminder: your appointment on Thu 10 Dec 2026, 10:00 EAT"
    assert reminders(engine) == [(booking_id, "queued", subject)]

    server = SmtpServer(Recorder())
    try:
        point_at(monkeypatch, server.port)
        report = send_due(now=due + timedelta(minutes=1))
        assert (report.sent, report.reminders_queued) == (1, 0)
        assert send_due(now=due + timedelta(hours=1)).sent == 0
    finally:
        server.stop()
    [received] = server.handler.received
    assert received.rcpt_tos == [received.message["To"]]
    assert received.message["Subject"] == subject
    body = received.message.get_body(("plain",)).get_content()
    assert "Dear አበበ ከበደ" in body and "Thu 10 Dec 2026, 10:00 EAT" in body
    html = received.message.get_body(("html",)).get_content()
    assert "<strong>Thu 10 Dec 2026, 10:00 EAT</strong>" in html
    assert reminders(engine) == [(booking_id, "sent", subject)]


def test_no_reminder_when_cancelled_booked_inside_the_window_or_switched_off(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    confirmed(engine, paid_at=STARTS - timedelta(days=5), status="cancelled")
    confirmed(engine, paid_at=STARTS - timedelta(hours=10), starts=STARTS + timedelta(hours=1))
    now = STARTS - timedelta(hours=1)
    assert queue_due_reminders(now, engine) == 0
    assert reminders(engine) == []

    later = confirmed(
        engine, paid_at=STARTS - timedelta(days=5), starts=STARTS + timedelta(hours=2)
    )
    monkeypatch.setenv("EFOY_EMAIL_REMINDER", "false")
    get_settings.cache_clear()
    assert queue_due_reminders(now, engine) == 0
    monkeypatch.setenv("EFOY_EMAIL_REMINDER", "true")
    get_settings.cache_clear()
    assert queue_due_reminders(now, engine) == 1
    assert [r[0] for r in reminders(engine)] == [later]
    # An appointment that has begun gets none (the sender was down all day, say).
    assert queue_due_reminders(STARTS + timedelta(hours=3), engine) == 0


def test_a_queued_reminder_is_withdrawn_when_the_booking_is_cancelled(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EFOY_CANCELLATION_REFUNDS", "approval")  # no refund is sent: no Stripe
    get_settings.cache_clear()
    booking_id = confirmed(engine, paid_at=STARTS - timedelta(days=5))
    assert queue_due_reminders(STARTS - timedelta(hours=20), engine) == 1
    with Session(engine) as s:
        patient = s.get(User, s.get(Booking, booking_id).patient_id)
        outcome = booking_cancel.cancel(s, booking_id=booking_id, actor=patient)
        assert outcome.booking.status == "cancelled"
    with Session(engine) as s:
        [reminder] = s.exec(select(OutboxEmail).where(OutboxEmail.kind == "reminder")).all()
        assert (reminder.status, reminder.error) == (
            "withdrawn",
            "Not sent: the booking was cancelled.",
        )
    assert send_due(now=STARTS - timedelta(hours=19)).claimed == 0
