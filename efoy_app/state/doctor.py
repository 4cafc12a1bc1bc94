"""One doctor's page: a row of days with their free-slot counts, the chosen day's times, and
`Book appointment`, which holds the time and goes straight to its payment page.

Which slots are free and whether one can be held is decided by domain.scheduling and
domain.bookings; this state only groups them by day in the reader's timezone.

Live slots: while the page is open, a background task asks the database once a second for the
doctor's `slots_version` (one aggregate query) and recomputes the slots only when it moved, so
a time someone else holds or books leaves every open page within about a second, whichever
worker serves it (the state lives in Redis; the database is the one truth). The task is chained
from on_load, and Reflex 0.10 cancels a page load's chain when the tab navigates or disconnects;
it also ends by itself when the tab has no socket left, shows another page, loads the page
again (a newer task takes over) or after LIVE_MAX_SECONDS.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import time
from datetime import UTC, date, datetime, timedelta

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain.bookings import hold_slot
from efoy_app.domain.doctors import get_active_doctor, get_doctor
from efoy_app.domain.errors import DomainError, NotFound, SlotTaken
from efoy_app.domain.payment_start import checkout_possible_for
from efoy_app.domain.scheduling import Slot, is_bookable_slot, slots_version, upcoming_free_slots
from efoy_app.domain.timezones import zone_display_name as zone_name
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import utcnow
from efoy_app.settings import get_settings
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.display import time_label, when_label, zone
from efoy_app.state.doctors import DoctorCard
from efoy_app.state.page_status import PageStatus

LOG = get_logger("live_slots")
TAKEN_MESSAGE = "That time was just taken — pick another."
LIVE_POLL_SECONDS = 1.0
# Every this many polls the task also checks, under the state lock, that the page is still open.
LIVE_PAGE_CHECK_EVERY = 5
LIVE_MAX_SECONDS = 30 * 60


@dataclasses.dataclass
class SlotChoice:
    starts_at: str = ""  # ISO 8601 in UTC: what a click sends back
    label: str = ""  # "09:30" in the reader's timezone
    when: str = ""  # "Mon 1 Dec 2025, 09:30 EAT"


@dataclasses.dataclass
class SlotDay:
    key: str = ""  # "2025-12-01", the local calendar day
    label: str = ""  # "Monday 1 December 2025"
    weekday: str = ""  # "Mon"
    day: str = ""  # "1"
    month: str = ""  # "Dec"
    count: int = 0
    count_label: str = ""  # "5 free" / "Full"
    slots: list[SlotChoice] = dataclasses.field(default_factory=list)


def group_by_day(slots: list[Slot], tz: str) -> list[SlotDay]:
    """Slots in order, bucketed by their calendar day in `tz`."""
    days: list[SlotDay] = []
    for slot in sorted(slots, key=lambda s: s.starts_at):
        local = slot.starts_at.astimezone(zone(tz))
        key = local.date().isoformat()
        if not days or days[-1].key != key:
            days.append(
                SlotDay(
                    key=key,
                    label=f"{local:%A} {local.day} {local:%B %Y}",
                    weekday=f"{local:%a}",
                    day=str(local.day),
                    month=f"{local:%b}",
                )
            )
        days[-1].slots.append(
            SlotChoice(
                starts_at=slot.starts_at.astimezone(UTC).isoformat(),
                label=time_label(slot.starts_at, tz),
                when=when_label(slot.starts_at, tz),
            )
        )
    for day in days:
        day.count = len(day.slots)
        day.count_label = f"{day.count} free"
    return _with_closed_days(days)


def _with_closed_days(days: list[SlotDay]) -> list[SlotDay]:
    """The days between the first and the last with free times, those without any included
    (shown as closed), so the row reads like a calendar."""
    if not days:
        return days
    by_key = {d.key: d for d in days}
    first, last = date.fromisoformat(days[0].key), date.fromisoformat(days[-1].key)
    out: list[SlotDay] = []
    day = first
    while day <= last:
        out.append(
            by_key.get(day.isoformat())
            or SlotDay(
                key=day.isoformat(),
                label=f"{day:%A} {day.day} {day:%B %Y}",
                weekday=f"{day:%a}",
                day=str(day.day),
                month=f"{day:%b}",
                count=0,
                count_label="None free",
            )
        )
        day += timedelta(days=1)
    return out


def _doctor_page(doctor_id: int) -> tuple[DoctorCard, list[Slot], str]:
    with session_scope() as session:
        view = get_doctor(session, doctor_id)
        version = slots_version(session, doctor_id)
        return DoctorCard.of(view), upcoming_free_slots(session, doctor_id), version


def _version(doctor_id: int) -> str:
    with session_scope() as session:
        return slots_version(session, doctor_id)


def _still_free(doctor_id: int, starts_at: datetime) -> bool:
    with session_scope() as session:
        doctor = get_active_doctor(session, doctor_id)
        return is_bookable_slot(session, doctor, starts_at, utcnow())


def _hold(user: SessionUser, doctor_id: int, starts_at: datetime, reason: str) -> int:
    with session_scope() as session:
        booking = hold_slot(
            session,
            patient=db_user(session, user),
            doctor_id=doctor_id,
            starts_at=starts_at,
            reason=reason,
        )
        assert booking.id is not None
        return booking.id


async def _tab_connected(token: str) -> bool:
    """Whether the browser tab behind `token` still has a socket open on any worker.

    Reflex 0.10 has no public hook for this; its token manager answers it (through Redis when
    there are several workers). If that ever moves, the task still ends by its other limits.
    """
    try:
        from reflex_base.registry import RegistrationContext

        namespace = RegistrationContext.get().app.event_namespace
        if namespace is None:
            return True
        return bool(await namespace._token_manager.is_token_connected(token))
    except Exception:  # noqa: BLE001 - a probe only; the lifetime cap still applies
        return True


def hold_promise(starts_at: datetime | None, now: datetime, hold_minutes: int) -> str:
    """The line under `Book appointment`: how long booking `starts_at` now holds it, and when
    it starts too soon for Stripe's hosted page, that it is paid by card."""
    if starts_at is not None:
        left = max(0, math.floor((starts_at - now).total_seconds() / 60))
        if left < hold_minutes:
            unit = "minute" if left == 1 else "minutes"
            pay = "" if checkout_possible_for(starts_at, now) else " You will pay by card."
            return f"It starts in {left} {unit}: we hold it for you until then.{pay}"
    return f"We hold the time for you for {hold_minutes} minutes while you pay."


