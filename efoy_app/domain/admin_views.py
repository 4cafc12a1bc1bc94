"""What admins read: recent bookings, payments (flagged ones first to the eye), one payment with
its booking, refunds ledger and audit trail, and the stored Stripe webhook events.

A list that pages (`payment_list`, `webhook_event_list`) says how many rows match its filters,
counted by one query over the same filters, so a page of 50 still knows the whole is 1,234.

Read models only: nothing here changes a row. Every function takes the viewer and checks the admin
role itself, so a page or route that forgets its own check still shows nothing. Money is shown
with `format_money`, never formatted by a caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, case, col, func, or_, select

from efoy_app.domain.auth import require_role
from efoy_app.domain.bookings import BookingView, booking_view
from efoy_app.domain.errors import NotFound, ValidationFailed
from efoy_app.domain.money import format_money, to_minor
from efoy_app.domain.read_models import build
from efoy_app.domain.refunds import refundable_minor
from efoy_app.models import (
    EVENT_FAILED,
    EVENT_IGNORED,
    EVENT_PROCESSED,
    EVENT_RECEIVED,
    PAYMENT_EXPIRED,
    PAYMENT_FAILED,
    PAYMENT_PAID,
    PAYMENT_PARTIALLY_REFUNDED,
    PAYMENT_PENDING,
    PAYMENT_REFUNDED,
    REFUND_CANCELED,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUND_SUCCEEDED,
    ROLE_ADMIN,
    AuditLog,
    Booking,
    Doctor,
    Payment,
    Refund,
    User,
    WebhookEvent,
)

PAYMENT_STATUSES = (
    PAYMENT_PENDING,
    PAYMENT_PAID,
    PAYMENT_PARTIALLY_REFUNDED,
    PAYMENT_REFUNDED,
    PAYMENT_FAILED,
    PAYMENT_EXPIRED,
)
REFUNDABLE_STATUSES = (PAYMENT_PAID, PAYMENT_PARTIALLY_REFUNDED)
TOOK_MONEY_STATUSES = (PAYMENT_PAID, PAYMENT_PARTIALLY_REFUNDED, PAYMENT_REFUNDED)
EVENT_STATUSES = (EVENT_PROCESSED, EVENT_IGNORED, EVENT_FAILED, EVENT_RECEIVED)
REFUND_STATUSES = (REFUND_PENDING, REFUND_SUCCEEDED, REFUND_FAILED, REFUND_CANCELED)
DEFAULT_LIMIT = 200
SYSTEM_REQUESTER = "Efoy (automatic)"


@dataclass(frozen=True)
class AdminBookingView:
    """A booking with the patient an admin needs to recognise."""

    booking: BookingView
    patient_name: str
    patient_email: str


@dataclass(frozen=True)
class AdminPaymentRow:
    """One payment as the admin list shows it."""

    id: int
    booking_id: int
    kind: str
    status: str
    amount_minor: int
    currency: str
    amount_display: str
    refunded_minor: int
    refunded_display: str
    flagged: bool
    flag_reason: str | None
    patient_id: int
    patient_name: str
    patient_email: str
    doctor_name: str
    starts_at: datetime
    paid_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class CurrencyTotal:
    """The payments of one currency among those a filter matches; currencies are never added."""

    currency: str
    count: int
    paid_minor: int  # what was taken: payments paid, whether refunded since or not
    paid_display: str
    refunded_minor: int
    refunded_display: str


@dataclass(frozen=True)
class PaymentList:
    """One page of payments, how many match the filters in all, and their totals per currency."""

    data: list[AdminPaymentRow]
    count: int
    totals: list[CurrencyTotal]


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


@dataclass(frozen=True)
class WebhookEventRow:
    """A stored Stripe event and what became of it (the payload stays in the database)."""

    id: int
    stripe_event_id: str
    type: str
    status: str
    attempts: int
    error: str | None
    received_at: datetime
    processed_at: datetime | None


@dataclass(frozen=True)
class WebhookEventList:
    """One page of stored events and how many match the filter in all."""

    data: list[WebhookEventRow]
    count: int


def _admin(viewer: User) -> None:
    require_role(viewer, ROLE_ADMIN)


# --- bookings ---


def recent_bookings(
    session: Session, viewer: User, *, limit: int = DEFAULT_LIMIT
) -> list[AdminBookingView]:
    """Newest bookings first, with their effective status (a lapsed hold shows expired)."""
    _admin(viewer)
    rows = session.exec(
        select(Booking, User)
        .join(User, col(User.id) == col(Booking.patient_id))
        .order_by(col(Booking.created_at).desc(), col(Booking.id).desc())
        .limit(limit)
    ).all()
    return [
        AdminBookingView(booking_view(session, b), patient.full_name, patient.email)
        for b, patient in rows
    ]


# --- payments ---


def _payment_query() -> Any:
    doctor_user = sa.orm.aliased(User)
    patient = sa.orm.aliased(User)
    return (
        select(Payment, Booking, patient, doctor_user)
        .select_from(Payment)
        .join(Booking, col(Booking.id) == col(Payment.booking_id))
        .join(patient, patient.id == Booking.patient_id)
        .join(Doctor, col(Doctor.id) == col(Booking.doctor_id))
        .join(doctor_user, doctor_user.id == Doctor.user_id)
    )


def _row(payment: Payment, booking: Booking, patient: User, doctor_user: User) -> AdminPaymentRow:
    return build(
        AdminPaymentRow,
        payment,
        booking_id=booking.id,
        amount_display=format_money(payment.amount_minor, payment.currency),
        refunded_minor=payment.amount_refunded_minor,
        refunded_display=format_money(payment.amount_refunded_minor, payment.currency),
        patient_id=patient.id,
        patient_name=patient.full_name,
        patient_email=patient.email,
        doctor_name=doctor_user.full_name,
        starts_at=booking.starts_at,
    )


def _payment_filters(flagged_only: bool, status: str | None) -> list[Any]:
    filters: list[Any] = []
    if flagged_only:
        filters.append(col(Payment.flagged).is_(True))
    if status:
        if status not in PAYMENT_STATUSES:
            raise ValidationFailed(
                f"Unknown payment status {status!r}; use one of {', '.join(PAYMENT_STATUSES)}."
            )
        filters.append(Payment.status == status)
    return filters


def list_payments(
    session: Session,
    viewer: User,
    *,
    flagged_only: bool = False,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> list[AdminPaymentRow]:
    """Payments, newest first; `flagged_only` keeps those refunded automatically or mismatched."""
    _admin(viewer)
    query = (
        _payment_query()
        .where(*_payment_filters(flagged_only, status))
        .order_by(col(Payment.created_at).desc(), col(Payment.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return [_row(*found) for found in session.exec(query).all()]


def payment_list(
    session: Session,
    viewer: User,
    *,
    flagged_only: bool = False,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> PaymentList:
    """A page of `list_payments`, with the count and the per-currency totals of all it matches."""
    rows = list_payments(
        session, viewer, flagged_only=flagged_only, status=status, limit=limit, offset=offset
    )
    filters = _payment_filters(flagged_only, status)
    count = session.exec(select(func.count()).select_from(Payment).where(*filters)).one()
    took = case((col(Payment.status).in_(TOOK_MONEY_STATUSES), Payment.amount_minor), else_=0)
    sums = session.exec(
        select(
            Payment.currency,
            func.count(),
            func.coalesce(func.sum(took), 0),
            func.coalesce(func.sum(Payment.amount_refunded_minor), 0),
        )
        .where(*filters)
        .group_by(Payment.currency)
        .order_by(Payment.currency)
    ).all()
    totals = [
        CurrencyTotal(
            currency=currency,
            count=int(n),
            paid_minor=int(paid),
            paid_display=format_money(int(paid), currency),
            refunded_minor=int(refunded),
            refunded_display=format_money(int(refunded), currency),
        )
        for currency, n, paid, refunded in sums
    ]
    return PaymentList(data=rows, count=int(count), totals=totals)


def payment_for_admin(session: Session, viewer: User, payment_id: int) -> Payment:
    """The payment row itself (for a refund); NotFound when there is none."""
    _admin(viewer)
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
        AuditLine(
            id=r.id,
            at=r.at,
            actor=r.actor,
            actor_label=labels.get(_actor_id(r.actor) or 0, r.actor),
            entity_type=r.entity_type,
            entity_id=r.entity_id,
            action=r.action,
            from_status=r.from_status,
            to_status=r.to_status,
            reason=r.reason,
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
    _admin(viewer)
    found = session.exec(_payment_query().where(Payment.id == payment_id)).first()
    if found is None:
        raise NotFound(f"There is no payment #{payment_id}.")
    payment, booking, patient, _doctor_user = found
    refunds = _refund_lines(session, payment.id)
    refundable = (
        max(refundable_minor(session, payment), 0) if payment.status in REFUNDABLE_STATUSES else 0
    )
    return PaymentDetail(
        payment=_row(*found),
        booking=booking_view(session, booking),
        patient_timezone=patient.timezone,
        checkout_session_id=payment.stripe_checkout_session_id,
        payment_intent_id=payment.stripe_payment_intent_id,
        charge_id=payment.stripe_charge_id,
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
        failure_code=payment.failure_code,
        failure_message=payment.failure_message,
        expires_at=payment.expires_at,
        updated_at=payment.updated_at,
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


# --- webhooks ---


def _event_filters(status: str | None) -> list[Any]:
    if not status:
        return []
    if status not in EVENT_STATUSES:
        raise ValidationFailed(
            f"Unknown event status {status!r}; use one of {', '.join(EVENT_STATUSES)}."
        )
    return [WebhookEvent.status == status]


def list_webhook_events(
    session: Session,
    viewer: User,
    *,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> list[WebhookEventRow]:
    """Stored Stripe events, newest first, optionally only processed / ignored / failed ones."""
    _admin(viewer)
    query = (
        select(WebhookEvent)
        .where(*_event_filters(status))
        .order_by(col(WebhookEvent.received_at).desc(), col(WebhookEvent.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return [
        WebhookEventRow(
            id=e.id,
            stripe_event_id=e.stripe_event_id,
            type=e.type,
            status=e.status,
            attempts=e.attempts,
            error=e.error,
            received_at=e.received_at,
            processed_at=e.processed_at,
        )
        for e in session.exec(query).all()
    ]


def webhook_event_list(
    session: Session,
    viewer: User,
    *,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> WebhookEventList:
    """A page of `list_webhook_events`, with how many events match the filter in all."""
    rows = list_webhook_events(session, viewer, status=status, limit=limit, offset=offset)
    count = session.exec(
        select(func.count()).select_from(WebhookEvent).where(*_event_filters(status))
    ).one()
    return WebhookEventList(data=rows, count=int(count))


def webhook_status_counts(session: Session, viewer: User) -> dict[str, int]:
    """How many stored events are in each status (every status present, zeros included)."""
    _admin(viewer)
    counts = dict.fromkeys(EVENT_STATUSES, 0)
    rows = session.exec(
        select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
    ).all()
    for status, n in rows:
        counts[status] = int(n)
    return counts
