"""Fulfilling a payment: the one path that makes money at Stripe a confirmed booking.

- `retrieve_*` read the truth from Stripe (network, no database);
- `apply_*` bring our rows in line with it (database only, no network, no commit), so the webhook
  can store its event row in the same transaction as the effects;
- `fulfill_*` retrieve, apply and commit; the webhook, the success page and reconciliation may
  run them at the same moment. All of them are idempotent.
- A payment that lands on a booking that can no longer be confirmed (slot retaken, cancelled,
  already paid by another payment) is refunded at once and flagged for admins. The refund is
  reserved in the transaction and sent to Stripe only after it commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from efoy_app.domain import audit, messages, payment_close, refunds
from efoy_app.domain.errors import NotFound
from efoy_app.domain.receipt_numbers import issue_receipt_number
from efoy_app.domain.stripe_gateway import call, get_stripe, to_dict
from efoy_app.models import (
    BOOKING_CONFIRMED,
    BOOKING_EXPIRED,
    BOOKING_HELD,
    OPEN_STATUSES,
    PAID_STATUSES,
    PAYMENT_EXPIRED,
    PAYMENT_FAILED,
    PAYMENT_KIND_INTENT,
    PAYMENT_PAID,
    PAYMENT_PENDING,
    STRIPE_INTENT_CANCELED,
    STRIPE_INTENT_REQUIRES_PAYMENT_METHOD,
    STRIPE_INTENT_SUCCEEDED,
    STRIPE_SESSION_COMPLETE,
    STRIPE_SESSION_EXPIRED,
    STRIPE_SESSION_PAID,
    Booking,
    Payment,
    utcnow,
)

# --- reading the truth from Stripe (network, no database) ---


def retrieve_checkout_session(session_id: str) -> dict[str, Any]:
    """The session with its PaymentIntent and charge, so one call says whether money came."""
    return to_dict(
        call(
            "checkout.sessions.retrieve",
            lambda: get_stripe().v1.checkout.sessions.retrieve(
                session_id, {"expand": ["payment_intent", "payment_intent.latest_charge"]}
            ),
            session_id=session_id,
        )
    )


def retrieve_payment_intent(payment_intent_id: str) -> dict[str, Any]:
    """The PaymentIntent with its latest charge (card brand, last four, paid time)."""
    return to_dict(
        call(
            "payment_intents.retrieve",
            lambda: get_stripe().v1.payment_intents.retrieve(
                payment_intent_id, {"expand": ["latest_charge"]}
            ),
            payment_intent=payment_intent_id,
        )
    )


# --- finding our payment (row-locked) ---


def _metadata_payment_id(obj: dict[str, Any]) -> int | None:
    raw = (obj.get("metadata") or {}).get("payment_id")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _payment_for(db: Session, id_attr: str, obj: dict[str, Any]) -> Payment | None:
    """Our payment of this Stripe object: by its stored id, else by the payment id we put in its
    metadata (its id may not be stored yet). Row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE
    already serialises writers."""
    row = db.exec(
        select(Payment).where(getattr(Payment, id_attr) == obj["id"]).with_for_update()
    ).first()
    if row is None:
        pid = _metadata_payment_id(obj)
        if pid is None:
            return None
        row = db.exec(select(Payment).where(Payment.id == pid).with_for_update()).first()
        if row is not None and getattr(row, id_attr) not in (None, obj["id"]):
            return None
    return row


def payment_for_session(db: Session, session: dict[str, Any]) -> Payment | None:
    """Our payment of this Checkout Session, locked; None if it is not ours."""
    return _payment_for(db, "stripe_checkout_session_id", session)


def payment_for_intent(db: Session, pi: dict[str, Any]) -> Payment | None:
    """Our payment of this PaymentIntent (of either kind), locked; None if it is not ours."""
    return _payment_for(db, "stripe_payment_intent_id", pi)


# --- applying the truth (database only, no commit) ---


def _move(db: Session, payment: Payment, status: str, actor: str, reason: str | None) -> None:
    audit.change_status(db, payment, status, actor=actor, entity_type="payment", reason=reason)


def _confirm(db: Session, booking: Booking, actor: str, reason: str) -> None:
    audit.change_status(
        db, booking, BOOKING_CONFIRMED, actor=actor, entity_type="booking", reason=reason
    )


def _confirm_booking(db: Session, booking: Booking, payment: Payment, actor: str) -> str | None:
    """Confirm the booking for this payment; returns why it cannot be, or None when confirmed."""
    if booking.status == BOOKING_CONFIRMED:
        other = db.exec(
            select(Payment).where(
                Payment.booking_id == booking.id,
                Payment.id != payment.id,
                col(Payment.status).in_(PAID_STATUSES),
            )
        ).first()
        return "This appointment was already paid by another payment." if other else None
    if booking.status == BOOKING_HELD:
        _confirm(db, booking, actor, "payment received")
        return None
    if booking.status == BOOKING_EXPIRED:
        # The hold lapsed before the money arrived: confirm only if nobody took the slot since.
        try:
            with db.begin_nested():
                _confirm(db, booking, actor, "late payment, slot still free")
                db.flush()
        except IntegrityError:
            db.refresh(booking)
            return (
                "The payment arrived after the hold lapsed and the slot was taken by someone else."
            )
        return None
    return f"The booking was {booking.status} before the payment arrived."


def _amount_differs(payment: Payment, pi: dict[str, Any]) -> bool:
    received = int(pi["amount_received"] or pi["amount"])
    return received != payment.amount_minor or str(pi["currency"]).upper() != payment.currency


def _flag_amount_mismatch(db: Session, payment: Payment, pi: dict[str, Any], actor: str) -> None:
    """Stripe took another amount than the booking's price: an admin decides, nothing confirms."""
    if payment.flagged:
        return
    payment.flagged = True
    payment.flag_reason = (
        f"Stripe reports {pi['amount']} {str(pi['currency']).upper()}, expected "
        f"{payment.amount_minor} {payment.currency}; not confirmed."
    )
    db.add(payment)
    audit.record(
        db,
        actor=actor,
        entity_type="payment",
        entity_id=payment.id,
        action="amount_mismatch",
        reason=payment.flag_reason,
    )


