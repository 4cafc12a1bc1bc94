"""A doctor's working plan as admins edit it: weekly hours (several ranges a weekday), days off
and one-off extra hours by date, all wall-clock times in the doctor's timezone.

The rules, once for the pages and the API: a range starts before it ends and lies within one
day (one that would cross midnight is refused with the two ranges to enter instead; an end of
00:00, shown 24:00, is midnight), is at least one slot long, and overlaps no other range of its
weekday or date. Every change locks the doctor's row, is written, and lists the bookings it
would strand before it commits (`sold_bookings`); each lands in the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, delete, select

from efoy_app.domain import audit, sold_bookings
from efoy_app.domain.doctors import locked_doctor
from efoy_app.domain.errors import Conflict, NotFound, ValidationFailed
from efoy_app.domain.scheduling import (
    day_windows,
    local_day_bounds,
    local_today,
    plan_and_free_slots,
    to_local,
)
from efoy_app.domain.sold_bookings import AffectedBooking, Settled
from efoy_app.domain.text import clean_text
from efoy_app.models import DayOff, Doctor, ExtraHours, User, WorkingHours, utcnow

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_RANGES_A_DAY = 6
MAX_DAYS_AHEAD = 730  # days off and extra hours up to two years ahead
PREVIEW_DAYS = 14
_TIME = re.compile(r"^\s*(\d{1,2})(?:[:.h](\d{2}))?\s*$")
_RANGE = re.compile(r"^\s*(.+?)\s*(?:-|–|—|to)\s*(.+?)\s*$")


@dataclass(frozen=True, order=True)
class TimeRange:
    """Wall-clock start and end within one day; end 00:00 is midnight."""

    start: time
    end: time

    @property
    def minutes(self) -> tuple[int, int]:
        return _minutes(self.start), _minutes(self.end) or 24 * 60

    @property
    def label(self) -> str:
        return f"{format_time(self.start)}–{format_time(self.end, end=True)}"


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def format_time(t: time, *, end: bool = False) -> str:
    """HH:MM; midnight as an end is 24:00."""
    return "24:00" if end and t == time(0) else f"{t.hour:02d}:{t.minute:02d}"


def parse_time(text: str, *, end: bool = False) -> time:
    """ "9", "09:30", "9.30", "24:00" (as an end) into a time; ValidationFailed otherwise."""
    m = _TIME.match(clean_text(str(text)))
    if not m:
        raise ValidationFailed(f"“{clean_text(str(text))[:20]}” is not a time like 09:30.")
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if end and hour == 24 and minute == 0:
        return time(0)
    if hour > 23 or minute > 59:
        raise ValidationFailed(f"“{m.group(0).strip()}” is not a time of day.")
    return time(hour, minute)


def parse_range(text: str) -> TimeRange:
    """ "09:00–12:00" (or "9-12") into a range, unchecked against other ranges."""
    m = _RANGE.match(clean_text(str(text)))
    if not m:
        raise ValidationFailed(f"“{clean_text(str(text))[:40]}” is not a range like 09:00–12:00.")
    return TimeRange(parse_time(m.group(1)), parse_time(m.group(2), end=True))


def check_range(r: TimeRange, slot_minutes: int, where: str) -> None:
    """One range on its own: forwards, within the day, at least one slot long."""
    start, end = r.minutes
    if r.start == r.end and r.end != time(0):
        raise ValidationFailed(
            f"{where}: {r.label} is empty; a range needs a start and a later end."
        )
    if end < start:
        raise ValidationFailed(
            f"{where}: {r.label} crosses midnight. Enter it as two ranges, "
            f"{format_time(r.start)}–24:00 and 00:00–{format_time(r.end)} of the next day."
        )
    if end - start < slot_minutes:
        raise ValidationFailed(
            f"{where}: {r.label} is shorter than one {slot_minutes}-minute appointment."
        )


def check_ranges(ranges: Iterable[TimeRange], slot_minutes: int, where: str) -> list[TimeRange]:
    """Ranges of one weekday or date: each valid, none overlapping another; sorted."""
    ordered = sorted(ranges)
    if len(ordered) > MAX_RANGES_A_DAY:
        raise ValidationFailed(f"{where}: at most {MAX_RANGES_A_DAY} ranges a day.")
    for r in ordered:
        check_range(r, slot_minutes, where)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.minutes[0] < a.minutes[1]:
            raise ValidationFailed(f"{where}: {a.label} and {b.label} overlap.")
    return ordered


def check_week(
    week: Mapping[int, Sequence[TimeRange]], slot_minutes: int
) -> dict[int, list[TimeRange]]:
    """A whole week (weekday 0 = Monday to 6), every day checked."""
    out: dict[int, list[TimeRange]] = {}
    for weekday, ranges in week.items():
        if not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValidationFailed("Weekdays run from 0 (Monday) to 6 (Sunday).")
        out[weekday] = check_ranges(ranges, slot_minutes, WEEKDAYS[weekday])
    return {d: out.get(d, []) for d in range(7)}


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayOffView:
    day: date
    reason: str


@dataclass(frozen=True)
class ExtraHoursView:
    id: int
    day: date
    range: TimeRange
    reason: str


@dataclass(frozen=True)
class WorkingPlan:
    """What the doctor's page shows and the API returns: the week and the dated exceptions
    from today on (in the doctor's timezone)."""

    week: dict[int, list[TimeRange]]
    days_off: list[DayOffView]
    extra_hours: list[ExtraHoursView]


def week_of(db: Session, doctor_id: int) -> dict[int, list[TimeRange]]:
    rows = db.exec(select(WorkingHours).where(WorkingHours.doctor_id == doctor_id)).all()
    week: dict[int, list[TimeRange]] = {d: [] for d in range(7)}
    for wh in rows:
        week[wh.weekday].append(TimeRange(wh.start_time, wh.end_time))
    return {d: sorted(r) for d, r in week.items()}


def plan_of(db: Session, doctor: Doctor, now: datetime | None = None) -> WorkingPlan:
    today = local_today(doctor.timezone, now)
    days_off = db.exec(
        select(DayOff)
        .where(DayOff.doctor_id == doctor.id, DayOff.day >= today)
        .order_by(DayOff.day)
    ).all()
    extra = db.exec(
        select(ExtraHours)
        .where(ExtraHours.doctor_id == doctor.id, ExtraHours.day >= today)
        .order_by(ExtraHours.day, ExtraHours.start_time)
    ).all()
    return WorkingPlan(
        week=week_of(db, doctor.id),
        days_off=[DayOffView(d.day, d.reason) for d in days_off],
        extra_hours=[
            ExtraHoursView(x.id, x.day, TimeRange(x.start_time, x.end_time), x.reason)
            for x in extra
        ],
    )


@dataclass(frozen=True)
class PreviewDay:
    day: date
    label: str  # "Mon 7 Dec"
    slots: list[str]  # local start times, "09:00"
    closed: str  # "" or why there are no slots ("Day off: conference", "No hours")


def preview(
    db: Session, doctor: Doctor, days: int = PREVIEW_DAYS, now: datetime | None = None
) -> list[PreviewDay]:
    """The next `days` days of slots as patients will see them (taken ones left out), in the
    doctor's timezone; computed by the same code that answers patients."""
    now = now or utcnow()
    today = local_today(doctor.timezone, now)
    start = local_day_bounds(today, doctor.timezone)[0]
    end = local_day_bounds(today + timedelta(days=days - 1), doctor.timezone)[1]
    plan, slots = plan_and_free_slots(db, doctor, start, end, now)
    by_day: dict[date, list[str]] = {}
    for s in slots:
        local = to_local(s.starts_at, doctor.timezone)
        by_day.setdefault(local.date(), []).append(local.strftime("%H:%M"))
    reasons = {
        d.day: d.reason
        for d in db.exec(
            select(DayOff).where(
                DayOff.doctor_id == doctor.id,
                DayOff.day >= today,
                DayOff.day < today + timedelta(days=days),
            )
        )
    }
    tz = ZoneInfo(doctor.timezone)
    out = []
    for i in range(days):
        day = today + timedelta(days=i)
        closed = ""
        if day in reasons:
            closed = f"Day off{': ' + reasons[day] if reasons[day] else ''}"
        elif not by_day.get(day):
            windows = day_windows(day, plan.hours, plan.days_off, plan.extra_hours, tz)
            closed = "Fully booked or over" if windows else "Not a working day"
        out.append(PreviewDay(day, day.strftime("%a %-d %b"), by_day.get(day, []), closed))
    return out


# --- changing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSaved:
    """A saved change: the sentence for the admin and what became of stranded bookings."""

    message: str
    settled: Settled

    @property
    def sentence(self) -> str:
        return " ".join(t for t in (self.message, self.settled.sentence) if t)


def _finish(
    db: Session,
    doctor: Doctor,
    admin: User,
    on_bookings: str | None,
    reason: str,
    message: str,
    now: datetime,
    already: frozenset[int],
    seen: Collection[int] | None,
) -> PlanSaved:
    affected: list[AffectedBooking] = sold_bookings.stranded(db, doctor, now, already=already)
    sold_bookings.save_or_list(db, affected, on_bookings, seen)
    return PlanSaved(message, sold_bookings.settle(db, affected, on_bookings, admin, reason))


def _labels(ranges: Iterable[TimeRange]) -> list[str]:
    return [r.label for r in ranges]


def set_week(
    db: Session,
    doctor_id: int,
    week: Mapping[int, Sequence[TimeRange]],
    admin: User,
    *,
    on_bookings: str | None = None,
    cancel_reason: str = "",
    seen: Collection[int] | None = None,
) -> PlanSaved:
    """Replace the doctor's weekly hours (commits). BookingsAffected when the new hours leave
    booked appointments outside and `on_bookings` is not given."""
    on_bookings = sold_bookings.check_choice(on_bookings)
    now = utcnow()
    try:
        doctor = locked_doctor(db, doctor_id)
        already = sold_bookings.outside_hours(db, doctor, now)
        new = check_week(week, doctor.slot_minutes)
        old = week_of(db, doctor.id)
        db.exec(delete(WorkingHours).where(WorkingHours.doctor_id == doctor.id))
        for weekday, ranges in new.items():
            for r in ranges:
                db.add(
                    WorkingHours(
                        doctor_id=doctor.id, weekday=weekday, start_time=r.start, end_time=r.end
                    )
                )
        db.flush()
        changed = {
            WEEKDAYS[d]: {"from": _labels(old[d]), "to": _labels(new[d])}
            for d in range(7)
            if old[d] != new[d]
        }
        if changed:
            audit.record(
                db, actor=f"user:{admin.id}", entity_type="doctor", entity_id=doctor.id,
                action="hours_changed", details=changed,
            )  # fmt: skip
        message = "Weekly hours saved." if changed else "The weekly hours were already so."
        return _finish(
            db, doctor, admin, on_bookings,
            cancel_reason or "The doctor's working hours changed.", message, now, already, seen,
        )  # fmt: skip
    except BaseException:
        db.rollback()
        raise


def _check_future_day(doctor: Doctor, day: date, now: datetime) -> None:
    today = local_today(doctor.timezone, now)
    if day < today:
        raise ValidationFailed("That day is over.")
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationFailed(f"Choose a day within {MAX_DAYS_AHEAD // 365} years.")


def _day_label(day: date) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}"


