"""Payment pages: /payment/[booking_id], /payment/success, /payment/cancel."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.layout import (
    error_callout,
    hint,
    message_card,
    page_heading,
    page_shell,
    stack_card,
)
from efoy_app.components.stripe_elements import stripe_card_form
from efoy_app.domain.card_page import payment_element_enabled
from efoy_app.state.payment import (
    PHASE_CONFIRMED,
    PHASE_FAILED,
    PHASE_PROCESSING,
    PHASE_REFUNDED,
    PHASE_VERIFYING,
    PaymentCancelState,
    PaymentResultState,
    PaymentState,
)


def _row(label: str, value: rx.Var | str, **props: object) -> rx.Component:
    return rx.hstack(
        rx.text(label, color=rx.color("gray", 11), min_width="9em"),
        rx.text(value, weight="medium", **props),
        width="100%",
        align="baseline",
    )


def _not_found() -> rx.Component:
    return message_card(
        "Booking not found",
        "There is no booking with this number among your appointments.",
        rx.link("Back to My appointments", href=routes.APPOINTMENTS),
        heading_size="5",
        size="1",
        width="100%",
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


def _pay_card() -> rx.Component:
    s = PaymentState.summary
    return stack_card(
        rx.hstack(
            rx.heading(s.doctor_name, size="5"),
            rx.badge(s.speciality, variant="soft"),
            align="center",
            spacing="3",
        ),
        _row("Appointment", s.when, id="payment-when"),
        _row("Price", s.price, id="payment-price", size="5"),
        _row("Status", s.status_label, id="payment-status"),
        rx.cond(
            s.held,
            rx.callout(
                rx.hstack(
                    rx.text("Your slot is held until ", s.hold_until, " — "),
                    rx.moment(s.hold_expires_at, from_now=True, interval=1000, id="hold-countdown"),
                    spacing="1",
                    wrap="wrap",
                ),
                icon="timer",
                color_scheme="amber",
            ),
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
        rx.cond(
            s.held,
            rx.hstack(
                _pay_button("lock", "Pay now", PaymentState.pay_now),
                _pay_button(
                    "credit-card", "Pay by card", PaymentState.pay_by_card, variant="outline"
                ),
                spacing="3",
            ),
            rx.cond(
                s.confirmed,
                rx.callout(
                    "This appointment is paid and confirmed. You will not be charged again.",
                    icon="circle-check",
                    color_scheme="green",
                ),
                rx.callout(
                    "This booking can no longer be paid. Book a new slot from the doctor's page.",
                    icon="info",
                ),
            ),
        ),
        _payment_element(),
        hint(
            "Pay now takes you to Stripe's secure payment page; Pay by card opens the card "
            "form. Card details never reach Efoy."
        ),
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
        _row("Card", r.card),
        _row("Stripe payment", r.payment_intent_id, id="confirmation-payment-id"),
        _row("Booking", "#" + r.booking_id.to_string()),
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
                rx.callout(
                    "We received your payment but could not confirm the appointment: "
                    + r.flag_reason
                    + " The full amount is being refunded to your card.",
                    icon="undo-2",
                    color_scheme="orange",
                    role="alert",
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
            rx.link(
                rx.button("Back to payment", size="3"),
                href=PaymentCancelState.pay_again_href,
            ),
            max_width="640px",
        ),
    )