def _record_charge(payment: Payment, pi: dict[str, Any], now: datetime) -> None:
    """Copy the charge's id, card and time onto the payment (the card is shown, never stored
    more than brand and last four)."""
    payment.stripe_payment_intent_id = pi["id"]
    charge = pi.get("latest_charge")
    if isinstance(charge, dict):
        payment.stripe_charge_id = charge["id"]
        card = ((charge.get("payment_method_details") or {}).get("card")) or {}
        payment.card_brand = card.get("brand")
        payment.card_last4 = card.get("last4")
        created = charge.get("created")
        payment.paid_at = datetime.fromtimestamp(created, UTC) if created else now
    else:
        if isinstance(charge, str):
            payment.stripe_charge_id = charge
        payment.paid_at = now
    payment.failure_code = None
    payment.failure_message = None


def apply_paid(
    db: Session, payment: Payment, pi: dict[str, Any], actor: str, now: datetime | None = None
) -> list[int]:
    """Mark the payment paid and confirm its booking; returns refund ids to submit afterwards."""
    if payment.status in PAID_STATUSES:
        return []
    if pi.get("status") != STRIPE_INTENT_SUCCEEDED:
        return []
    if _amount_differs(payment, pi):
        _flag_amount_mismatch(db, payment, pi, actor)
        return []
    now = now or utcnow()
    _record_charge(payment, pi, now)
    _move(db, payment, PAYMENT_PAID, actor, "payment succeeded")
    issue_receipt_number(db, payment, now)  # money came: a receipt is due, whatever follows
    booking = db.exec(
        select(Booking).where(Booking.id == payment.booking_id).with_for_update()
    ).one()
    problem = _confirm_booking(db, booking, payment, actor)
    if problem is None:
        messages.payment_confirmed(db, payment, booking)
        return []
    return [refund_unconfirmable_payment(db, payment, booking, problem, actor)]


def refund_unconfirmable_payment(
    db: Session, payment: Payment, booking: Booking, problem: str, actor: str
) -> int:
    """Money we cannot honour goes back at once, and an admin sees why: flag the payment,
    reserve a full refund and tell the patient (no commit). Returns the refund's id, for the
    caller to submit once its transaction has committed."""
    payment.flagged = True
    payment.flag_reason = f"Refunded automatically: {problem}"
    db.add(payment)
    refund = refunds.create_refund_row(
        db,
        payment=payment,
        amount_minor=payment.amount_minor,
        reason=problem,
        requested_by_user_id=None,
        actor=actor,
    )
    messages.late_payment_refunded(db, payment, booking, problem)
    return refund.id


