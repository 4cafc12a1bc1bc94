"""Payment pages: /payment/[booking_id], /payment/success, /payment/cancel."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.hold_countdown import hold_countdown
from efoy_app.components.layout import (
    error_callout,
    link_button,
    page_heading,
    page_shell,
    stack_card,
)
from efoy_app.components.receipt_buttons import (
    download_receipt_button,
    email_receipt_button,
    receipt_status,
)
from efoy_app.components.stripe_elements import stripe_card_form
from efoy_app.domain.card_page import payment_element_enabled
from efoy_app.state.payment import (
    PHASE_CONFIRMED,
    PHASE_FAILED,
    PHASE_NONE,
    PHASE_PROCESSING,
    PHASE_REFUNDED,
    PHASE_VERIFYING,
    PaymentCancelState,
    PaymentResultState,
    PaymentState,
)

# Pay now / Pay by card, each in one line (the design's contract names stay the buttons').
PAY_NOW_LINE = "On Stripe's secure payment page; you come back here afterwards."
PAY_BY_CARD_LINE = (
    "A card form for this payment; your card details go straight to Stripe, never to our server."
)


def _row(label: str, value: rx.Var | str, **props: object) -> rx.Component:
    """A label and its value: side by side on a wide screen, the value under it on a phone."""
    return rx.flex(
        rx.text(label, color=rx.color("gray", 11), min_width="9em"),
        rx.text(value, weight="medium", min_width="0", **props),
        direction=rx.breakpoints(initial="column", sm="row"),
        align=rx.breakpoints(initial="start", sm="baseline"),
        gap=rx.breakpoints(initial="0", sm="2"),
        width="100%",
    )


def _id_row(label: str, value: rx.Var, **props: object) -> rx.Component:
    """A Stripe id: small monospace that breaks anywhere, so it never overflows a phone's card;
    the whole id stays one text to select and copy."""
    return _row(
        label,
        value,
        size="1",
        style={"font_family": "var(--code-font-family, monospace)", "word_break": "break-all"},
        **props,
    )


def _not_found() -> rx.Component:
    return stack_card(
        rx.heading("Booking not found", size="5", as_="h2"),
        rx.text("There is no booking with this number among your appointments."),
        rx.link("Back to My appointments", href=routes.APPOINTMENTS),
        size="1",
        width="100%",
        max_width="640px",
    )


def _pay_button(icon: str, label: str, on_click: rx.EventHandler, **props: object) -> rx.Component:
    return rx.button(
        rx.icon(icon, size=16),
        label,
        on_click=on_click,
        loading=PaymentState.busy,
        disabled=~PaymentState.can_pay,
        size="3",
        **props,
    )


def _pay_option(button: rx.Component, line: str, line_id: str) -> rx.Component:
    """A pay button with the one line under it that says what it does."""
    return rx.vstack(
        button,
        rx.text(line, size="2", color=rx.color("gray", 11), id=line_id),
        align="start",
        spacing="2",
        width="100%",
    )


def _pay_options() -> rx.Component:
    s = PaymentState.summary
    return rx.vstack(
        rx.cond(
            s.checkout_possible,
            _pay_option(
                _pay_button("lock", "Pay now", PaymentState.pay_now), PAY_NOW_LINE, "pay-now-line"
            ),
            rx.callout(s.starts_soon, icon="clock", color_scheme="amber", id="starts-soon"),
        ),
        _pay_option(
            _pay_button("credit-card", "Pay by card", PaymentState.pay_by_card, variant="outline"),
            PAY_BY_CARD_LINE,
            "pay-by-card-line",
        ),
        rx.text(
            "If you cancel later: ",
            rx.link("Cancellation policy", href=routes.POLICY, underline="always"),
            size="2",
            id="policy-line",
        ),
        spacing="4",
        width="100%",
    )


def _held() -> rx.Component:
    """A running hold: its countdown, the last decline, and the ways to pay."""
    s = PaymentState.summary
    return rx.vstack(
        rx.callout(
            rx.hstack(
                hold_countdown(
                    ends_at=s.hold_expires_at,
                    server_now=s.server_now,
                    prefix="Held for you for ",
                    on_expire=PaymentState.hold_lapsed,
                    id="hold-countdown",
                ),
                rx.text("(until ", s.hold_until, ")", id="hold-until"),
                spacing="1",
                wrap="wrap",
            ),
            icon="timer",
            color_scheme="amber",
        ),
        rx.cond(
            s.last_failure != "",
            rx.callout(
                "Last attempt: " + s.last_failure + " You can try again.",
                icon="credit-card",
                color_scheme="red",
                role="alert",
            ),
        ),
        error_callout(PaymentState.error, width="100%"),
        _pay_options(),
        spacing="3",
        width="100%",
    )


def _lapsed() -> rx.Component:
    """The hold ran out: one message, and the way on (hold the time again, or choose another)."""
    s = PaymentState.summary
    return rx.vstack(
        rx.callout(
            rx.cond(
                s.slot_free,
                "Your hold on this slot has lapsed, so it was not paid and nothing was charged. "
                "The time is still free: you can hold it again.",
                "Your hold on this slot has lapsed, so it was not paid and nothing was charged. "
                "Someone else has booked this time since.",
            ),
            icon="timer-off",
            color_scheme="amber",
            role="status",
            id="hold-lapsed",
        ),
        error_callout(PaymentState.error, width="100%"),
        rx.cond(
            s.slot_free,
            rx.button(
                rx.icon("rotate-ccw", size=16),
                "Hold this slot again",
                on_click=PaymentState.hold_again,
                loading=PaymentState.busy,
                size="3",
            ),
            link_button("Choose another time", href=s.doctor_href, size="3"),
        ),
        spacing="3",
        width="100%",
    )


def _pay_card() -> rx.Component:
    s = PaymentState.summary
    return stack_card(
        rx.hstack(
            rx.heading(s.doctor_name, size="5", as_="h2"),
            rx.badge(s.speciality, variant="soft"),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        _row("Appointment", s.when, id="payment-when"),
        _row("Price", s.price, id="payment-price", size="5"),
        _row("Status", s.status_label, id="payment-status"),
        rx.cond(
            s.held,
            _held(),
            rx.cond(
                s.confirmed,
                rx.callout(
                    "This appointment is paid and confirmed. You will not be charged again.",
                    icon="circle-check",
                    color_scheme="green",
                ),
                rx.cond(
                    s.lapsed,
                    _lapsed(),
                    rx.callout(
                        "This booking can no longer be paid. Book a new slot from the doctor's "
                        "page.",
                        icon="info",
                    ),
                ),
            ),
        ),
        rx.cond(s.held, _payment_element()),
        spacing="4",
        column={"width": "100%"},
        width="100%",
        max_width="640px",
    )


def _payment_element() -> rx.Component:
    """Stripe's Payment Element, compiled in only when real Stripe keys are configured."""
    if not payment_element_enabled():
        return rx.fragment()
    return rx.cond(
        PaymentState.card_client_secret != "",
        rx.box(
            stripe_card_form(
                publishable_key=PaymentState.publishable_key,
                client_secret=PaymentState.card_client_secret,
                return_url=PaymentState.card_return_url,
            ),
            width="100%",
        ),
    )


