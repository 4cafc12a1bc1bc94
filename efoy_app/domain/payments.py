"""Paying for a booking, and the one fulfilment path that makes a payment a confirmation.

Rules that live here and nowhere else:
- the amount comes from the booking's price snapshot, never from the browser;
- a booking has at most one open payment of each kind (a partial unique index), and the Stripe
  object behind it is created with an idempotency key derived from our payment id, so ten clicks
  on "Pay now" make one Checkout Session;
- `apply_*` functions change the database only (no network) and never commit, so the webhook can
  store its event row in the same transaction as the effects; the public `fulfill_*` functions
  retrieve the truth from Stripe first, then apply and commit. All of them are idempotent.
- a payment that lands on a booking that can no longer be confirmed (slot retaken, cancelled,
  already paid by another payment) is refunded at once and flagged for admins.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import stripe
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from efoy_app.domain import audit, mailer, refunds
from efoy_app.domain.bookings import cancel_booking, get_booking_for
from efoy_app.domain.errors import Conflict, DomainError, NotFound
from efoy_app.domain.money import format_money, to_minor
from efoy_app.domain.stripe_gateway import call, get_stripe, to_dict
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_EXPIRED,
    BOOKING_HELD,
    PAYMENT_EXPIRED,
    PAYMENT_FAILED,
    PAYMENT_KIND_CHECKOUT,
    PAYMENT_KIND_INTENT,
    PAYMENT_PAID,
    PAYMENT_PARTIALLY_REFUNDED,
    PAYMENT_PENDING,
    PAYMENT_REFUNDED,
    Booking,
    Doctor,
    Payment,
    User,
    utcnow,
)
from efoy_app.settings import get_settings

PAID_STATUSES = (PAYMENT_PAID, PAYMENT_PARTIALLY_REFUNDED, PAYMENT_REFUNDED)
# Stripe wants a Checkout Session to live at least 30 minutes from its creation.
SESSION_MARGIN = timedelta(minutes=1)
# How long a concurrent click waits for the first click's Stripe call before making its own.
CLAIM_WAIT_SECONDS = 5.0


class AmountMismatch(DomainError):
    http_status = 400
    code = "amount_mismatch"


class AlreadyPaid(Conflict):
    code = "already_paid"


class HoldLapsed(Conflict):
    code = "hold_expired"


@dataclass(frozen=True)
class CheckoutStart:
    payment_id: int
    booking_id: int
    session_id: str
    url: str
    reused: bool


@dataclass(frozen=True)
class CardPaymentStart:
    payment_id: int
    booking_id: int
    payment_intent_id: str
    client_secret: str
    amount_minor: int
    currency: str


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


# --- starting a payment ---


def check_client_amount(
    booking: Booking,
    *,
    amount: Any = None,
    amount_minor: int | None = None,
    currency: str | None = None,
) -> None:
    """The seed's client may send an amount; one that differs from the snapshot is refused."""
    if currency is not None and currency.upper() != booking.currency:
        raise AmountMismatch(
            f"The currency {currency.upper()} does not match this appointment's price "
            f"({booking.currency})."
        )
    sent: int | None = amount_minor
    if amount is not None:
        try:
            sent = to_minor(Decimal(str(amount)), booking.currency)
        except (InvalidOperation, ValueError, DomainError) as exc:
            raise AmountMismatch("The amount sent is not a valid amount.") from exc
    if sent is not None and sent != booking.price_minor:
        raise AmountMismatch(
            "The amount sent does not match this appointment's price "
            f"({format_money(booking.price_minor, booking.currency)})."
        )


def ensure_payable(db: Session, booking: Booking, now: datetime | None = None) -> None:
    """A booking can be paid while it is held and its hold is running, and only once."""
    now = now or utcnow()
    paid = db.exec(
        select(Payment).where(
            Payment.booking_id == booking.id, col(Payment.status).in_(PAID_STATUSES)
        )
    ).first()
    if booking.status == BOOKING_CONFIRMED or paid is not None:
        raise AlreadyPaid("This appointment is already paid. You will not be charged again.")
    if booking.status != BOOKING_HELD:
        raise Conflict(f"This booking is {booking.status} and can no longer be paid.")
    if booking.hold_expires_at is not None and booking.hold_expires_at <= now:
        raise HoldLapsed("Your hold on this slot has lapsed. Please book the appointment again.")


