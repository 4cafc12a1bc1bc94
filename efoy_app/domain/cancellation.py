"""Cancelling a booking by the policy: what the patient would get back, read from the booking's
own payment. (The rules are in `cancellation_policy.py`; this module reads the database.)"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from efoy_app.domain.cancellation_policy import CancellationPolicy, CancellationQuote, refund_for
from efoy_app.domain.refunds import refundable_now
from efoy_app.models import PAID_STATUSES, Booking, Payment, utcnow


def paid_payment(db: Session, booking_id: int) -> Payment | None:
    """The booking's payment that took money (refunded or not), if any."""
    return db.exec(
        select(Payment)
        .where(Payment.booking_id == booking_id, col(Payment.status).in_(PAID_STATUSES))
        .order_by(col(Payment.id))
    ).first()


def quote_cancellation(
    db: Session,
    booking: Booking,
    now: datetime | None = None,
    policy: CancellationPolicy | None = None,
) -> CancellationQuote:
    """`refund_for` with the booking's own payment read from the database (no writes)."""
    payment = paid_payment(db, booking.id)
    paid = payment.amount_minor if payment is not None else 0
    left = refundable_now(db, payment) if payment is not None else 0
    return refund_for(booking, now or utcnow(), paid_minor=paid, left_minor=left, policy=policy)
