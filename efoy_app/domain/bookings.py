"""Holding, viewing and cancelling bookings.

No double booking is the database's job: a partial unique index over (doctor, start) for held
and confirmed bookings. `hold_slot` checks first so the usual answer is a clear one, and turns
the index's IntegrityError into the same `SlotTaken` when two patients race for one slot.
A hold lapses at `hold_expires_at`; from then on it no longer blocks the slot, shows as
"expired", and is marked expired by `expire_lapsed_holds` or by the next `hold_slot` on its slot.
A hold never outlives the appointment's start (`hold_end`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from efoy_app.domain import audit
from efoy_app.domain.doctors import get_active_doctor
from efoy_app.domain.errors import Conflict, NotFound, SlotTaken, ValidationFailed
from efoy_app.domain.read_models import build
from efoy_app.domain.scheduling import busy_clause, is_bookable_slot
from efoy_app.domain.text import clean_text
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_EXPIRED,
    BOOKING_HELD,
    PAID_STATUSES,
    ROLE_ADMIN,
    Booking,
    Doctor,
    Payment,
    User,
    utcnow,
)
from efoy_app.settings import get_settings

MAX_REASON_LENGTH = 500
EXPIRY_ACTOR = "system:hold-expiry"


@dataclass(frozen=True)
class BookingView:
    id: int
    doctor_id: int
    doctor_name: str
    speciality: str
    starts_at: datetime
    ends_at: datetime
    status: str
    reason: str
    price_minor: int
    currency: str
    hold_expires_at: datetime | None
    created_at: datetime
    patient_id: int = 0


def hold_end(starts_at: datetime, until: datetime) -> datetime:
    """When a hold asked to last `until` ends: never after the appointment has started."""
    return min(until, starts_at)


def hold_lapsed(booking: Booking, now: datetime | None = None) -> bool:
    """A held booking whose hold time has passed: its slot is free again."""
    return (
        booking.status == BOOKING_HELD
        and booking.hold_expires_at is not None
        and booking.hold_expires_at <= (now or utcnow())
    )


def effective_status(booking: Booking, now: datetime | None = None) -> str:
    """The status a person should see: a lapsed hold is "expired" even before it is marked."""
    return BOOKING_EXPIRED if hold_lapsed(booking, now) else booking.status


def _no_money_taken(now: datetime) -> sa.ColumnElement[bool]:
    paid = select(Payment.id).where(
        Payment.booking_id == Booking.id, col(Payment.status).in_(PAID_STATUSES)
    )
    return sa.and_(
        col(Booking.status) == BOOKING_HELD,
        col(Booking.hold_expires_at).is_not(None),
        col(Booking.hold_expires_at) <= now,
        ~sa.exists(paid),
    )


def _mark_expired(session: Session, bookings: list[Booking], now: datetime) -> list[int]:
    for booking in bookings:
        audit.change_status(
            session, booking, BOOKING_EXPIRED, actor=EXPIRY_ACTOR, entity_type="booking",
            reason="hold lapsed", action="hold_expired", at=now,
        )  # fmt: skip
    return [b.id for b in bookings]


def _is_slot_index_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return "uq_booking_active_slot" in text or (
        "UNIQUE" in text and "bookings.doctor_id" in text and "bookings.starts_at" in text
    )


def hold_slot(
    session: Session,
    *,
    patient: User,
    doctor_id: int,
    starts_at: datetime,
    reason: str = "",
    now: datetime | None = None,
) -> Booking:
    """Hold one free slot for the patient at the doctor's current fee (commits).

    NotFound for an unknown doctor, ValidationFailed for a time that is not one of the doctor's
    slots (or is past / beyond the horizon), SlotTaken when someone else holds or has it.
    """
    now = now or utcnow()
    if starts_at.tzinfo is None:
        raise ValidationFailed("startsAt must include a timezone offset.")
    starts_at = starts_at.astimezone(UTC)
    reason = clean_text(reason)
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed(f"Reason must be at most {MAX_REASON_LENGTH} characters.")
    try:
        doctor = get_active_doctor(session, doctor_id, share_lock=True)
        if not is_bookable_slot(session, doctor, starts_at, now, ignore_busy=True):
            raise ValidationFailed("That time is not one of this doctor's free slots.")
        ends_at = starts_at + timedelta(minutes=doctor.slot_minutes)
        if _busy_between(session, doctor.id, starts_at, ends_at, now):
            raise SlotTaken()
        lapsed = list(
            session.exec(
                select(Booking).where(
                    Booking.doctor_id == doctor.id,
                    Booking.starts_at == starts_at,
                    _no_money_taken(now),
                )
            )
        )
        _mark_expired(session, lapsed, now)
        booking = Booking(
            patient_id=patient.id,
            doctor_id=doctor.id,
            starts_at=starts_at,
            ends_at=ends_at,
            status=BOOKING_HELD,
            reason=reason,
            price_minor=doctor.fee_minor,
            currency=doctor.currency,
            hold_expires_at=hold_end(
                starts_at, now + timedelta(minutes=get_settings().hold_minutes)
            ),
            created_at=now,
            updated_at=now,
        )
        session.add(booking)
        session.flush()
        audit.record(
            session,
            actor=f"user:{patient.id}",
            entity_type="booking",
            entity_id=booking.id,
            action="held",
            to_status=BOOKING_HELD,
            details={"price_minor": booking.price_minor, "currency": booking.currency},
        )
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if _is_slot_index_violation(exc):
            raise SlotTaken() from None
        raise
    except BaseException:
        session.rollback()
        raise
    return booking


def slot_still_free(session: Session, booking: Booking, now: datetime | None = None) -> bool:
    """Whether the booking's time is still one of the doctor's free slots (its own lapsed hold
    no longer blocks it), so the patient can hold it again."""
    now = now or utcnow()
    doctor = session.get(Doctor, booking.doctor_id)
    if doctor is None or not doctor.active:
        return False
    return is_bookable_slot(session, doctor, booking.starts_at, now)


def hold_again(
    session: Session, *, booking_id: int, patient: User, now: datetime | None = None
) -> Booking:
    """Hold the time of the patient's own lapsed (or cancelled) booking once more, as a new
    booking with the same reason (commits). SlotTaken when someone else has it now; Conflict
    while the booking is still held or already confirmed."""
    now = now or utcnow()
    old = get_booking_for(session, booking_id, patient)
    if old.patient_id != patient.id:
        raise NotFound("Booking not found.")
    if effective_status(old, now) in (BOOKING_HELD, BOOKING_CONFIRMED):
        raise Conflict("This booking is still yours: there is nothing to hold again.")
    return hold_slot(
        session,
        patient=patient,
        doctor_id=old.doctor_id,
        starts_at=old.starts_at,
        reason=old.reason,
        now=now,
    )


def _busy_between(
    session: Session, doctor_id: int, starts_at: datetime, ends_at: datetime, now: datetime
) -> bool:
    row = session.exec(
        select(Booking.id).where(
            Booking.doctor_id == doctor_id,
            col(Booking.starts_at) < ends_at,
            col(Booking.ends_at) > starts_at,
            busy_clause(now),
        )
    ).first()
    return row is not None


def get_booking_for(session: Session, booking_id: int, user: User) -> Booking:
    """The booking if the user owns it or is an admin; NotFound otherwise (no existence leak)."""
    booking = session.get(Booking, booking_id, populate_existing=True)
    if booking is None or (user.role != ROLE_ADMIN and booking.patient_id != user.id):
        raise NotFound("Booking not found.")
    return booking


def cancel_booking(session: Session, *, booking_id: int, actor: User, reason: str = "") -> Booking:
    """Cancel a held booking (owner or admin; commits).

    A confirmed booking is refused for now (cancellation with a refund is a separate flow);
    cancelling twice returns the cancelled booking unchanged.
    """
    now = utcnow()
    reason = clean_text(reason)
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed(f"Reason must be at most {MAX_REASON_LENGTH} characters.")
    try:
        booking = get_booking_for(session, booking_id, actor)
        booking = session.exec(
            select(Booking)
            .where(Booking.id == booking.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if booking.status == BOOKING_CANCELLED:
            session.rollback()
            return booking
        if booking.status == BOOKING_HELD:
            paid = session.exec(
                select(Payment.id).where(
                    Payment.booking_id == booking.id, col(Payment.status).in_(PAID_STATUSES)
                )
            ).first()
            if paid is not None:
                raise Conflict(
                    "This appointment has been paid; it is being confirmed.", code="already_paid"
                )
            if hold_lapsed(booking, now):
                _mark_expired(session, [booking], now)
                session.commit()
                raise Conflict("This hold has already expired.", code="hold_expired")
            booking.cancelled_reason = reason or None
            audit.change_status(
                session, booking, BOOKING_CANCELLED, actor=f"user:{actor.id}",
                entity_type="booking", reason=reason or None, action="cancelled", at=now,
            )  # fmt: skip
            session.commit()
            return booking
        if booking.status == BOOKING_CONFIRMED:
            raise Conflict(
                "A paid appointment cannot be cancelled here yet; please contact the clinic."
            )
        raise Conflict(f"This appointment is {booking.status} and cannot be cancelled.")
    except BaseException:
        session.rollback()
        raise


def _view(booking: Booking, doctor: Doctor, doctor_user: User, now: datetime) -> BookingView:
    return build(
        BookingView,
        booking,
        doctor_name=doctor_user.full_name,
        speciality=doctor.speciality,
        status=effective_status(booking, now),
    )


def booking_view(session: Session, booking: Booking) -> BookingView:
    """What a patient sees of one booking, with the doctor's name and the effective status."""
    doctor = session.get(Doctor, booking.doctor_id)
    if doctor is None:
        raise NotFound("Doctor not found.")
    doctor_user = session.get(User, doctor.user_id)
    if doctor_user is None:
        raise NotFound("Doctor not found.")
    return _view(booking, doctor, doctor_user, utcnow())


