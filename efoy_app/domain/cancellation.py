"""Cancelling a booking by the policy: what the patient would get back, read from the booking's
own payment. (The rules are in `cancellation_policy.py`; this module reads the database.)"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from efoy_app.domain.cancellation_policy import (
    CancellationPolicy,
    CancellationQuote,
    policy_for,
    refund_for,
)
from efoy_app.domain.refunds import refundable_now
from efoy_app.models import PAID_STATUSES, Booking, Doctor, Payment, User, utcnow


def paid_payment(db: Session, booking_id: int) -> Payment | None:
    """The booking's payment that took money (refunded or not), if any."""
    return db.exec(
        select(Payment)
        .where(Payment.booking_id == booking_id, col(Payment.status).in_(PAID_STATUSES))
        .order_by(col(Payment.id))
    ).first()


def booking_policy(db: Session, booking: Booking) -> CancellationPolicy:
    """The policy a booking is cancelled under: its doctor's own, or the clinic's."""
    return policy_for(db.get(Doctor, booking.doctor_id))


def quote_cancellation(
    db: Session,
    booking: Booking,
    now: datetime | None = None,
    policy: CancellationPolicy | None = None,
) -> CancellationQuote:
    """`refund_for` with the booking's own payment and doctor's policy read from the database
    (no writes)."""
    payment = paid_payment(db, booking.id)
    paid = payment.amount_minor if payment is not None else 0
    left = refundable_now(db, payment) if payment is not None else 0
    policy = policy or booking_policy(db, booking)
    return refund_for(booking, now or utcnow(), paid_minor=paid, left_minor=left, policy=policy)


def doctors_with_own_policy(db: Session) -> list[tuple[str, str, CancellationPolicy]]:
    """(name, speciality, policy) of each active doctor whose policy is not the clinic's, by
    name: the exceptions the public /policy page lists."""
    rows = db.exec(
        select(Doctor, User)
        .join(User, User.id == Doctor.user_id)
        .where(Doctor.active, col(Doctor.cancellation_policy).is_not(None))
        .order_by(col(User.full_name))
    ).all()
    return [(u.full_name, d.speciality, policy_for(d)) for d, u in rows]
