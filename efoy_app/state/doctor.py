"""One doctor's page: free slots grouped by day, pick one, `Book appointment` holds it.

Which slots are free and whether one can be held is decided by domain.scheduling and
domain.bookings; this state only groups them by day in the reader's timezone.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain.bookings import hold_slot
from efoy_app.domain.doctors import get_doctor
from efoy_app.domain.errors import DomainError, NotFound, SlotTaken
from efoy_app.domain.scheduling import Slot, upcoming_free_slots
from efoy_app.settings import get_settings
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.display import day_label, time_label, when_label, zone_label
from efoy_app.state.doctors import DoctorCard
from efoy_app.state.page_status import PageStatus


@dataclasses.dataclass
class SlotChoice:
    starts_at: str = ""  # ISO 8601 in UTC: what a click sends back
    label: str = ""  # "09:30" in the reader's timezone
    when: str = ""  # "Mon 1 Dec 2025, 09:30 EAT"


@dataclasses.dataclass
class SlotDay:
    label: str = ""
    count: int = 0
    slots: list[SlotChoice] = dataclasses.field(default_factory=list)


def group_by_day(slots: list[Slot], tz: str) -> list[SlotDay]:
    """Slots in order, bucketed by their calendar day in `tz`."""
    days: list[SlotDay] = []
    for slot in sorted(slots, key=lambda s: s.starts_at):
        label = day_label(slot.starts_at, tz)
        if not days or days[-1].label != label:
            days.append(SlotDay(label=label))
        days[-1].slots.append(
            SlotChoice(
                starts_at=slot.starts_at.astimezone(UTC).isoformat(),
                label=time_label(slot.starts_at, tz),
                when=when_label(slot.starts_at, tz),
            )
        )
        days[-1].count += 1
    return days


def _doctor_page(doctor_id: int) -> tuple[DoctorCard, list[Slot]]:
    with session_scope() as session:
        view = get_doctor(session, doctor_id)
        return DoctorCard.of(view), upcoming_free_slots(session, doctor_id)


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


class DoctorState(AuthState, PageStatus):
    """State of /doctors/[doctor_id]."""

    doctor: DoctorCard = DoctorCard()
    days: list[SlotDay] = []
    display_timezone: str = ""
    timezone_note: str = ""
    selected_start: str = ""
    selected_when: str = ""
    booking_error: str = ""
    booking_busy: bool = False

    @rx.var
    def hold_minutes(self) -> int:
        return get_settings().hold_minutes

    @rx.var
    def slot_count(self) -> int:
        return sum(day.count for day in self.days)

    def _doctor_id(self) -> int | None:
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        return int(raw) if raw.isdigit() else None

    async def _reload(self) -> None:
        doctor_id = self._doctor_id()
        if doctor_id is None:
            self.not_found, self.loaded = True, True
            return
        try:
            card, slots = await asyncio.to_thread(_doctor_page, doctor_id)
        except NotFound:
            self.not_found, self.loaded, self.days = True, True, []
            return
        self.not_found = False
        self.doctor = card
        # Patients see their own clock; signed-out visitors see the doctor's.
        tz = self.user_timezone or card.timezone
        self.display_timezone = tz
        self.timezone_note = zone_label(tz, datetime.now(UTC))
        self.days = group_by_day(slots, tz)
        free = {c.starts_at for d in self.days for c in d.slots}
        if self.selected_start not in free:
            self.selected_start, self.selected_when = "", ""
        self.loaded = True

    @rx.event
    async def load_page(self) -> None:
        self.booking_error = ""
        self.selected_start, self.selected_when = "", ""
        await self.current_user()
        await self._reload()

    @rx.event
    def select_slot(self, starts_at: str, when: str) -> None:
        self.selected_start, self.selected_when = starts_at, when
        self.booking_error = ""

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
        except SlotTaken as exc:
            self.booking_error = exc.message
            self.selected_start, self.selected_when = "", ""
            await self._reload()
            return None
        except DomainError as exc:
            self.booking_error = exc.message
            return None
        finally:
            self.booking_busy = False
        self.selected_start, self.selected_when = "", ""
        return rx.redirect(f"{routes.APPOINTMENTS}?held={booking_id}")
