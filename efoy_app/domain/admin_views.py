"""What admins read in lists: recent bookings, payments (flagged ones first to the eye) and the
stored Stripe webhook events. One payment with its ledger and audit trail is
`admin_payment_detail`.

A list that pages (`payment_list`, `webhook_event_list`) says how many rows match its filters,
counted by one query over the same filters, so a page of 50 still knows the whole is 1,234.

Read models only: nothing here changes a row. Every function takes the viewer and checks the admin
role itself, so a page or route that forgets its own check still shows nothing. Money is shown
with `format_money`, never formatted by a caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, case, col, func, select

from efoy_app.domain.auth import require_role
from efoy_app.domain.bookings import BookingView, booking_view
from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.money import format_money
from efoy_app.domain.read_models import build
from efoy_app.models import (
    EVENT_FAILED,
    EVENT_IGNORED,
    EVENT_PROCESSED,
    EVENT_RECEIVED,
    PAID_STATUSES,
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
    Booking,
    Doctor,
    Payment,
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
EVENT_STATUSES = (EVENT_PROCESSED, EVENT_IGNORED, EVENT_FAILED, EVENT_RECEIVED)
REFUND_STATUSES = (REFUND_PENDING, REFUND_SUCCEEDED, REFUND_FAILED, REFUND_CANCELED)
DEFAULT_LIMIT = 200


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


def payment_query() -> Any:
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


def payment_row(
    payment: Payment, booking: Booking, patient: User, doctor_user: User
) -> AdminPaymentRow:
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
        payment_query()
        .where(*_payment_filters(flagged_only, status))
        .order_by(col(Payment.created_at).desc(), col(Payment.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return [payment_row(*found) for found in session.exec(query).all()]


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
    took = case((col(Payment.status).in_(PAID_STATUSES), Payment.amount_minor), else_=0)
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