@rx.page(
    route=routes.PAYMENT, title="Pay for your appointment · Efoy", on_load=PaymentState.load_page
)
def payment_page() -> rx.Component:
    return page_shell(
        page_heading("Pay for your appointment", "The price is fixed when you book."),
        rx.cond(PaymentState.not_found, _not_found(), _pay_card()),
    )


def _receipt() -> rx.Component:
    """The receipt of the payment shown: download it, or have it emailed to the patient."""
    R = PaymentResultState
    return rx.vstack(
        rx.flex(
            download_receipt_button(R.download_receipt, R.receipt_busy == "receipt", size="3"),
            email_receipt_button(R.email_receipt, R.receipt_busy == "email", size="3"),
            spacing="3",
            wrap="wrap",
        ),
        receipt_status(R.receipt_message, R.receipt_tone, id="receipt-status", width="100%"),
        spacing="3",
        width="100%",
        id="receipt-actions",
    )


def _confirmation() -> rx.Component:
    r = PaymentResultState.result
    return stack_card(
        rx.callout(
            "Payment received: your appointment is confirmed.",
            icon="circle-check",
            color_scheme="green",
            role="status",
        ),
        _row("Doctor", r.doctor_name),
        _row("Appointment", r.when),
        _row("Amount paid", r.amount_display, id="confirmation-amount"),
        _row("Payment", r.status_label, id="confirmation-status"),
        _row("Card", r.card),
        _id_row("Stripe payment", r.payment_intent_id, id="confirmation-payment-id"),
        _row("Booking", "#" + r.booking_id.to_string()),
        rx.separator(size="4"),
        _receipt(),
        rx.link("Go to My appointments", href=routes.APPOINTMENTS),
        column={"width": "100%"},
        width="100%",
        max_width="640px",
    )


