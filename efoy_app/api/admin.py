"""Admin views over REST under /api/v1/admin: payments (flagged ones on request) and their CSV,
bookings, one payment with its refunds ledger and audit trail, and the stored Stripe webhook
events.

Thin: `efoy_app.domain.admin_views` reads and checks the role again; a patient gets 403. Times are
shown in the admin's timezone, with their offset. Lists page with `limit`/`offset` and answer
`{data, count}` (payments also `totals` per currency), `count` being how many match the filters in
all. Payment filters are `admin_views.PaymentFilter`, read by `admin_query` (the rules the /admin
page reads its URL with); their days are the clinic's (`EFOY_CLINIC_TIMEZONE`), and a bad value
is a 422 JSON error before any query runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from efoy_app.api.deps import AdminUser, DbSession, finish
from efoy_app.api.schemas import (
    AUTH_ERRORS,
    MAX_ID,
    AdminBookingOut,
    AdminBookingsOut,
    AmountOut,
    BookingOut,
    CamelModel,
    IsoDateTime,
    error_responses,
    one_of,
    shown_in,
)
from efoy_app.domain import admin_csv, admin_payment_detail, admin_query, admin_views
from efoy_app.models import PAYMENT_KIND_CHECKOUT, PAYMENT_KIND_INTENT, utcnow
from efoy_app.routes import API_ADMIN
from efoy_app.settings import get_settings

router = APIRouter(prefix=API_ADMIN, tags=["admin"], responses=AUTH_ERRORS)

# The filters as enums, so the OpenAPI document lists what the domain accepts.
PaymentStatus = Literal[*admin_views.PAYMENT_STATUSES]  # type: ignore[valid-type]
EventStatus = Literal[*admin_views.EVENT_STATUSES]  # type: ignore[valid-type]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many rows")]
MAX_PAGE = 200  # rows of payments per page
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Skip this many rows first")]

ADMIN_ERRORS = error_responses(401, 403, s401="No or bad bearer token")


class AdminPaymentOut(AmountOut):
    """`admin_views.AdminPaymentRow` on the wire."""

    id: int
    booking_id: int
    kind: str = Field(description=one_of(PAYMENT_KIND_CHECKOUT, PAYMENT_KIND_INTENT))
    status: str = Field(description=one_of(*admin_views.PAYMENT_STATUSES))
    amount_display: str = Field(description='For display, e.g. "$45.00"')
    amount_refunded_minor: int = Field(validation_alias="refunded_minor")
    amount_refunded_display: str = Field(validation_alias="refunded_display")
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
    """`admin_payment_detail.RefundLine` on the wire."""

    id: int
    stripe_refund_id: str | None
    amount_minor: int
    currency: str
    amount_display: str
    status: str = Field(description=one_of(*admin_views.REFUND_STATUSES))
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
    """`admin_payment_detail.AuditLine` on the wire."""

    id: int
    at: IsoDateTime
    actor: str = Field(description='"user:12", "stripe:evt_...", "system:..."')
    actor_label: str
    entity_type: str = Field(description="payment | booking | refund")
    entity_id: int
    action: str = Field(description='e.g. "status_changed", "refund_requested"')
    from_status: str | None
    to_status: str | None
    reason: str | None
    details: dict[str, Any] | None = Field(description="What else was recorded, as JSON")


class AdminPaymentDetailOut(AdminPaymentOut):
    """`admin_payment_detail.PaymentDetail`: its payment row's fields, then the rest beside them."""

    checkout_session_id: str | None = Field(description="cs_...; hosted Checkout only")
    payment_intent_id: str | None = Field(description="pi_...")
    charge_id: str | None = Field(description="ch_..., once the card was charged")
    card_brand: str | None
    card_last4: str | None
    failure_code: str | None = Field(description="Stripe's code for the last decline")
    failure_message: str | None
    refundable_minor: int = Field(description="What is left to refund, in minor units")
    refundable_display: str
    booking: BookingOut
    refunds: list[AdminRefundOut]
    audit: list[AuditOut]


class CurrencyTotalOut(CamelModel):
    """`admin_views.CurrencyTotal`: amounts of different currencies are never added up."""

    currency: str
    count: int = Field(description="Payments in this currency")
    paid_minor: int = Field(description="Taken: payments paid, whether refunded since or not")
    paid_display: str
    refunded_minor: int
    refunded_display: str
    net_minor: int = Field(description="Collected less refunded")
    net_display: str


class AdminPaymentsOut(CamelModel):
    data: list[AdminPaymentOut] = Field(description="This page, newest first")
    count: int = Field(description="Payments matching the filters, over all pages")
    totals: list[CurrencyTotalOut] = Field(description="Over all pages, one row per currency")


class WebhookEventOut(CamelModel):
    """`admin_views.WebhookEventRow` on the wire."""

    id: int
    stripe_event_id: str
    type: str
    status: str = Field(description=one_of(*admin_views.EVENT_STATUSES))
    attempts: int
    error: str | None
    received_at: IsoDateTime
    processed_at: IsoDateTime | None


class WebhookEventsOut(CamelModel):
    data: list[WebhookEventOut] = Field(description="This page, newest first")
    count: int = Field(description="Events matching the filter, over all pages")


Currency = Annotated[
    str | None,
    Query(pattern="^[A-Za-z]{3}$", description="ISO 4217 code, e.g. USD (any case)"),
]
Day = Annotated[
    str | None,
    Query(
        # The years admin_views accepts (2000-2199), in the schema too, so clients know.
        pattern=r"^2[01][0-9]{2}-[0-9]{2}-[0-9]{2}$",
        json_schema_extra={"format": "date"},
        description="YYYY-MM-DD from 2000 to 2199, a day in the clinic's timezone (both ends "
        "included)",
    ),
]


