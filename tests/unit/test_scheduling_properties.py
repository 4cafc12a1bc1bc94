"""Properties of free slots, through the real query (`busy_clause`) on a SQLite database.

For random weekly hours, slot lengths, timezones (DST ones, half-hour and 45-minute offsets),
moments of `now` around daylight-saving changes, days off and bookings in every status:
- no free slot overlaps a confirmed booking or a held one whose hold has not lapsed;
- every free slot lies inside a working window (real instants and wall clock), on the window's
  grid, on a working day, in the future, and lasts the doctor's slot length;
- cancelled, expired, completed bookings and lapsed holds block nothing: the slots equal the
  slots with no bookings at all minus those overlapping a blocking booking.
Derandomized (the same examples on every run) and bounded, so CI cannot flake on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, delete

from efoy_app.db import make_engine
from efoy_app.domain.scheduling import Slot, upcoming_free_slots
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_COMPLETED,
    BOOKING_CONFIRMED,
    BOOKING_EXPIRED,
    BOOKING_HELD,
    ROLE_DOCTOR,
    ROLE_PATIENT,
    Booking,
    DayOff,
    Doctor,
    User,
    WorkingHours,
)

TIMEZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Santiago",  # DST in the southern winter, changes at midnight
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Tokyo",
]
# Days around this year's DST changes in those zones, and one ordinary day.
BASE_DAYS = [
    date(2026, 3, 8),  # US spring forward
    date(2026, 3, 29),  # EU spring forward
    date(2026, 4, 5),  # Lord Howe, Chatham, Santiago fall back
    date(2026, 9, 6),  # Santiago spring forward
    date(2026, 9, 27),  # Chatham spring forward
    date(2026, 10, 4),  # Lord Howe spring forward
    date(2026, 10, 25),  # EU fall back
    date(2026, 11, 1),  # US fall back
    date(2026, 6, 17),
]
DAYS_AHEAD = 3
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    # The unit conftest's autouse settings fixture is function-scoped; it sets the same
    # environment for every example, and each example clears the tables it fills.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STATUSES = [BOOKING_HELD, BOOKING_CONFIRMED, BOOKING_CANCELLED, BOOKING_EXPIRED, BOOKING_COMPLETED]


@dataclass(frozen=True)
class Window:
    weekday: int
    start: time
    end: time  # 00:00 means until midnight


@dataclass(frozen=True)
class PlannedBooking:
    start_offset: timedelta  # from `now`
    minutes: int
    status: str
    hold_offset: timedelta | None  # hold_expires_at - now, for held bookings


@st.composite
def windows(draw: st.DrawFn) -> Window:
    start_minutes = draw(st.integers(0, 23 * 60 + 45).map(lambda m: m - m % 5))
    end_minutes = draw(st.integers(start_minutes + 5, 24 * 60).map(lambda m: m - m % 5))
    if end_minutes <= start_minutes:
        end_minutes = start_minutes + 5
    end = time(0) if end_minutes >= 24 * 60 else time(end_minutes // 60, end_minutes % 60)
    start = time(start_minutes // 60, start_minutes % 60)
    return Window(draw(st.integers(0, 6)), start, end)


statuses = st.sampled_from(STATUSES)
# Holds lapsing before, exactly at (a hold must outlive `now` to block) and after `now`.
hold_offsets = st.one_of(
    st.none(),
    st.just(timedelta(0)),
    st.integers(-120, 120).map(lambda m: timedelta(minutes=m)),
)


def bookings(slots: list[Slot], now: datetime, slot_minutes: int) -> st.SearchStrategy:
    """Bookings on or next to the free slots (where a mistake would show), and anywhere."""
    floating = st.builds(
        PlannedBooking,
        start_offset=st.integers(-24 * 60, (DAYS_AHEAD + 1) * 24 * 60).map(
            lambda m: timedelta(minutes=m)
        ),
        minutes=st.integers(5, 240),
        status=statuses,
        hold_offset=hold_offsets,
    )
    if not slots:
        return floating
    anchored = st.builds(
        lambda slot, shift, minutes, status, hold: PlannedBooking(
            slot.starts_at + timedelta(minutes=shift) - now, minutes, status, hold
        ),
        st.sampled_from(slots),
        st.sampled_from([0, 0, -5, 5, -slot_minutes + 1, slot_minutes - 1]),
        st.one_of(st.just(slot_minutes), st.integers(1, 240)),
        statuses,
        hold_offsets,
    )
    return st.one_of(anchored, anchored, floating)


@dataclass(frozen=True)
class Case:
    timezone: str
    slot_minutes: int
    windows: list[Window]
    now: datetime
    days_off: list[int]  # days after today (doctor's calendar) that are off


cases = st.builds(
    Case,
    timezone=st.sampled_from(TIMEZONES),
    slot_minutes=st.one_of(st.sampled_from([10, 15, 20, 30, 45, 60, 90]), st.integers(5, 240)),
    windows=st.lists(windows(), min_size=1, max_size=8),
    now=st.builds(
        lambda day, minutes: (
            datetime.combine(day, time(0), tzinfo=UTC) + timedelta(minutes=minutes)
        ),
        st.sampled_from(BASE_DAYS),
        st.integers(-36 * 60, 36 * 60),
    ),
    days_off=st.lists(st.integers(0, DAYS_AHEAD), max_size=2, unique=True),
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("slots") / "slots.db"
    eng = make_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(eng)
    with Session(eng) as s:
        s.add(User(id=1, email="doc@example.com", password_hash="!", role=ROLE_DOCTOR,
                   full_name="Doc", timezone="UTC"))  # fmt: skip
        s.add(User(id=2, email="pat@example.com", password_hash="!", role=ROLE_PATIENT,
                   full_name="Pat", timezone="UTC"))  # fmt: skip
        s.commit()  # users first: no relationships tell the ORM the order
        s.add(Doctor(id=1, user_id=1, speciality="x", fee_minor=1, currency="EUR"))
        s.commit()
    yield eng
    eng.dispose()


def blocks(booking: Booking, now: datetime) -> bool:
    """The rule, stated once more independently of the SQL: confirmed, or held and not lapsed."""
    if booking.status == BOOKING_CONFIRMED:
        return True
    return booking.status == BOOKING_HELD and (
        booking.hold_expires_at is None or booking.hold_expires_at > now
    )


def load_case(
    engine: Engine, case: Case, planned: list[PlannedBooking]
) -> tuple[list[Booking], list[date]]:
    """Replace the doctor's hours, days off and bookings with the case's."""
    tz = ZoneInfo(case.timezone)
    today = case.now.astimezone(tz).date()
    days_off = [today + timedelta(days=n) for n in case.days_off]
    rows: list[Booking] = []
    active_starts: set[datetime] = set()
    with Session(engine, expire_on_commit=False) as s:
        for table in (Booking, WorkingHours, DayOff):
            s.exec(delete(table))  # type: ignore[call-overload]
        doctor = s.get(Doctor, 1)
        assert doctor is not None
        doctor.timezone, doctor.slot_minutes = case.timezone, case.slot_minutes
        s.add(doctor)
        for w in case.windows:
            s.add(WorkingHours(doctor_id=1, weekday=w.weekday, start_time=w.start, end_time=w.end))
        for day in days_off:
            s.add(DayOff(doctor_id=1, day=day))
        for plan in planned:
            start = case.now + plan.start_offset
            status = plan.status
            if status in (BOOKING_HELD, BOOKING_CONFIRMED):
                if start in active_starts:  # the database allows one active booking per start
                    status = BOOKING_CANCELLED
                active_starts.add(start)
            hold = case.now + plan.hold_offset if plan.hold_offset is not None else None
            booking = Booking(
                patient_id=2, doctor_id=1, starts_at=start,
                ends_at=start + timedelta(minutes=plan.minutes), status=status,
                price_minor=1, currency="EUR",
                hold_expires_at=hold if status == BOOKING_HELD else None,
            )  # fmt: skip
            s.add(booking)
            rows.append(booking)
        s.commit()
    return rows, days_off


def free_slots(engine: Engine, now: datetime) -> list[Slot]:
    with Session(engine) as s:
        return upcoming_free_slots(s, 1, days=DAYS_AHEAD, now=now)


def _local(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def first_instant_showing(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant at which the doctor's clock shows `wall` or later (DST-proof)."""
    candidates = [wall.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1)]
    real = [c for c in candidates if _local(c, tz) == wall]
    if real:
        return min(real)
    instant = min(candidates)  # `wall` is in a spring-forward gap: find the jump
    while _local(instant, tz) < wall:
        instant += timedelta(minutes=1)
    return instant


