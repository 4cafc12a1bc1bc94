"""What a schedule change does to the bookings already sold: list them before, then keep them or
cancel them on the clinic's side, never silently.

Shortened hours, a day off, removed extra hours, a new timezone or a deactivated doctor can leave
held or confirmed bookings outside the doctor's new hours. The change is written and the
bookings it strands are computed in the same transaction, with the doctor's row locked (a
patient's hold takes it for share, so no slot is sold meanwhile in hours being removed). When
some are stranded and the admin has not chosen, nothing is saved and `BookingsAffected` lists
them. With "keep" they stay as they are; with "cancel" each goes through the one cancellation
path there is: a confirmed booking by `booking_cancel.cancel_paid_booking` on the clinic's side
(everything paid refunded through the ledger, whatever the policy; the patient emailed), a held
one by `payment_close.cancel_held_booking` (its open payment closed at Stripe first) with the
same email.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from efoy_app.domain import booking_cancel, messages, payment_close
from efoy_app.domain.errors import Conflict, DomainError, ValidationFailed
from efoy_app.domain.money import format_money
from efoy_app.domain.scheduling import Plan, busy_clause, day_windows, load_plan
from efoy_app.domain.text import clean_text
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    Booking,
    Doctor,
    User,
)

log = get_logger("sold_bookings")

KEEP = "keep"
CANCEL = "cancel"
CHOICES = (KEEP, CANCEL)
MAX_LISTED = 200  # a change stranding more than this is refused: close fewer days at a time


@dataclass(frozen=True)
class AffectedBooking:
    """A held or confirmed booking outside the doctor's hours after a change."""

    booking_id: int
    status: str
    starts_at: datetime
    ends_at: datetime
    patient_name: str
    patient_email: str
    price_display: str
    paid: bool


class BookingsAffected(Conflict):
    """The change strands bookings and the admin has not said whether to keep or cancel them."""

    code = "bookings_affected"

    def __init__(self, bookings: list[AffectedBooking], *, changed: bool = False) -> None:
        n = len(bookings)
        they = f"{n} bookings fall" if n != 1 else "1 booking falls"
        since = "The bookings changed since they were listed: " if changed else ""
        super().__init__(
            f"{since}{they} outside the new hours. Nothing was saved: "
            "choose to keep them or to cancel them with a full refund."
        )
        self.bookings = bookings


@dataclass(frozen=True)
class CancelResult:
    booking_id: int
    cancelled: bool
    message: str


@dataclass(frozen=True)
class Settled:
    """What became of the stranded bookings."""

    kept: list[AffectedBooking]
    cancelled: list[CancelResult]

    @property
    def sentence(self) -> str:
        """For the admin: what happened to the bookings, or nothing when none were touched."""
        if self.kept:
            n = len(self.kept)
            return f"{n} booking{'s' if n != 1 else ''} outside the new hours kept as booked."
        if not self.cancelled:
            return ""
        done = [c for c in self.cancelled if c.cancelled]
        failed = [c for c in self.cancelled if not c.cancelled]
        text = f"{len(done)} booking{'s' if len(done) != 1 else ''} cancelled, paid ones refunded."
        if failed:
            text += " Not cancelled: " + "; ".join(f"#{c.booking_id}: {c.message}" for c in failed)
        return text


def check_choice(on_bookings: str | None) -> str | None:
    if on_bookings is not None and on_bookings not in CHOICES:
        raise ValidationFailed("Say what to do with the booked appointments: keep or cancel.")
    return on_bookings


def upcoming(db: Session, doctor_id: int, now: datetime) -> list[Booking]:
    """The doctor's bookings that are sold or being paid for and have not ended."""
    return list(
        db.exec(
            select(Booking)
            .where(
                Booking.doctor_id == doctor_id,
                col(Booking.ends_at) > now,
                busy_clause(now),
            )
            .order_by(Booking.starts_at, Booking.id)
        )
    )


def covered(booking: Booking, plan: Plan, timezone: str) -> bool:
    """True when the booking lies inside one working window of its day under the plan."""
    tz = ZoneInfo(timezone)
    day = booking.starts_at.astimezone(tz).date()
    windows = day_windows(day, plan.hours, plan.days_off, plan.extra_hours, tz)
    return any(start <= booking.starts_at and booking.ends_at <= end for start, end in windows)


def _outside(db: Session, doctor: Doctor, rows: list[Booking]) -> list[Booking]:
    if not rows:
        return []
    plan = load_plan(db, doctor, rows[0].starts_at, rows[-1].ends_at)
    return [b for b in rows if not covered(b, plan, doctor.timezone)]


