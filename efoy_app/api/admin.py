"""Admin views over REST under /api/v1/admin: payments (flagged ones on request), one payment with
its refunds ledger and audit trail, and the stored Stripe webhook events.

Thin: `efoy_app.domain.admin_views` reads and checks the role again; a patient gets 403. Times are
shown in the admin's timezone, with their offset.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field
from sqlmodel import Session

from efoy_app.api.bookings import booking_out
from efoy_app.api.deps import finish, get_session, require_admin
from efoy_app.api.schemas import (
    AUTH_ERRORS,
    MAX_ID,
    BookingOut,
    CamelModel,
    ErrorOut,
    IsoDateTime,
)
from efoy_app.domain import admin_views
from efoy_app.domain.money import to_major
from efoy_app.domain.scheduling import to_local
from efoy_app.models import User

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=AUTH_ERRORS)

# The filters as enums, so the OpenAPI document lists what the domain accepts.
PaymentStatus = Literal["pending", "paid", "partially_refunded", "refunded", "failed", "expired"]
EventStatus = Literal["received", "processed", "ignored", "failed"]

ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No or bad bearer token"},
    403: {"model": ErrorOut, "description": "Not an admin"},
}


class AdminPaymentOut(CamelModel):
    id: int
    booking_id: int
    kind: str = Field(description="checkout | payment_intent")
    status: str = Field(
        description="pending | paid | partially_refunded | refunded | failed | expired"
    )
    amount: str = Field(description="Major units, as a decimal string")
    amount_minor: int
    currency: str
    amount_display: str = Field(description='For display, e.g. "$45.00"')
    amount_refunded_minor: int
    amount_refunded_display: str
    flagged: bool = Field(description="Needs an admin's eye, e.g. refunded automatically")
    flag_reason: str | None
    patient_id: int
    patient_name: str
    patient_email: str
    doctor_name: str
    starts_at: IsoDateTime
    paid_at: IsoDateTime | None
    created_at: IsoDateTime


class AdminRefundOut(CamelModel):
    id: int
    stripe_refund_id: str | None
    amount_minor: int
    currency: str
    amount_display: str
    status: str = Field(description="pending | succeeded | failed | canceled")
    failure_reason: str | None
    reason: str
    requested_by_user_id: int | None = Field(description="None when Efoy refunded by itself")
    requested_by: str
    created_at: IsoDateTime
    updated_at: IsoDateTime
    queued: bool = Field(description="Reserved, but Stripe has not answered; sent automatically")
    attempts: int = Field(description="Attempts to reach Stripe")
    last_error: str | None


class AuditOut(CamelModel):
    id: int
    at: IsoDateTime
    actor: str = Field(description='"user:12", "stripe:evt_...", "system:..."')
    actor_label: str
    entity_type: str = Field(description="payment | booking | refund")
    entity_id: int
    action: str
    from_status: str | None
    to_status: str | None
    reason: str | None
    details: dict[str, Any] | None


class AdminPaymentDetailOut(AdminPaymentOut):
    checkout_session_id: str | None
    payment_intent_id: str | None
    charge_id: str | None
    card_brand: str | None
    card_last4: str | None
    failure_code: str | None
    failure_message: str | None
    refundable_minor: int = Field(description="What is left to refund, in minor units")
    refundable_display: str
    booking: BookingOut
    refunds: list[AdminRefundOut]
    audit: list[AuditOut]


class WebhookEventOut(CamelModel):
    id: int
    stripe_event_id: str
    type: str
    status: str = Field(description="processed | ignored | failed | received")
    attempts: int
    error: str | None
    received_at: IsoDateTime
    processed_at: IsoDateTime | None


def _payment_fields(row: admin_views.AdminPaymentRow, tz: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "booking_id": row.booking_id,
        "kind": row.kind,
        "status": row.status,
        "amount": str(to_major(row.amount_minor, row.currency)),
        "amount_minor": row.amount_minor,
        "currency": row.currency,
        "amount_display": row.amount_display,
        "amount_refunded_minor": row.refunded_minor,
        "amount_refunded_display": row.refunded_display,
        "flagged": row.flagged,
        "flag_reason": row.flag_reason,
        "patient_id": row.patient_id,
        "patient_name": row.patient_name,
        "patient_email": row.patient_email,
        "doctor_name": row.doctor_name,
        "starts_at": to_local(row.starts_at, tz),
        "paid_at": to_local(row.paid_at, tz) if row.paid_at else None,
        "created_at": to_local(row.created_at, tz),
    }


def _refund_out(r: admin_views.RefundLine, tz: str) -> AdminRefundOut:
    return AdminRefundOut(
        id=r.id,
        stripe_refund_id=r.stripe_refund_id,
        amount_minor=r.amount_minor,
        currency=r.currency,
        amount_display=r.amount_display,
        status=r.status,
        failure_reason=r.failure_reason,
        reason=r.reason,
        requested_by_user_id=r.requested_by_user_id,
        requested_by=r.requested_by,
        created_at=to_local(r.created_at, tz),
        updated_at=to_local(r.updated_at, tz),
        queued=r.queued,
        attempts=r.attempts,
        last_error=r.last_error,
    )


def _audit_out(a: admin_views.AuditLine, tz: str) -> AuditOut:
    return AuditOut(
        id=a.id,
        at=to_local(a.at, tz),
        actor=a.actor,
        actor_label=a.actor_label,
        entity_type=a.entity_type,
        entity_id=a.entity_id,
        action=a.action,
        from_status=a.from_status,
        to_status=a.to_status,
        reason=a.reason,
        details=a.details,
    )


@router.get("/payments", response_model=list[AdminPaymentOut], responses=ADMIN_ERRORS)
def list_payments(
    flagged: bool = Query(default=False, description="Only flagged payments"),
    status: PaymentStatus | None = Query(default=None, description="Only payments in this status"),
    limit: int = Query(default=admin_views.DEFAULT_LIMIT, ge=1, le=1000),
    admin: User = Depends(require_admin),
    db: Session = Depends(get_session),
) -> list[AdminPaymentOut]:
    """Payments, newest first."""
    rows = admin_views.list_payments(db, admin, flagged_only=flagged, status=status, limit=limit)
    return finish(db, [AdminPaymentOut(**_payment_fields(r, admin.timezone)) for r in rows])


@router.get(
    "/payments/{payment_id}",
    response_model=AdminPaymentDetailOut,
    responses={**ADMIN_ERRORS, 404: {"model": ErrorOut, "description": "No such payment"}},
)
def get_payment(
    payment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    admin: User = Depends(require_admin),
    db: Session = Depends(get_session),
) -> AdminPaymentDetailOut:
    """One payment: Stripe ids, card, booking, refunds ledger (failed ones too), audit trail."""
    d = admin_views.payment_detail(db, admin, payment_id)
    tz = admin.timezone
    return finish(
        db,
        AdminPaymentDetailOut(
            **_payment_fields(d.payment, tz),
            checkout_session_id=d.checkout_session_id,
            payment_intent_id=d.payment_intent_id,
            charge_id=d.charge_id,
            card_brand=d.card_brand,
            card_last4=d.card_last4,
            failure_code=d.failure_code,
            failure_message=d.failure_message,
            refundable_minor=d.refundable_minor,
            refundable_display=d.refundable_display,
            booking=booking_out(d.booking, tz),
            refunds=[_refund_out(r, tz) for r in d.refunds],
            audit=[_audit_out(a, tz) for a in d.audit],
        ),
    )


@router.get("/webhooks", response_model=list[WebhookEventOut], responses=ADMIN_ERRORS)
def list_webhooks(
    status: EventStatus | None = Query(default=None, description="Only events in this status"),
    limit: int = Query(default=admin_views.DEFAULT_LIMIT, ge=1, le=1000),
    admin: User = Depends(require_admin),
    db: Session = Depends(get_session),
) -> list[WebhookEventOut]:
    """Stored Stripe events, newest first, with attempts and the last processing error."""
    rows = admin_views.list_webhook_events(db, admin, status=status, limit=limit)
    tz = admin.timezone
    return finish(
        db,
        [
            WebhookEventOut(
                id=e.id,
                stripe_event_id=e.stripe_event_id,
                type=e.type,
                status=e.status,
                attempts=e.attempts,
                error=e.error,
                received_at=to_local(e.received_at, tz),
                processed_at=to_local(e.processed_at, tz) if e.processed_at else None,
            )
            for e in rows
        ],
    )
