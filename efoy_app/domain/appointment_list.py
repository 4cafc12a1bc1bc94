"""My appointments in the order a patient reads them: what is coming first, soonest first; then
what has happened; then what was cancelled or lapsed.

Read-side only: the statuses come from domain.bookings (a lapsed hold already reads "expired").
Each booking that took money also carries what its receipt buttons need (`receipts_by_booking`):
our own payment and refund ids, never Stripe's, so the page can ask for a PDF by them and the
server checks whose they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from efoy_app.domain.bookings import BookingView
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_EXPIRED,
    BOOKING_HELD,
    PAID_STATUSES,
    REFUND_SUCCEEDED,
    Payment,
    Refund,
    utcnow,
)

_ACTIVE = (BOOKING_HELD, BOOKING_CONFIRMED)
_CLOSED = (BOOKING_CANCELLED, BOOKING_EXPIRED)


@dataclass(frozen=True)
class AppointmentSections:
    upcoming: list[BookingView] = field(default_factory=list)
    past: list[BookingView] = field(default_factory=list)
    closed: list[BookingView] = field(default_factory=list)  # cancelled and expired


def split_appointments(
    views: list[BookingView], now: datetime | None = None
) -> AppointmentSections:
    """Upcoming (held or confirmed, not started yet) by appointment time, soonest first; past
    (completed, or confirmed and started) and closed (cancelled, expired), latest first."""
    now = now or utcnow()
    upcoming = [v for v in views if v.status in _ACTIVE and v.starts_at > now]
    closed = [v for v in views if v.status in _CLOSED]
    taken = {v.id for v in upcoming} | {v.id for v in closed}
    past = [v for v in views if v.id not in taken]
    latest_first = lambda v: (v.starts_at, v.id)  # noqa: E731
    return AppointmentSections(
        upcoming=sorted(upcoming, key=lambda v: (v.starts_at, v.id)),
        past=sorted(past, key=latest_first, reverse=True),
        closed=sorted(closed, key=latest_first, reverse=True),
    )


@dataclass(frozen=True)
class RefundNoteRef:
    """A succeeded refund of a booking's payment: our id, and its note's number once issued."""

    refund_id: int
    note_number: str | None


@dataclass(frozen=True)
class ReceiptRef:
    """The payment of a booking that took money (paid, partly or wholly refunded)."""

    payment_id: int
    receipt_number: str | None  # None until first asked for, if paid before numbering existed
    refund_notes: tuple[RefundNoteRef, ...] = ()


def receipts_by_booking(db: Session, booking_ids: list[int]) -> dict[int, ReceiptRef]:
    """Booking id -> its paid payment's receipt and refund notes (two queries for the list).

    A booking has at most one payment that took money (an already paid booking refuses a second
    one); should there be several, the latest wins."""
    if not booking_ids:
        return {}
    payments = db.exec(
        select(Payment)
        .where(col(Payment.booking_id).in_(booking_ids), col(Payment.status).in_(PAID_STATUSES))
        .order_by(col(Payment.id))
    ).all()
    latest = {p.booking_id: p for p in payments}
    notes: dict[int, list[RefundNoteRef]] = {}
    if latest:
        refunds = db.exec(
            select(Refund)
            .where(
                col(Refund.payment_id).in_([p.id for p in latest.values()]),
                Refund.status == REFUND_SUCCEEDED,
            )
            .order_by(col(Refund.id))
        ).all()
        for r in refunds:
            notes.setdefault(r.payment_id, []).append(RefundNoteRef(r.id, r.note_number))
    return {
        booking_id: ReceiptRef(p.id, p.receipt_number, tuple(notes.get(p.id, ())))
        for booking_id, p in latest.items()
    }