def outside_hours(
    db: Session, doctor: Doctor, now: datetime, *, closing: date | None = None
) -> frozenset[int]:
    """The upcoming bookings already outside the doctor's hours before a change (ones an admin
    chose to keep earlier): a later change does not list them again, except a day off, which
    lists every booking of the day it `closing`."""
    tz = ZoneInfo(doctor.timezone)
    return frozenset(
        b.id
        for b in _outside(db, doctor, upcoming(db, doctor.id, now))
        if b.starts_at.astimezone(tz).date() != closing
    )


def stranded(
    db: Session,
    doctor: Doctor,
    now: datetime,
    *,
    everything: bool = False,
    already: frozenset[int] = frozenset(),
) -> list[AffectedBooking]:
    """The upcoming bookings the doctor's schedule (as flushed in this session) leaves outside
    its hours, less those `already` outside before the change; with `everything`, all of them
    (the doctor no longer sees patients)."""
    rows = upcoming(db, doctor.id, now)
    if not everything:
        rows = [b for b in _outside(db, doctor, rows) if b.id not in already]
    if not rows:
        return []
    if len(rows) > MAX_LISTED:
        raise ValidationFailed(
            f"This change would strand {len(rows)} bookings; make it for fewer days at a time."
        )
    patients = {
        u.id: u for u in db.exec(select(User).where(col(User.id).in_({b.patient_id for b in rows})))
    }
    return [
        AffectedBooking(
            booking_id=b.id,
            status=b.status,
            starts_at=b.starts_at,
            ends_at=b.ends_at,
            patient_name=patients[b.patient_id].full_name,
            patient_email=patients[b.patient_id].email,
            price_display=format_money(b.price_minor, b.currency),
            paid=b.status == BOOKING_CONFIRMED,
        )
        for b in rows
    ]


def save_or_list(
    db: Session,
    affected: list[AffectedBooking],
    on_bookings: str | None,
    seen: Collection[int] | None = None,
) -> None:
    """Commit the change, or roll it back and list the bookings when nobody chose for them.

    `seen` are the bookings the admin was shown: a cancel that would now take one more (a
    patient booked meanwhile) saves nothing and lists them all again, so nobody's appointment
    is cancelled without the admin having seen it."""
    if affected and on_bookings is None:
        db.rollback()
        raise BookingsAffected(affected)
    shown = set(seen) if seen is not None else None
    if (
        on_bookings == CANCEL
        and shown is not None
        and any(a.booking_id not in shown for a in affected)
    ):
        db.rollback()
        raise BookingsAffected(affected, changed=True)
    db.commit()


def settle(
    db: Session,
    affected: list[AffectedBooking],
    on_bookings: str | None,
    admin: User,
    reason: str,
) -> Settled:
    """After the change is committed: keep the stranded bookings, or cancel each one (its own
    transaction; a refund Stripe does not take now is queued with its key and sent again)."""
    if not affected:
        return Settled([], [])
    if on_bookings == KEEP:
        return Settled(affected, [])
    reason = clean_text(reason)[:500]
    results = [_cancel_one(db, a.booking_id, admin, reason) for a in affected]
    return Settled([], results)


def _cancel_one(db: Session, booking_id: int, admin: User, reason: str) -> CancelResult:
    attempts: list[Callable[[], str]] = [
        lambda: _cancel_held(db, booking_id, admin, reason),
        lambda: _cancel_paid(db, booking_id, admin, reason),
    ]
    booking = db.get(Booking, booking_id, populate_existing=True)
    if booking is not None and booking.status == BOOKING_CONFIRMED:
        attempts.reverse()
    last = "it could not be cancelled"
    for attempt in attempts:
        try:
            said = attempt()
        except Conflict as exc:  # paid meanwhile, or released meanwhile: try the other way
            db.rollback()
            last = exc.message
            continue
        except DomainError as exc:
            db.rollback()
            log_kv(log, "stranded.cancel_failed", booking_id=booking_id, error=exc.code)
            return CancelResult(booking_id, False, exc.message)
        booking = db.get(Booking, booking_id, populate_existing=True)
        return CancelResult(booking_id, booking.status == BOOKING_CANCELLED, said)
    return CancelResult(booking_id, False, last)


def _cancel_held(db: Session, booking_id: int, admin: User, reason: str) -> str:
    booking = db.get(Booking, booking_id, populate_existing=True)
    if booking is None or booking.status != BOOKING_HELD:
        raise Conflict("It is no longer held.")
    payment_close.cancel_held_booking(db, booking_id=booking_id, actor=admin, reason=reason)
    booking = db.get(Booking, booking_id, populate_existing=True)
    messages.booking_cancelled(
        db, booking, by_clinic=True, reason=reason, refund_line="Nothing had been paid."
    )
    db.commit()
    return "The appointment is cancelled and the time is free again; nothing had been paid."


def _cancel_paid(db: Session, booking_id: int, admin: User, reason: str) -> str:
    outcome = booking_cancel.cancel_paid_booking(
        db, booking_id=booking_id, actor=admin, reason=reason, by=booking_cancel.BY_CLINIC
    )
    return outcome.clinic_message
