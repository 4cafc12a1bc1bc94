"""Closing a payment: expiring it in our books and at Stripe, and cancelling a held booking.

Closing races paying, so the order matters: a payment is closed in our books first (a racing
"session expired" webhook then cannot expire the booking), then at Stripe (no money can come
later), then Stripe is asked once more; a payment that went through meanwhile is fulfilled by
`payment_fulfil`, and so confirms the booking instead of being lost. Fulfilling, in turn, closes
a payment whose Checkout Session Stripe reports expired.
"""

from __future__ import annotations

import stripe
from sqlmodel import Session, col, select

from efoy_app.domain import audit, payment_fulfil
from efoy_app.domain.bookings import cancel_booking, get_booking_for
from efoy_app.domain.payment_views import payments_for_booking
from efoy_app.domain.stripe_gateway import call, get_stripe
from efoy_app.models import (
    BOOKING_EXPIRED,
    BOOKING_HELD,
    OPEN_STATUSES,
    PAID_STATUSES,
    PAYMENT_EXPIRED,
    PAYMENT_KIND_CHECKOUT,
    PAYMENT_PENDING,
    STRIPE_INTENT_SUCCEEDED,
    STRIPE_SESSION_PAID,
    Booking,
    Payment,
    User,
)


def expire_payment(db: Session, payment: Payment, actor: str, reason: str) -> bool:
    """Mark the payment expired in our books (audited, no commit); False if it already was."""
    return audit.change_status(
        db, payment, PAYMENT_EXPIRED, actor=actor, entity_type="payment", reason=reason
    )


def release_hold_if_unpaid(db: Session, booking_id: int, actor: str, reason: str) -> bool:
    """Free the slot of a held booking that has no paid or still-open payment."""
    booking = db.exec(select(Booking).where(Booking.id == booking_id).with_for_update()).one()
    if booking.status != BOOKING_HELD:
        return False
    still_open = db.exec(
        select(Payment).where(
            Payment.booking_id == booking_id,
            col(Payment.status).in_((PAYMENT_PENDING, *PAID_STATUSES)),
        )
    ).first()
    if still_open is not None:
        return False
    audit.change_status(
        db, booking, BOOKING_EXPIRED, actor=actor, entity_type="booking", reason=reason
    )
    return True


def close_at_stripe(payment: Payment) -> None:
    """Stop an open Checkout Session or PaymentIntent from taking money later.

    Already complete, expired or canceled is fine: the caller reads which afterwards.
    """
    try:
        if payment.kind == PAYMENT_KIND_CHECKOUT and payment.stripe_checkout_session_id:
            sid = payment.stripe_checkout_session_id
            call(
                "checkout.sessions.expire",
                lambda: get_stripe().v1.checkout.sessions.expire(sid),
                passthrough_invalid=True,
                session_id=sid,
            )
        elif payment.stripe_payment_intent_id:
            pid = payment.stripe_payment_intent_id
            call(
                "payment_intents.cancel",
                lambda: get_stripe().v1.payment_intents.cancel(pid),
                passthrough_invalid=True,
                payment_intent=pid,
            )
    except stripe.InvalidRequestError:
        pass


def close_open_payments(
    db: Session, booking_id: int, who: str, reason: str, keep_kind: str | None = None
) -> None:
    """Close a booking's open payments (all, or all but `keep_kind`) in our books, then at
    Stripe; one that Stripe reports paid meanwhile is applied (and so confirms the booking)."""
    open_payments = [
        p
        for p in payments_for_booking(db, booking_id)
        if p.status in OPEN_STATUSES and p.kind != keep_kind
    ]
    if not open_payments:
        return
    for payment in open_payments:
        expire_payment(db, payment, who, reason)
    db.commit()
    for payment in open_payments:
        close_at_stripe(payment)
        refund_ids: list[int] = []
        if payment.stripe_checkout_session_id:
            session = payment_fulfil.retrieve_checkout_session(payment.stripe_checkout_session_id)
            if session.get("payment_status") == STRIPE_SESSION_PAID:
                refund_ids = payment_fulfil.apply_checkout_session(db, session, who)
        elif payment.stripe_payment_intent_id:
            pi = payment_fulfil.retrieve_payment_intent(payment.stripe_payment_intent_id)
            if pi.get("status") == STRIPE_INTENT_SUCCEEDED:
                refund_ids = payment_fulfil.apply_payment_intent(db, pi, who)
        payment_fulfil.commit_and_submit_refunds(db, refund_ids)


def cancel_held_booking(db: Session, *, booking_id: int, actor: User, reason: str = "") -> Booking:
    """A patient (or admin) cancels before paying: close the booking's open payments at Stripe
    first, so a payment racing the cancel is either confirmed (and the cancel refused) or
    impossible; then cancel the booking."""
    get_booking_for(db, booking_id, actor)  # 404 for another patient's booking
    close_open_payments(db, booking_id, f"user:{actor.id}", "booking cancelled")
    return cancel_booking(db, booking_id=booking_id, actor=actor, reason=reason)
