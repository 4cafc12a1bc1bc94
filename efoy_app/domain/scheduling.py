"""Free slots: weekly working hours, minus days off, minus busy bookings, minus the past.

Working hours are wall-clock times in the doctor's own timezone. A working window is turned
into two instants (its local start and end, through zoneinfo) and slots are laid out in real
elapsed time between them, so a daylight-saving change inside a window gives the hours that
really pass: one slot fewer per half hour on the spring-forward night, more on the fall-back
night, and ordinary days are untouched. Every instant handled here is timezone-aware UTC.

A held booking whose hold has lapsed no longer blocks its slot, even before the reconciliation
task marks it expired: the rule is `busy_clause(now)`, used by every query that asks "is this
slot taken".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from efoy_app.domain.doctors import get_active_doctor
from efoy_app.domain.errors import ValidationFailed
from efoy_app.models import (
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    Booking,
    DayOff,
    Doctor,
    ExtraHours,
    WorkingHours,
    utcnow,
)
from efoy_app.settings import get_settings


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime


def _aware_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def to_local(instant: datetime, timezone: str) -> datetime:
    """The same instant in a user's timezone, for display."""
    return instant.astimezone(ZoneInfo(timezone))


def local_today(timezone: str, now: datetime | None = None) -> date:
    """Today's calendar date in that timezone."""
    return to_local(now or utcnow(), timezone).date()


def local_day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants at which a calendar day begins and ends in that timezone."""
    tz = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def _instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time; a time the clocks skip (spring forward) is the
    instant they jump, so hours ending in the gap end then, not an hour later."""
    local = datetime.combine(day, at, tzinfo=tz)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # Between the two readings of the missing time, the first minute on the new offset.
    lo, hi = sorted((local.replace(fold=1).astimezone(UTC), instant))
    after = hi.astimezone(tz).utcoffset()
    cursor = lo
    while cursor < hi and cursor.astimezone(tz).utcoffset() != after:
        cursor += timedelta(minutes=1)
    return cursor


def window_instants(
    day: date, start_time: time, end_time: time, tz: ZoneInfo
) -> tuple[datetime, datetime]:
    """The UTC instants a wall-clock range of that day begins and ends; an end of 00:00 means
    "until midnight"."""
    start = _instant(day, start_time, tz)
    end_day = day + timedelta(days=1) if end_time == time(0) else day
    return start, _instant(end_day, end_time, tz)


def day_windows(
    day: date,
    working_hours: Iterable[WorkingHours],
    days_off: Iterable[date],
    extra_hours: Iterable[ExtraHours],
    tz: ZoneInfo,
) -> list[tuple[datetime, datetime]]:
    """The working windows of one local day: the week's hours for its weekday and that date's
    extra hours, none on a day off (a day off closes its extra hours too)."""
    if day in set(days_off):
        return []
    ranges = [(wh.start_time, wh.end_time) for wh in working_hours if wh.weekday == day.weekday()]
    ranges += [(x.start_time, x.end_time) for x in extra_hours if x.day == day]
    return sorted(window_instants(day, start, end, tz) for start, end in ranges)