def payment_filters(
    flagged: Annotated[bool, Query(description="Only flagged payments")] = False,
    status: Annotated[
        PaymentStatus | None, Query(description="Only payments in this status")
    ] = None,
    doctor_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only bookings with this doctor")
    ] = None,
    currency: Currency = None,
    date_field: Annotated[
        Literal["created_at", "paid_at"], Query(description="Which time the date range applies to")
    ] = "created_at",
    date_from: Day = None,
    date_to: Day = None,
    q: Annotated[
        str | None,
        Query(
            max_length=admin_views.SEARCH_MAX,
            pattern=admin_query.SEARCH_PATTERN,
            description="cs_... or pi_... (exact), a booking id, or part of the patient's email "
            "(no control characters)",
        ),
    ] = None,
) -> admin_views.PaymentFilter:
    """The payment filters of a query string, read by `admin_query` (the rules the /admin page
    uses too); the declarations above are what OpenAPI shows."""
    values = {
        "flagged": flagged,
        "status": status,
        "doctor_id": doctor_id,
        "currency": currency,
        "date_field": date_field,
        "date_from": date_from,
        "date_to": date_to,
        "q": q,
    }
    return admin_query.payment_filter(values, get_settings().clinic_timezone)


PaymentFilters = Annotated[admin_views.PaymentFilter, Depends(payment_filters)]


@router.get("/payments", response_model=AdminPaymentsOut, responses=ADMIN_ERRORS)
def list_payments(
    admin: AdminUser,
    db: DbSession,
    filters: PaymentFilters,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many rows")] = 50,
    offset: Offset = 0,
) -> AdminPaymentsOut:
    """Payments, newest first, with how many match and their totals per currency."""
    page = admin_views.payment_list(db, admin, filters, limit=limit, offset=offset)
    return finish(db, AdminPaymentsOut.model_validate(page, context=shown_in(admin.timezone)))


@router.get(
    "/payments.csv",
    response_class=StreamingResponse,
    responses={
        **ADMIN_ERRORS,
        200: {"content": {"text/csv": {}}, "description": "The matching payments, newest first"},
    },
)
def payments_csv(admin: AdminUser, db: DbSession, filters: PaymentFilters) -> StreamingResponse:
    """The payments the filters match (all of them, not a page) as CSV, sent as it is read.

    Amounts in major units beside `currency` and the minor units; times in the clinic's zone;
    cells that a spreadsheet would run as a formula start with an apostrophe."""
    tz = get_settings().clinic_timezone
    lines = admin_csv.payment_csv(db, admin, filters, tz)
    first = next(lines)  # the role and the filter are checked here, before any byte is sent
    name = f"payments-{utcnow():%Y%m%d-%H%M%S}.csv"

    def body() -> Iterator[bytes]:
        yield ("\ufeff" + first).encode()  # a BOM, so spreadsheets read UTF-8
        for chunk in lines:
            yield chunk.encode()

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


BookingStatus = Literal[*admin_query.BOOKING_STATUSES]  # type: ignore[valid-type]


@router.get("/bookings", response_model=AdminBookingsOut, responses=ADMIN_ERRORS)
def list_bookings(
    admin: AdminUser,
    db: DbSession,
    status: Annotated[
        BookingStatus | None,
        Query(description="Only bookings in this status as shown (a lapsed hold is expired)"),
    ] = None,
    doctor_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only bookings with this doctor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many rows")] = 50,
    offset: Offset = 0,
) -> AdminBookingsOut:
    """Bookings, newest first, with the patient, and how many match in all."""
    filters = admin_views.BookingFilter(
        status=admin_query.parse_booking_status(status),
        doctor_id=admin_query.parse_doctor_id(doctor_id),
    )
    page = admin_views.booking_list(db, admin, limit=limit, offset=offset, filters=filters)
    context = shown_in(admin.timezone)
    out = AdminBookingsOut(
        data=[
            AdminBookingOut.model_validate(
                {**asdict(v.booking), "patient_name": v.patient_name,
                 "patient_email": v.patient_email},
                context=context,
            )
            for v in page.data
        ],
        count=page.count,
    )  # fmt: skip
    return finish(db, out)


@router.get(
    "/payments/{payment_id}",
    response_model=AdminPaymentDetailOut,
    responses={**ADMIN_ERRORS, **error_responses(404, s404="No such payment")},
)
def get_payment(
    payment_id: Annotated[int, Path(ge=1, le=MAX_ID)], admin: AdminUser, db: DbSession
) -> AdminPaymentDetailOut:
    """One payment: Stripe ids, card, booking, refunds ledger (failed ones too), audit trail."""
    d = admin_payment_detail.payment_detail(db, admin, payment_id)
    fields = {**asdict(d), **asdict(d.payment)}
    out = AdminPaymentDetailOut.model_validate(fields, context=shown_in(admin.timezone))
    return finish(db, out)


@router.get("/webhooks", response_model=WebhookEventsOut, responses=ADMIN_ERRORS)
def list_webhooks(
    admin: AdminUser,
    db: DbSession,
    status: Annotated[EventStatus | None, Query(description="Only events in this status")] = None,
    limit: Limit = admin_views.DEFAULT_LIMIT,
    offset: Offset = 0,
) -> WebhookEventsOut:
    """Stored Stripe events, newest first, with attempts and the last processing error."""
    page = admin_views.webhook_event_list(db, admin, status=status, limit=limit, offset=offset)
    return finish(db, WebhookEventsOut.model_validate(page, context=shown_in(admin.timezone)))
