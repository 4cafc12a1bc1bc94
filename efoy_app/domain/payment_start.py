"""Starting a payment: the first step of its lifecycle (then `payment_fulfil`, `payment_close`).

Rules that live here and nowhere else:
- the amount comes from the booking's price snapshot, never from the browser;
- a booking has at most one open payment of each kind (a partial unique index), and the Stripe
  object behind it is created with an idempotency key derived from our payment id, so ten clicks
  on "Pay now" make one Checkout Session;
- a booking has one way of paying open at a time: switching between the hosted Checkout and the
  card form closes the other one first;
- a declined card leaves its PaymentIntent reusable: the patient retries on the same one;
- a payment (and the hold it extends) never lasts past the appointment's start, so an appointment
  starting in less than Stripe's 30-minute minimum cannot be paid on the hosted Checkout page.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from efoy_app import routes
from efoy_app.domain import audit, payment_close
from efoy_app.domain.bookings import get_booking_for, hold_end
from efoy_app.domain.errors import Conflict, DomainError
from efoy_app.domain.money import format_money, to_minor
from efoy_app.domain.payment_views import payments_for_booking
from efoy_app.domain.stripe_gateway import call, get_stripe, to_dict
from efoy_app.domain.times import when_label
from efoy_app.models import (
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    OPEN_STATUSES,
    PAID_STATUSES,
    PAYMENT_FAILED,
    PAYMENT_KIND_CHECKOUT,
    PAYMENT_KIND_INTENT,
    PAYMENT_PENDING,
    Booking,
    Doctor,
    Payment,
    User,
    utcnow,
)
from efoy_app.settings import get_settings

# Stripe wants a Checkout Session to live at least 30 minutes from its creation.
CHECKOUT_MIN_LIFETIME = timedelta(minutes=30)
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


class CheckoutTooLate(Conflict):
    """The appointment starts before a Checkout Session could live its 30 minutes."""

    code = "checkout_too_late"


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


def payment_deadline(booking: Booking, now: datetime) -> datetime:
    """Until when a payment started now may be made: the hold's length (and a minute), but never
    past the appointment's start."""
    hold = timedelta(minutes=get_settings().hold_minutes)
    return hold_end(booking.starts_at, now + hold + SESSION_MARGIN)


def minutes_to_start(booking: Booking, now: datetime) -> int:
    """Whole minutes until the appointment starts (rounded down, never negative)."""
    return max(0, math.floor((booking.starts_at - now).total_seconds() / 60))


def checkout_possible(booking: Booking, now: datetime | None = None) -> bool:
    """Stripe's hosted page needs 30 minutes (and our minute's margin) before the start."""
    return checkout_possible_for(booking.starts_at, now)


def checkout_possible_for(starts_at: datetime, now: datetime | None = None) -> bool:
    """`checkout_possible` for a slot not held yet (the doctor page's promise before booking)."""
    return starts_at - (now or utcnow()) >= CHECKOUT_MIN_LIFETIME + SESSION_MARGIN


def hosted_checkout_available(db: Session, booking: Booking, now: datetime) -> bool:
    """`Pay now` can be offered: a new session would live its 30 minutes, or the booking already
    has an open one (reused as it is)."""
    return (
        checkout_possible(booking, now)
        or _open_payment(db, booking.id, PAYMENT_KIND_CHECKOUT) is not None
    )


def ensure_checkout_possible(booking: Booking, now: datetime) -> None:
    """Refuse the hosted page for an appointment that starts too soon; the card form is open."""
    if not checkout_possible(booking, now):
        minutes = minutes_to_start(booking, now)
        raise CheckoutTooLate(
            f"This appointment starts in {minutes} minute{'' if minutes == 1 else 's'}: "
            "Stripe's payment page needs at least 30 minutes, so please pay by card."
        )


def _payment_in(db: Session, booking_id: int, kind: str, status: str) -> Payment | None:
    return db.exec(
        select(Payment).where(
            Payment.booking_id == booking_id, Payment.kind == kind, Payment.status == status
        )
    ).first()


def _open_payment(db: Session, booking_id: int, kind: str) -> Payment | None:
    return _payment_in(db, booking_id, kind, PAYMENT_PENDING)


def _reopen_declined_card_payment(db: Session, booking: Booking, user: User) -> None:
    """A declined card leaves the PaymentIntent reusable: the patient retries on the same one,
    so its failed payment becomes the open one again (commits). A concurrent click that got
    there first wins the open slot; this one then shares it."""
    failed = _payment_in(db, booking.id, PAYMENT_KIND_INTENT, PAYMENT_FAILED)
    if failed is None or _open_payment(db, booking.id, PAYMENT_KIND_INTENT) is not None:
        return
    audit.change_status(
        db, failed, PAYMENT_PENDING, actor=f"user:{user.id}", entity_type="payment",
        reason="card payment retried",
    )  # fmt: skip
    try:
        db.commit()
    except IntegrityError:
        db.rollback()


def _claim_payment(db: Session, booking: Booking, kind: str, now: datetime) -> tuple[Payment, bool]:
    """The booking's open payment of this kind, created if there is none. Returns (row, created)."""
    existing = _open_payment(db, booking.id, kind)
    if existing is not None:
        return existing, False
    payment = Payment(
        booking_id=booking.id,
        doctor_id=booking.doctor_id,
        kind=kind,
        amount_minor=booking.price_minor,
        currency=booking.currency,
        expires_at=payment_deadline(booking, now),
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
    if kind == PAYMENT_KIND_CHECKOUT and not hosted_checkout_available(db, booking, now):
        ensure_checkout_possible(booking, now)
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
        if p.kind != kind and p.status in OPEN_STATUSES
    ]
    if not others:
        return booking
    superseded = f"superseded by a {kind} payment"
    payment_close.close_open_payments(db, booking.id, f"user:{user.id}", superseded, kind)
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


def description(db: Session, booking: Booking) -> str:
    """What Stripe shows the payer (Checkout's line item, the PaymentIntent's description): the
    appointment in the patient's own timezone, as our pages show it."""
    doctor = db.get(Doctor, booking.doctor_id)
    doctor_user = db.get(User, doctor.user_id) if doctor else None
    patient = db.get(User, booking.patient_id)
    name = doctor_user.full_name if doctor_user else "your doctor"
    when = when_label(booking.starts_at, patient.timezone if patient else "UTC")
    return f"Consultation with {name}, {when} (booking #{booking.id})"


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
                    "product_data": {"name": description(db, booking)},
                },
            }
        ],
        "success_url": f"{base}{routes.PAYMENT_SUCCESS}?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}{routes.PAYMENT_CANCEL}?booking_id={booking.id}",
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
    _reopen_declined_card_payment(db, booking, user)
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
        "description": description(db, booking),
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
