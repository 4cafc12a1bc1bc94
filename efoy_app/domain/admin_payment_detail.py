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
from efoy_app.domain.money import format_money, to_minor
from efoy_app.domain.read_models import build
from efoy_app.domain.refunds import refundable_now
from efoy_app.models import (
    REFUND_PENDING,
    ROLE_ADMIN,
    AuditLog,
    Payment,
    Refund,
    User,
)

SYSTEM_REQUESTER = "Efoy (automatic)"


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
    created_at: datetime
    updated_at: datetime
    queued: bool = False  # reserved, but Stripe has not answered yet: it will be sent again
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class AuditLine:
    """One audit row of the payment, its booking or one of its refunds."""

    id: int
    at: datetime
    actor: str
    actor_label: str
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


def payment_for_admin(session: Session, viewer: User, payment_id: int) -> Payment:
    """The payment row itself (for a refund); NotFound when there is none."""
    require_role(viewer, ROLE_ADMIN)
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"There is no payment #{payment_id}.")
    return payment


def _user_labels(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    users = session.exec(select(User).where(col(User.id).in_(ids))).all()
    return {u.id: f"{u.full_name} ({u.email})" for u in users}


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
    labels = _user_labels(session, {i for r in rows if (i := _actor_id(r.actor)) is not None})
    return [
        build(
            AuditLine,
            r,
            actor_label=labels.get(_actor_id(r.actor) or 0, r.actor),
            details=json.loads(r.details) if r.details else None,
        )
        for r in rows
    ]


def _refund_lines(session: Session, payment_id: int) -> list[RefundLine]:
    rows = session.exec(
        select(Refund).where(Refund.payment_id == payment_id).order_by(col(Refund.id))
    ).all()
    labels = _user_labels(session, {r.requested_by_user_id for r in rows if r.requested_by_user_id})
    return [
        build(
            RefundLine,
            r,
            amount_display=format_money(r.amount_minor, r.currency),
            requested_by=labels.get(r.requested_by_user_id or 0, SYSTEM_REQUESTER),
            queued=r.status == REFUND_PENDING and r.stripe_refund_id is None,
        )
        for r in rows
    ]


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
    """An admin's amount in major units ("12.50") to minor units; blank means everything left."""
    cleaned = (text or "").strip().replace(",", "")
    if not cleaned:
        return None
    amount = to_minor(cleaned, currency)
    if amount <= 0:
        raise ValidationFailed("A refund must be more than zero.")
    return amount
