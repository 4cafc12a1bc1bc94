"""Cancellations on the clinic's side over REST under /api/v1/admin: cancel a patient's paid
booking with a full refund (the patient is emailed), and the refunds that wait for an admin's
approval when `EFOY_CANCELLATION_REFUNDS=approval`. The rules are `domain.booking_cancel`'s."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query
from pydantic import Field

from efoy_app.api.bookings import cancelled_out
from efoy_app.api.deps import AdminUser, DbSession, finish
from efoy_app.api.schemas import (
    AUTH_ERRORS,
    MAX_ID,
    READABLE,
    AmountOut,
    CamelIn,
    CamelModel,
    CancelledOut,
    IsoDateTime,
    StatedMinor,
    error_responses,
    one_of,
    shown_in,
)
from efoy_app.domain import booking_cancel
from efoy_app.models import (
    CANCELLATION_AWAITING,
    CANCELLATION_DECLINED,
    CANCELLATION_NO_REFUND,
    CANCELLATION_REFUNDED,
)
from efoy_app.routes import API_ADMIN

router = APIRouter(prefix=API_ADMIN, tags=["admin"], responses=AUTH_ERRORS)

STATUSES = (CANCELLATION_AWAITING, CANCELLATION_REFUNDED, CANCELLATION_NO_REFUND,
            CANCELLATION_DECLINED)  # fmt: skip
CancellationStatus = Literal[*STATUSES]  # type: ignore[valid-type]
ADMIN_ERRORS = error_responses(401, 403, s401="No or bad bearer token")
MAX_PAGE = 200


class ClinicCancelIn(CamelIn):
    reason: str = Field(
        min_length=1,
        max_length=500,
        pattern=READABLE,
        description="Why the clinic cancels; the patient reads it",
    )
    amount_minor: StatedMinor | None = Field(
        default=None,
        description="What to refund, in minor units (0: nothing); default everything left",
    )


class DeclineIn(CamelIn):
    note: str = Field(
        min_length=1, max_length=500, pattern=READABLE, description="Why; the patient reads it"
    )


class CancellationRowOut(AmountOut):
    id: int
    booking_id: int
    patient_name: str
    patient_email: str
    starts_at: IsoDateTime
    by: str = Field(description=one_of("patient", "clinic"))
    percent: int
    reason: str
    status: str = Field(description=one_of(*STATUSES))
    refund_id: int | None
    decision_note: str | None
    created_at: IsoDateTime


class CancellationsOut(CamelModel):
    data: list[CancellationRowOut]
    count: int = Field(description="How many match in all")


def _id(what: str) -> object:
    return Path(ge=1, le=MAX_ID, description=f"{what} id")


@router.post(
    "/bookings/{booking_id}/cancel",
    response_model=CancelledOut,
    responses={**ADMIN_ERRORS, **error_responses(404, 409, 503)},
)
def cancel_on_the_clinics_side(
    booking_id: Annotated[int, _id("Booking")],
    body: ClinicCancelIn,
    admin: AdminUser,
    db: DbSession,
) -> CancelledOut:
    """The clinic cancels a confirmed booking (a doctor's absence, a closed day): everything paid
    comes back whatever the policy (or `amountMinor`), the slot is freed, the patient emailed."""
    outcome = booking_cancel.cancel_paid_booking(
        db,
        booking_id=booking_id,
        actor=admin,
        reason=body.reason,
        by=booking_cancel.BY_CLINIC,
        amount_minor=body.amount_minor,
    )
    return finish(db, cancelled_out(db, outcome, admin.timezone))


@router.get("/cancellations", response_model=CancellationsOut, responses=ADMIN_ERRORS)
def list_cancellations(
    admin: AdminUser,
    db: DbSession,
    status: Annotated[CancellationStatus | None, Query(description="Only in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> CancellationsOut:
    """Cancellations of paid bookings; `status=awaiting_approval` is the requests to decide."""
    rows, count = booking_cancel.cancellation_list(
        db, admin, status=status, limit=limit, offset=offset
    )
    out = CancellationsOut.model_validate(
        {"data": rows, "count": count}, context=shown_in(admin.timezone)
    )
    return finish(db, out)


@router.post(
    "/cancellations/{cancellation_id}/approve",
    response_model=CancelledOut,
    responses={**ADMIN_ERRORS, **error_responses(404, 409, 503)},
)
def approve(
    cancellation_id: Annotated[int, _id("Cancellation")], admin: AdminUser, db: DbSession
) -> CancelledOut:
    """Send the refund a patient's cancellation asked for (approving twice sends it once)."""
    outcome = booking_cancel.approve(db, cancellation_id=cancellation_id, admin=admin)
    return finish(db, cancelled_out(db, outcome, admin.timezone))


@router.post(
    "/cancellations/{cancellation_id}/decline",
    response_model=CancelledOut,
    responses={**ADMIN_ERRORS, **error_responses(404)},
)
def decline(
    cancellation_id: Annotated[int, _id("Cancellation")],
    body: Annotated[DeclineIn, Body()],
    admin: AdminUser,
    db: DbSession,
) -> CancelledOut:
    """Refuse the refund, with a reason; the booking stays cancelled."""
    booking_cancel.decline(db, cancellation_id=cancellation_id, admin=admin, note=body.note)
    outcome = booking_cancel.outcome_of(db, cancellation_id)
    return finish(db, cancelled_out(db, outcome, admin.timezone))