def last_instant_showing(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant after which the doctor's clock never shows `wall` or earlier again."""
    candidates = [wall.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1)]
    real = [c for c in candidates if _local(c, tz) == wall]
    if real:
        return max(real)
    instant = max(candidates)
    while _local(instant, tz) > wall:
        instant -= timedelta(minutes=1)
    return instant + timedelta(minutes=1)


def containing_window(slot: Slot, case: Case, days_off: list[date]) -> Window | None:
    """The working window whose wall-clock hours hold the whole slot, on a working day.

    Stated by the clock on the doctor's wall, not by zoneinfo's reading of a time that does not
    exist: on a spring-forward night a window ending at 02:30 ends when the clock jumps, and on a
    fall-back night a window runs until the last time the clock shows its end.
    """
    tz = ZoneInfo(case.timezone)
    step = timedelta(minutes=case.slot_minutes)
    day = slot.starts_at.astimezone(tz).date()
    if day in days_off:
        return None
    for w in case.windows:
        if w.weekday != day.weekday():
            continue
        wall_end_day = day + timedelta(days=1) if w.end == time(0) else day
        opens = first_instant_showing(datetime.combine(day, w.start), tz)
        closes = last_instant_showing(datetime.combine(wall_end_day, w.end), tz)
        grid_origin = datetime.combine(day, w.start, tzinfo=tz)
        on_grid = (slot.starts_at - grid_origin) % step == timedelta(0)
        if opens <= slot.starts_at and slot.ends_at <= closes and on_grid:
            return w
    return None


