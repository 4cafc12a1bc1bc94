"""Bookings over REST: hold a slot, list and read one's own, see what cancelling would refund,
cancel (a hold is released; a paid booking is refunded by the policy, through the ledger).

A patient only ever sees their own bookings (another patient's id answers 404, as if it did
not exist); an admin sees all. The list comes a page at a time (`limit`/`offset`). Times are
shown in the caller's timezone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from efoy_app.api.deps import CurrentUser, DbSession, finish
from efoy_app.api.schemas import (
    AUTH_ERRORS,
    MAX_ID,
    BookingIn,
    BookingOut,
    CancelIn,
    CancellationDoneOut,
    CancellationOut,
    CancelledOut,
    error_responses,
    shown_in,
)
from efoy_app.domain import booking_cancel, booking_pages, bookings, cancellation
from efoy_app.models import Refund
from efoy_app.routes import API_BOOKINGS

router = APIRouter(prefix=API_BOOKINGS, tags=["bookings"], responses=AUTH_ERRORS)

BookingId = Annotated[int, Path(ge=1, le=MAX_ID, description="Booking id")]


def booking_out(view: bookings.BookingView, timezone: str) -> BookingOut:
    """The booking with its times in `timezone` (the caller's)."""
    return BookingOut.model_validate(view, context=shown_in(timezone))


@router.post(
    "",
    response_model=BookingOut,
    status_code=201,
    responses=error_responses(
        404,
        409,
        422,
        s404="Unknown doctor",
        s409="slot_taken: someone else holds this slot",
        s422="Not one of the doctor's free slots",
    ),
)
def create_booking(body: BookingIn, user: CurrentUser, db: DbSession) -> BookingOut:
    """Hold a free slot; the price is the doctor's fee now, whatever the client believes."""
    booking = bookings.hold_slot(
        db, patient=user, doctor_id=body.doctor_id, starts_at=body.starts_at, reason=body.reason
    )
    return finish(db, booking_out(bookings.booking_view(db, booking), user.timezone))


@router.get("", response_model=list[BookingOut])
def list_bookings(
    user: CurrentUser,
    db: DbSession,
    limit: Annotated[
        int, Query(ge=1, le=booking_pages.MAX_PAGE, description="At most this many bookings")
    ] = booking_pages.DEFAULT_PAGE,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Skip this many first")] = 0,
) -> list[BookingOut]:
    """The caller's bookings (an admin: everyone's), latest appointment first, a page at a
    time (admins page through everyone's with `GET /api/v1/admin/bookings` and its count)."""
    views = booking_pages.bookings_page_for(db, user, limit=limit, offset=offset)
    return finish(db, [booking_out(v, user.timezone) for v in views])


@router.get("/{booking_id}", response_model=BookingOut, responses=error_responses(404))
def get_booking(booking_id: BookingId, user: CurrentUser, db: DbSession) -> BookingOut:
    """One of the caller's bookings."""
    booking = bookings.get_booking_for(db, booking_id, user)
    return finish(db, booking_out(bookings.booking_view(db, booking), user.timezone))


@router.get(
    "/{booking_id}/cancellation", response_model=CancellationOut, responses=error_responses(404)
)
def get_cancellation(booking_id: BookingId, user: CurrentUser, db: DbSession) -> CancellationOut:
    """What cancelling one of the caller's bookings now would refund, by the policy (nothing
    is changed: this is the preview a patient sees before confirming)."""
    booking = bookings.get_booking_for(db, booking_id, user)
    quote = cancellation.quote_cancellation(db, booking)
    return finish(db, CancellationOut.model_validate(quote))


@router.post(
    "/{booking_id}/cancel",
    response_model=CancelledOut,
    responses=error_responses(
        404, 409, 503, s409="Not cancellable now, or refund_changed: the previewed refund moved"
    ),
)
def cancel_booking(
    booking_id: BookingId,
    user: CurrentUser,
    db: DbSession,
    body: Annotated[CancelIn | None, Body()] = None,
) -> CancelledOut:
    """Cancel a booking: a hold frees its slot and closes its open payment; a paid booking is
    cancelled and refunded by the policy (send `expectedRefundMinor`, the amount the patient
    saw). Asking again answers with the first cancellation and refunds nothing more."""
    outcome = booking_cancel.cancel(
        db,
        booking_id=booking_id,
        actor=user,
        reason=(body.reason if body else None) or "",
        expected_refund_minor=body.expected_refund_minor if body else None,
    )
    return finish(db, cancelled_out(db, outcome, user.timezone))


def cancelled_out(db: DbSession, outcome: booking_cancel.CancelOutcome, tz: str) -> CancelledOut:
    """The booking and its cancellation, as the patient's and the admin's cancel answer."""
    view = booking_out(bookings.booking_view(db, outcome.booking), tz)
    done = outcome.cancellation
    refund = db.get(Refund, done.refund_id) if done is not None and done.refund_id else None
    cancellation_out = None
    if done is not None:
        cancellation_out = CancellationDoneOut(
            by=done.by,
            amount_minor=done.amount_minor,
            currency=done.currency,
            percent=done.percent,
            status=done.status,
            refund_id=done.refund_id,
            refund_status=refund.status if refund is not None else None,
        )
    fields = {**view.model_dump(exclude={"price"}), "message": outcome.message}
    return CancelledOut.model_validate(
        {**fields, "cancellation": cancellation_out}, context=shown_in(tz)
    )
