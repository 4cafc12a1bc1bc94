"""Alert rules: which webhook events and payments need an admin, exactly at the boundaries, and
the warning logged once per event or payment however often the alerts are read."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from efoy_app.domain import alerts
from efoy_app.domain.errors import Forbidden
from efoy_app.models import (
    ALERT_FAILED_EVENT,
    ALERT_STALE_PAYMENT,
    AlertWarning,
    Booking,
    Payment,
    User,
    WebhookEvent,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GRACE = 120
_n = iter(range(1, 10_000))


def _event(session: Session, status: str, received_at: datetime) -> int:
    n = next(_n)
    row = WebhookEvent(stripe_event_id=f"evt_alert_{n}", type="checkout.session.completed",
                       payload="{}", status=status, received_at=received_at)  # fmt: skip
    session.add(row)
    session.commit()
    return row.id


def _payment(
    session: Session, doctor, patient: User, status: str, hold_ended: datetime,
    created_at: datetime | None = None,
) -> int:  # fmt: skip
    """A payment whose booking's hold ended (or ends) at `hold_ended`, started 30 minutes before
    it unless `created_at` says otherwise."""
    n = next(_n)
    starts = NOW + timedelta(days=3, minutes=30 * n)
    created_at = created_at or hold_ended - timedelta(minutes=30)
    booking = Booking(patient_id=patient.id, doctor_id=doctor.id, starts_at=starts,
                      ends_at=starts + timedelta(minutes=30), status="held", price_minor=4500,
                      currency="USD", hold_expires_at=hold_ended)  # fmt: skip
    session.add(booking)
    session.flush()
    payment = Payment(booking_id=booking.id, kind="checkout", status=status, amount_minor=4500,
                      currency="USD", created_at=created_at,
                      stripe_checkout_session_id=f"cs_alert_{n}")  # fmt: skip
    session.add(payment)
    session.commit()
    return payment.id


def _find(session: Session) -> alerts.Alerts:
    return alerts.find_alerts(session, now=NOW, grace_seconds=GRACE)


def test_failed_events_of_the_last_24_hours_count_boundary_included(session: Session) -> None:
    day = timedelta(hours=24)
    edge = _event(session, "failed", NOW - day)
    recent = _event(session, "failed", NOW - timedelta(minutes=1))
    _event(session, "failed", NOW - day - timedelta(seconds=1))  # older than a day
    _event(session, "processed", NOW)
    _event(session, "ignored", NOW)
    _event(session, "received", NOW)
    found = _find(session)
    assert (found.failed_events, found.failed_event_ids) == (2, [recent, edge])
    assert found.any


def test_pending_payments_past_the_grace_after_their_hold_are_stale_boundary_included(
    session: Session, make_doctor, patient: User
) -> None:
    doctor = make_doctor()
    grace = timedelta(seconds=GRACE)
    edge = _payment(session, doctor, patient, "pending", NOW - grace)
    old = _payment(session, doctor, patient, "pending", NOW - timedelta(hours=5))
    _payment(session, doctor, patient, "pending", NOW - grace + timedelta(seconds=1))
    # Started an hour ago, but its hold runs on: the patient may still be paying.
    _payment(session, doctor, patient, "pending", NOW + timedelta(minutes=5),
             created_at=NOW - timedelta(hours=1))  # fmt: skip
    for status in ("paid", "failed", "expired", "refunded"):
        _payment(session, doctor, patient, status, NOW - timedelta(hours=5))
    found = _find(session)
    assert (found.stale_payments, found.stale_payment_ids) == (2, [edge, old])
    assert (found.failed_events, found.any) == (0, True)


def test_nothing_to_say_is_no_alert(session: Session) -> None:
    _event(session, "processed", NOW)
    found = _find(session)
    assert found == alerts.Alerts(0, [], 0, [])
    assert not found.any


def test_ids_are_capped_but_counts_are_exact(session: Session) -> None:
    for i in range(alerts.MAX_IDS + 5):
        _event(session, "failed", NOW - timedelta(seconds=i))
    found = _find(session)
    assert found.failed_events == alerts.MAX_IDS + 5
    assert len(found.failed_event_ids) == alerts.MAX_IDS


def test_each_alert_is_warned_once_however_often_it_is_read(
    session: Session, make_doctor, patient: User, caplog: pytest.LogCaptureFixture
) -> None:
    doctor = make_doctor()
    event_id = _event(session, "failed", NOW - timedelta(hours=1))
    payment_id = _payment(session, doctor, patient, "pending", NOW - timedelta(hours=1))
    with caplog.at_level(logging.WARNING, logger="efoy.alerts"):
        assert alerts.warn_new(session, _find(session)) == 2
        assert alerts.warn_new(session, _find(session)) == 0
        assert alerts.warn_new(session, _find(session)) == 0
        later = _event(session, "failed", NOW)
        assert alerts.warn_new(session, _find(session)) == 1
    said = [r.getMessage() for r in caplog.records if r.name == "efoy.alerts"]
    assert said == [
        f"alert.failed_event id={event_id}",
        f"alert.stale_payment id={payment_id}",
        f"alert.failed_event id={later}",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "efoy.alerts")
    kept = session.exec(select(AlertWarning.kind, AlertWarning.object_id)).all()
    assert sorted(kept) == sorted(
        [(ALERT_FAILED_EVENT, event_id), (ALERT_STALE_PAYMENT, payment_id),
         (ALERT_FAILED_EVENT, later)]
    )  # fmt: skip
    assert not alerts.warn_once(session, ALERT_FAILED_EVENT, event_id)


def test_only_admins_read_alerts(session: Session, patient: User, admin: User) -> None:
    with pytest.raises(Forbidden):
        alerts.alerts_for(session, patient, grace_seconds=GRACE, now=NOW)
    assert alerts.alerts_for(session, admin, grace_seconds=GRACE, now=NOW) == alerts.Alerts(
        0, [], 0, []
    )