def booking_view_of(
    booking: Booking, doctor: Doctor, doctor_user: User, now: datetime
) -> BookingView:
    """`booking_view` for rows already joined (a list reads its doctors in the same query)."""
    return _view(booking, doctor, doctor_user, now)


def list_bookings_for(session: Session, user: User) -> list[BookingView]:
    """The user's own bookings, latest appointment first: My appointments, which is one person's
    even for an admin (everyone's are read a page at a time, `booking_pages`)."""
    doctor_user = sa.orm.aliased(User)
    query = (
        select(Booking, Doctor, doctor_user)
        .join(Doctor, Doctor.id == Booking.doctor_id)
        .join(doctor_user, doctor_user.id == Doctor.user_id)
        .where(Booking.patient_id == user.id)
        .order_by(col(Booking.starts_at).desc(), col(Booking.id).desc())
    )
    now = utcnow()
    return [_view(b, d, u, now) for b, d, u in session.exec(query).all()]


def expire_lapsed_holds(session: Session, now: datetime | None = None) -> list[int]:
    """Mark held bookings past their hold (and never paid) expired; returns their ids (commits).

    Rows are locked with SKIP LOCKED on PostgreSQL so every worker may run this at once.
    """
    now = now or utcnow()
    try:
        lapsed = list(
            session.exec(
                select(Booking)
                .where(_no_money_taken(now))
                .order_by(col(Booking.id))
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
        )
        ids = _mark_expired(session, lapsed, now)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return ids
