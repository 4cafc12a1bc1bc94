"""Bookings and payments for the rule tests, made by the domain's own functions (no rows forged),
with the Stripe double playing the patient."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlmodel import Session, select

from efoy_app.domain import bookings, payment_fulfil, payment_start
from efoy_app.models import AuditLog, Booking, Doctor, Payment, Refund, User, utcnow
from tests.unit.stripe_double import StripeDouble


def slot(hour: int = 10, minute: int = 0, days_ahead: int = 2) -> datetime:
    """A slot start of a UTC doctor with the default hours, on a weekday a few days from now."""
    day = (utcnow() + timedelta(days=days_ahead)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def hold(
    session: Session,
    doctor: Doctor,
    patient: User,
    *,
    starts_at: datetime | None = None,
    now: datetime | None = None,
) -> Booking:
    return bookings.hold_slot(
        session, patient=patient, doctor_id=doctor.id, starts_at=starts_at or slot(), now=now
    )


def paid_by_checkout(
    session: Session, stripe: StripeDouble, doctor: Doctor, patient: User
) -> tuple[Booking, Payment]:
    """A booking paid on the hosted page and fulfilled: confirmed, its payment paid."""
    booking = hold(session, doctor, patient)
    start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    stripe.pay_session(start.session_id)
    payment = payment_fulfil.fulfill_checkout(session, start.session_id)
    return booking, payment


def rows(session: Session, model: type, **where: object) -> list:
    """Every row of `model` matching `where`, read afresh."""
    query = select(model).execution_options(populate_existing=True)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return list(session.exec(query.order_by(model.id)).all())


def payment_rows(session: Session, booking_id: int) -> list[Payment]:
    return rows(session, Payment, booking_id=booking_id)


def refund_rows(session: Session, payment_id: int) -> list[Refund]:
    return rows(session, Refund, payment_id=payment_id)


def status_moves(session: Session, entity_type: str, entity_id: int) -> list[tuple[str, str]]:
    """The audited status changes of one row, oldest first, as (from, to)."""
    audited = rows(session, AuditLog, entity_type=entity_type, entity_id=entity_id)
    return [(a.from_status, a.to_status) for a in audited if a.action == "status_changed"]


def fresh(session: Session, model: type, row_id: int) -> object:
    return session.get(model, row_id, populate_existing=True)


def audit_actions(session: Session, entity_type: str, entity_id: int) -> list[str]:
    return [a.action for a in rows(session, AuditLog, entity_type=entity_type, entity_id=entity_id)]
