"""/admin/cancellations: cancelled paid bookings and their refunds; with
`EFOY_CANCELLATION_REFUNDS=approval`, the requests an admin approves (the refund is sent, once)
or declines with a note the patient reads. The rules are `domain.booking_cancel`'s."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx
from reflex.event import EventSpec

from efoy_app.db import session_scope
from efoy_app.domain import booking_cancel
from efoy_app.domain.errors import DomainError, Forbidden
from efoy_app.domain.money import format_money
from efoy_app.models import (
    CANCELLATION_AWAITING,
    CANCELLATION_DECLINED,
    CANCELLATION_NO_REFUND,
    CANCELLATION_REFUNDED,
)
from efoy_app.state import statuses
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.display import clinic_timezone, when_label
from efoy_app.state.page_status import PageStatus
from efoy_app.state.rows import StatusBadge
from efoy_app.state.statuses import look

ALL = "all"
FILTERS = (CANCELLATION_AWAITING, ALL, CANCELLATION_REFUNDED, CANCELLATION_DECLINED,
           CANCELLATION_NO_REFUND)  # fmt: skip
PAGE = 50


@dataclasses.dataclass
class CancellationEntry(StatusBadge):
    id: int = 0
    booking_id: int = 0
    patient: str = ""
    patient_email: str = ""
    appointment: str = ""
    amount: str = ""
    by: str = ""
    reason: str = ""
    note: str = ""
    waiting: bool = False


@dataclasses.dataclass(frozen=True)
class Loaded:
    rows: list[CancellationEntry]
    count: int


def _entry(r: booking_cancel.CancellationRow, tz: str) -> CancellationEntry:
    status = look(statuses.CANCELLATION, r.status)
    return CancellationEntry(
        id=r.id,
        booking_id=r.booking_id,
        patient=r.patient_name,
        patient_email=r.patient_email,
        appointment=when_label(r.starts_at, tz),
        amount=f"{format_money(r.amount_minor, r.currency)} ({r.percent} %)",
        by="Clinic" if r.by == booking_cancel.BY_CLINIC else "Patient",
        reason=r.reason,
        note=r.decision_note or "",
        waiting=r.status == CANCELLATION_AWAITING,
        status=r.status,
        status_label=status.label,
        status_color=status.color,
    )


def _load(user: SessionUser, status: str, offset: int) -> Loaded:
    with session_scope() as session:
        admin = db_user(session, user)
        rows, count = booking_cancel.cancellation_list(
            session, admin, status=None if status == ALL else status, limit=PAGE, offset=offset
        )
        tz = clinic_timezone()
        return Loaded([_entry(r, tz) for r in rows], count)


def _decide(user: SessionUser, cancellation_id: int, approve: bool, note: str) -> str:
    with session_scope() as session:
        admin = db_user(session, user)
        if approve:
            outcome = booking_cancel.approve(session, cancellation_id=cancellation_id, admin=admin)
            return outcome.clinic_message
        booking_cancel.decline(session, cancellation_id=cancellation_id, admin=admin, note=note)
        return "Refund declined; the patient sees your note."


class AdminCancellationsState(AuthState, PageStatus):
    """State of /admin/cancellations; the role is checked against the database on every load."""

    rows: list[CancellationEntry] = []
    count: int = 0
    status_filter: str = CANCELLATION_AWAITING
    offset: int = 0
    # The row whose Approve or Decline dialog is open (0: none), and which of the two.
    acting_on: int = 0
    acting_approve: bool = True
    acting_question: str = ""

    @rx.var
    def filter_choices(self) -> list[list[str]]:
        out = []
        for status in FILTERS:
            label = "All" if status == ALL else look(statuses.CANCELLATION, status).label
            out.append([status, label])
        return out

    @rx.var
    def page_label(self) -> str:
        if not self.count:
            return "None"
        last = min(self.offset + PAGE, self.count)
        return f"{self.offset + 1}–{last} of {self.count}"

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
            loaded = await asyncio.to_thread(_load, user, self.status_filter, self.offset)
        except Forbidden:
            self.rows, self.count, self.forbidden = [], 0, True
        else:
            self.rows, self.count, self.forbidden = loaded.rows, loaded.count, False
        self.loaded = True
        return None

    @rx.event
    async def load_page(self) -> EventSpec | None:
        self.loaded, self.error, self.notice, self.acting_on = False, "", "", 0
        status = str(self.router.url.query_parameters.get("status", CANCELLATION_AWAITING))
        self.status_filter = status if status in FILTERS else CANCELLATION_AWAITING
        self.offset = 0
        return await self._reload()

    @rx.event
    async def set_status_filter(self, status: str) -> EventSpec | None:
        self.status_filter = status if status in FILTERS else CANCELLATION_AWAITING
        self.offset = 0
        return await self._reload()

    @rx.event
    async def page_by(self, step: int) -> EventSpec | None:
        self.offset = max(0, self.offset + int(step) * PAGE)
        return await self._reload()

    @rx.event
    def ask(self, cancellation_id: int, approve: bool) -> None:
        row = next((r for r in self.rows if r.id == int(cancellation_id)), None)
        if row is None or not row.waiting:
            return
        self.acting_on, self.acting_approve = row.id, bool(approve)
        self.error = self.notice = ""
        self.acting_question = (
            f"Refund {row.amount} to {row.patient}'s card?"
            if approve
            else f"Decline the refund of {row.amount} to {row.patient}?"
        )

    @rx.event
    def dialog_open_changed(self, is_open: bool) -> None:
        if not is_open:
            self.acting_on = 0

    @rx.event
    async def decide(self, form: dict[str, str]) -> EventSpec | None:
        """The dialog's Approve or Decline: once (the domain answers a second one with the
        first decision)."""
        cancellation_id, approve = self.acting_on, self.acting_approve
        if not cancellation_id or self.busy:
            return None
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        self.busy, self.error, self.notice = True, "", ""
        try:
            note = str(form.get("note") or "")
            self.notice = await asyncio.to_thread(_decide, user, cancellation_id, approve, note)
            self.acting_on = 0
        except DomainError as exc:
            self.error = exc.message
        finally:
            self.busy = False
        return await self._reload()