class DoctorState(AuthState, PageStatus):
    """State of /doctors/[doctor_id]."""

    doctor: DoctorCard = DoctorCard()
    days: list[SlotDay] = []
    selected_day: str = ""
    display_timezone: str = ""
    timezone_note: str = ""
    selected_start: str = ""
    selected_when: str = ""
    booking_error: str = ""
    booking_busy: bool = False
    _slots_version: str = ""
    _live_generation: int = 0
    _first_start: str = ""

    @rx.var
    def hold_note(self) -> str:
        """What holding the chosen time promises: a slot starting soon is held only until its start,
        and too soon for Stripe's hosted page it can be paid by card only."""
        starts_at = datetime.fromisoformat(self.selected_start) if self.selected_start else None
        return hold_promise(starts_at, utcnow(), get_settings().hold_minutes)

    @rx.var
    def slot_count(self) -> int:
        return sum(day.count for day in self.days)

    @rx.var
    def day_slots(self) -> list[SlotChoice]:
        """The chosen day's times."""
        for day in self.days:
            if day.key == self.selected_day:
                return day.slots
        return []

    @rx.var
    def selected_day_label(self) -> str:
        for day in self.days:
            if day.key == self.selected_day:
                return day.label
        return ""

    def _doctor_id(self) -> int | None:
        """The doctor of the page this tab shows; None on any other page."""
        return routes.path_id(self.router.url.path, routes.DOCTORS)

    async def _reload(self) -> None:
        doctor_id = self._doctor_id()
        if doctor_id is None:
            self.not_found, self.loaded = True, True
            return
        try:
            card, slots, version = await asyncio.to_thread(_doctor_page, doctor_id)
        except NotFound:
            self.not_found, self.loaded, self.days = True, True, []
            return
        self._apply(card, slots, version)

    def _apply(self, card: DoctorCard, slots: list[Slot], version: str) -> None:
        self.not_found = False
        self.doctor = card
        self._slots_version = version
        self._first_start = slots[0].starts_at.astimezone(UTC).isoformat() if slots else ""
        # Patients see their own clock; signed-out visitors see the doctor's.
        tz = self.user_timezone or card.timezone
        self.display_timezone = tz
        self.timezone_note = zone_name(tz)
        self.days = group_by_day(slots, tz)
        free = {c.starts_at for d in self.days for c in d.slots}
        if self.selected_start and self.selected_start not in free:
            # Someone else held or booked the chosen time (or it started): say so at once.
            self.selected_start, self.selected_when = "", ""
            self.booking_error = TAKEN_MESSAGE
        open_days = [d.key for d in self.days if d.count]
        if self.selected_day not in open_days:
            self.selected_day = open_days[0] if open_days else ""
        self.loaded = True

    @rx.event
    async def load_page(self) -> EventSpec | None:
        self.booking_error = ""
        self.selected_start, self.selected_when, self.selected_day = "", "", ""
        await self.current_user()
        await self._reload()
        if self.not_found:
            return None
        self._live_generation += 1
        return DoctorState.watch_slots

    @rx.event(background=True)
    async def watch_slots(self) -> None:
        """Keep the slots live: poll the cheap version, recompute only when it moved."""
        async with self:
            doctor_id = self._doctor_id()
            generation = self._live_generation
            version = self._slots_version
            first_start = self._first_start
            token = self.router.session.client_token
        if doctor_id is None:
            return
        log_kv(LOG, "live_slots_start", doctor=doctor_id, pid=os.getpid())
        # Chained from on_load, the task belongs to the page load: Reflex cancels it when the
        # tab navigates elsewhere or disconnects. The checks in _watch are the fallback.
        reason = "cancelled"
        try:
            reason = await self._watch(doctor_id, generation, version, first_start, token)
        finally:
            log_kv(LOG, "live_slots_stop", doctor=doctor_id, pid=os.getpid(), reason=reason)

    async def _watch(
        self, doctor_id: int, generation: int, version: str, first_start: str, token: str
    ) -> str:
        started = time.monotonic()
        polls = 0
        while time.monotonic() - started < LIVE_MAX_SECONDS:
            await asyncio.sleep(LIVE_POLL_SECONDS)
            polls += 1
            if not await _tab_connected(token):
                return "disconnected"
            try:
                current = await asyncio.to_thread(_version, doctor_id)
                # A slot that has started leaves the list even when no booking changed.
                passed = bool(first_start) and datetime.fromisoformat(first_start) <= utcnow()
                fresh = None
                if current != version or passed:
                    fresh = await asyncio.to_thread(_doctor_page, doctor_id)
            except NotFound:
                fresh = None
            except Exception:  # noqa: BLE001 - a database blip: try again next second
                continue
            if fresh is None and polls % LIVE_PAGE_CHECK_EVERY:
                continue
            async with self:
                if self._live_generation != generation:
                    return "reloaded"  # a newer task watches this tab
                if self._doctor_id() != doctor_id:
                    return "left"
                if fresh is not None:
                    self._apply(*fresh)
                    version, first_start = self._slots_version, self._first_start
                    log_kv(LOG, "live_slots_refresh", doctor=doctor_id, pid=os.getpid())
        return "lifetime"

    @rx.event
    def choose_day(self, key: str) -> None:
        if any(d.key == key and d.count for d in self.days):
            self.selected_day = key

    @rx.event
    async def select_slot(self, starts_at: str, when: str) -> None:
        """Choose a time; one that was just taken is refused at once and leaves the list."""
        self.booking_error = ""
        doctor_id = self._doctor_id()
        try:
            moment = datetime.fromisoformat(starts_at)
        except (TypeError, ValueError):
            return
        if doctor_id is None or moment.tzinfo is None:
            return
        try:
            free = await asyncio.to_thread(_still_free, doctor_id, moment)
        except DomainError as exc:
            self.booking_error = exc.message
            return
        if not free:
            self.selected_start, self.selected_when = "", ""
            self.booking_error = TAKEN_MESSAGE
            await self._reload()
            return
        self.selected_start, self.selected_when = starts_at, when

    @rx.event
    async def book(self, form: dict[str, str]) -> EventSpec | None:
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        doctor_id = self._doctor_id()
        if doctor_id is None or not self.selected_start:
            self.booking_error = "Choose a time first."
            return None
        reason = (form.get("reason") or "").strip()[:500]
        starts_at = datetime.fromisoformat(self.selected_start)
        self.booking_busy = True
        try:
            booking_id = await asyncio.to_thread(_hold, user, doctor_id, starts_at, reason)
        except SlotTaken:
            self.booking_error = TAKEN_MESSAGE
            self.selected_start, self.selected_when = "", ""
            await self._reload()
            return None
        except DomainError as exc:
            self.booking_error = exc.message
            return None
        finally:
            self.booking_busy = False
        self.selected_start, self.selected_when = "", ""
        return rx.redirect(routes.payment(booking_id))
