"""Free slots: working hours in the doctor's timezone, DST, days off, bookings, the past."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from efoy_app.domain.errors import NotFound, ValidationFailed
from efoy_app.domain.scheduling import (
    Slot,
    compute_free_slots,
    free_slots_for_day,
    is_bookable_slot,
    slots_version,
    to_local,
    upcoming_free_slots,
)
from efoy_app.models import Booking, DayOff, Doctor, WorkingHours

BERLIN, NEW_YORK, TOKYO = "Europe/Berlin", "America/New_York", "Asia/Tokyo"
SUNDAY = 6


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


def wh(weekday: int, start: time, end: time) -> WorkingHours:
    return WorkingHours(doctor_id=1, weekday=weekday, start_time=start, end_time=end)


def doctor(tz: str, slot_minutes: int = 30) -> Doctor:
    return Doctor(
        id=1, user_id=1, speciality="x", fee_minor=1, currency="EUR", timezone=tz,
        slot_minutes=slot_minutes,
    )  # fmt: skip


def slots_on(
    tz: str,
    day: date,
    hours: list[WorkingHours],
    *,
    now: datetime | None = None,
    days_off: list[date] | None = None,
    busy: set[datetime] | None = None,
    intervals: list[tuple[datetime, datetime]] | None = None,
    slot_minutes: int = 30,
) -> list[Slot]:
    tzinfo = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=tzinfo)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tzinfo)
    return compute_free_slots(
        doctor=doctor(tz, slot_minutes),
        working_hours=hours,
        days_off=days_off or [],
        busy_starts=busy or set(),
        busy_intervals=intervals or [],
        window_start=start,
        window_end=end,
        now=now or utc(2026, 1, 1),
    )


def starts(slots: list[Slot]) -> list[datetime]:
    return [s.starts_at for s in slots]


def hhmm(slots: list[Slot], tz: str) -> list[str]:
    return [to_local(s.starts_at, tz).strftime("%H:%M") for s in slots]


def test_plain_day_in_utc_offset_timezone() -> None:
    monday = date(2026, 3, 2)
    slots = slots_on(TOKYO, monday, [wh(0, time(9), time(11))])
    assert starts(slots) == [utc(2026, 3, 2, 0, 0), utc(2026, 3, 2, 0, 30),
                             utc(2026, 3, 2, 1, 0), utc(2026, 3, 2, 1, 30)]  # fmt: skip
    assert all(s.ends_at - s.starts_at == timedelta(minutes=30) for s in slots)
    assert all(s.starts_at.tzinfo is UTC for s in slots)


def test_berlin_spring_forward_keeps_wall_clock_hours_and_loses_the_gap() -> None:
    hours = [wh(SUNDAY, time(1), time(4)), wh(SUNDAY, time(9), time(11)), wh(5, time(9), time(10))]
    # Saturday before the change: CET, 09:00 local is 08:00 UTC.
    assert starts(slots_on(BERLIN, date(2026, 3, 28), hours)) == [
        utc(2026, 3, 28, 8, 0), utc(2026, 3, 28, 8, 30)
    ]  # fmt: skip
    sunday = slots_on(BERLIN, date(2026, 3, 29), hours)
    # 01:00-04:00 local lasts two real hours that night: 02:00-03:00 does not exist.
    assert [to_local(s, BERLIN).strftime("%H:%M%z") for s in starts(sunday)] == [
        "01:00+0100", "01:30+0100", "03:00+0200", "03:30+0200",
        "09:00+0200", "09:30+0200", "10:00+0200", "10:30+0200",
    ]  # fmt: skip
    assert starts(sunday)[4] == utc(2026, 3, 29, 7, 0)  # 09:00 CEST


def test_berlin_fall_back_gives_the_repeated_hour_twice() -> None:
    hours = [wh(SUNDAY, time(1), time(4)), wh(SUNDAY, time(9), time(10))]
    sunday = slots_on(BERLIN, date(2026, 10, 25), hours)
    assert [to_local(s, BERLIN).strftime("%H:%M%z") for s in starts(sunday)] == [
        "01:00+0200", "01:30+0200", "02:00+0200", "02:30+0200",
        "02:00+0100", "02:30+0100", "03:00+0100", "03:30+0100",
        "09:00+0100", "09:30+0100",
    ]  # fmt: skip
    assert len(set(starts(sunday))) == 10  # ten distinct instants
    assert starts(sunday)[-2] == utc(2026, 10, 25, 8, 0)


def test_new_york_spring_forward() -> None:
    hours = [wh(5, time(9), time(10)), wh(SUNDAY, time(9), time(10)), wh(0, time(9), time(10))]
    assert starts(slots_on(NEW_YORK, date(2026, 3, 7), hours))[0] == utc(2026, 3, 7, 14, 0)  # EST
    assert starts(slots_on(NEW_YORK, date(2026, 3, 8), hours))[0] == utc(2026, 3, 8, 13, 0)  # EDT
    assert starts(slots_on(NEW_YORK, date(2026, 3, 9), hours)) == [
        utc(2026, 3, 9, 13, 0), utc(2026, 3, 9, 13, 30)
    ]  # fmt: skip


def test_hours_ending_or_starting_in_the_spring_forward_gap_follow_the_jump() -> None:
    # New York skips 02:00-03:00 on 2026-03-08: 01:30-02:30 lasts 30 real minutes.
    ends_in_gap = slots_on(NEW_YORK, date(2026, 3, 8), [wh(SUNDAY, time(1, 30), time(2, 30))])
    assert [(s.starts_at, s.ends_at) for s in ends_in_gap] == [
        (utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 0))
    ]  # fmt: skip
    # 02:30-04:00 starts when the clocks jump, 03:00 EDT.
    starts_in_gap = slots_on(NEW_YORK, date(2026, 3, 8), [wh(SUNDAY, time(2, 30), time(4))])
    assert [to_local(s, NEW_YORK).strftime("%H:%M%z") for s in starts(starts_in_gap)] == [
        "03:00-0400", "03:30-0400"
    ]  # fmt: skip


def test_patient_in_another_timezone_sees_the_same_instants() -> None:
    hours = [wh(0, time(20), time(21))]
    slots = slots_on(NEW_YORK, date(2026, 3, 9), hours)
    shown = [to_local(s.starts_at, TOKYO) for s in slots]
    # Monday 20:00 in New York (EDT) is Tuesday 09:00 in Tokyo.
    assert [d.isoformat() for d in shown] == [
        "2026-03-10T09:00:00+09:00",
        "2026-03-10T09:30:00+09:00",
    ]
    assert shown[0] == slots[0].starts_at


def test_days_off_have_no_slots() -> None:
    hours = [wh(d, time(9), time(10)) for d in range(5)]
    monday, tuesday = date(2026, 3, 2), date(2026, 3, 3)
    assert slots_on(TOKYO, monday, hours, days_off=[monday]) == []
    assert len(slots_on(TOKYO, tuesday, hours, days_off=[monday])) == 2


def test_the_past_and_the_current_slot_are_not_offered() -> None:
    hours = [wh(0, time(9), time(12))]
    monday = date(2026, 3, 2)
    now = local(BERLIN, 2026, 3, 2, 10, 10)
    left = slots_on(BERLIN, monday, hours, now=now)
    assert hhmm(left, BERLIN) == ["10:30", "11:00", "11:30"]
    exactly = slots_on(BERLIN, monday, hours, now=local(BERLIN, 2026, 3, 2, 10, 30))
    assert to_local(starts(exactly)[0], BERLIN).strftime("%H:%M") == "11:00"


def test_busy_starts_and_overlapping_bookings_are_removed() -> None:
    hours = [wh(0, time(9), time(12))]
    monday = date(2026, 3, 2)
    nine = local(BERLIN, 2026, 3, 2, 9, 0)
    busy_start = {local(BERLIN, 2026, 3, 2, 11, 0)}
    # A 45-minute booking from 09:15 overlaps the 09:00 and the 09:30 slots, not 10:00.
    overlap = [(nine + timedelta(minutes=15), nine + timedelta(minutes=60))]
    left = slots_on(BERLIN, monday, hours, busy=busy_start, intervals=overlap)
    assert hhmm(left, BERLIN) == ["10:00", "10:30", "11:30"]


def test_slot_length_that_does_not_divide_the_window() -> None:
    left = slots_on(TOKYO, date(2026, 3, 2), [wh(0, time(9), time(10))], slot_minutes=45)
    assert hhmm(left, TOKYO) == ["09:00"]


def test_window_ending_at_midnight() -> None:
    left = slots_on(TOKYO, date(2026, 3, 2), [wh(0, time(23), time(0))])
    assert hhmm(left, TOKYO) == ["23:00", "23:30"]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        compute_free_slots(
            doctor=doctor(TOKYO), working_hours=[], days_off=[], busy_starts=set(),
            window_start=datetime(2026, 1, 1), window_end=utc(2026, 1, 2), now=utc(2026, 1, 1),
        )  # fmt: skip


# --- against the database ---


def _book(session: Session, doc: Doctor, patient_id: int, start: datetime, minutes: int,
          status: str, hold_expires_at: datetime | None = None) -> Booking:  # fmt: skip
    b = Booking(
        patient_id=patient_id, doctor_id=doc.id, starts_at=start,
        ends_at=start + timedelta(minutes=minutes), status=status, price_minor=1,
        currency="EUR", hold_expires_at=hold_expires_at,
    )  # fmt: skip
    session.add(b)
    session.commit()
    return b


def test_free_slots_for_day_uses_the_doctors_calendar_day(session, make_doctor) -> None:
    doc = make_doctor(tz=BERLIN, hours=[(SUNDAY, time(1), time(4))])
    now = utc(2026, 3, 20, 12)
    slots = free_slots_for_day(session, doc.id, date(2026, 3, 29), now=now)
    assert starts(slots) == [utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 0, 30),
                             utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 30)]  # fmt: skip


def test_bookings_block_by_status(session, make_doctor, patient) -> None:
    doc = make_doctor(tz=BERLIN, hours=[(0, time(9), time(12))])
    now = local(BERLIN, 2026, 3, 1, 12)
    day = date(2026, 3, 2)
    at = lambda h, m=0: local(BERLIN, 2026, 3, 2, h, m).astimezone(UTC)  # noqa: E731
    _book(session, doc, patient.id, at(9), 30, "confirmed")
    _book(session, doc, patient.id, at(9, 30), 30, "held", now + timedelta(minutes=10))
    _book(session, doc, patient.id, at(10), 30, "held", now - timedelta(minutes=1))  # lapsed
    _book(session, doc, patient.id, at(10, 30), 30, "cancelled")
    _book(session, doc, patient.id, at(11), 30, "expired")
    _book(session, doc, patient.id, at(11, 15), 45, "confirmed")  # overlaps 11:00 and 11:30
    left = free_slots_for_day(session, doc.id, day, now=now)
    assert starts(left) == [at(10), at(10, 30)]
    # Ten minutes later the unlapsed hold has lapsed too.
    later = free_slots_for_day(session, doc.id, day, now=now + timedelta(minutes=10))
    assert starts(later) == [at(9, 30), at(10), at(10, 30)]


def test_day_off_in_the_database(session, make_doctor) -> None:
    doc = make_doctor(tz=NEW_YORK)
    session.add(DayOff(doctor_id=doc.id, day=date(2026, 3, 9)))
    session.commit()
    now = utc(2026, 3, 6)
    assert free_slots_for_day(session, doc.id, date(2026, 3, 9), now=now) == []
    assert len(free_slots_for_day(session, doc.id, date(2026, 3, 10), now=now)) == 14


def test_day_outside_the_horizon_or_in_the_past_is_refused(session, make_doctor) -> None:
    doc = make_doctor(tz=TOKYO)
    now = local(TOKYO, 2026, 3, 2, 8)
    with pytest.raises(ValidationFailed):
        free_slots_for_day(session, doc.id, date(2026, 3, 1), now=now)
    with pytest.raises(ValidationFailed):
        free_slots_for_day(session, doc.id, date(2026, 3, 17), now=now)
    assert len(free_slots_for_day(session, doc.id, date(2026, 3, 16), now=now)) == 14  # +14 days
    assert len(free_slots_for_day(session, doc.id, date(2026, 3, 2), now=now)) == 14


def test_unknown_and_inactive_doctors_are_not_found(session, make_doctor) -> None:
    inactive = make_doctor(active=False)
    with pytest.raises(NotFound):
        free_slots_for_day(session, 9999, date(2026, 3, 2), now=utc(2026, 3, 1))
    with pytest.raises(NotFound):
        free_slots_for_day(session, inactive.id, date(2026, 3, 2), now=utc(2026, 3, 1))


def test_upcoming_free_slots_covers_the_horizon(session, make_doctor) -> None:
    doc = make_doctor(tz="UTC", hours=[(d, time(9), time(10)) for d in range(7)])
    now = utc(2026, 3, 2, 9, 45)  # Monday, after the last slot of today has started
    slots = upcoming_free_slots(session, doc.id, now=now)
    assert len(slots) == 14 * 2
    assert slots[0].starts_at == utc(2026, 3, 3, 9)
    assert slots[-1].starts_at == utc(2026, 3, 16, 9, 30)
    assert len(upcoming_free_slots(session, doc.id, days=3, now=now)) == 6


def test_is_bookable_slot(session, make_doctor, patient) -> None:
    doc = make_doctor(tz=TOKYO)
    now = local(TOKYO, 2026, 3, 2, 8)
    ten = local(TOKYO, 2026, 3, 2, 10)
    assert is_bookable_slot(session, doc, ten, now)
    assert not is_bookable_slot(session, doc, ten + timedelta(minutes=10), now)  # off the grid
    assert not is_bookable_slot(session, doc, local(TOKYO, 2026, 3, 2, 12), now)  # lunch
    assert not is_bookable_slot(session, doc, local(TOKYO, 2026, 3, 2, 7), now)  # past
    assert not is_bookable_slot(session, doc, local(TOKYO, 2026, 3, 20, 10), now)  # horizon
    _book(session, doc, patient.id, ten.astimezone(UTC), 30, "confirmed")
    assert not is_bookable_slot(session, doc, ten, now)
    assert is_bookable_slot(session, doc, ten, now, ignore_busy=True)


def test_slots_version_changes_exactly_when_the_busy_bookings_may_have(
    session, make_doctor, patient
) -> None:
    """What an open doctor page polls: same fingerprint, same slots; any change shows."""
    doc = make_doctor(tz=TOKYO)
    other = make_doctor(tz=TOKYO)
    now = local(TOKYO, 2026, 3, 2, 8)
    at = lambda h: local(TOKYO, 2026, 3, 2, h).astimezone(UTC)  # noqa: E731
    empty = slots_version(session, doc.id, now=now)
    assert empty == slots_version(session, doc.id, now=now + timedelta(minutes=5))
    held = _book(session, doc, patient.id, at(10), 30, "held", now + timedelta(minutes=30))
    after_hold = slots_version(session, doc.id, now=now)
    assert after_hold != empty
    # Another doctor's booking and a booking that has ended leave it alone.
    _book(session, other, patient.id, at(10), 30, "confirmed")
    _book(session, doc, patient.id, at(9) - timedelta(days=1), 30, "confirmed")
    assert slots_version(session, doc.id, now=now) == after_hold
    # The hold lapsing (no write at all) frees the slot: the fingerprint moves.
    lapsed = slots_version(session, doc.id, now=now + timedelta(minutes=31))
    assert lapsed != after_hold
    # A status change (cancel) moves it too.
    held.status = "cancelled"
    held.updated_at = now + timedelta(minutes=1)
    session.add(held)
    session.commit()
    assert slots_version(session, doc.id, now=now) not in (after_hold, empty)
