"""My appointments: the signed-in patient's bookings, upcoming first (soonest first), then past,
then cancelled and expired (domain.appointment_list); `Pay` for held ones, `Cancel` for upcoming
ones (a paid one shows what comes back by the policy first), and where each refund stands."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import booking_cancel
from efoy_app.domain.appointment_list import split_appointments
from efoy_app.domain.bookings import BookingView, get_booking_for, list_bookings_for
from efoy_app.domain.cancellation import quote_cancellation
from efoy_app.domain.cancellation_policy import CancellationQuote
from efoy_app.domain.errors import DomainError
from efoy_app.domain.money import format_money
from efoy_app.domain.timezones import zone_display_name as zone_name
from efoy_app.models import (
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    CANCELLATION_AWAITING,
    CANCELLATION_DECLINED,
    REFUND_CANCELED,
    REFUND_FAILED,
    REFUND_SUCCEEDED,
    utcnow,
)
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
    paid: bool = False  # cancelling it refunds by the policy: the dialog shows how much
    can_pay: bool = False
    pay_href: str = ""
    refund_note: str = ""
    refund_color: str = "gray"

    @classmethod
    def of(
        cls, view: BookingView, tz: str, refund: booking_cancel.RefundState | None = None
    ) -> BookingRow:
        held = view.status == BOOKING_HELD
        paid = view.status == BOOKING_CONFIRMED and view.starts_at > utcnow()
        note, color = refund_line(refund)
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
            can_cancel=held or paid,
            paid=paid,
            can_pay=held,
            pay_href=routes.payment(view.id),
            refund_note=note,
            refund_color=color,
        )


def refund_line(state: booking_cancel.RefundState | None) -> tuple[str, str]:
    """Where a cancelled booking's refund stands, in a sentence, with its colour."""
    if state is None:
        return "", "gray"
    amount = format_money(state.amount_minor, state.currency)
    share = f"{amount} ({state.percent} %)"
    if state.cancellation_status == CANCELLATION_AWAITING:
        return f"Refund of {share} waiting for the clinic's approval.", "amber"
    if state.cancellation_status == CANCELLATION_DECLINED:
        return f"The clinic declined the refund: {state.decision_note}", "red"
    if state.refund_status is None:
        return "Nothing came back under the cancellation policy.", "gray"
    if state.refund_status == REFUND_SUCCEEDED:
        return f"Refunded {share} to your card.", "green"
    if state.refund_status in (REFUND_FAILED, REFUND_CANCELED):
        return (
            f"The refund of {amount} failed at the bank; the clinic will contact you.",
            "red",
        )
    return f"Refund of {share} on its way to your card.", "amber"


def quote_title(quote: CancellationQuote) -> str:
    """The first line of a paid booking's cancel dialog."""
    if quote.refund_minor <= 0:
        return "Nothing comes back if you cancel now."
    amount = format_money(quote.refund_minor, quote.currency)
    return f"You will get back {amount} ({quote.refund_percent} %)."


def _my_bookings(
    user: SessionUser,
) -> tuple[list[BookingRow], list[BookingRow], list[BookingRow]]:
    """Upcoming, past, and cancelled or expired bookings, as rows in the patient's timezone."""
    with session_scope() as session:
        views = list_bookings_for(session, db_user(session, user))
        refunds = booking_cancel.refund_states(session, [v.id for v in views])
    sections = split_appointments(views)
    rows = lambda vs: [BookingRow.of(v, user.timezone, refunds.get(v.id)) for v in vs]  # noqa: E731
    return rows(sections.upcoming), rows(sections.past), rows(sections.closed)


def _quote(user: SessionUser, booking_id: int) -> CancellationQuote:
    with session_scope() as session:
        booking = get_booking_for(session, booking_id, db_user(session, user))
        return quote_cancellation(session, booking)


def _cancel(user: SessionUser, booking_id: int, expected_minor: int | None) -> str:
    with session_scope() as session:
        outcome = booking_cancel.cancel(
            session,
            booking_id=booking_id,
            actor=db_user(session, user),
            reason="cancelled by the patient",
            expected_refund_minor=expected_minor,
        )
        return outcome.message


class AppointmentsState(AuthState, PageStatus):
    """State of /appointments."""

    upcoming: list[BookingRow] = []
    zone_note: str = ""
    past: list[BookingRow] = []
    closed: list[BookingRow] = []
    # The booking whose cancel dialog is open (0: none), and its preview.
    dialog_for: int = 0
    quote_minor: int = 0
    quote_title: str = ""
    quote_reason: str = ""

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
    def dialog_open_changed(self, is_open: bool) -> None:
        """Escape, a click outside or `Keep it` closes the dialog."""
        if not is_open:
            self.dialog_for = 0

    @rx.event
    async def open_cancel(self, booking_id: int) -> EventSpec | None:
        """Open the cancel dialog, with what cancelling now would refund (it moves with time)."""
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        self.dialog_for, self.quote_title, self.quote_reason = int(booking_id), "", ""
        try:
            quote = await asyncio.to_thread(_quote, user, int(booking_id))
        except DomainError as exc:
            self.quote_title = exc.message
            return None
        self.quote_minor = quote.refund_minor
        self.quote_title, self.quote_reason = quote_title(quote), quote.reason
        return None

    @rx.event
    async def cancel(self, booking_id: int, paid: bool = False) -> EventSpec | None:
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        booking_id = int(booking_id)
        # The amount the dialog showed: if it no longer holds, nothing is cancelled.
        expected = self.quote_minor if paid and self.dialog_for == booking_id else None
        self.notice, self.error, self.dialog_for = "", "", 0
        try:
            self.notice = await asyncio.to_thread(_cancel, user, booking_id, expected)
        except DomainError as exc:
            self.error = exc.message
        await self._reload(user)
        return None