def add_day_off(
    db: Session,
    doctor_id: int,
    day: date,
    admin: User,
    *,
    reason: str = "",
    on_bookings: str | None = None,
    cancel_reason: str = "",
    seen: Collection[int] | None = None,
) -> PlanSaved:
    """Close a date (commits); that date's extra hours go with it. BookingsAffected lists the
    appointments booked that day unless `on_bookings` says what to do with them."""
    on_bookings = sold_bookings.check_choice(on_bookings)
    reason = clean_text(reason)
    if len(reason) > 200:
        raise ValidationFailed("The reason must be at most 200 characters.")
    now = utcnow()
    try:
        doctor = locked_doctor(db, doctor_id)
        already = sold_bookings.outside_hours(db, doctor, now, closing=day)
        _check_future_day(doctor, day, now)
        existing = db.exec(
            select(DayOff).where(DayOff.doctor_id == doctor.id, DayOff.day == day)
        ).first()
        if existing is not None:
            raise Conflict(f"{_day_label(day)} is a day off already.", code="day_off_exists")
        extras = db.exec(
            select(ExtraHours).where(ExtraHours.doctor_id == doctor.id, ExtraHours.day == day)
        ).all()
        for x in extras:
            db.delete(x)
        db.add(DayOff(doctor_id=doctor.id, day=day, reason=reason))
        db.flush()
        audit.record(
            db, actor=f"user:{admin.id}", entity_type="doctor", entity_id=doctor.id,
            action="day_off_added", reason=reason or None,
            details={"day": day.isoformat(),
                     "extra_hours_removed": [TimeRange(x.start_time, x.end_time).label
                                             for x in extras]},
        )  # fmt: skip
        message = f"{_day_label(day)} is a day off."
        if extras:
            message += " Its extra hours were removed."
        said = cancel_reason or f"The doctor is not available on {_day_label(day)}."
        return _finish(db, doctor, admin, on_bookings, said, message, now, already, seen)
    except BaseException:
        db.rollback()
        raise


