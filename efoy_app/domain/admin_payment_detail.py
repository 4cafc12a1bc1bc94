"""One payment as an admin reads it before refunding: its booking, the refunds ledger (failed
and queued refunds included) and the audit trail of the payment, its booking and its refunds.

Read models only: nothing here changes a row, and every function checks the admin role itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from efoy_app.domain.admin_views import AdminPaymentRow, payment_query, payment_row
from efoy_app.domain.auth import require_role
from efoy_app.domain.bookings import BookingView, booking_view
from efoy_app.domain.errors import NotFound, ValidationFailed
from efoy_app.domain.money import currency_exponent, format_money, parse_amount
from efoy_app.domain.read_models import build
from efoy_app.domain.refunds import refundable_now
from efoy_app.domain.text import clean_text
from efoy_app.models import (
    REFUND_PENDING,
    ROLE_ADMIN,
    AuditLog,
    Payment,
    Refund,
    User,
)

SYSTEM_REQUESTER = "Efoy (automatic)"
# Admins type amounts as the admin pages show them (`format_money`'s default locale): a point
# starts the decimals.
ADMIN_LOCALE = "en_US"
NO_REASON = "Say why you refund: the reason is kept in the audit trail."


@dataclass(frozen=True)
class RefundLine:
    """One row of a payment's refunds ledger, failed ones included."""

    id: int
    stripe_refund_id: str | None
    amount_minor: int
    currency: str
    amount_display: str
    status: str
    failure_reason: str | None
    reason: str
    requested_by_user_id: int | None
    requested_by: str
    requested_by_name: str
    requested_by_email: str
    created_at: datetime
    updated_at: datetime
    queued: bool = False  # reserved, but Stripe has not answered yet: it will be sent again
    attempts: int = 0
    last_error: str | None = None
    note_number: str | None = None  # its refund note's, once the refund succeeded


@dataclass(frozen=True)
class AuditLine:
    """One audit row of the payment, its booking or one of its refunds."""

    id: int
    at: datetime
    actor: str
    actor_label: str
    actor_name: str | None  # the user's full name when a user acted, else None
    actor_email: str | None
    entity_type: str
    entity_id: int
    action: str
    from_status: str | None
    to_status: str | None
    reason: str | None
    details: dict[str, Any] | None


@dataclass(frozen=True)
class PaymentDetail:
    """Everything about one payment (Stripe ids yes, keys and client secrets never)."""

    payment: AdminPaymentRow
    booking: BookingView
    patient_timezone: str
    checkout_session_id: str | None
    payment_intent_id: str | None
    charge_id: str | None
    card_brand: str | None
    card_last4: str | None
    failure_code: str | None
    failure_message: str | None
    expires_at: datetime | None
    updated_at: datetime
    refundable_minor: int
    refundable_display: str
    can_refund: bool
    refunds: list[RefundLine]
    audit: list[AuditLine]
    receipt_number: str | None = None  # once paid (older payments: when first asked for)


def payment_for_admin(session: Session, viewer: User, payment_id: int) -> Payment:
    """The payment row itself (for a refund); NotFound when there is none."""
    require_role(viewer, ROLE_ADMIN)
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"There is no payment #{payment_id}.")
    return payment


def _users(session: Session, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids))).all()}


def _label(user: User | None, otherwise: str) -> str:
    return f"{user.full_name} ({user.email})" if user is not None else otherwise


def _actor_id(actor: str) -> int | None:
    kind, _, rest = actor.partition(":")
    return int(rest) if kind == "user" and rest.isdigit() else None


def _audit_trail(session: Session, payment: Payment, refund_ids: list[int]) -> list[AuditLine]:
    """The payment's, its booking's and its refunds' audit rows, oldest first."""
    clauses = [
        (col(AuditLog.entity_type) == "payment") & (col(AuditLog.entity_id) == payment.id),
        (col(AuditLog.entity_type) == "booking") & (col(AuditLog.entity_id) == payment.booking_id),
    ]
    if refund_ids:
        clauses.append(
            (col(AuditLog.entity_type) == "refund") & col(AuditLog.entity_id).in_(refund_ids)
        )
    rows = session.exec(
        select(AuditLog).where(or_(*clauses)).order_by(col(AuditLog.at), col(AuditLog.id))
    ).all()
    users = _users(session, {i for r in rows if (i := _actor_id(r.actor)) is not None})
    lines = []
    for r in rows:
        user = users.get(_actor_id(r.actor) or 0)
        lines.append(
            build(
                AuditLine,
                r,
                actor_label=_label(user, r.actor),
                actor_name=user.full_name if user else None,
                actor_email=user.email if user else None,
                details=json.loads(r.details) if r.details else None,
            )
        )
    return lines


