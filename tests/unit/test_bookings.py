"""Holding, hold expiry, cancelling, ownership and the views of bookings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlmodel import Session, select

from efoy_app.domain import bookings
from efoy_app.domain.errors import Conflict, NotFound, SlotTaken, ValidationFailed
from efoy_app.domain.scheduling import free_slots_for_day
from efoy_app.models import AuditLog, Booking, DayOff, Payment, utcnow

TOKYO = "Asia/Tokyo"


def audit_rows(session: Session, booking_id: int) -> list[tuple[str, str | None, str | None, str]]:
    rows = session.exec(
        select(AuditLog)
        .where(AuditLog.entity_type == "booking", AuditLog.entity_id == booking_id)
        .order_by(AuditLog.id)
    ).all()
    return [(r.action, r.from_status, r.to_status, r.actor) for r in rows]


def next_weekday_at(tz_hour: int, days_ahead: int = 2) -> datetime:
    """A slot start (UTC doctor) on a weekday a few days from now."""
    day = (utcnow() + timedelta(days=days_ahead)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(tz_hour), tzinfo=UTC)


def hold(session, doctor, patient, start, now=None) -> Booking:  # type: ignore[no-untyped-def]
    return bookings.hold_slot(
        session, patient=patient, doctor_id=doctor.id, starts_at=start, now=now
    )


@pytest.fixture
def doctor(make_doctor):
    return make_doctor(tz="UTC", fee_minor=5000, currency="JPY")


def test_hold_snapshots_the_price_and_sets_the_hold(session, doctor, patient) -> None:
    now = utcnow()
    start = next_weekday_at(9)
    booking = bookings.hold_slot(
        session, patient=patient, doctor_id=doctor.id, starts_at=start, reason=" cough ", now=now
    )
    assert (booking.status, booking.price_minor, booking.currency, booking.reason) == (
        "held", 5000, "JPY", "cough",
    )  # fmt: skip
    assert booking.starts_at == start and booking.ends_at == start + timedelta(minutes=30)
    assert booking.hold_expires_at == now + timedelta(minutes=30)
    assert audit_rows(session, booking.id) == [("held", None, "held", f"user:{patient.id}")]
    details = session.exec(select(AuditLog.details)).one()
    assert json.loads(details) == {"currency": "JPY", "price_minor": 5000}
    # The doctor's fee changes later: the booking keeps its snapshot.
    doctor.fee_minor = 9999
    session.add(doctor)
    session.commit()
    assert session.get(Booking, booking.id, populate_existing=True).price_minor == 5000


def test_same_slot_twice_is_slot_taken(session, doctor, patient, other_patient) -> None:
    start = next_weekday_at(9)
    bookings.hold_slot(session, patient=patient, doctor_id=doctor.id, starts_at=start)
    with pytest.raises(SlotTaken) as taken:
        bookings.hold_slot(session, patient=other_patient, doctor_id=doctor.id, starts_at=start)
    assert taken.value.http_status == 409 and taken.value.code == "slot_taken"
    assert taken.value.message == "This slot was just taken. Please choose another time."
    assert len(session.exec(select(Booking)).all()) == 1


def test_times_that_are_not_free_slots_are_refused(session, make_doctor, doctor, patient) -> None:
    start = next_weekday_at(9)
    refused = [
        start + timedelta(minutes=10),  # off the grid
        start.replace(hour=12),  # lunch
        utcnow() - timedelta(days=1),  # past
        start + timedelta(days=21),  # beyond the horizon
    ]
    for when in refused:
        with pytest.raises(ValidationFailed):
            bookings.hold_slot(session, patient=patient, doctor_id=doctor.id, starts_at=when)
    with pytest.raises(ValidationFailed):
        bookings.hold_slot(
            session, patient=patient, doctor_id=doctor.id, starts_at=start.replace(tzinfo=None)
        )
    with pytest.raises(ValidationFailed):
        bookings.hold_slot(
            session, patient=patient, doctor_id=doctor.id, starts_at=start, reason="x" * 501
        )
    resting = make_doctor(tz="UTC")
    session.add(DayOff(doctor_id=resting.id, day=start.date()))
    session.commit()
    with pytest.raises(ValidationFailed):
        bookings.hold_slot(session, patient=patient, doctor_id=resting.id, starts_at=start)
    with pytest.raises(NotFound):
        bookings.hold_slot(session, patient=patient, doctor_id=9999, starts_at=start)
    inactive = make_doctor(active=False)
    with pytest.raises(NotFound):
        bookings.hold_slot(session, patient=patient, doctor_id=inactive.id, starts_at=start)
    assert session.exec(select(Booking)).all() == []


def test_a_lapsed_hold_frees_the_slot(session, doctor, patient, other_patient) -> None:
    start = next_weekday_at(10)
    t0 = utcnow()
    first = bookings.hold_slot(
        session, patient=patient, doctor_id=doctor.id, starts_at=start, now=t0
    )
    day = start.date()
    almost = t0 + timedelta(minutes=29)
    lapsed = t0 + timedelta(minutes=30)
    assert start not in [s.starts_at for s in free_slots_for_day(session, doctor.id, day, almost)]
    with pytest.raises(SlotTaken):
        bookings.hold_slot(
            session, patient=other_patient, doctor_id=doctor.id, starts_at=start, now=almost
        )
    assert start in [s.starts_at for s in free_slots_for_day(session, doctor.id, day, lapsed)]
    second = bookings.hold_slot(
        session, patient=other_patient, doctor_id=doctor.id, starts_at=start, now=lapsed
    )
    assert second.status == "held" and second.id != first.id
    assert session.get(Booking, first.id, populate_existing=True).status == "expired"
    assert audit_rows(session, first.id) == [
        ("held", None, "held", f"user:{patient.id}"),
        ("hold_expired", "held", "expired", "system:hold-expiry"),
    ]


def test_a_lapsed_hold_that_was_paid_is_not_taken_over(session, doctor, patient, other_patient):
    start = next_weekday_at(11)
    t0 = utcnow()
    first = hold(session, doctor, patient, start, now=t0)
    session.add(Payment(booking_id=first.id, kind="checkout", status="paid", amount_minor=5000,
                        currency="JPY"))  # fmt: skip
    session.commit()
    # The slot looks free by the clock, but the unique index keeps the paid booking's place.
    with pytest.raises(SlotTaken):
        bookings.hold_slot(
            session, patient=other_patient, doctor_id=doctor.id, starts_at=start,
            now=t0 + timedelta(minutes=31),
        )  # fmt: skip
    assert session.get(Booking, first.id, populate_existing=True).status == "held"
    assert len(session.exec(select(Booking)).all()) == 1


def test_expire_lapsed_holds(session, doctor, patient) -> None:
    t0 = utcnow() - timedelta(hours=1)
    starts = [next_weekday_at(9) + timedelta(minutes=30 * i) for i in range(3)]
    lapsed = hold(session, doctor, patient, starts[0], now=t0)
    paid = hold(session, doctor, patient, starts[1], now=t0)
    fresh = hold(session, doctor, patient, starts[2])
    session.add(Payment(booking_id=paid.id, kind="checkout", status="paid", amount_minor=5000,
                        currency="JPY"))  # fmt: skip
    session.commit()
    assert bookings.expire_lapsed_holds(session) == [lapsed.id]
    assert bookings.expire_lapsed_holds(session) == []
    statuses = {b.id: b.status for b in session.exec(select(Booking)).all()}
    assert statuses == {lapsed.id: "expired", paid.id: "held", fresh.id: "held"}
    assert audit_rows(session, lapsed.id)[-1] == (
        "hold_expired", "held", "expired", "system:hold-expiry"
    )  # fmt: skip


def test_cancel_a_hold_frees_the_slot(session, doctor, patient, other_patient) -> None:
    start = next_weekday_at(9)
    booking = hold(session, doctor, patient, start)
    cancelled = bookings.cancel_booking(
        session, booking_id=booking.id, actor=patient, reason="feeling better"
    )
    assert (cancelled.status, cancelled.cancelled_reason) == ("cancelled", "feeling better")
    assert audit_rows(session, booking.id)[-1] == (
        "cancelled", "held", "cancelled", f"user:{patient.id}"
    )  # fmt: skip
    # Twice is harmless and writes nothing more.
    again = bookings.cancel_booking(session, booking_id=booking.id, actor=patient)
    assert again.status == "cancelled" and len(audit_rows(session, booking.id)) == 2
    # The slot is free again for someone else.
    assert hold(session, doctor, other_patient, start).status == "held"


def test_cancel_refusals(session, doctor, patient) -> None:
    confirmed = hold(session, doctor, patient, next_weekday_at(9))
    confirmed.status = "confirmed"
    session.add(confirmed)
    session.commit()
    with pytest.raises(Conflict):
        bookings.cancel_booking(session, booking_id=confirmed.id, actor=patient)
    lapsed = hold(session, doctor, patient, next_weekday_at(10), now=utcnow() - timedelta(hours=1))
    with pytest.raises(Conflict) as expired:
        bookings.cancel_booking(session, booking_id=lapsed.id, actor=patient)
    assert expired.value.code == "hold_expired"
    assert session.get(Booking, lapsed.id, populate_existing=True).status == "expired"
    paid = hold(session, doctor, patient, next_weekday_at(11))
    session.add(Payment(booking_id=paid.id, kind="checkout", status="paid", amount_minor=5000,
                        currency="JPY"))  # fmt: skip
    session.commit()
    with pytest.raises(Conflict) as already:
        bookings.cancel_booking(session, booking_id=paid.id, actor=patient)
    assert already.value.code == "already_paid"
    assert session.get(Booking, paid.id, populate_existing=True).status == "held"
    assert session.get(Booking, confirmed.id, populate_existing=True).status == "confirmed"


def test_ownership(session, doctor, patient, other_patient, admin) -> None:
    mine = hold(session, doctor, patient, next_weekday_at(9))
    theirs = hold(session, doctor, other_patient, next_weekday_at(10))
    assert bookings.get_booking_for(session, mine.id, patient).id == mine.id
    with pytest.raises(NotFound):
        bookings.get_booking_for(session, theirs.id, patient)
    with pytest.raises(NotFound):
        bookings.get_booking_for(session, 9999, patient)
    with pytest.raises(NotFound):
        bookings.cancel_booking(session, booking_id=theirs.id, actor=patient)
    assert session.get(Booking, theirs.id, populate_existing=True).status == "held"
    assert bookings.get_booking_for(session, theirs.id, admin).id == theirs.id
    assert [v.id for v in bookings.list_bookings_for(session, patient)] == [mine.id]
    assert [v.id for v in bookings.list_bookings_for(session, other_patient)] == [theirs.id]
    # My appointments is one person's, an admin's too (everyone's: booking_pages, paged).
    assert bookings.list_bookings_for(session, admin) == []
    # An admin may cancel anyone's hold; the audit names the admin.
    bookings.cancel_booking(session, booking_id=theirs.id, actor=admin, reason="duplicate")
    assert audit_rows(session, theirs.id)[-1][3] == f"user:{admin.id}"


def test_booking_view_shows_a_lapsed_hold_as_expired(session, make_doctor, patient) -> None:
    doc = make_doctor(tz=TOKYO, fee_minor=5000, currency="JPY", name="Dr. Sato",
                      speciality="Dermatology")  # fmt: skip
    day = (utcnow() + timedelta(days=3)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    slots = free_slots_for_day(session, doc.id, day)
    held = hold(session, doc, patient, slots[0].starts_at)
    old = hold(session, doc, patient, slots[1].starts_at, now=utcnow() - timedelta(minutes=31))
    view = bookings.booking_view(session, held)
    assert (view.doctor_name, view.speciality, view.status, view.price_minor, view.currency) == (
        "Dr. Sato", "Dermatology", "held", 5000, "JPY",
    )  # fmt: skip
    assert bookings.booking_view(session, old).status == "expired"
    assert session.get(Booking, old.id).status == "held"  # not yet marked: only shown so
    listed = {v.id: v.status for v in bookings.list_bookings_for(session, patient)}
    assert listed == {held.id: "held", old.id: "expired"}