def remove_day_off(db: Session, doctor_id: int, day: date, admin: User) -> PlanSaved:
    """Open a closed date again (commits); its weekly hours apply."""
    try:
        doctor = locked_doctor(db, doctor_id)
        row = db.exec(
            select(DayOff).where(DayOff.doctor_id == doctor.id, DayOff.day == day)
        ).first()
        if row is None:
            raise NotFound(f"{_day_label(day)} is not a day off.")
        db.delete(row)
        audit.record(
            db, actor=f"user:{admin.id}", entity_type="doctor", entity_id=doctor.id,
            action="day_off_removed", details={"day": day.isoformat()},
        )  # fmt: skip
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return PlanSaved(f"{_day_label(day)} is a working day again.", Settled([], []))


def add_extra_hours(
    db: Session, doctor_id: int, day: date, hours: TimeRange, admin: User, *, reason: str = ""
) -> PlanSaved:
    """One-off hours on a date (commits): not on a day off, not overlapping that date's weekly
    hours or other extra hours."""
    reason = clean_text(reason)
    if len(reason) > 200:
        raise ValidationFailed("The reason must be at most 200 characters.")
    now = utcnow()
    try:
        doctor = locked_doctor(db, doctor_id)
        _check_future_day(doctor, day, now)
        where = _day_label(day)
        if db.exec(select(DayOff).where(DayOff.doctor_id == doctor.id, DayOff.day == day)).first():
            raise Conflict(f"{where} is a day off: open it again first.", code="day_off")
        check_range(hours, doctor.slot_minutes, where)
        weekly = week_of(db, doctor.id)[day.weekday()]
        extras = db.exec(
            select(ExtraHours).where(ExtraHours.doctor_id == doctor.id, ExtraHours.day == day)
        ).all()
        others = weekly + [TimeRange(x.start_time, x.end_time) for x in extras]
        for other in others:
            a, b = sorted((hours, other))
            if b.minutes[0] < a.minutes[1]:
                raise ValidationFailed(f"{where}: {hours.label} overlaps {other.label}.")
        row = ExtraHours(
            doctor_id=doctor.id, day=day, start_time=hours.start, end_time=hours.end, reason=reason
        )
        db.add(row)
        db.flush()
        audit.record(
            db, actor=f"user:{admin.id}", entity_type="doctor", entity_id=doctor.id,
            action="extra_hours_added", reason=reason or None,
            details={"day": day.isoformat(), "hours": hours.label},
        )  # fmt: skip
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return PlanSaved(f"Extra hours {hours.label} on {where} added.", Settled([], []))


