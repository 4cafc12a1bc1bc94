"""States of the payment pages: pay for a held booking, come back from Stripe, or cancel.

Thin: prices, holds, sessions and fulfilment are decided in `domain.payment_*`; this only calls it
in a worker thread and keeps what the page shows. Stripe ids that the browser must not steer stay
in backend vars (leading underscore).
"""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx
from reflex.event import EventSpec

from efoy_app import models, routes
from efoy_app.db import session_scope
from efoy_app.domain import messages, payment_fulfil, payment_start, payment_views, receipts
from efoy_app.domain.bookings import (
    booking_view,
    get_booking_for,
    hold_again,
    slot_still_free,
)
from efoy_app.domain.card_page import card_page_url, payment_element_enabled, payment_success_url
from efoy_app.domain.errors import DomainError
from efoy_app.domain.money import format_money
from efoy_app.models import OPEN_STATUSES, User, utcnow
from efoy_app.settings import get_settings
from efoy_app.state import statuses
from efoy_app.state.appointments import BookingLine
from efoy_app.state.auth import AuthState, SessionUser
from efoy_app.state.display import card_label, when_label
from efoy_app.state.page_status import PageStatus
from efoy_app.state.receipt_actions import ReceiptActions
from efoy_app.state.rows import row_from
from efoy_app.state.statuses import look

VERIFY_ATTEMPTS = 20
VERIFY_INTERVAL_SECONDS = 1.0
# What /payment/success says while and after it verifies the payment with Stripe.
PHASE_VERIFYING = "verifying"
PHASE_CONFIRMED = "confirmed"
PHASE_PROCESSING = "processing"
PHASE_FAILED = "failed"
PHASE_REFUNDED = "refunded"
PHASE_ERROR = "error"
PHASE_NONE = "none"  # no reference in the address and no payment of the patient's to show
# How long the page re-asks after the browser's countdown ran out but the server still counts
# the hold as running (a browser clock a little ahead of the server's).
LAPSE_RECHECKS = 5


@dataclasses.dataclass
class PaymentSummary(BookingLine):
    """A booking as the payment page shows it."""

    booking_id: int = 0
    status: str = ""
    status_label: str = ""
    held: bool = False
    confirmed: bool = False
    hold_expires_at: str = ""
    hold_until: str = ""
    last_failure: str = ""
    # The server's clock when this was read, so the browser's countdown counts the server's time.
    server_now: str = ""
    # The hold ran out (or Stripe's session expired): the time may be held once more if free.
    lapsed: bool = False
    slot_free: bool = False
    doctor_href: str = ""
    # Stripe's hosted page needs 30 minutes before the start; sooner, only the card form.
    checkout_possible: bool = True
    starts_soon: str = ""


def _summary(user: SessionUser, booking_id: int) -> PaymentSummary:
    with session_scope() as db:
        now = utcnow()
        booking = get_booking_for(db, booking_id, db.get(User, user.id))
        view = booking_view(db, booking)
        failure = ""
        for p in payment_views.payments_for_booking(db, booking_id):
            if p.status in OPEN_STATUSES and p.failure_message:
                failure = p.failure_message
        hold = view.hold_expires_at
        held = view.status == models.BOOKING_HELD
        # Only the patient may hold their time again (an admin sees the plain "no longer" note).
        lapsed = view.status == models.BOOKING_EXPIRED and booking.patient_id == user.id
        checkout = payment_start.hosted_checkout_available(db, booking, now)
        starts_soon = ""
        if held and not checkout:
            minutes = payment_start.minutes_to_start(booking, now)
            unit = "minute" if minutes == 1 else "minutes"
            starts_soon = f"This appointment starts in {minutes} {unit}: pay by card below."
        return PaymentSummary(
            booking_id=view.id,
            doctor_name=view.doctor_name,
            speciality=view.speciality,
            when=when_label(view.starts_at, user.timezone),
            price=format_money(view.price_minor, view.currency),
            status=view.status,
            status_label=look(statuses.BOOKING, view.status).label,
            held=held,
            confirmed=view.status == models.BOOKING_CONFIRMED,
            hold_expires_at=hold.isoformat() if hold else "",
            hold_until=when_label(hold, user.timezone) if hold else "",
            last_failure=failure,
            server_now=now.isoformat(),
            lapsed=lapsed,
            slot_free=lapsed and slot_still_free(db, booking, now),
            doctor_href=routes.doctor(view.doctor_id),
            checkout_possible=checkout,
            starts_soon=starts_soon,
        )