def _open_payment(db: Session, booking_id: int, kind: str) -> Payment | None:
    return db.exec(
        select(Payment).where(
            Payment.booking_id == booking_id,
            Payment.kind == kind,
            Payment.status == PAYMENT_PENDING,
        )
    ).first()


def _claim_payment(db: Session, booking: Booking, kind: str, now: datetime) -> tuple[Payment, bool]:
    """The booking's open payment of this kind, created if there is none. Returns (row, created)."""
    existing = _open_payment(db, booking.id, kind)
    if existing is not None:
        return existing, False
    hold = timedelta(minutes=get_settings().hold_minutes)
    payment = Payment(
        booking_id=booking.id,
        kind=kind,
        amount_minor=booking.price_minor,
        currency=booking.currency,
        expires_at=now + hold + SESSION_MARGIN,
    )
    db.add(payment)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        existing = _open_payment(db, booking.id, kind)
        if existing is None:
            raise
        return existing, False
    db.refresh(payment)
    return payment, True


def _wait_for_stripe_id(db: Session, payment: Payment, attr: str) -> Payment:
    """A concurrent click's Stripe call is in flight: wait briefly for it to land."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while getattr(payment, attr) is None and time.monotonic() < deadline:
        db.rollback()  # never sleep inside a transaction (SQLite's write lock)
        time.sleep(0.1)
        fresh = db.get(Payment, payment.id)
        if fresh is None:
            break
        payment = fresh
    return payment


def _release_claim(db: Session, payment_id: int, attr: str) -> None:
    """Stripe failed: drop the claim so nothing half-written remains and a retry starts clean."""
    db.rollback()
    row = db.get(Payment, payment_id)
    if row is not None and getattr(row, attr) is None and row.status == PAYMENT_PENDING:
        db.delete(row)
        db.commit()


def idempotency_key(kind: str, row: Payment) -> str:
    """Derived from the row, so every retry and every concurrent click sends the same key; the
    creation time makes it unique even if the database is reset against the same Stripe account."""
    return f"efoy-{kind}-{row.id}-{int(row.created_at.timestamp() * 1_000_000)}"


def _payable_booking(
    db: Session,
    booking_id: int,
    user: User,
    kind: str,
    now: datetime,
    amount: Any,
    amount_minor: int | None,
    currency: str | None,
) -> Booking:
    """The user's own booking (404 otherwise), at its server-side price, payable now, with no
    other way of paying left open."""
    booking = get_booking_for(db, booking_id, user)
    check_client_amount(booking, amount=amount, amount_minor=amount_minor, currency=currency)
    ensure_payable(db, booking, now)
    return _one_method_at_a_time(db, booking, user, kind, now)


def _one_method_at_a_time(
    db: Session, booking: Booking, user: User, kind: str, now: datetime
) -> Booking:
    """Switching between `Pay now` and `Pay by card` closes the other one's open payment first,
    so a booking never has two ways to be charged at once. Returns the booking re-read (and
    re-checked: the other payment may have gone through meanwhile)."""
    others = [
        p
        for p in payments_for_booking(db, booking.id)
        if p.kind != kind and p.status in (PAYMENT_PENDING, PAYMENT_FAILED)
    ]
    if not others:
        return booking
    close_open_payments(db, booking.id, f"user:{user.id}", f"superseded by a {kind} payment", kind)
    booking = get_booking_for(db, booking.id, user)
    ensure_payable(db, booking, now)
    return booking


def _create_at_stripe(
    db: Session,
    payment: Payment,
    booking: Booking,
    user: User,
    kind: str,
    params: dict[str, Any],
    id_attr: str,
) -> dict[str, Any]:
    """Create the claimed payment's Checkout Session or PaymentIntent, then record its id, extend
    the hold to the payment's expiry and audit it (commits). Nothing stays behind on failure."""
    payment_id, booking_id = payment.id, booking.id
    key = idempotency_key(kind, payment)
    db.rollback()  # no transaction (and no SQLite write lock) across the network call

    def create() -> Any:
        v1 = get_stripe().v1
        service = v1.checkout.sessions if kind == "checkout" else v1.payment_intents
        return service.create(params, options={"idempotency_key": key})

    op = "checkout.sessions.create" if kind == "checkout" else "payment_intents.create"
    try:
        obj = to_dict(call(op, create, booking_id=booking_id, payment_id=payment_id))
    except Exception:
        _release_claim(db, payment_id, id_attr)
        raise
    setattr(payment, id_attr, obj["id"])
    payment.updated_at = utcnow()
    # The hold lasts as long as the payment may still be made.
    if booking.hold_expires_at is None or booking.hold_expires_at < payment.expires_at:
        booking.hold_expires_at = payment.expires_at
        booking.updated_at = utcnow()
    audit.record(
        db,
        actor=f"user:{user.id}",
        entity_type="payment",
        entity_id=payment_id,
        action="checkout_session_created" if kind == "checkout" else "payment_intent_created",
        to_status=PAYMENT_PENDING,
        details={"stripe_id": obj["id"], "amount_minor": payment.amount_minor},
    )
    db.add(payment)
    db.add(booking)
    db.commit()
    return obj