def compute_free_slots(
    *,
    doctor: Doctor,
    working_hours: list[WorkingHours],
    days_off: list[date],
    busy_starts: set[datetime],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    busy_intervals: Iterable[tuple[datetime, datetime]] = (),
    extra_hours: Iterable[ExtraHours] = (),
) -> list[Slot]:
    """Free slots starting in [window_start, window_end), later than `now`, sorted.

    Pure: no database. `busy_starts` removes slots starting at those instants; `busy_intervals`
    (start, end) also removes any slot overlapping them, for bookings that do not line up with
    the current grid (e.g. the doctor changed slot length). `extra_hours` add one-off windows
    on their dates.
    """
    window_start = _aware_utc(window_start, "window_start")
    window_end = _aware_utc(window_end, "window_end")
    now = _aware_utc(now, "now")
    tz = ZoneInfo(doctor.timezone)
    step = timedelta(minutes=doctor.slot_minutes)
    off = set(days_off)
    busy = {_aware_utc(b, "busy start") for b in busy_starts}
    intervals = sorted(
        (_aware_utc(s, "busy start"), _aware_utc(e, "busy end")) for s, e in busy_intervals
    )
    hours = list(working_hours)
    extras = list(extra_hours)

    first_day = window_start.astimezone(tz).date() - timedelta(days=1)
    last_day = window_end.astimezone(tz).date()
    slots: set[Slot] = set()
    day = first_day
    while day <= last_day:
        if day not in off:
            for start, end in day_windows(day, hours, (), extras, tz):
                cursor = start
                while cursor + step <= end:
                    if (
                        window_start <= cursor < window_end
                        and cursor > now
                        and cursor not in busy
                        and not _overlaps(cursor, cursor + step, intervals)
                    ):
                        slots.add(Slot(starts_at=cursor, ends_at=cursor + step))
                    cursor += step
        day += timedelta(days=1)
    return sorted(slots, key=lambda s: s.starts_at)


def _overlaps(start: datetime, end: datetime, intervals: list[tuple[datetime, datetime]]) -> bool:
    for busy_start, busy_end in intervals:
        if busy_start >= end:
            return False  # sorted by start: nothing later can overlap
        if busy_end > start:
            return True
    return False


def busy_clause(now: datetime) -> sa.ColumnElement[bool]:
    """Bookings that block their slot: confirmed, or held with a hold that has not lapsed."""
    return sa.or_(
        col(Booking.status) == BOOKING_CONFIRMED,
        sa.and_(
            col(Booking.status) == BOOKING_HELD,
            sa.or_(col(Booking.hold_expires_at).is_(None), col(Booking.hold_expires_at) > now),
        ),
    )


def _load(
    session: Session,
    doctor: Doctor,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    with_busy: bool = True,
) -> tuple[Plan, list[tuple[datetime, datetime]]]:
    plan = load_plan(session, doctor, start, end)
    if not with_busy:
        return plan, []
    busy = [
        (row[0], row[1])
        for row in session.exec(
            select(Booking.starts_at, Booking.ends_at).where(
                Booking.doctor_id == doctor.id,
                col(Booking.starts_at) < end,
                col(Booking.ends_at) > start,
                busy_clause(now),
            )
        )
    ]
    return plan, busy


@dataclass(frozen=True)
class Plan:
    """A doctor's schedule over some days: the weekly hours, and the days off and extra hours
    of those days."""

    hours: list[WorkingHours]
    days_off: list[date]
    extra_hours: list[ExtraHours]


def load_plan(session: Session, doctor: Doctor, start: datetime, end: datetime) -> Plan:
    """The schedule that decides the slots between two instants."""
    hours = list(session.exec(select(WorkingHours).where(WorkingHours.doctor_id == doctor.id)))
    tz = ZoneInfo(doctor.timezone)
    first = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    days_off = list(
        session.exec(
            select(DayOff.day).where(
                DayOff.doctor_id == doctor.id, DayOff.day >= first, DayOff.day <= last
            )
        )
    )
    extra = list(
        session.exec(
            select(ExtraHours).where(
                ExtraHours.doctor_id == doctor.id, ExtraHours.day >= first, ExtraHours.day <= last
            )
        )
    )
    return Plan(hours, days_off, extra)


def _slots_between(
    session: Session, doctor: Doctor, start: datetime, end: datetime, now: datetime
) -> list[Slot]:
    return plan_and_free_slots(session, doctor, start, end, now)[1]


def plan_and_free_slots(
    session: Session, doctor: Doctor, start: datetime, end: datetime, now: datetime
) -> tuple[Plan, list[Slot]]:
    """The schedule between two instants and the free slots patients are offered in it (an
    admin's preview shows both: the slots, and why a day has none)."""
    plan, busy = _load(session, doctor, start, end, now)
    return plan, compute_free_slots(
        doctor=doctor,
        working_hours=plan.hours,
        days_off=plan.days_off,
        extra_hours=plan.extra_hours,
        busy_starts={s for s, _ in busy},
        busy_intervals=busy,
        window_start=start,
        window_end=end,
        now=now,
    )