def _hold_again(user: SessionUser, booking_id: int) -> int:
    """The same time held once more (a new booking); its id."""
    with session_scope() as db:
        return hold_again(db, booking_id=booking_id, patient=db.get(User, user.id)).id


@dataclasses.dataclass(frozen=True)
class NextStep:
    """Where a started payment goes on: a page to send the browser to, or (real Stripe's card
    form) the client secret the Payment Element on our page is mounted with."""

    redirect_url: str = ""
    client_secret: str = ""


def _start_checkout(user: SessionUser, booking_id: int) -> NextStep:
    """Stripe's hosted page."""
    with session_scope() as db:
        start = payment_start.start_checkout(db, booking_id=booking_id, user=db.get(User, user.id))
        return NextStep(redirect_url=start.url)


def _start_card(user: SessionUser, booking_id: int) -> NextStep:
    """Against the sandbox its card page; with real Stripe the Payment Element on our page."""
    with session_scope() as db:
        start = payment_start.start_card_payment(
            db, booking_id=booking_id, user=db.get(User, user.id)
        )
        url = card_page_url(start.payment_intent_id, start.client_secret)
        if url is not None:
            return NextStep(redirect_url=url)
        if not payment_element_enabled():
            raise DomainError(
                "Card payments on this page are not configured (no STRIPE_PUBLISHABLE_KEY). "
                "Please use Pay now.",
                code="card_form_unavailable",
            )
        return NextStep(client_secret=start.client_secret)


class PaymentState(AuthState, PageStatus):
    """/payment/[booking_id]: the price, the hold's countdown, `Pay now` and `Pay by card`."""

    summary: PaymentSummary = PaymentSummary()
    # Stripe's design: the PaymentIntent's client secret is handed to the payer's browser only.
    card_client_secret: str = ""
    publishable_key: str = ""
    card_return_url: str = ""

    @rx.var
    def can_pay(self) -> bool:
        return self.summary.status == models.BOOKING_HELD and not self.busy

    def _booking_id(self) -> int | None:
        return routes.path_id(self.router.url.path, "/payment")

    async def _reload(self, user: SessionUser) -> None:
        """Read the booking again; a message left from before is dropped unless it may still be
        acted on (a lapsed or paid booking has its own single message)."""
        booking_id = self._booking_id()
        if booking_id is None:
            self.not_found = True
            return
        try:
            self.summary = await asyncio.to_thread(_summary, user, booking_id)
            self.not_found = False
        except DomainError:
            self.not_found = True
            self.summary = PaymentSummary()
        if not self.summary.held:
            self.error = ""

    @rx.event
    async def load_page(self) -> EventSpec | None:
        self.error, self.busy, self.card_client_secret = "", False, ""
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        await self._reload(user)
        return None

    async def _claim(self) -> tuple[SessionUser | None, int | None, EventSpec | None]:
        """The start of every button that calls the server: one request at a time (a double
        click finds the page busy), a signed-in user, this page's booking. Returns the user and
        booking id, or a redirect to log in; (None, None, None) means nothing to do."""
        if self.busy:
            return None, None, None  # a double click: the first one is already on its way
        user = await self.current_user()
        if user is None:
            return None, None, self.login_redirect()
        booking_id = self._booking_id()
        if booking_id is None:
            return None, None, None
        self.busy, self.error = True, ""
        return user, booking_id, None

    async def _pay(self, start):  # type: ignore[no-untyped-def]
        """Shared by both buttons: one request at a time, errors shown on the page."""
        user, booking_id, redirect = await self._claim()
        if redirect is not None:
            yield redirect
        if user is None or booking_id is None:
            return
        yield
        try:
            step = await asyncio.to_thread(start, user, booking_id)
        except DomainError as exc:
            self.error = exc.message
            self.busy = False
            await self._reload(user)  # a lapsed hold: its own message replaces this one
            if (
                exc.code == payment_start.CheckoutTooLate.code
                and not self.summary.checkout_possible
            ):
                self.error = ""  # the page now says so where `Pay now` was
            return
        if step.redirect_url:
            yield rx.redirect(step.redirect_url)
            return
        self.busy = False
        self.card_client_secret = step.client_secret
        self.publishable_key = get_settings().stripe_publishable_key or ""
        self.card_return_url = payment_success_url()

    @rx.event
    async def pay_now(self):  # type: ignore[no-untyped-def]
        """Hosted Checkout: the same tab goes to Stripe's page."""
        async for update in self._pay(_start_checkout):
            yield update

    @rx.event
    async def pay_by_card(self):  # type: ignore[no-untyped-def]
        """The card form (against the sandbox, its card page stands in for Stripe.js)."""
        async for update in self._pay(_start_card):
            yield update

    @rx.event(background=True)
    async def hold_lapsed(self) -> None:
        """The browser's countdown reached zero: read the booking once (a few times if the
        server's clock has not got there yet), so the page says the hold lapsed."""
        for _ in range(LAPSE_RECHECKS):
            async with self:
                user = await self.current_user()
                if user is None:
                    return
                await self._reload(user)
                if not self.summary.held:
                    self.card_client_secret = ""
                    return
            await asyncio.sleep(1.0)

    @rx.event
    async def hold_again(self):  # type: ignore[no-untyped-def]
        """Hold the lapsed booking's time once more and pay for it on its own payment page."""
        user, booking_id, redirect = await self._claim()
        if redirect is not None:
            yield redirect
        if user is None or booking_id is None:
            return
        yield
        try:
            new_id = await asyncio.to_thread(_hold_again, user, booking_id)
        except DomainError as exc:
            self.busy = False
            await self._reload(user)
            if self.summary.slot_free:  # taken meanwhile shows as taken; anything else: say it
                self.error = exc.message
            return
        self.busy = False
        yield rx.redirect(routes.payment(new_id))


