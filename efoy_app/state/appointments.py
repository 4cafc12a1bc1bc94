"""My appointments: the signed-in patient's bookings, upcoming first (soonest first), then past,
then cancelled and expired (domain.appointment_list); `Pay` for held ones, `Cancel` for upcoming
ones (a paid one shows what comes back by the policy first), where each refund stands, and for
every booking that took money its receipt (download or email) and its refund notes.

`ReceiptActions` is the receipt buttons' half of a page state, shared by the confirmation page
and the admin's payment page: the PDF is read and rendered in a worker thread (reportlab must
never hold up the event loop), through the domain functions that check whose payment it is."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import booking_cancel, messages, receipts
from efoy_app.domain.appointment_list import ReceiptRef, receipts_by_booking, split_appointments
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
from efoy_app.state.receipt_actions import ReceiptActions
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
class RefundNoteLink:
    """One succeeded refund's note as its button names it."""

    refund_id: int = 0
    label: str = ""


def note_label(note_number: str | None) -> str:
    """`Refund note EFOY-RN-2026-000007`; a refund from before numbering gets its number when
    first downloaded."""
    return f"Refund note {note_number}" if note_number else "Refund note"


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
    # The payment that took money (0: none): its receipt buttons, and a button per refund note.
    payment_id: int = 0
    receipt_number: str = ""
    refund_notes: list[RefundNoteLink] = dataclasses.field(default_factory=list)

    @classmethod
    def of(
        cls,
        view: BookingView,
        tz: str,
        refund: booking_cancel.RefundState | None = None,
        receipt: ReceiptRef | None = None,
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
            payment_id=receipt.payment_id if receipt else 0,
            receipt_number=(receipt.receipt_number or "") if receipt else "",
            refund_notes=[
                RefundNoteLink(n.refund_id, note_label(n.note_number))
                for n in (receipt.refund_notes if receipt else ())
            ],
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
        paid = receipts_by_booking(session, [v.id for v in views])
    sections = split_appointments(views)
    rows = lambda vs: [  # noqa: E731
        BookingRow.of(v, user.timezone, refunds.get(v.id), paid.get(v.id)) for v in vs
    ]
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


def receipt_of_payment(user: SessionUser, payment_id: int) -> receipts.PdfFile:
    """The receipt of our payment `payment_id`, if this user paid it (or is an admin); read in a
    transaction, rendered after it."""
    with session_scope() as session:
        payment = receipts.payment_receipt_for(session, payment_id, db_user(session, user))
        doc = receipts.receipt_doc(session, payment)
    return receipts.receipt_file(doc)


def refund_note_of(user: SessionUser, refund_id: int) -> receipts.PdfFile:
    """The note of our succeeded refund `refund_id`, if its payment is this user's."""
    with session_scope() as session:
        refund = receipts.succeeded_refund_for(session, str(refund_id), db_user(session, user))
        doc = receipts.refund_note_doc(session, refund)
    return receipts.refund_note_file(doc)


def email_receipt_of(user: SessionUser, payment_id: int) -> str:
    """Queue the receipt of our payment `payment_id` to its patient; what to tell the user."""
    with session_scope() as session:
        payment = receipts.payment_receipt_for(session, payment_id, db_user(session, user))
        _email, message = messages.email_receipt(session, payment)
        return message


class AppointmentsState(AuthState, PageStatus, ReceiptActions):
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
        self.receipt_busy, self.receipt_message, self.receipt_about = "", "", 0
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
        self.receipt_message = ""
        try:
            self.notice = await asyncio.to_thread(_cancel, user, booking_id, expected)
        except DomainError as exc:
            self.error = exc.message
        await self._reload(user)
        return None

    @rx.event
    async def download_receipt(self, payment_id: int):  # type: ignore[no-untyped-def]
        """`Download receipt (PDF)` of a row: by our payment id, checked to be the user's."""
        payment_id = int(payment_id)
        async for update in self._receipt_action(
            f"receipt-{payment_id}", payment_id, receipt_of_payment, payment_id
        ):
            yield update

    @rx.event
    async def email_receipt(self, payment_id: int):  # type: ignore[no-untyped-def]
        """`Email receipt` of a row: queued to the patient, at most once a minute."""
        payment_id = int(payment_id)
        async for update in self._receipt_action(
            f"email-{payment_id}", payment_id, email_receipt_of, payment_id
        ):
            yield update

    @rx.event
    async def download_refund_note(self, refund_id: int, payment_id: int = 0):  # type: ignore[no-untyped-def]
        """A row's `Refund note …`: by our refund id, checked to be the user's."""
        refund_id = int(refund_id)
        async for update in self._receipt_action(
            f"note-{refund_id}", int(payment_id), refund_note_of, refund_id
        ):
            yield update