def horizon_last_day(doctor: Doctor, now: datetime) -> date:
    """The last bookable calendar day in the doctor's timezone (today + horizon)."""
    return local_today(doctor.timezone, now) + timedelta(days=get_settings().booking_horizon_days)


def free_slots_for_day(
    session: Session, doctor_id: int, day: date, now: datetime | None = None
) -> list[Slot]:
    """Free slots on one calendar day of the doctor's timezone.

    NotFound for an unknown or inactive doctor; ValidationFailed for a day before today or
    beyond the booking horizon (both in the doctor's timezone).
    """
    now = _aware_utc(now or utcnow(), "now")
    doctor = get_active_doctor(session, doctor_id)
    today = local_today(doctor.timezone, now)
    if day < today:
        raise ValidationFailed("That date is in the past.")
    if day > horizon_last_day(doctor, now):
        raise ValidationFailed(
            f"Appointments can be booked up to {get_settings().booking_horizon_days} days ahead."
        )
    start, end = local_day_bounds(day, doctor.timezone)
    return _slots_between(session, doctor, start, end, now)


def upcoming_free_slots(
    session: Session, doctor_id: int, days: int | None = None, now: datetime | None = None
) -> list[Slot]:
    """Every free slot from now to the end of the booking horizon (or `days` days ahead)."""
    now = _aware_utc(now or utcnow(), "now")
    doctor = get_active_doctor(session, doctor_id)
    horizon = get_settings().booking_horizon_days if days is None else days
    last = local_today(doctor.timezone, now) + timedelta(days=horizon)
    end = local_day_bounds(last, doctor.timezone)[1]
    return _slots_between(session, doctor, now, end, now)


def is_bookable_slot(
    session: Session,
    doctor: Doctor,
    starts_at: datetime,
    now: datetime,
    *,
    ignore_busy: bool = False,
) -> bool:
    """True when `starts_at` is exactly the start of a free slot within the horizon.

    With `ignore_busy`, only the schedule counts (working hours, days off, past, horizon): the
    booking code asks that first so "taken" and "not a slot" get different answers.
    """
    starts_at = _aware_utc(starts_at, "starts_at")
    now = _aware_utc(now, "now")
    if starts_at <= now or not doctor.active:
        return False
    day = to_local(starts_at, doctor.timezone).date()
    if day > horizon_last_day(doctor, now):
        return False
    start, end = local_day_bounds(day, doctor.timezone)
    if ignore_busy:
        plan, _ = _load(session, doctor, start, end, now, with_busy=False)
        slots = compute_free_slots(
            doctor=doctor,
            working_hours=plan.hours,
            days_off=plan.days_off,
            extra_hours=plan.extra_hours,
            busy_starts=set(),
            window_start=start,
            window_end=end,
            now=now,
        )
    else:
        slots = _slots_between(session, doctor, start, end, now)
    return any(s.starts_at == starts_at for s in slots)


def slots_version(session: Session, doctor_id: int, now: datetime | None = None) -> str:
    """A cheap fingerprint of what makes a doctor's upcoming slots busy; it changes whenever
    they may have changed, so an open page recomputes its slots only then.

    One aggregate over the doctor's bookings that have not ended: a new booking raises the
    highest id, a status change moves the latest `updated_at` (audit.change_status sets it),
    and a hold that lapses leaves the busy count. Working hours and days off are not in it:
    an admin's edit reaches a page that is open when it next loads its slots.
    """
    now = _aware_utc(now or utcnow(), "now")
    busy = sa.case((busy_clause(now), 1), else_=0)
    row = session.exec(
        select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(busy), 0),
            sa.func.max(Booking.id),
            sa.func.max(Booking.updated_at),
        ).where(Booking.doctor_id == doctor_id, col(Booking.ends_at) > now)
    ).one()
    total, busy_count, last_id, last_change = row
    return f"{total}:{busy_count}:{last_id or 0}:{last_change or ''}"