@dataclasses.dataclass
class Confirmation:
    """The patient's payment (`payment_views.PaymentView`) as the success page shows it."""

    booking_id: int = 0
    doctor_name: str = ""
    when: str = ""
    amount_display: str = ""
    status: str = ""
    booking_status: str = ""
    status_label: str = ""
    payment_intent_id: str = ""
    card: str = ""
    flag_reason: str = ""
    failure_message: str = ""
    retry_href: str = ""


def _fulfil(user: SessionUser, session_id: str, payment_intent_id: str) -> Confirmation:
    """Ownership first (404 for others), then the one fulfil function."""
    with session_scope() as db:
        me = db.get(User, user.id)
        if session_id:
            payment_views.payment_by_session_for(db, session_id, me)
            payment = payment_fulfil.fulfill_checkout(db, session_id, actor=f"user:{user.id}")
        else:
            payment_views.payment_by_intent_for(db, payment_intent_id, me)
            payment = payment_fulfil.fulfill_payment_intent(
                db, payment_intent_id, actor=f"user:{user.id}"
            )
        view = payment_views.payment_view(db, payment)
        return row_from(
            Confirmation,
            view,
            tz=user.timezone,
            when=when_label(view.starts_at, user.timezone),
            card=card_label(view.card_brand, view.card_last4),
            status_label=look(statuses.PAYMENT, view.status).label,
            retry_href=routes.payment(view.booking_id),
        )


def _latest_reference(user: SessionUser) -> tuple[str, str] | None:
    """(session id, PaymentIntent id) of the patient's own latest payment; None if none."""
    with session_scope() as db:
        payment = payment_views.latest_payment_of(db, db.get(User, user.id))
        if payment is None:
            return None
        if payment.stripe_checkout_session_id:
            return payment.stripe_checkout_session_id, ""
        return "", payment.stripe_payment_intent_id or ""


def _receipt_by_reference(user: SessionUser, session_id: str, pi: str) -> receipts.PdfFile:
    """The receipt of the payment this page verified (its Stripe reference stays on the server),
    if it is the user's."""
    with session_scope() as db:
        payment = receipts.paid_payment_for(db, session_id or pi, db.get(User, user.id))
        doc = receipts.receipt_doc(db, payment)
    return receipts.receipt_file(doc)


