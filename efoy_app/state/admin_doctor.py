"""/admin/doctors/[doctor_id]: one doctor's profile, weekly hours, days off, one-off extra hours
and the next 14 days of slots as patients will see them.

Thin: `domain.doctor_admin` and `domain.working_plan` check and write every change, in the
doctor's timezone, and list the bookings a change would strand (`sold_bookings.BookingsAffected`)
before saving anything. The change is then kept here, in a backend var, until the admin chooses
"Keep these bookings" or "Cancel them with a full refund": the same change is sent again with
that choice. Nothing is cancelled without that click. The role is checked on every call.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from typing import Any

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import doctor_admin, sold_bookings, working_plan
from efoy_app.domain.errors import DomainError, Forbidden, NotFound, ValidationFailed
from efoy_app.domain.money import to_major
from efoy_app.domain.timezones import zone_label
from efoy_app.domain.working_plan import format_time
from efoy_app.models import Doctor
from efoy_app.state import statuses
from efoy_app.state.admin_doctors import (
    DoctorChoices,
    TimezonePicker,
    checked_admin,
    fields_from_form,
)
from efoy_app.state.auth import AuthState, SessionUser
from efoy_app.state.display import when_label
from efoy_app.state.page_status import PageStatus
from efoy_app.state.statuses import look

PROFILE, ACTIVE, WEEK, DAY_OFF, EXTRA = "profile", "active", "week", "day_off", "extra"
REMOVE_EXTRA = "remove_extra"


@dataclasses.dataclass
class DoctorFacts:
    id: int = 0
    full_name: str = ""
    email: str = ""
    speciality: str = ""
    bio: str = ""
    fee_text: str = ""  # in the currency's units, as the fee input shows it
    fee_display: str = ""
    currency: str = ""
    slot_minutes: str = ""
    timezone: str = ""
    zone_label: str = ""
    active: bool = True
    upcoming_bookings: int = 0


@dataclasses.dataclass
class RangeRow:
    start: str = ""
    end: str = ""


@dataclasses.dataclass
class DayRanges:
    weekday: int = 0
    name: str = ""
    ranges: list[RangeRow] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class DayOffEntry:
    day: str = ""  # ISO date
    label: str = ""
    reason: str = ""


@dataclasses.dataclass
class ExtraEntry:
    id: int = 0
    label: str = ""
    hours: str = ""
    reason: str = ""


@dataclasses.dataclass
class PreviewEntry:
    day: str = ""
    label: str = ""
    slots: list[str] = dataclasses.field(default_factory=list)
    closed: str = ""


@dataclasses.dataclass
class AffectedEntry:
    booking_id: int = 0
    patient: str = ""
    patient_email: str = ""
    when: str = ""
    status: str = ""
    status_label: str = ""
    status_color: str = "gray"
    price: str = ""


@dataclasses.dataclass(frozen=True)
class Loaded:
    facts: DoctorFacts
    week: list[DayRanges]
    days_off: list[DayOffEntry]
    extra: list[ExtraEntry]
    preview: list[PreviewEntry]


def _day_label(day: date) -> str:
    return f"{day.strftime('%a')} {day.day} {day.strftime('%b %Y')}"


def _week_rows(week: dict[int, list[working_plan.TimeRange]]) -> list[DayRanges]:
    return [
        DayRanges(
            d,
            working_plan.WEEKDAYS[d],
            [RangeRow(format_time(r.start), format_time(r.end, end=True)) for r in week.get(d, [])],
        )
        for d in range(7)
    ]


def _load(user: SessionUser, doctor_id: int) -> Loaded:
    with session_scope() as session:
        checked_admin(session, user)
        view = doctor_admin.get_doctor(session, doctor_id)
        doctor = session.get(Doctor, doctor_id)
        assert doctor is not None
        plan = working_plan.plan_of(session, doctor)
        days = working_plan.preview(session, doctor)
    facts = DoctorFacts(
        id=view.id, full_name=view.full_name, email=view.email, speciality=view.speciality,
        bio=view.bio, fee_text=str(to_major(view.fee_minor, view.currency)),
        fee_display=view.fee_display, currency=view.currency,
        slot_minutes=str(view.slot_minutes), timezone=view.timezone,
        zone_label=zone_label(view.timezone), active=view.active,
        upcoming_bookings=view.upcoming_bookings,
    )  # fmt: skip
    return Loaded(
        facts=facts,
        week=_week_rows(plan.week),
        days_off=[
            DayOffEntry(d.day.isoformat(), _day_label(d.day), d.reason) for d in plan.days_off
        ],
        extra=[
            ExtraEntry(x.id, _day_label(x.day), x.range.label, x.reason) for x in plan.extra_hours
        ],
        preview=[PreviewEntry(p.day.isoformat(), p.label, p.slots, p.closed) for p in days],
    )


def parse_day(text: object) -> date:
    """A date from a date input (YYYY-MM-DD); a sentence otherwise."""
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise ValidationFailed("Choose a date.")
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"“{raw[:20]}” is not a date like 2026-12-24.") from None


def parse_week(rows: list[list[list[str]]]) -> dict[int, list[working_plan.TimeRange]]:
    """The editor's ranges (blank ones left out) as the domain's; each error names its day."""
    week: dict[int, list[working_plan.TimeRange]] = {}
    for d, ranges in enumerate(rows[:7]):
        name = working_plan.WEEKDAYS[d]
        week[d] = []
        for start, end in ranges[: working_plan.MAX_RANGES_A_DAY + 1]:
            if not start.strip() and not end.strip():
                continue
            if not start.strip() or not end.strip():
                raise ValidationFailed(f"{name}: give each range a start and an end, like 09:00.")
            try:
                week[d].append(
                    working_plan.TimeRange(
                        working_plan.parse_time(start), working_plan.parse_time(end, end=True)
                    )
                )
            except ValidationFailed as exc:
                raise ValidationFailed(f"{name}: {exc.message}") from None
    return week


def _small_int(value: object) -> int | None:
    """An index or id sent by the browser, or None for anything else (a word, a huge number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) <= routes.MAX_ID else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    return None