def remove_extra_hours(
    db: Session,
    doctor_id: int,
    extra_id: int,
    admin: User,
    *,
    on_bookings: str | None = None,
    cancel_reason: str = "",
    seen: Collection[int] | None = None,
) -> PlanSaved:
    """Take one-off hours away again (commits); bookings in them are listed first."""
    on_bookings = sold_bookings.check_choice(on_bookings)
    now = utcnow()
    try:
        doctor = locked_doctor(db, doctor_id)
        already = sold_bookings.outside_hours(db, doctor, now)
        row = db.get(ExtraHours, extra_id)
        if row is None or row.doctor_id != doctor.id:
            raise NotFound("Those extra hours are not found.")
        label = TimeRange(row.start_time, row.end_time).label
        day = row.day
        db.delete(row)
        db.flush()
        audit.record(
            db, actor=f"user:{admin.id}", entity_type="doctor", entity_id=doctor.id,
            action="extra_hours_removed", details={"day": day.isoformat(), "hours": label},
        )  # fmt: skip
        said = cancel_reason or f"The doctor's extra hours on {_day_label(day)} were cancelled."
        return _finish(
            db, doctor, admin, on_bookings, said,
            f"Extra hours {label} on {_day_label(day)} removed.", now, already, seen,
        )  # fmt: skip
    except BaseException:
        db.rollback()
        raise