def _email_by_reference(user: SessionUser, session_id: str, pi: str) -> str:
    with session_scope() as db:
        payment = receipts.paid_payment_for(db, session_id or pi, db.get(User, user.id))
        _email, message = messages.email_receipt(db, payment)
        return message


class PaymentResultState(AuthState, PageStatus, ReceiptActions):
    """/payment/success: verify with Stripe, then confirm (or say honestly what happened), and
    offer the receipt once money was taken."""

    phase: str = PHASE_VERIFYING
    result: Confirmation = Confirmation()
    # The address carried no payment reference: the patient's latest payment is shown instead.
    from_latest: bool = False
    _session_id: str = ""
    _payment_intent_id: str = ""

    @rx.event
    async def load_page(self) -> EventSpec | None:
        self.phase, self.error, self.result = PHASE_VERIFYING, "", Confirmation()
        self.from_latest = False
        self.receipt_busy, self.receipt_message, self.receipt_tone = "", "", ""
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        params = self.router.url.query_parameters
        self._session_id = str(params.get("session_id", ""))[:255]
        self._payment_intent_id = str(params.get("payment_intent", ""))[:255]
        if not self._session_id and not self._payment_intent_id:
            # A login redirect or another host name lost the query: show the latest payment.
            latest = await asyncio.to_thread(_latest_reference, user)
            if latest is None:
                self.phase = PHASE_NONE
                return None
            (self._session_id, self._payment_intent_id), self.from_latest = latest, True
        return PaymentResultState.verify

    @rx.event(background=True)
    async def verify(self) -> None:
        """Poll the fulfil function until Stripe says paid or failed (or we give up waiting)."""
        async with self:
            user = await self.current_user()
            session_id, pi = self._session_id, self._payment_intent_id
        if user is None:
            return
        for _ in range(VERIFY_ATTEMPTS):
            try:
                result = await asyncio.to_thread(_fulfil, user, session_id, pi)
            except DomainError as exc:
                async with self:
                    self.phase, self.error = PHASE_ERROR, exc.message
                return
            phase = _phase_of(result)
            async with self:
                self.result, self.phase = result, phase
            if phase != PHASE_PROCESSING:
                return
            await asyncio.sleep(VERIFY_INTERVAL_SECONDS)

    @rx.event
    async def download_receipt(self):  # type: ignore[no-untyped-def]
        """`Download receipt (PDF)` of the payment this page shows."""
        reference = (self._session_id, self._payment_intent_id)
        if not any(reference):
            return
        async for update in self._receipt_action("receipt", 0, _receipt_by_reference, *reference):
            yield update

    @rx.event
    async def email_receipt(self):  # type: ignore[no-untyped-def]
        """`Email receipt`: queued to the patient, at most once a minute."""
        reference = (self._session_id, self._payment_intent_id)
        if not any(reference):
            return
        async for update in self._receipt_action("email", 0, _email_by_reference, *reference):
            yield update


def _phase_of(result: Confirmation) -> str:
    if result.flag_reason and result.status in (
        models.PAYMENT_REFUNDED,
        models.PAYMENT_PAID,
        models.PAYMENT_PARTIALLY_REFUNDED,
    ):
        return PHASE_REFUNDED
    if result.booking_status == models.BOOKING_CONFIRMED and result.status in (
        models.PAYMENT_PAID,
        models.PAYMENT_PARTIALLY_REFUNDED,
    ):
        return PHASE_CONFIRMED
    if result.status in (models.PAYMENT_FAILED, models.PAYMENT_EXPIRED) or result.failure_message:
        return PHASE_FAILED
    return PHASE_PROCESSING


class PaymentCancelState(AuthState):
    """/payment/cancel: nothing was charged; the hold keeps running."""

    summary: PaymentSummary = PaymentSummary()
    pay_again_href: str = routes.APPOINTMENTS

    @rx.event
    async def load_page(self) -> EventSpec | None:
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        booking_id = routes.parse_id(str(self.router.url.query_parameters.get("booking_id", "")))
        if booking_id is not None:
            try:
                self.summary = await asyncio.to_thread(_summary, user, booking_id)
                self.pay_again_href = routes.payment(booking_id)
            except DomainError:
                self.summary = PaymentSummary()
        return None
