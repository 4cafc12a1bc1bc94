"""My appointments: the signed-in patient's bookings, upcoming first (soonest first), then past,
then cancelled and expired (domain.appointment_list); `Pay` and `Cancel` for held ones."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain.appointment_list import split_appointments
from efoy_app.domain.bookings import BookingView, list_bookings_for
from efoy_app.domain.errors import DomainError
from efoy_app.domain.money import format_money
from efoy_app.domain.payment_close import cancel_held_booking
from efoy_app.domain.timezones import zone_display_name as zone_name
from efoy_app.models import BOOKING_HELD
from efoy_app.state import statuses
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.display import when_label
from efoy_app.state.page_status import PageStatus
from efoy_app.state.rows import StatusBadge, row_from
from efoy_app.state.statuses import look


@dataclasses.dataclass
class BookingLine:
    """What a booking's row and its payment page both say of it: with whom, when, at what price."""

    doctor_name: str = ""
    speciality: str = ""
    when: str = ""
    price: str = ""


@dataclasses.dataclass
class BookingRow(BookingLine, StatusBadge):
    """One booking as a patient (or an admin) sees it."""

    id: int = 0
    doctor_href: str = ""
    reason: str = ""
    hold_note: str = ""
    can_cancel: bool = False
    can_pay: bool = False
    pay_href: str = ""

    @classmethod
    def of(cls, view: BookingView, tz: str) -> BookingRow:
        held = view.status == BOOKING_HELD
        hold_note = ""
        if held and view.hold_expires_at is not None:
            hold_note = f"Held until {when_label(view.hold_expires_at, tz)}. Pay to confirm it."
        status = look(statuses.BOOKING, view.status)
        return row_from(
            cls,
            view,
            tz=tz,
            doctor_href=routes.doctor(view.doctor_id),
            when=when_label(view.starts_at, tz),
            price=format_money(view.price_minor, view.currency),
            status_label=status.label,
            status_color=status.color,
            hold_note=hold_note,
            can_cancel=held,
            can_pay=held,
            pay_href=routes.payment(view.id),
        )


def _my_bookings(
    user: SessionUser,
) -> tuple[list[BookingRow], list[BookingRow], list[BookingRow]]:
    """Upcoming, past, and cancelled or expired bookings, as rows in the patient's timezone."""
    with session_scope() as session:
        sections = split_appointments(list_bookings_for(session, db_user(session, user)))
    rows = lambda views: [BookingRow.of(v, user.timezone) for v in views]  # noqa: E731
    return rows(sections.upcoming), rows(sections.past), rows(sections.closed)


def _cancel(user: SessionUser, booking_id: int) -> None:
    with session_scope() as session:
        cancel_held_booking(
            session, booking_id=booking_id, actor=db_user(session, user), reason="patient"
        )


class AppointmentsState(AuthState, PageStatus):
    """State of /appointments."""

    upcoming: list[BookingRow] = []
    zone_note: str = ""
    past: list[BookingRow] = []
    closed: list[BookingRow] = []

    @rx.var
    def has_bookings(self) -> bool:
        return bool(self.upcoming or self.past or self.closed)

    async def _reload(self, user: SessionUser) -> None:
        self.zone_note = f"Times are in {zone_name(user.timezone)}."
        self.upcoming, self.past, self.closed = await asyncio.to_thread(_my_bookings, user)
        self.loaded = True

    @rx.event
    async def load_page(self) -> EventSpec | None:
        self.notice, self.error = "", ""
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        await self._reload(user)
        return None

    @rx.event
    async def cancel(self, booking_id: int) -> EventSpec | None:
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        self.notice, self.error = "", ""
        try:
            await asyncio.to_thread(_cancel, user, int(booking_id))
        except DomainError as exc:
            self.error = exc.message
        else:
            self.notice = "Your appointment was cancelled and the time is free again."
        await self._reload(user)
        return None