@rx.page(route=routes.PAYMENT_SUCCESS, title="Payment · Efoy", on_load=PaymentResultState.load_page)
def payment_success_page() -> rx.Component:
    phase = PaymentResultState.phase
    r = PaymentResultState.result
    return page_shell(
        page_heading("Your payment"),
        rx.cond(
            PaymentResultState.from_latest,
            rx.text(
                "The address had no payment reference, so this is your latest payment.",
                color=rx.color("gray", 11),
                id="latest-payment-note",
                margin_bottom="1em",
            ),
        ),
        rx.match(
            phase,
            (
                PHASE_VERIFYING,
                rx.hstack(
                    rx.spinner(), rx.text("Checking your payment with Stripe…"), role="status"
                ),
            ),
            (PHASE_CONFIRMED, _confirmation()),
            (
                PHASE_PROCESSING,
                rx.callout(
                    "Your payment is still processing. This page updates by itself; you can also "
                    "check My appointments later.",
                    icon="hourglass",
                    color_scheme="amber",
                    role="status",
                ),
            ),
            (
                PHASE_REFUNDED,
                stack_card(
                    rx.callout(
                        "We received your payment but could not confirm the appointment: "
                        + r.flag_reason
                        + " The full amount is being refunded to your card.",
                        icon="undo-2",
                        color_scheme="orange",
                        role="alert",
                    ),
                    _row("Doctor", r.doctor_name),
                    _row("Appointment", r.when),
                    _row("Amount paid", r.amount_display, id="confirmation-amount"),
                    _row("Payment", r.status_label, id="confirmation-status"),
                    rx.separator(size="4"),
                    _receipt(),
                    rx.link("Go to My appointments", href=routes.APPOINTMENTS),
                    column={"width": "100%"},
                    width="100%",
                    max_width="640px",
                ),
            ),
            (
                PHASE_FAILED,
                rx.vstack(
                    rx.callout(
                        "The payment did not go through: " + r.failure_message,
                        icon="circle-x",
                        color_scheme="red",
                        role="alert",
                    ),
                    rx.link("Try again", href=r.retry_href),
                ),
            ),
            (
                PHASE_NONE,
                stack_card(
                    rx.text("You have no payments yet.", id="no-payments"),
                    rx.link("Go to My appointments", href=routes.APPOINTMENTS),
                    max_width="640px",
                ),
            ),
            error_callout(PaymentResultState.error),
        ),
    )


@rx.page(
    route=routes.PAYMENT_CANCEL,
    title="Payment cancelled · Efoy",
    on_load=PaymentCancelState.load_page,
)
def payment_cancel_page() -> rx.Component:
    s = PaymentCancelState.summary
    return page_shell(
        page_heading("Payment cancelled", "Nothing was charged."),
        stack_card(
            rx.cond(
                s.held,
                rx.text("Your slot with ", s.doctor_name, " stays held until ", s.hold_until, "."),
                rx.text("You can pay for a held appointment from My appointments."),
            ),
            link_button("Back to payment", href=PaymentCancelState.pay_again_href, size="3"),
            max_width="640px",
        ),
    )