def overlaps(slot: Slot, booking: Booking) -> bool:
    return slot.starts_at < booking.ends_at and booking.starts_at < slot.ends_at


@PROPERTY
@given(case=cases, data=st.data())
def test_free_slots_never_overlap_a_blocking_booking_and_stay_in_working_hours(
    engine: Engine, case: Case, data: st.DataObject
) -> None:
    _, days_off = load_case(engine, case, [])
    baseline = free_slots(engine, case.now)
    step = timedelta(minutes=case.slot_minutes)
    for slot in baseline:
        assert slot.starts_at.tzinfo is not None
        assert slot.starts_at > case.now, slot
        assert slot.ends_at - slot.starts_at == step, slot
        assert containing_window(slot, case, days_off) is not None, slot
    assert baseline == sorted(set(baseline), key=lambda s: s.starts_at)

    planned = data.draw(st.lists(bookings(baseline, case.now, case.slot_minutes), max_size=10))
    rows, _ = load_case(engine, case, planned)
    slots = free_slots(engine, case.now)
    blocking = [b for b in rows if blocks(b, case.now)]
    for slot in slots:
        clash = [b for b in blocking if overlaps(slot, b)]
        assert clash == [], (slot, clash)
    # Cancelled, expired, completed and lapsed holds take nothing away; blocking ones take
    # exactly the slots they overlap.
    assert slots == [s for s in baseline if not any(overlaps(s, b) for b in blocking)]