def _apply(
    user: SessionUser,
    doctor_id: int,
    kind: str,
    args: dict[str, Any],
    on_bookings: str | None,
    seen: list[int] | None = None,
) -> str:
    """Make one change (commits) and return its sentence; BookingsAffected lists what it would
    strand while `on_bookings` is None, or when a cancel would take a booking not `seen`."""
    with session_scope() as session:
        admin = checked_admin(session, user)
        if kind in (PROFILE, ACTIVE):
            if kind == PROFILE:
                fields = dataclasses.replace(fields_from_form(args), active=None)
            else:
                fields = doctor_admin.DoctorFields(active=bool(args["active"]))
            _, saved = doctor_admin.update_doctor(
                session, doctor_id, fields, admin, on_bookings=on_bookings, seen=seen
            )
        elif kind == WEEK:
            saved = working_plan.set_week(
                session, doctor_id, parse_week(args["week"]), admin, on_bookings=on_bookings,
                seen=seen,
            )  # fmt: skip
        elif kind == DAY_OFF:
            saved = working_plan.add_day_off(
                session, doctor_id, parse_day(args["day"]), admin,
                reason=str(args.get("reason") or ""), on_bookings=on_bookings, seen=seen,
            )  # fmt: skip
        elif kind == REMOVE_EXTRA:
            saved = working_plan.remove_extra_hours(
                session, doctor_id, int(args["id"]), admin, on_bookings=on_bookings, seen=seen
            )
        else:
            raise ValidationFailed("Unknown change.")
        return saved.sentence


def _remove_day_off(user: SessionUser, doctor_id: int, day: str) -> str:
    with session_scope() as session:
        admin = checked_admin(session, user)
        return working_plan.remove_day_off(session, doctor_id, parse_day(day), admin).sentence


def _add_extra(user: SessionUser, doctor_id: int, form: dict[str, Any]) -> str:
    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    with session_scope() as session:
        admin = checked_admin(session, user)
        day = parse_day(text("day"))
        if not text("start").strip() or not text("end").strip():
            raise ValidationFailed("Give the extra hours a start and an end, like 09:00.")
        hours = working_plan.TimeRange(
            working_plan.parse_time(text("start")), working_plan.parse_time(text("end"), end=True)
        )
        return working_plan.add_extra_hours(
            session, doctor_id, day, hours, admin, reason=text("reason")
        ).sentence


def _affected(bookings: list[sold_bookings.AffectedBooking], tz: str) -> list[AffectedEntry]:
    out = []
    for b in bookings:
        shown = look(statuses.BOOKING, b.status)
        out.append(
            AffectedEntry(
                booking_id=b.booking_id,
                patient=b.patient_name,
                patient_email=b.patient_email,
                when=when_label(b.starts_at, tz),
                status=b.status,
                status_label=shown.label,
                status_color=shown.color,
                price=b.price_display,
            )  # fmt: skip
        )
    return out


