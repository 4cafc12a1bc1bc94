"""/admin/payments/[payment_id]: one payment, its refunds ledger and audit trail, and `Refund`.

Thin: `domain.admin_views` reads (and checks the admin role), `domain.refunds.refund_payment`
refunds (it reserves the amount in the ledger before asking Stripe, so the total never exceeds the
payment). Against double clicks, each rendering of the form carries a one-time token: a second
submit of the same form (queued before the button turned busy) finds the token spent and does
nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets

import reflex as rx
from reflex.event import EventSpec

from efoy_app.db import session_scope
from efoy_app.domain import admin_payment_detail, refunds
from efoy_app.domain.auth import require_role
from efoy_app.domain.errors import DomainError, Forbidden, NotFound
from efoy_app.models import ROLE_ADMIN
from efoy_app.state import statuses
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.display import card_label, when_label
from efoy_app.state.page_status import PageStatus
from efoy_app.state.rows import ColoredStatus, StatusBadge, row_from
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


@dataclasses.dataclass
class RefundEntry(ColoredStatus):
    id: int = 0
    amount: str = ""
    failure_reason: str = ""
    reason: str = ""
    requested_by: str = ""
    created_at: str = ""
    stripe_refund_id: str = ""


@dataclasses.dataclass
class AuditEntry:
    id: int = 0
    at: str = ""
    subject: str = ""
    action: str = ""
    change: str = ""
    actor: str = ""
    reason: str = ""
    details: str = ""


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
    )


def _refund_entry(r: admin_payment_detail.RefundLine, tz: str) -> RefundEntry:
    return row_from(
        RefundEntry,
        r,
        tz=tz,
        amount=r.amount_display,
        status=statuses.REFUND_QUEUED if r.queued else r.status,
        status_color=look(statuses.REFUND, r.status).color,
        failure_reason=r.failure_reason or (r.last_error or "" if r.queued else ""),
    )


def _audit_entry(a: admin_payment_detail.AuditLine, tz: str) -> AuditEntry:
    change = ""
    if a.from_status or a.to_status:
        change = f"{a.from_status or '—'} → {a.to_status or '—'}"
    return row_from(
        AuditEntry,
        a,
        tz=tz,
        subject=f"{a.entity_type} #{a.entity_id}",
        action=a.action.replace("_", " "),
        change=change,
        actor=a.actor_label,
        details=json.dumps(a.details, sort_keys=True) if a.details else "",
    )


@dataclasses.dataclass(frozen=True)
class Loaded:
    facts: PaymentFacts
    refunds: list[RefundEntry]
    audit: list[AuditEntry]


def _load(user: SessionUser, payment_id: int) -> Loaded:
    with session_scope() as session:
        admin = db_user(session, user)
        d = admin_payment_detail.payment_detail(session, admin, payment_id)
        tz = admin.timezone
        return Loaded(
            _facts(d, tz),
            [_refund_entry(r, tz) for r in d.refunds],
            [_audit_entry(a, tz) for a in d.audit],
        )


def _refund(user: SessionUser, payment_id: int, amount: str, reason: str) -> tuple[str, bool]:
    """Refund as this admin; returns the notice and whether it is queued (Stripe did not answer:
    the domain takes the same form sent again as a retry of that same refund)."""
    with session_scope() as session:
        admin = db_user(session, user)
        require_role(admin, ROLE_ADMIN)
        payment = admin_payment_detail.payment_for_admin(session, admin, payment_id)
        amount_minor = admin_payment_detail.parse_refund_amount(amount, payment.currency)
        refund = refunds.refund_payment(
            session,
            payment=payment,
            amount_minor=amount_minor,
            reason=reason,
            requested_by_user_id=admin.id,
        )
        return refund.message, refund.queued


class AdminPaymentState(AuthState, PageStatus):
    """State of /admin/payments/[payment_id]."""

    facts: PaymentFacts = PaymentFacts()
    refund_rows: list[RefundEntry] = []
    audit_rows: list[AuditEntry] = []
    form_token: str = ""
    # Bumped after a successful refund: the form is drawn afresh, its inputs empty.
    form_key: int = 0

    def _requested_id(self) -> int | None:
        raw = str(self.router.page.params.get("payment_id", ""))
        return int(raw) if raw.isdigit() and len(raw) < 19 else None

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

    def _clear(self) -> None:
        self.facts, self.refund_rows, self.audit_rows = PaymentFacts(), [], []

    @rx.event
    async def load_page(self) -> EventSpec | None:
        self.loaded, self.busy, self.error, self.notice = False, False, "", ""
        self.form_token = secrets.token_urlsafe(16)
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        await self._reload(user)
        self.loaded = True
        return None

    @rx.event
    async def refund(self, form: dict[str, str]):  # type: ignore[no-untyped-def]
        """`Refund`: amount in major units (empty = everything left) and a reason."""
        if self.busy or not self.form_token or form.get("submission") != self.form_token:
            return  # the same form sent twice: the first submit is the one that counts
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
        amount, reason = str(form.get("amount") or ""), str(form.get("reason") or "")
        try:
            self.notice, queued = await asyncio.to_thread(_refund, user, payment_id, amount, reason)
        except DomainError as exc:
            self.error = exc.message
        else:
            if not queued:  # queued: the form stays filled, sending it again is the retry
                self.form_key += 1
        finally:
            self.busy = False
        await self._reload(user)