def _refund_lines(session: Session, payment_id: int) -> list[RefundLine]:
    rows = session.exec(
        select(Refund).where(Refund.payment_id == payment_id).order_by(col(Refund.id))
    ).all()
    users = _users(session, {r.requested_by_user_id for r in rows if r.requested_by_user_id})
    lines = []
    for r in rows:
        user = users.get(r.requested_by_user_id or 0)
        lines.append(
            build(
                RefundLine,
                r,
                amount_display=format_money(r.amount_minor, r.currency),
                requested_by=_label(user, SYSTEM_REQUESTER),
                requested_by_name=user.full_name if user else SYSTEM_REQUESTER,
                requested_by_email=user.email if user else "",
                queued=r.status == REFUND_PENDING and r.stripe_refund_id is None,
            )
        )
    return lines


def payment_detail(session: Session, viewer: User, payment_id: int) -> PaymentDetail:
    """One payment with its booking, patient, doctor, refunds ledger and audit trail."""
    require_role(viewer, ROLE_ADMIN)
    found = session.exec(payment_query().where(Payment.id == payment_id)).first()
    if found is None:
        raise NotFound(f"There is no payment #{payment_id}.")
    payment, booking, patient, _doctor_user = found
    refunds = _refund_lines(session, payment.id)
    refundable = refundable_now(session, payment)
    return build(
        PaymentDetail,
        payment,
        payment=payment_row(*found),
        booking=booking_view(session, booking),
        patient_timezone=patient.timezone,
        checkout_session_id=payment.stripe_checkout_session_id,
        payment_intent_id=payment.stripe_payment_intent_id,
        charge_id=payment.stripe_charge_id,
        refundable_minor=refundable,
        refundable_display=format_money(refundable, payment.currency),
        can_refund=refundable > 0,
        refunds=refunds,
        audit=_audit_trail(session, payment, [r.id for r in refunds]),
    )


def parse_refund_amount(text: str | None, currency: str) -> int | None:
    """An admin's amount ("30.50") to minor units by the currency's rules; blank means
    everything left.

    `money.parse_amount` reads it, as the pages show money (a point starts the decimals). A comma
    without a point is refused, not guessed: "30,50" may be a decimal comma (30.50) and "1,234" a
    thousands comma or three decimals; refunding 100 times too much is not a risk worth a guess.
    A zero-decimal currency has no decimals, so "5,000" yen reads as 5000.
    """
    typed = (text or "").strip()
    if not typed:
        return None
    if currency_exponent(currency) > 0 and "," in typed and "." not in typed:
        raise ValidationFailed(
            f'"{typed}" could be read two ways. Write the amount with a point for the '
            "decimals and no thousands separator, e.g. 30.50."
        )
    amount = parse_amount(typed, currency, ADMIN_LOCALE)
    if amount <= 0:
        raise ValidationFailed("A refund must be more than zero.")
    return amount


@dataclass(frozen=True)
class RefundPreview:
    """What the admin confirms before anything is sent: the amount and where it goes."""

    amount_minor: int | None  # None: everything left
    amount_display: str
    card_brand: str | None
    card_last4: str | None


def refund_preview(
    session: Session, viewer: User, payment_id: int, amount_text: str | None, reason: str
) -> RefundPreview:
    """Check the refund form before the confirm step (ValidationFailed with what to fix).

    `refunds.refund_payment` checks all of it again under a row lock when it is sent; this only
    keeps a confirm dialog from asking about a refund that cannot happen.
    """
    payment = payment_for_admin(session, viewer, payment_id)
    left = refundable_now(session, payment)
    if left <= 0:
        raise ValidationFailed("Nothing is left to refund on this payment.")
    amount = parse_refund_amount(amount_text, payment.currency)
    if not clean_text(reason):
        raise ValidationFailed(NO_REASON)
    if amount is not None and amount > left:
        raise ValidationFailed(
            f"A refund of {format_money(amount, payment.currency)} is more than the "
            f"{format_money(left, payment.currency)} left to refund on this payment."
        )
    shown = left if amount is None else amount
    return RefundPreview(
        amount, format_money(shown, payment.currency), payment.card_brand, payment.card_last4
    )
