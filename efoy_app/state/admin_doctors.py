"""/admin/doctors: the clinic's doctors, searched and paged, and the form that adds one.

Thin: `domain.doctor_admin` checks every field and writes the row and its audit entry; this
state only turns the form's text into `DoctorFields` (the fee through `parse_fee`) and shows the
domain's sentences. The admin role is checked against the database in every worker call, never
trusted from the browser. The timezone picker is the register page's (`zone_groups_for`), kept in
a mixin so the doctor's own page has one too.
"""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx
from reflex.event import EventSpec
from sqlmodel import Session

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import doctor_admin, timezones
from efoy_app.domain.auth import require_role
from efoy_app.domain.errors import DomainError, Forbidden, ValidationFailed
from efoy_app.models import ROLE_ADMIN, User
from efoy_app.state.auth import AuthState, SessionUser, ZoneGroup, db_user, zone_groups_for
from efoy_app.state.page_status import PageStatus

PAGE = 25
DEFAULT_CURRENCY = "EUR"
DEFAULT_SLOT = 30
SEARCH_MAX = 100


def checked_admin(session: Session, user: SessionUser) -> User:
    """The signed-in user as a row, refused unless they are an admin (on every call)."""
    admin = db_user(session, user)
    require_role(admin, ROLE_ADMIN)
    return admin


@dataclasses.dataclass
class DoctorEntry:
    """One doctor as a row of the list."""

    id: int = 0
    full_name: str = ""
    email: str = ""
    speciality: str = ""
    fee_display: str = ""
    slot_minutes: int = 0
    timezone: str = ""
    active: bool = True
    upcoming_bookings: int = 0
    href: str = ""


@dataclasses.dataclass(frozen=True)
class Loaded:
    rows: list[DoctorEntry]
    count: int


def _entry(d: doctor_admin.AdminDoctor) -> DoctorEntry:
    return DoctorEntry(
        id=d.id, full_name=d.full_name, email=d.email, speciality=d.speciality,
        fee_display=d.fee_display, slot_minutes=d.slot_minutes, timezone=d.timezone,
        active=d.active, upcoming_bookings=d.upcoming_bookings, href=routes.admin_doctor(d.id),
    )  # fmt: skip


def _load(user: SessionUser, search: str, offset: int) -> Loaded:
    with session_scope() as session:
        checked_admin(session, user)
        rows, count = doctor_admin.list_doctors(session, search=search, limit=PAGE, offset=offset)
        return Loaded([_entry(d) for d in rows], count)


def fields_from_form(form: dict[str, object]) -> doctor_admin.DoctorFields:
    """The form's text as the domain's fields (the fee in the currency's units, parsed by it).

    Every value is taken as text, so a tampered form (a list, a number) is checked like typing."""

    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    currency = text("currency")
    fee_text = text("fee").strip()
    if not fee_text:
        raise ValidationFailed("Fee is required.")
    slot = text("slot_minutes")
    return doctor_admin.DoctorFields(
        full_name=text("full_name"),
        email=text("email"),
        speciality=text("speciality"),
        bio=text("bio"),
        fee_minor=doctor_admin.parse_fee(fee_text, currency),
        currency=currency,
        slot_minutes=int(slot) if slot.isdigit() and len(slot) < 5 else -1,
        timezone=text("timezone"),
        active=form.get("active") in ("on", True, "true"),
    )


def _create(user: SessionUser, form: dict[str, object]) -> tuple[str, str, str]:
    """Add the doctor; (the domain's sentence, the new doctor's page, their name)."""
    with session_scope() as session:
        admin = checked_admin(session, user)
        view, said = doctor_admin.create_doctor(session, fields_from_form(form), admin)
        return said, routes.admin_doctor(view.id), view.full_name


class TimezonePicker(rx.State, mixin=True):
    """A search box narrowing a grouped list of every timezone (the register page's picker)."""

    tz_value: str = timezones.UTC_ZONE
    tz_query: str = ""
    tz_groups: list[ZoneGroup] = []
    tz_matches: str = ""

    def _fill_zones(self, query: str | None = None) -> None:
        groups = zone_groups_for(self.tz_query if query is None else query, self.tz_value)
        self.tz_groups = groups
        count = sum(len(g.zones) for g in groups)
        self.tz_matches = f"{count} timezone{'' if count == 1 else 's'} listed."

    @rx.event
    def set_tz_value(self, zone: str) -> None:
        canonical = timezones.canonical_zone(zone) if isinstance(zone, str) else None
        if canonical is not None:
            self.tz_value = canonical
            self._fill_zones()

    @rx.event
    def set_tz_query(self, query: str) -> None:
        """Narrow the list; the first match becomes the choice when the current one is out."""
        self.tz_query = str(query)[:80]
        matches = [z.zone for g in zone_groups_for(self.tz_query, "") for z in g.zones]
        if matches and self.tz_value not in matches:
            self.tz_value = matches[0]
        self._fill_zones()