def _metadata(booking: Booking, payment: Payment) -> dict[str, str]:
    return {"booking_id": str(booking.id), "payment_id": str(payment.id)}


def _description(db: Session, booking: Booking) -> str:
    doctor = db.get(Doctor, booking.doctor_id)
    doctor_user = db.get(User, doctor.user_id) if doctor else None
    name = doctor_user.full_name if doctor_user else "your doctor"
    return (
        f"Consultation with {name}, {booking.starts_at:%Y-%m-%d %H:%M} UTC (booking #{booking.id})"
    )


def start_checkout(
    db: Session,
    *,
    booking_id: int,
    user: User,
    amount: Any = None,
    amount_minor: int | None = None,
    currency: str | None = None,
    now: datetime | None = None,
) -> CheckoutStart:
    """Create (or reuse) the booking's hosted Checkout Session; the caller redirects to `url`."""
    now = now or utcnow()
    booking = _payable_booking(
        db, booking_id, user, PAYMENT_KIND_CHECKOUT, now, amount, amount_minor, currency
    )
    payment, created = _claim_payment(db, booking, PAYMENT_KIND_CHECKOUT, now)
    if not created:
        payment = _wait_for_stripe_id(db, payment, "checkout_url")
        if payment.checkout_url and payment.stripe_checkout_session_id:
            return CheckoutStart(
                payment.id,
                booking.id,
                payment.stripe_checkout_session_id,
                payment.checkout_url,
                True,
            )
    patient = db.get(User, booking.patient_id)
    base = get_settings().frontend_url.rstrip("/")
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": booking.currency.lower(),
                    "unit_amount": booking.price_minor,
                    "product_data": {"name": _description(db, booking)},
                },
            }
        ],
        "success_url": f"{base}/payment/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}/payment/cancel?booking_id={booking.id}",
        "client_reference_id": str(booking.id),
        "customer_email": patient.email if patient else None,
        "expires_at": int(payment.expires_at.timestamp()),
        "metadata": _metadata(booking, payment),
        "payment_intent_data": {"metadata": _metadata(booking, payment)},
    }
    params = {k: v for k, v in params.items() if v is not None}
    session = _create_at_stripe(
        db, payment, booking, user, "checkout", params, "stripe_checkout_session_id"
    )
    payment.checkout_url = session["url"]
    db.add(payment)
    db.commit()
    return CheckoutStart(payment.id, booking.id, session["id"], session["url"], not created)