class AdminDoctorState(AuthState, PageStatus, TimezonePicker, DoctorChoices):
    """State of /admin/doctors/[doctor_id]."""

    facts: DoctorFacts = DoctorFacts()
    week: list[DayRanges] = []
    days_off: list[DayOffEntry] = []
    extra: list[ExtraEntry] = []
    preview_days: list[PreviewEntry] = []
    profile_error: str = ""
    week_error: str = ""
    day_off_error: str = ""
    extra_error: str = ""
    # The bookings the last change would strand, and what it said: the panel shows while set.
    affected: list[AffectedEntry] = []
    affected_message: str = ""
    form_key: int = 0  # bumped after a save: forms are drawn afresh from the saved values
    notice_at: str = ""  # the section whose change the notice is about
    _pending_kind: str = ""
    _pending_args: dict[str, Any] = {}

    def _doctor_id(self) -> int | None:
        return routes.path_id(self.router.url.path, routes.ADMIN_DOCTORS)

    @rx.var
    def week_saved_hint(self) -> str:
        return "Times are the doctor's own: " + self.facts.zone_label + "."

    def _clear_messages(self) -> None:
        self.error = self.notice = self.notice_at = ""
        self.profile_error = self.week_error = self.day_off_error = self.extra_error = ""

    async def _reload(self, user: SessionUser, keep_week: bool = False) -> None:
        doctor_id = self._doctor_id()
        try:
            if doctor_id is None:
                raise NotFound("Doctor not found.")
            loaded = await asyncio.to_thread(_load, user, doctor_id)
        except Forbidden:
            self.forbidden = True
            return
        except NotFound:
            self.not_found = True
            return
        self.forbidden = self.not_found = False
        self.facts = loaded.facts
        if not keep_week:
            self.week = loaded.week
        self.days_off, self.extra, self.preview_days = loaded.days_off, loaded.extra, loaded.preview

    @rx.event
    async def load_page(self) -> EventSpec | None:
        self.loaded, self.busy, self.forbidden, self.not_found = False, False, False, False
        self._clear_messages()
        self._forget_pending()
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        await self._reload(user)
        if not (self.forbidden or self.not_found):
            self.tz_value, self.tz_query = self.facts.timezone, ""
            self._fill_zones()
        else:
            self.tz_groups = []
        self.form_key += 1
        self.loaded = True
        return None

    def _forget_pending(self) -> None:
        self.affected, self.affected_message = [], ""
        self._pending_kind, self._pending_args = "", {}

    async def _change(
        self,
        kind: str,
        args: dict[str, Any],
        on_bookings: str | None = None,
        seen: list[int] | None = None,
    ) -> EventSpec | None:
        """Send one change to the domain; its sentence becomes the notice, a refusal the error
        of its section, and stranded bookings the panel (the change kept for the choice)."""
        doctor_id = self._doctor_id()
        if doctor_id is None or self.busy:
            return None
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        self._clear_messages()
        self.busy = True
        tz = self.facts.timezone
        try:
            self.notice = await asyncio.to_thread(
                _apply, user, doctor_id, kind, args, on_bookings, seen
            )
        except sold_bookings.BookingsAffected as exc:
            self.affected, self.affected_message = _affected(exc.bookings, tz), exc.message
            self._pending_kind, self._pending_args = kind, args
            return None
        except Forbidden:
            self.forbidden = True
            return None
        except DomainError as exc:
            self._forget_pending()
            self._section_error(kind, exc.message)
            return None
        finally:
            self.busy = False
        self._forget_pending()
        self.notice_at = EXTRA if kind == REMOVE_EXTRA else kind
        await self._reload(user)
        self.tz_value = self.facts.timezone
        self._fill_zones()
        self.form_key += 1
        return None

    def _section_error(self, kind: str, message: str) -> None:
        if kind == PROFILE:
            self.profile_error = message
        elif kind == WEEK:
            self.week_error = message
        elif kind == DAY_OFF:
            self.day_off_error = message
        elif kind == REMOVE_EXTRA:
            self.extra_error = message
        else:
            self.error = message

    @rx.event
    async def save_profile(self, form: dict[str, Any]) -> EventSpec | None:
        submitted = {k: v for k, v in form.items() if isinstance(v, str)}
        submitted["timezone"] = self.tz_value
        return await self._change(PROFILE, submitted)

    @rx.event
    async def toggle_active(self) -> EventSpec | None:
        return await self._change(ACTIVE, {"active": not self.facts.active})

    @rx.event
    async def save_week(self) -> EventSpec | None:
        rows = [[[r.start, r.end] for r in day.ranges] for day in self.week]
        return await self._change(WEEK, {"week": rows})

    @rx.event
    async def add_day_off(self, form: dict[str, Any]) -> EventSpec | None:
        day, reason = form.get("day"), form.get("reason")
        return await self._change(
            DAY_OFF,
            {"day": day if isinstance(day, str) else "",
             "reason": reason if isinstance(reason, str) else ""},
        )  # fmt: skip

    @rx.event
    async def remove_extra(self, extra_id: int) -> EventSpec | None:
        extra = _small_int(extra_id)
        if extra is None or not 1 <= extra <= routes.MAX_ID:
            self._clear_messages()
            self.extra_error = "Those extra hours are not found."
            return None
        return await self._change(REMOVE_EXTRA, {"id": extra})

    @rx.event
    async def settle(self, choice: str) -> EventSpec | None:
        """The panel's buttons: the pending change again, keeping or cancelling the bookings."""
        if choice not in sold_bookings.CHOICES or not self._pending_kind:
            return None
        seen = [a.booking_id for a in self.affected]
        return await self._change(self._pending_kind, dict(self._pending_args), choice, seen)

    @rx.event
    def dialog_open_changed(self, is_open: bool) -> None:
        """Change nothing (Escape or "Change nothing"): the bookings stay as they are."""
        if not is_open and self._pending_kind:
            self.notice_at = EXTRA if self._pending_kind == REMOVE_EXTRA else self._pending_kind
            self._forget_pending()
            self.notice = "Nothing was changed."

    @rx.event
    async def remove_day_off(self, day: str) -> EventSpec | None:
        return await self._simple(_remove_day_off, str(day), DAY_OFF)

    @rx.event
    async def add_extra(self, form: dict[str, Any]) -> EventSpec | None:
        return await self._simple(_add_extra, dict(form), EXTRA)

    async def _simple(self, fn: Any, arg: Any, section: str) -> EventSpec | None:
        doctor_id = self._doctor_id()
        if doctor_id is None or self.busy:
            return None
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        self._clear_messages()
        self._forget_pending()
        self.busy = True
        try:
            self.notice = await asyncio.to_thread(fn, user, doctor_id, arg)
        except Forbidden:
            self.forbidden = True
            return None
        except DomainError as exc:
            if section == DAY_OFF:
                self.day_off_error = exc.message
            else:
                self.extra_error = exc.message
            return None
        finally:
            self.busy = False
        self.notice_at = section
        await self._reload(user, keep_week=True)
        self.form_key += 1
        return None

    # --- the weekly hours editor (local edits until "Save weekly hours") -----------------

    def _day(self, weekday: object) -> DayRanges | None:
        d = _small_int(weekday)
        return self.week[d] if d is not None and 0 <= d < len(self.week) else None

    @rx.event
    def set_range(self, weekday: int, index: int, which: str, value: str) -> None:
        day, i = self._day(weekday), _small_int(index)
        if day is not None and i is not None and 0 <= i < len(day.ranges):
            value = str(value)[:8]
            row = day.ranges[i]
            if which == "start":
                row.start = value
            else:
                row.end = value
            self.week = list(self.week)

    @rx.event
    def add_range(self, weekday: int) -> None:
        day = self._day(weekday)
        if day is not None and len(day.ranges) < working_plan.MAX_RANGES_A_DAY:
            last = day.ranges[-1].end if day.ranges else ""
            day.ranges = [*day.ranges, RangeRow(last if last != "24:00" else "", "")]
            self.week = list(self.week)

    @rx.event
    def remove_range(self, weekday: int, index: int) -> None:
        day, i = self._day(weekday), _small_int(index)
        if day is not None and i is not None and 0 <= i < len(day.ranges):
            day.ranges = [r for k, r in enumerate(day.ranges) if k != i]
            self.week = list(self.week)

    @rx.event
    def copy_to_all(self, weekday: int) -> None:
        """One day's ranges onto every day of the week (saved with the rest)."""
        day = self._day(weekday)
        if day is None:
            return
        source = day.ranges
        for day in self.week:
            day.ranges = [RangeRow(r.start, r.end) for r in source]
        self.week = list(self.week)
