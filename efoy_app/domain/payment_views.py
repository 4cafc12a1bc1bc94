"""Reading a payment: what a patient or admin may see of it, and whose it is.

Beside the lifecycle (`payment_start` → `payment_fulfil` → `payment_close`): nothing here
writes, and nothing here calls Stripe. A payment is found for a user only through its
booking, so another patient's payment is a 404 like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from efoy_app.domain.bookings import get_booking_for
from efoy_app.domain.errors import NotFound
from efoy_app.domain.money import format_money
from efoy_app.domain.read_models import build
from efoy_app.models import Booking, Doctor, Payment, User


@dataclass(frozen=True)
class PaymentView:
    """What a patient or admin may see of a payment (no Stripe secrets)."""

    payment_id: int
    booking_id: int
    kind: str
    status: str
    booking_status: str
    amount_minor: int
    currency: str
    amount_display: str
    amount_refunded_minor: int
    paid_at: datetime | None
    session_id: str | None
    payment_intent_id: str | None
    charge_id: str | None
    card_brand: str | None
    card_last4: str | None
    failure_message: str | None
    flagged: bool
    flag_reason: str | None
    doctor_name: str
    starts_at: datetime
    patient_id: int


def _owned(db: Session, payment: Payment | None, user: User) -> Payment:
    if payment is None:
        raise NotFound("Payment not found.")
    get_booking_for(db, payment.booking_id, user)  # NotFound for another patient's
    return payment


def payment_by_session_for(db: Session, session_id: str, user: User) -> Payment:
    """The payment of this Checkout Session, if it is the user's (or the user is an admin)."""
    row = db.exec(select(Payment).where(Payment.stripe_checkout_session_id == session_id)).first()
    return _owned(db, row, user)


def payment_by_intent_for(db: Session, payment_intent_id: str, user: User) -> Payment:
    """The payment of this PaymentIntent, if it is the user's (or the user is an admin)."""
    row = db.exec(
        select(Payment).where(Payment.stripe_payment_intent_id == payment_intent_id)
    ).first()
    return _owned(db, row, user)


def payment_view(db: Session, payment: Payment) -> PaymentView:
    """The payment with its booking's status, doctor and time, for the payment pages."""
    booking = db.get(Booking, payment.booking_id)
    doctor = db.get(Doctor, booking.doctor_id)
    doctor_user = db.get(User, doctor.user_id)
    return build(
        PaymentView,
        payment,
        payment_id=payment.id,
        booking_id=booking.id,
        booking_status=booking.status,
        amount_display=format_money(payment.amount_minor, payment.currency),
        session_id=payment.stripe_checkout_session_id,
        payment_intent_id=payment.stripe_payment_intent_id,
        charge_id=payment.stripe_charge_id,
        doctor_name=doctor_user.full_name,
        starts_at=booking.starts_at,
        patient_id=booking.patient_id,
    )


def payments_for_booking(db: Session, booking_id: int) -> list[Payment]:
    """Every payment of the booking, oldest first."""
    return list(
        db.exec(select(Payment).where(Payment.booking_id == booking_id).order_by(Payment.id)).all()
    )


def latest_payment_of(db: Session, user: User) -> Payment | None:
    """The user's own most recent payment that reached Stripe (for a success page that lost its
    reference). Only the user's own bookings count, for an admin too: never someone else's."""
    return db.exec(
        select(Payment)
        .join(Booking, col(Booking.id) == col(Payment.booking_id))
        .where(
            Booking.patient_id == user.id,
            sa.or_(
                col(Payment.stripe_checkout_session_id).is_not(None),
                col(Payment.stripe_payment_intent_id).is_not(None),
            ),
        )
        .order_by(col(Payment.created_at).desc(), col(Payment.id).desc())
    ).first()
