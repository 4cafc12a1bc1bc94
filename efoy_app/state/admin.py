"""The admin overview: recent bookings with their status (payments and refunds come later)."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx
from reflex.event import EventSpec
from sqlmodel import col, select

from efoy_app.db import session_scope
from efoy_app.domain.auth import require_role
from efoy_app.domain.bookings import booking_view
from efoy_app.domain.errors import Forbidden
from efoy_app.models import ROLE_ADMIN, Booking, User
from efoy_app.state.appointments import BookingRow
from efoy_app.state.auth import AuthState, SessionUser, db_user

RECENT_LIMIT = 100


@dataclasses.dataclass
class AdminBookingRow:
    booking: BookingRow = dataclasses.field(default_factory=BookingRow)
    patient_name: str = ""
    patient_email: str = ""


def _recent_bookings(user: SessionUser) -> list[AdminBookingRow]:
    with session_scope() as session:
        admin = db_user(session, user)
        require_role(admin, ROLE_ADMIN)
        rows = session.exec(
            select(Booking, User)
            .join(User, col(User.id) == col(Booking.patient_id))
            .order_by(col(Booking.created_at).desc(), col(Booking.id).desc())
            .limit(RECENT_LIMIT)
        ).all()
        return [
            AdminBookingRow(
                booking=BookingRow.of(booking_view(session, booking), admin.timezone),
                patient_name=patient.full_name,
                patient_email=patient.email,
            )
            for booking, patient in rows
        ]


class AdminState(AuthState):
    """State of /admin; the role is checked against the database on every load."""

    rows: list[AdminBookingRow] = []
    forbidden: bool = False
    loaded: bool = False

    @rx.var
    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.booking.status] = counts.get(row.booking.status, 0) + 1
        return counts

    @rx.event
    async def load_page(self) -> EventSpec | None:
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        try:
            self.rows = await asyncio.to_thread(_recent_bookings, user)
            self.forbidden = False
        except Forbidden:
            self.rows, self.forbidden = [], True
        self.loaded = True
        return None