def start_card_payment(
    db: Session,
    *,
    booking_id: int,
    user: User,
    amount: Any = None,
    amount_minor: int | None = None,
    currency: str | None = None,
    now: datetime | None = None,
) -> CardPaymentStart:
    """Create (or reuse) the booking's PaymentIntent for the on-page card form."""
    now = now or utcnow()
    booking = _payable_booking(
        db, booking_id, user, PAYMENT_KIND_INTENT, now, amount, amount_minor, currency
    )
    # A declined card leaves the PaymentIntent reusable: the patient retries on the same one.
    failed = db.exec(
        select(Payment).where(
            Payment.booking_id == booking.id,
            Payment.kind == PAYMENT_KIND_INTENT,
            Payment.status == PAYMENT_FAILED,
        )
    ).first()
    if failed is not None and _open_payment(db, booking.id, PAYMENT_KIND_INTENT) is None:
        failed.status = PAYMENT_PENDING
        failed.updated_at = utcnow()
        db.add(failed)
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
    payment, created = _claim_payment(db, booking, PAYMENT_KIND_INTENT, now)
    if not created:
        payment = _wait_for_stripe_id(db, payment, "stripe_payment_intent_id")
    if payment.stripe_payment_intent_id is not None:
        pi_id, payment_id = payment.stripe_payment_intent_id, payment.id
        amount, cur, b_id = payment.amount_minor, payment.currency, booking.id
        db.rollback()
        pi = to_dict(
            call(
                "payment_intents.retrieve",
                lambda: get_stripe().v1.payment_intents.retrieve(pi_id),
                payment_id=payment_id,
                payment_intent=pi_id,
            )
        )
        return CardPaymentStart(payment_id, b_id, pi["id"], pi["client_secret"], amount, cur)
    patient = db.get(User, booking.patient_id)
    params: dict[str, Any] = {
        "amount": booking.price_minor,
        "currency": booking.currency.lower(),
        "automatic_payment_methods": {"enabled": True},
        "description": _description(db, booking),
        "metadata": _metadata(booking, payment),
    }
    if patient is not None:
        params["receipt_email"] = patient.email
    pi = _create_at_stripe(db, payment, booking, user, "intent", params, "stripe_payment_intent_id")
    return CardPaymentStart(
        payment.id,
        booking.id,
        pi["id"],
        pi["client_secret"],
        payment.amount_minor,
        payment.currency,
    )


# --- reading the truth from Stripe (network, no database) ---


def retrieve_checkout_session(session_id: str) -> dict[str, Any]:
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
    return to_dict(
        call(
            "payment_intents.retrieve",
            lambda: get_stripe().v1.payment_intents.retrieve(
                payment_intent_id, {"expand": ["latest_charge"]}
            ),
            payment_intent=payment_intent_id,
        )
    )


# --- applying the truth (database only, no commit) ---


def _lock_payment(db: Session, payment_id: int) -> Payment | None:
    """Row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers."""
    return db.exec(select(Payment).where(Payment.id == payment_id).with_for_update()).first()


def _metadata_payment_id(obj: dict[str, Any]) -> int | None:
    raw = (obj.get("metadata") or {}).get("payment_id")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def payment_for_session(db: Session, session: dict[str, Any]) -> Payment | None:
    row = db.exec(
        select(Payment).where(Payment.stripe_checkout_session_id == session["id"]).with_for_update()
    ).first()
    if row is None:
        pid = _metadata_payment_id(session)
        row = _lock_payment(db, pid) if pid is not None else None
        if row is not None and row.stripe_checkout_session_id not in (None, session["id"]):
            return None
    return row


def payment_for_intent(db: Session, pi: dict[str, Any]) -> Payment | None:
    row = db.exec(
        select(Payment).where(Payment.stripe_payment_intent_id == pi["id"]).with_for_update()
    ).first()
    if row is None:
        pid = _metadata_payment_id(pi)
        row = _lock_payment(db, pid) if pid is not None else None
        if row is not None and row.stripe_payment_intent_id not in (None, pi["id"]):
            return None
    return row


def _charge_of(pi: dict[str, Any]) -> dict[str, Any] | None:
    charge = pi.get("latest_charge")
    return charge if isinstance(charge, dict) else None


def _set_status(
    db: Session, payment: Payment, status: str, actor: str, reason: str | None = None
) -> None:
    audit.change_status(db, payment, status, actor=actor, entity_type="payment", reason=reason)


def _set_booking_status(
    db: Session, booking: Booking, status: str, actor: str, reason: str
) -> None:
    audit.change_status(db, booking, status, actor=actor, entity_type="booking", reason=reason)


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
        _set_booking_status(db, booking, BOOKING_CONFIRMED, actor, "payment received")
        return None
    if booking.status == BOOKING_EXPIRED:
        # The hold lapsed before the money arrived: confirm only if nobody took the slot since.
        try:
            with db.begin_nested():
                _set_booking_status(
                    db, booking, BOOKING_CONFIRMED, actor, "late payment, slot still free"
                )
                db.flush()
        except IntegrityError:
            db.refresh(booking)
            return (
                "The payment arrived after the hold lapsed and the slot was taken by someone else."
            )
        return None
    return f"The booking was {booking.status} before the payment arrived."


