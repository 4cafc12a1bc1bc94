"""My appointments' sections: upcoming soonest first, then past, then cancelled and expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from efoy_app.domain import booking_cancel
from efoy_app.domain.appointment_list import (
    ReceiptRef,
    RefundNoteRef,
    receipts_by_booking,
    split_appointments,
)
from efoy_app.domain.bookings import BookingView
from efoy_app.models import Payment
from tests.unit.payment_setup import fresh, hold, paid_by_checkout, refund_rows, slot

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def view(booking_id: int, hours: float, status: str) -> BookingView:
    start = NOW + timedelta(hours=hours)
    return BookingView(
        id=booking_id, doctor_id=1, doctor_name="Dr. A", speciality="GP", starts_at=start,
        ends_at=start + timedelta(minutes=30), status=status, reason="", price_minor=100,
        currency="EUR", hold_expires_at=None, created_at=NOW,
    )  # fmt: skip


def ids(views: list[BookingView]) -> list[int]:
    return [v.id for v in views]


def test_sections_and_their_order() -> None:
    views = [
        view(1, 72, "confirmed"),
        view(2, 2, "held"),
        view(3, 24, "confirmed"),
        view(4, -48, "completed"),
        view(5, -1, "confirmed"),  # started an hour ago: past, not upcoming
        view(6, 5, "cancelled"),
        view(7, -3, "expired"),
        view(8, 30, "expired"),
    ]
    sections = split_appointments(views, now=NOW)
    assert ids(sections.upcoming) == [2, 3, 1]
    assert ids(sections.past) == [5, 4]
    assert ids(sections.closed) == [8, 6, 7]


def test_nothing_is_lost_or_shown_twice() -> None:
    statuses = ["held", "confirmed", "completed", "cancelled", "expired"]
    views = [view(i, h, s) for i, (h, s) in enumerate((h, s) for h in (-5, 5) for s in statuses)]
    sections = split_appointments(views, now=NOW)
    shown = ids(sections.upcoming) + ids(sections.past) + ids(sections.closed)
    assert sorted(shown) == list(range(len(views)))


def test_receipts_of_the_bookings_that_took_money(
    session, stripe_double, make_doctor, patient
) -> None:
    """A paid then cancelled booking: its payment, receipt number and refund note; a held one
    and an unknown id: nothing."""
    doctor = make_doctor()
    booking, payment = paid_by_checkout(session, stripe_double, doctor, patient)
    held = hold(session, doctor, patient, starts_at=slot(hour=14))
    booking_cancel.cancel(session, booking_id=booking.id, actor=patient)
    [refund] = refund_rows(session, payment.id)
    payment = fresh(session, Payment, payment.id)
    assert refund.status == "succeeded" and refund.note_number is not None
    assert payment.receipt_number is not None

    found = receipts_by_booking(session, [booking.id, held.id, 99_999])

    assert found == {
        booking.id: ReceiptRef(
            payment_id=payment.id,
            receipt_number=payment.receipt_number,
            refund_notes=(RefundNoteRef(refund.id, refund.note_number),),
        )
    }
    assert receipts_by_booking(session, []) == {}