def apply_checkout_session(db: Session, session: dict[str, Any], actor: str) -> list[int]:
    """Bring our rows in line with a retrieved Checkout Session."""
    payment = payment_for_session(db, session)
    if payment is None:
        return []
    if payment.stripe_checkout_session_id is None:
        payment.stripe_checkout_session_id = session["id"]
        db.add(payment)
    status = session.get("status")
    if session.get("payment_status") == STRIPE_SESSION_PAID and status == STRIPE_SESSION_COMPLETE:
        if int(session.get("amount_total") or 0) != payment.amount_minor or (
            str(session.get("currency")).upper() != payment.currency
        ):
            payment.flagged = True
            payment.flag_reason = "Checkout amount differs from the booking's price; not confirmed."
            db.add(payment)
            return []
        pi = session.get("payment_intent")
        if isinstance(pi, dict):
            return apply_paid(db, payment, pi, actor)
        if isinstance(pi, str):
            return apply_paid(db, payment, retrieve_payment_intent(pi), actor)
        return []
    if status == STRIPE_SESSION_EXPIRED and payment.status == PAYMENT_PENDING:
        payment_close.expire_payment(db, payment, actor, "checkout session expired")
        payment_close.release_hold_if_unpaid(
            db, payment.booking_id, actor, "checkout session expired"
        )
    return []


def apply_checkout_async_failure(db: Session, session: dict[str, Any], actor: str) -> list[int]:
    """The bank did not complete a delayed Checkout payment: the payment failed (the patient may
    pay again while the hold runs)."""
    payment = payment_for_session(db, session)
    if payment is not None and payment.status == PAYMENT_PENDING:
        payment.failure_message = "The bank did not complete the payment."
        _move(db, payment, PAYMENT_FAILED, actor, "async payment failed")
    return []


def apply_payment_intent(db: Session, pi: dict[str, Any], actor: str) -> list[int]:
    """Bring our rows in line with a retrieved PaymentIntent (either kind of payment)."""
    payment = payment_for_intent(db, pi)
    if payment is None:
        return []
    status = pi.get("status")
    if status == STRIPE_INTENT_SUCCEEDED:
        return apply_paid(db, payment, pi, actor)
    error = pi.get("last_payment_error") or None
    if (
        status == STRIPE_INTENT_REQUIRES_PAYMENT_METHOD
        and error
        and payment.status == PAYMENT_PENDING
    ):
        payment.failure_code = error.get("decline_code") or error.get("code")
        payment.failure_message = error.get("message") or "The payment failed."
        if payment.kind == PAYMENT_KIND_INTENT:
            _move(db, payment, PAYMENT_FAILED, actor, payment.failure_message)
        db.add(payment)
    elif (
        status == STRIPE_INTENT_CANCELED
        and payment.kind == PAYMENT_KIND_INTENT
        and payment.status in OPEN_STATUSES
    ):
        _move(db, payment, PAYMENT_EXPIRED, actor, "payment intent canceled")
    return []


# --- fulfilment: retrieve, apply, commit, then submit any refund ---


def commit_and_submit_refunds(db: Session, refund_ids: list[int]) -> None:
    """Commit the caller's work, then send the refunds it reserved: a refund reaches Stripe only
    once the rows that justify it are stored."""
    db.commit()
    refunds.submit_refunds_quietly(db, refund_ids)


def _apply_and_commit(
    db: Session,
    obj: dict[str, Any],
    actor: str,
    apply: Callable[[Session, dict[str, Any], str], list[int]],
    find: Callable[[Session, dict[str, Any]], Payment | None],
    missing: str,
) -> Payment:
    refund_ids = apply(db, obj, actor)
    payment = find(db, obj)
    commit_and_submit_refunds(db, refund_ids)
    if payment is None:
        raise NotFound(missing)
    db.refresh(payment)
    return payment


def fulfill_checkout(db: Session, session_id: str, *, actor: str = "system:fulfil") -> Payment:
    """The one fulfil function for Checkout: safe from the webhook, the success page and
    reconciliation at the same moment."""
    db.rollback()  # start clean: no transaction held across the network call
    session = retrieve_checkout_session(session_id)
    return _apply_and_commit(
        db,
        session,
        actor,
        apply_checkout_session,
        payment_for_session,
        "No payment of ours matches this checkout session.",
    )


def fulfill_payment_intent(
    db: Session, payment_intent_id: str, *, actor: str = "system:fulfil"
) -> Payment:
    """The PaymentIntent twin of `fulfill_checkout`."""
    db.rollback()
    pi = retrieve_payment_intent(payment_intent_id)
    return _apply_and_commit(
        db,
        pi,
        actor,
        apply_payment_intent,
        payment_for_intent,
        "No payment of ours matches this payment.",
    )