def apply_paid(
    db: Session, payment: Payment, pi: dict[str, Any], actor: str, now: datetime | None = None
) -> list[int]:
    """Mark the payment paid and confirm its booking; returns refund ids to submit afterwards."""
    if payment.status in PAID_STATUSES:
        return []
    if pi.get("status") != "succeeded":
        return []
    if int(pi["amount_received"] or pi["amount"]) != payment.amount_minor or (
        str(pi["currency"]).upper() != payment.currency
    ):
        if not payment.flagged:
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
        return []
    now = now or utcnow()
    charge = _charge_of(pi)
    payment.stripe_payment_intent_id = pi["id"]
    if charge is not None:
        payment.stripe_charge_id = charge["id"]
        card = ((charge.get("payment_method_details") or {}).get("card")) or {}
        payment.card_brand = card.get("brand")
        payment.card_last4 = card.get("last4")
        created = charge.get("created")
        payment.paid_at = datetime.fromtimestamp(created, UTC) if created else now
    elif isinstance(pi.get("latest_charge"), str):
        payment.stripe_charge_id = pi["latest_charge"]
        payment.paid_at = now
    else:
        payment.paid_at = now
    payment.failure_code = None
    payment.failure_message = None
    _set_status(db, payment, PAYMENT_PAID, actor, "payment succeeded")
    booking = db.exec(
        select(Booking).where(Booking.id == payment.booking_id).with_for_update()
    ).one()
    problem = _confirm_booking(db, booking, payment, actor)
    if problem is None:
        return []
    # Money we cannot honour goes back at once, and an admin sees why.
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
    patient = db.get(User, booking.patient_id)
    if patient is not None:
        mailer.queue_email(
            db,
            to_address=patient.email,
            subject="Your payment to Efoy is being refunded",
            body=(
                f"Dear {patient.full_name},\n\nWe received your payment of "
                f"{format_money(payment.amount_minor, payment.currency)} for booking "
                f"#{booking.id}, but we could not confirm the appointment: {problem}\n"
                "The full amount is being refunded to your card. We are sorry for the trouble.\n"
            ),
        )
    return [refund.id]


def apply_checkout_session(db: Session, session: dict[str, Any], actor: str) -> list[int]:
    """Bring our rows in line with a retrieved Checkout Session."""
    payment = payment_for_session(db, session)
    if payment is None:
        return []
    if payment.stripe_checkout_session_id is None:
        payment.stripe_checkout_session_id = session["id"]
        db.add(payment)
    if session.get("payment_status") == "paid" and session.get("status") == "complete":
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
    if session.get("status") == "expired" and payment.status == PAYMENT_PENDING:
        _set_status(db, payment, PAYMENT_EXPIRED, actor, "checkout session expired")
        release_hold_if_unpaid(db, payment.booking_id, actor, "checkout session expired")
    return []


def apply_payment_intent(db: Session, pi: dict[str, Any], actor: str) -> list[int]:
    """Bring our rows in line with a retrieved PaymentIntent (either kind of payment)."""
    payment = payment_for_intent(db, pi)
    if payment is None:
        return []
    status = pi.get("status")
    if status == "succeeded":
        return apply_paid(db, payment, pi, actor)
    error = pi.get("last_payment_error") or None
    if status == "requires_payment_method" and error and payment.status == PAYMENT_PENDING:
        payment.failure_code = error.get("decline_code") or error.get("code")
        payment.failure_message = error.get("message") or "The payment failed."
        if payment.kind == PAYMENT_KIND_INTENT:
            _set_status(db, payment, PAYMENT_FAILED, actor, payment.failure_message)
        db.add(payment)
    elif (
        status == "canceled"
        and payment.kind == PAYMENT_KIND_INTENT
        and payment.status
        in (
            PAYMENT_PENDING,
            PAYMENT_FAILED,
        )
    ):
        _set_status(db, payment, PAYMENT_EXPIRED, actor, "payment intent canceled")
    return []


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
    _set_booking_status(db, booking, BOOKING_EXPIRED, actor, reason)
    return True


# --- fulfilment: retrieve, apply, commit, then submit any refund ---


def _finish(db: Session, refund_ids: list[int]) -> None:
    db.commit()
    for refund_id in refund_ids:
        refunds.submit_refund_quietly(db, refund_id)


def fulfill_checkout(db: Session, session_id: str, *, actor: str = "system:fulfil") -> Payment:
    """The one fulfil function for Checkout: safe from the webhook, the success page and
    reconciliation at the same moment."""
    db.rollback()  # start clean: no transaction held across the network call
    session = retrieve_checkout_session(session_id)
    refund_ids = apply_checkout_session(db, session, actor)
    payment = payment_for_session(db, session)
    _finish(db, refund_ids)
    if payment is None:
        raise NotFound("No payment of ours matches this checkout session.")
    db.refresh(payment)
    return payment