class DoctorChoices(rx.State, mixin=True):
    """The currency and appointment-length lists of the doctor forms (the domain's)."""

    @rx.var
    def currency_choices(self) -> list[list[str]]:
        return [[code, label] for code, label in doctor_admin.currency_choices()]

    @rx.var
    def slot_choices(self) -> list[list[str]]:
        return [[str(m), f"{m} minutes"] for m in doctor_admin.SLOT_LENGTHS]


class AdminDoctorsState(AuthState, PageStatus, TimezonePicker, DoctorChoices):
    """State of /admin/doctors; the role is checked against the database on every load."""

    rows: list[DoctorEntry] = []
    count: int = 0
    offset: int = 0
    search: str = ""
    currency: str = DEFAULT_CURRENCY
    slot_minutes: str = str(DEFAULT_SLOT)
    form_error: str = ""
    new_doctor_href: str = ""
    new_doctor_name: str = ""
    form_key: int = 0  # bumped after an add: the form is drawn afresh, empty

    @rx.var
    def page_label(self) -> str:
        if not self.count:
            return "No doctors"
        last = min(self.offset + PAGE, self.count)
        n = self.count
        return f"{self.offset + 1}–{last} of {n} doctor{'' if n == 1 else 's'}"

    @rx.var
    def has_previous(self) -> bool:
        return self.offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.offset + PAGE < self.count

    async def _reload(self) -> EventSpec | None:
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        try:
            loaded = await asyncio.to_thread(_load, user, self.search, self.offset)
        except Forbidden:
            self.rows, self.count, self.forbidden = [], 0, True
        except DomainError as exc:
            self.rows, self.count, self.error = [], 0, exc.message
        else:
            self.rows, self.count, self.forbidden = loaded.rows, loaded.count, False
        self.loaded = True
        return None

    @rx.event
    async def load_page(self) -> EventSpec | None:
        self.loaded, self.busy, self.error, self.notice, self.form_error = (
            False, False, "", "", "",
        )  # fmt: skip
        self.new_doctor_href = self.new_doctor_name = ""
        self.offset, self.search = 0, ""
        self.currency, self.slot_minutes = DEFAULT_CURRENCY, str(DEFAULT_SLOT)
        self.tz_value, self.tz_query = timezones.UTC_ZONE, ""
        redirect = await self._reload()
        if redirect is None and not self.forbidden:
            self._fill_zones()
        else:
            self.tz_groups = []
        return redirect

    @rx.event
    async def find(self, form: dict[str, str]) -> EventSpec | None:
        raw = form.get("search")
        self.search = raw[:SEARCH_MAX] if isinstance(raw, str) else ""
        self.offset = 0
        return await self._reload()

    @rx.event
    async def page_by(self, step: int) -> EventSpec | None:
        self.offset = max(0, self.offset + int(step) * PAGE)
        return await self._reload()

    @rx.event
    def set_currency(self, code: str) -> None:
        self.currency = code if code in doctor_admin.CURRENCIES else DEFAULT_CURRENCY

    @rx.event
    def set_slot_minutes(self, minutes: str) -> None:
        ok = str(minutes) in {str(m) for m in doctor_admin.SLOT_LENGTHS}
        self.slot_minutes = str(minutes) if ok else str(DEFAULT_SLOT)

    @rx.event
    async def add_doctor(self, form: dict[str, object]) -> EventSpec | None:
        if self.busy:
            return None
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        self.busy, self.form_error, self.notice = True, "", ""
        self.new_doctor_href = self.new_doctor_name = ""
        submitted = dict(form)
        submitted["timezone"] = self.tz_value
        submitted["currency"] = self.currency
        submitted["slot_minutes"] = self.slot_minutes
        try:
            said, href, name = await asyncio.to_thread(_create, user, submitted)
        except Forbidden:
            self.forbidden = True
            return None
        except DomainError as exc:
            self.form_error = exc.message
            return None
        finally:
            self.busy = False
        self.notice, self.new_doctor_href, self.new_doctor_name = said, href, name
        self.form_key += 1
        self.tz_value, self.tz_query = timezones.UTC_ZONE, ""
        self._fill_zones()
        self.currency, self.slot_minutes = DEFAULT_CURRENCY, str(DEFAULT_SLOT)
        return await self._reload()
