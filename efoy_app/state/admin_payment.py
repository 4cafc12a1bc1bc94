"""/admin/payments/[payment_id]: one payment, its refunds ledger and audit trail, and `Refund`.

Thin: `domain.admin_views` reads (and checks the admin role), `domain.admin_refund` offers the
policy's amount, the full refund or another amount, and refunds (through the ledger, which
reserves the amount before asking Stripe, so the total never exceeds the payment), cancelling
the booking too when the admin says so. Against double clicks, each rendering of the form
carries a one-time token: a second submit of the same form (queued before the button turned
busy) finds the token spent and does nothing. `Download receipt (PDF)` for a payment that took
money, and each succeeded refund's note, rendered in a worker thread (`ReceiptActions`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import admin_payment_detail, admin_refund
from efoy_app.domain.auth import require_role
from efoy_app.domain.errors import DomainError, Forbidden, NotFound
from efoy_app.domain.money import format_money
from efoy_app.domain.receipts import PdfFile
from efoy_app.models import PAID_STATUSES, REFUND_SUCCEEDED, ROLE_ADMIN
from efoy_app.state import audit_text, statuses
from efoy_app.state.appointments import (
    note_label,
    receipt_of_payment,
    refund_note_of,
)
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.display import card_label, clinic_timezone, when_exact_label, when_label
from efoy_app.state.page_status import PageStatus
from efoy_app.state.receipt_actions import ReceiptActions
from efoy_app.state.rows import StatusBadge, row_from
from efoy_app.state.statuses import look


@dataclasses.dataclass
class PaymentLine(StatusBadge):
    """What the admin's payments list and a payment's admin page both say of a payment."""

    id: int = 0
    booking_id: int = 0
    appointment: str = ""
    patient_name: str = ""
    patient_email: str = ""
    doctor_name: str = ""
    amount: str = ""
    refunded: str = ""
    flagged: bool = False
    flag_reason: str = ""
    created_at: str = ""


@dataclasses.dataclass
class PaymentFacts(PaymentLine):
    """One payment as its admin page shows it (Stripe ids yes, secrets never)."""

    kind: str = ""
    currency: str = ""
    refundable: str = ""
    can_refund: bool = False
    checkout_session_id: str = ""
    payment_intent_id: str = ""
    charge_id: str = ""
    card: str = ""
    paid_at: str = ""
    failure: str = ""
    booking_status: str = ""
    booking_status_label: str = ""
    booking_status_color: str = "gray"
    speciality: str = ""
    # The refund form's choices (domain.admin_refund.RefundChoices), for display.
    has_policy: bool = False
    policy_amount: str = ""
    policy_percent: int = 0
    policy_reason: str = ""
    can_cancel_booking: bool = False
    has_receipt: bool = False  # the payment took money: its receipt can be downloaded
    receipt_number: str = ""


@dataclasses.dataclass
class RefundEntry(StatusBadge):
    id: int = 0
    amount: str = ""
    failure_reason: str = ""
    reason: str = ""
    requested_by: str = ""  # a name; `requested_by_detail` (an email) is its tooltip
    requested_by_detail: str = ""
    created_at: str = ""
    created_exact: str = ""
    stripe_refund_id: str = ""
    has_note: bool = False  # succeeded: its refund note can be downloaded
    note_number: str = ""
    note_label: str = ""  # "Refund note EFOY-RN-…": the button's accessible name


@dataclasses.dataclass
class AuditEntry:
    id: int = 0
    at: str = ""
    at_exact: str = ""  # with seconds, for the tooltip
    subject: str = ""
    action: str = ""
    change: str = ""
    actor: str = ""
    actor_detail: str = ""  # the user's email or the Stripe event id, for the tooltip
    why: str = ""


def _facts(d: admin_payment_detail.PaymentDetail, tz: str) -> PaymentFacts:
    p, b = d.payment, d.booking
    failure = d.failure_message or ""
    if d.failure_code:
        failure = f"{failure} ({d.failure_code})" if failure else d.failure_code
    status, booking_status = look(statuses.PAYMENT, p.status), look(statuses.BOOKING, b.status)
    return row_from(
        PaymentFacts,
        p,
        d,
        b,
        tz=tz,
        status_label=status.label,
        status_color=status.color,
        kind=statuses.PAYMENT_KIND_LABELS.get(p.kind, p.kind),
        amount=p.amount_display,
        refunded=p.refunded_display,
        refundable=d.refundable_display,
        card=card_label(d.card_brand, d.card_last4, unknown_brand="card"),
        failure=failure,
        booking_id=b.id,
        booking_status=b.status,
        booking_status_label=booking_status.label,
        booking_status_color=booking_status.color,
        appointment=when_label(b.starts_at, tz),
        has_receipt=p.status in PAID_STATUSES,
    )


def _refund_entry(r: admin_payment_detail.RefundLine, tz: str) -> RefundEntry:
    shown = statuses.REFUND_QUEUED if r.queued else r.status
    return row_from(
        RefundEntry,
        r,
        tz=tz,
        amount=r.amount_display,
        status=shown,
        status_label=look(statuses.REFUND, shown).label,
        status_color=look(statuses.REFUND, r.status).color,
        failure_reason=r.failure_reason or (r.last_error or "" if r.queued else ""),
        requested_by=r.requested_by_name,
        requested_by_detail=r.requested_by_email,
        created_exact=when_exact_label(r.created_at, tz),
        has_note=r.status == REFUND_SUCCEEDED,
        note_label=note_label(r.note_number),
    )


def _audit_entry(a: admin_payment_detail.AuditLine, tz: str, currency: str) -> AuditEntry:
    who = audit_text.actor(a.actor, a.actor_name, a.actor_email)
    return row_from(
        AuditEntry,
        a,
        tz=tz,
        at_exact=when_exact_label(a.at, tz),
        subject=f"{statuses.humanize(a.entity_type)} #{a.entity_id}",
        action=audit_text.action_label(a.action),
        change=audit_text.change_label(a.entity_type, a.from_status, a.to_status),
        actor=who.name,
        actor_detail=who.detail,
        why=audit_text.why(a.action, a.reason, a.details, currency=currency),
    )


@dataclasses.dataclass(frozen=True)
class Loaded:
    facts: PaymentFacts
    refunds: list[RefundEntry]
    audit: list[AuditEntry]


def _with_choices(facts: PaymentFacts, c: admin_refund.RefundChoices) -> PaymentFacts:
    return dataclasses.replace(
        facts,
        has_policy=c.policy_minor is not None,
        policy_amount=format_money(c.policy_minor or 0, c.currency),
        policy_percent=c.policy_percent,
        policy_reason=c.policy_reason,
        can_cancel_booking=c.can_cancel_booking,
    )


def _load(user: SessionUser, payment_id: int) -> Loaded:
    with session_scope() as session:
        admin = db_user(session, user)
        d = admin_payment_detail.payment_detail(session, admin, payment_id)
        payment = admin_payment_detail.payment_for_admin(session, admin, payment_id)
        choices = admin_refund.refund_choices(session, payment)
        tz = clinic_timezone()
        return Loaded(
            _with_choices(_facts(d, tz), choices),
            [_refund_entry(r, tz) for r in d.refunds],
            [_audit_entry(a, tz, d.payment.currency) for a in d.audit],
        )


@dataclasses.dataclass(frozen=True)
class RefundForm:
    """The refund form as submitted."""

    choice: str
    amount: str
    reason: str
    cancel_booking: bool

    @classmethod
    def of(cls, form: dict[str, str]) -> RefundForm:
        return cls(
            choice=str(form.get("choice") or ""),
            amount=str(form.get("amount") or ""),
            reason=str(form.get("reason") or ""),
            cancel_booking=str(form.get("cancel_booking") or "") in ("on", "true", "1"),
        )


def _checked(session, admin, payment_id: int, form: RefundForm):  # type: ignore[no-untyped-def]
    """The payment, what the form stands for and its reason (ValidationFailed with what to fix)."""
    payment = admin_payment_detail.payment_for_admin(session, admin, payment_id)
    choices = admin_refund.refund_choices(session, payment)
    other = None
    if form.choice == admin_refund.OTHER:
        other = admin_payment_detail.parse_refund_amount(form.amount, payment.currency)
    amount = admin_refund.chosen_amount(choices, form.choice, other)
    admin_refund.reason_for(choices, amount, form.reason)
    return payment, amount, other


def _preview(user: SessionUser, payment_id: int, form: RefundForm) -> str:
    """The confirm question, e.g. "Refund €30.50 to Visa •••• 4242 and cancel the booking?"."""
    with session_scope() as session:
        admin = db_user(session, user)
        payment, amount, _ = _checked(session, admin, payment_id, form)
        card = card_label(payment.card_brand, payment.card_last4, unknown_brand="card")
        to = f" to {card}" if card else " to the patient's card"
        money = format_money(amount, payment.currency)
        if form.cancel_booking:
            if amount == 0:
                return "Cancel the booking without a refund? The patient is emailed."
            return f"Refund {money}{to} and cancel the booking? The patient is emailed."
        return f"Refund {money}{to}?"


def _refund(user: SessionUser, payment_id: int, form: RefundForm) -> tuple[str, bool]:
    """Refund as this admin; returns the notice and whether it is queued (Stripe did not answer:
    the domain takes the same form sent again as a retry of that same refund)."""
    with session_scope() as session:
        admin = db_user(session, user)
        require_role(admin, ROLE_ADMIN)
        payment, _, other = _checked(session, admin, payment_id, form)
        done = admin_refund.refund_from_page(
            session,
            payment=payment,
            admin=admin,
            choice=form.choice,
            other_minor=other,
            reason=form.reason,
            cancel_booking=form.cancel_booking,
        )
        return done.message, done.queued


def _admin_receipt(user: SessionUser, payment_id: int) -> PdfFile:
    """The receipt as the admin downloads it (the admin role checked first)."""
    with session_scope() as session:
        require_role(db_user(session, user), ROLE_ADMIN)
    return receipt_of_payment(user, payment_id)


def _admin_refund_note(user: SessionUser, refund_id: int) -> PdfFile:
    with session_scope() as session:
        require_role(db_user(session, user), ROLE_ADMIN)
    return refund_note_of(user, refund_id)


class AdminPaymentState(AuthState, PageStatus, ReceiptActions):
    """State of /admin/payments/[payment_id]."""

    facts: PaymentFacts = PaymentFacts()
    refund_rows: list[RefundEntry] = []
    audit_rows: list[AuditEntry] = []
    form_token: str = ""
    # Bumped after a successful refund: the form is drawn afresh, its inputs empty.
    form_key: int = 0
    # The confirm step: the form as checked, waiting for the admin's `Refund` in the dialog.
    confirm_open: bool = False
    confirm_question: str = ""
    # The amount choice shown ("policy", "full", "other"): "other" shows the amount input.
    choice: str = admin_refund.FULL
    cancel_booking: bool = False  # "Also cancel the booking"
    _pending: RefundForm | None = None
    _pending_token: str = ""

    def _requested_id(self) -> int | None:
        return routes.path_id(self.router.url.path, "/admin/payments")

    async def _reload(self, user: SessionUser) -> None:
        payment_id = self._requested_id()
        try:
            if payment_id is None:
                raise NotFound("There is no such payment.")
            loaded = await asyncio.to_thread(_load, user, payment_id)
        except Forbidden:
            self._clear()
            self.forbidden = True
            return
        except NotFound:
            self._clear()
            self.not_found = True
            return
        self.facts, self.refund_rows, self.audit_rows = loaded.facts, loaded.refunds, loaded.audit
        self.forbidden = self.not_found = False
        if self.choice == admin_refund.BY_POLICY and not loaded.facts.has_policy:
            self.choice = admin_refund.FULL

    def _clear(self) -> None:
        self.facts, self.refund_rows, self.audit_rows = PaymentFacts(), [], []

    def _close_confirm(self) -> None:
        self.confirm_open, self.confirm_question = False, ""
        self._pending, self._pending_token = None, ""

    @rx.event
    async def load_page(self) -> EventSpec | None:
        self.loaded, self.busy, self.error, self.notice = False, False, "", ""
        self.receipt_busy, self.receipt_message, self.receipt_tone = "", "", ""
        self._close_confirm()
        self.form_token = secrets.token_urlsafe(16)
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        self.choice, self.cancel_booking = admin_refund.FULL, False
        await self._reload(user)
        if self.facts.has_policy:
            self.choice = admin_refund.BY_POLICY
        self.loaded = True
        return None

    @rx.event
    def set_choice(self, choice: str) -> None:
        if choice in (admin_refund.BY_POLICY, admin_refund.FULL, admin_refund.OTHER):
            self.choice = choice
        self.form_changed()

    @rx.event
    def set_cancel_booking(self, checked: bool) -> None:
        self.cancel_booking = bool(checked)
        self.form_changed()

    @rx.event
    def form_changed(self, _value: str = "") -> None:
        """An edit to the form: what was said about the last attempt no longer applies."""
        if self.error or self.notice:
            self.error, self.notice = "", ""

    @rx.event
    async def review_refund(self, form: dict[str, str]) -> EventSpec | None:
        """The form's `Refund`: check it, then ask "Refund €30.50 to Visa •••• 4242?"."""
        if self.busy or not self.form_token or form.get("submission") != self.form_token:
            return None
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        payment_id = self._requested_id()
        if payment_id is None:
            return None
        submitted = RefundForm.of(
            {**form, "choice": self.choice, "cancel_booking": "1" if self.cancel_booking else ""}
        )
        self.error, self.notice = "", ""
        try:
            question = await asyncio.to_thread(_preview, user, payment_id, submitted)
        except DomainError as exc:
            self.error = exc.message
            self._close_confirm()
            return None
        self._pending, self._pending_token = submitted, self.form_token
        self.confirm_question, self.confirm_open = question, True
        return None

    @rx.event
    def cancel_refund(self) -> None:
        """`Cancel` in the dialog: nothing is sent, the form keeps what was typed."""
        self._close_confirm()

    @rx.event
    def set_confirm_open(self, is_open: bool) -> None:
        """Escape or a click outside closes the dialog as `Cancel` does."""
        if not is_open:
            self._close_confirm()

    @rx.event
    async def confirm_refund(self):  # type: ignore[no-untyped-def]
        """`Refund` in the dialog: send the refund that was reviewed, once."""
        token = self._pending_token
        submitted = self._pending
        if self.busy or not token or token != self.form_token or submitted is None:
            return  # a second click, or a dialog left from an earlier form
        self._close_confirm()
        self.form_token = secrets.token_urlsafe(16)
        user = await self.current_user()
        if user is None:
            yield self.login_redirect()
            return
        payment_id = self._requested_id()
        if payment_id is None:
            return
        self.busy, self.error, self.notice = True, "", ""
        yield
        try:
            self.notice, queued = await asyncio.to_thread(_refund, user, payment_id, submitted)
        except DomainError as exc:
            self.error = exc.message
        else:
            if not queued:  # queued: the form stays filled, sending it again is the retry
                self.form_key += 1
                self.cancel_booking = False
        finally:
            self.busy = False
        await self._reload(user)

    @rx.event
    async def download_receipt(self):  # type: ignore[no-untyped-def]
        """`Download receipt (PDF)` of this page's payment."""
        payment_id = self._requested_id()
        if payment_id is None:
            return
        async for update in self._receipt_action("receipt", payment_id, _admin_receipt, payment_id):
            yield update

    @rx.event
    async def download_refund_note(self, refund_id: int):  # type: ignore[no-untyped-def]
        """A succeeded refund's `Refund note …` in the ledger."""
        refund_id = int(refund_id)
        async for update in self._receipt_action(
            f"note-{refund_id}", self._requested_id() or 0, _admin_refund_note, refund_id
        ):
            yield update
