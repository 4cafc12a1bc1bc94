"""The admin overview: recent bookings and payments (with a "Flagged only" filter).

Thin: `domain.admin_views` reads the rows and checks the admin role again on every call, so each
handler and on_load re-checks it against the database, never trusting the browser's idea of the
role. Display strings are made here (money by `format_money` inside the domain).
"""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import admin_views
from efoy_app.domain.errors import Forbidden
from efoy_app.domain.timezones import zone_label
from efoy_app.models import utcnow
from efoy_app.state import statuses
from efoy_app.state.admin_payment import PaymentLine
from efoy_app.state.appointments import BookingRow
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.display import clinic_timezone, when_label
from efoy_app.state.page_status import PageStatus
from efoy_app.state.rows import row_from
from efoy_app.state.statuses import look

RECENT_LIMIT = 100
TABS = ("bookings", "payments")


@dataclasses.dataclass
class AdminBookingRow:
    booking: BookingRow = dataclasses.field(default_factory=BookingRow)
    patient_name: str = ""
    patient_email: str = ""


@dataclasses.dataclass
class AdminPaymentListRow(PaymentLine):
    """One payment as the admin table shows it."""

    has_refunds: bool = False
    href: str = ""

    @classmethod
    def of(cls, row: admin_views.AdminPaymentRow, tz: str) -> AdminPaymentListRow:
        status = look(statuses.PAYMENT, row.status)
        return row_from(
            cls,
            row,
            tz=tz,
            appointment=when_label(row.starts_at, tz),
            amount=row.amount_display,
            refunded=row.refunded_display,
            has_refunds=row.refunded_minor > 0,
            status_label=status.label,
            status_color=status.color,
            href=routes.admin_payment(row.id),
        )


def _recent_bookings(user: SessionUser) -> list[AdminBookingRow]:
    with session_scope() as session:
        admin = db_user(session, user)
        tz = clinic_timezone()
        return [
            AdminBookingRow(
                booking=BookingRow.of(v.booking, tz),
                patient_name=v.patient_name,
                patient_email=v.patient_email,
            )
            for v in admin_views.recent_bookings(session, admin, limit=RECENT_LIMIT)
        ]


def _payments(user: SessionUser, flagged_only: bool) -> list[AdminPaymentListRow]:
    with session_scope() as session:
        admin = db_user(session, user)
        rows = admin_views.list_payments(session, admin, flagged_only=flagged_only)
        tz = clinic_timezone()
        return [AdminPaymentListRow.of(r, tz) for r in rows]


class ClinicClock(rx.State):
    """The clinic's timezone as the admin pages name it, e.g. "Addis Ababa — East Africa Time
    (UTC+03:00)"."""

    @rx.var
    def zone(self) -> str:
        tz = clinic_timezone()
        return zone_label(tz, utcnow())


class AdminState(AuthState, PageStatus):
    """State of /admin; the role is checked against the database on every load and filter."""

    rows: list[AdminBookingRow] = []
    payments: list[AdminPaymentListRow] = []
    flagged_only: bool = False
    tab: str = "bookings"

    @rx.var
    def status_counts(self) -> list[list[str]]:
        """[label, count] per booking status among the rows, in the lifecycle's order."""
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.booking.status] = counts.get(row.booking.status, 0) + 1
        order = [s for s in statuses.BOOKING if s in counts]
        order += sorted(s for s in counts if s not in statuses.BOOKING)
        return [[look(statuses.BOOKING, s).label, str(counts[s])] for s in order]

    @rx.var
    def flagged_count(self) -> int:
        return sum(1 for p in self.payments if p.flagged)

    @rx.event
    async def load_page(self) -> EventSpec | None:
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        params = self.router.url.query_parameters
        tab = str(params.get("tab", ""))
        self.tab = tab if tab in TABS else "bookings"
        self.flagged_only = str(params.get("flagged", "")) in ("1", "true")
        try:
            self.rows = await asyncio.to_thread(_recent_bookings, user)
            self.payments = await asyncio.to_thread(_payments, user, self.flagged_only)
            self.forbidden = False
        except Forbidden:
            self.rows, self.payments, self.forbidden = [], [], True
        self.loaded = True
        return None

    @rx.event
    def set_tab(self, tab: str) -> None:
        if tab in TABS:
            self.tab = tab

    @rx.event
    async def set_flagged_only(self, checked: bool) -> EventSpec | None:
        """The "Flagged only" filter: reload the payments (the role is checked again)."""
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        self.flagged_only = bool(checked)
        try:
            self.payments = await asyncio.to_thread(_payments, user, self.flagged_only)
        except Forbidden:
            self.rows, self.payments, self.forbidden = [], [], True
        return None