def fulfill_payment_intent(
    db: Session, payment_intent_id: str, *, actor: str = "system:fulfil"
) -> Payment:
    """The PaymentIntent twin of `fulfill_checkout`."""
    db.rollback()
    pi = retrieve_payment_intent(payment_intent_id)
    refund_ids = apply_payment_intent(db, pi, actor)
    payment = payment_for_intent(db, pi)
    _finish(db, refund_ids)
    if payment is None:
        raise NotFound("No payment of ours matches this payment.")
    db.refresh(payment)
    return payment


# --- closing open payments ---


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
        if p.status in (PAYMENT_PENDING, PAYMENT_FAILED) and p.kind != keep_kind
    ]
    if not open_payments:
        return
    # Closed in our books first, so a racing "session expired" webhook cannot expire the booking.
    for payment in open_payments:
        _set_status(db, payment, PAYMENT_EXPIRED, who, reason)
    db.commit()
    for payment in open_payments:
        close_at_stripe(payment)
        refund_ids: list[int] = []
        if payment.stripe_checkout_session_id:
            session = retrieve_checkout_session(payment.stripe_checkout_session_id)
            if session.get("payment_status") == "paid":
                refund_ids = apply_checkout_session(db, session, who)
        elif payment.stripe_payment_intent_id:
            pi = retrieve_payment_intent(payment.stripe_payment_intent_id)
            if pi.get("status") == "succeeded":
                refund_ids = apply_payment_intent(db, pi, who)
        _finish(db, refund_ids)


def cancel_held_booking(db: Session, *, booking_id: int, actor: User, reason: str = "") -> Booking:
    """A patient (or admin) cancels before paying: close the booking's open payments at Stripe
    first, so a payment racing the cancel is either confirmed (and the cancel refused) or
    impossible; then cancel the booking."""
    get_booking_for(db, booking_id, actor)  # 404 for another patient's booking
    close_open_payments(db, booking_id, f"user:{actor.id}", "booking cancelled")
    return cancel_booking(db, booking_id=booking_id, actor=actor, reason=reason)


# --- reading ---


def _owned(db: Session, payment: Payment | None, user: User) -> Payment:
    if payment is None:
        raise NotFound("Payment not found.")
    get_booking_for(db, payment.booking_id, user)  # NotFound for another patient's
    return payment


def payment_by_session_for(db: Session, session_id: str, user: User) -> Payment:
    row = db.exec(select(Payment).where(Payment.stripe_checkout_session_id == session_id)).first()
    return _owned(db, row, user)


def payment_by_intent_for(db: Session, payment_intent_id: str, user: User) -> Payment:
    row = db.exec(
        select(Payment).where(Payment.stripe_payment_intent_id == payment_intent_id)
    ).first()
    return _owned(db, row, user)


def payment_view(db: Session, payment: Payment) -> PaymentView:
    booking = db.get(Booking, payment.booking_id)
    doctor = db.get(Doctor, booking.doctor_id)
    doctor_user = db.get(User, doctor.user_id)
    return PaymentView(
        payment_id=payment.id,
        booking_id=booking.id,
        kind=payment.kind,
        status=payment.status,
        booking_status=booking.status,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        amount_display=format_money(payment.amount_minor, payment.currency),
        amount_refunded_minor=payment.amount_refunded_minor,
        paid_at=payment.paid_at,
        session_id=payment.stripe_checkout_session_id,
        payment_intent_id=payment.stripe_payment_intent_id,
        charge_id=payment.stripe_charge_id,
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
        failure_message=payment.failure_message,
        flagged=payment.flagged,
        flag_reason=payment.flag_reason,
        doctor_name=doctor_user.full_name,
        starts_at=booking.starts_at,
        patient_id=booking.patient_id,
    )


def payments_for_booking(db: Session, booking_id: int) -> list[Payment]:
    return list(
        db.exec(select(Payment).where(Payment.booking_id == booking_id).order_by(Payment.id)).all()
    )


def cancelled_or_expired(booking: Booking) -> bool:
    return booking.status in (BOOKING_CANCELLED, BOOKING_EXPIRED)
