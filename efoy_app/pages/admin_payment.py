"""/admin/payments/[payment_id]: everything about one payment, its refunds and audit, `Refund`,
`Download receipt (PDF)` and each succeeded refund's note."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.admin import MUTED, admin_nav, admin_page, data_table, note, zone_note
from efoy_app.components.badges import flag_badge, payment_status_badge, status_badge
from efoy_app.components.forms import form_field
from efoy_app.components.layout import (
    error_callout,
    message_card,
    notice_callout,
    stack_card,
)
from efoy_app.components.receipt_buttons import (
    download_receipt_button,
    receipt_status,
    refund_note_button,
)
from efoy_app.state.admin_payment import AdminPaymentState, AuditEntry, RefundEntry

S = AdminPaymentState
F = AdminPaymentState.facts
REFUND_COLUMNS = [
    "#", "Amount", "Status", "Refund note", "Reason", "Asked by", "When", "Stripe refund",
]  # fmt: skip
# What happened and why first; on a phone the rest scrolls.
AUDIT_COLUMNS = ["When", "Action", "Why", "Who", "Status", "What"]


def fact(label: str, value: rx.Var | str, **props: object) -> rx.Component:
    return rx.data_list.item(
        rx.data_list.label(label, min_width="11em"),
        rx.data_list.value(
            rx.cond(value != "", rx.text(value, **props), rx.text("—", color=MUTED))
        ),
    )


def code_fact(label: str, value: rx.Var, **props: object) -> rx.Component:
    return rx.data_list.item(
        rx.data_list.label(label, min_width="11em"),
        rx.data_list.value(
            rx.cond(
                value != "", rx.code(value, variant="ghost", **props), rx.text("—", color=MUTED)
            )
        ),
    )


def section(title: str, *children: rx.Component, **props: object) -> rx.Component:
    return stack_card(
        rx.heading(title, size="4", as_="h2"),
        *children,
        column={"width": "100%"},
        size="2",
        width="100%",
        **props,
    )


def payment_facts() -> rx.Component:
    return section(
        "Payment",
        rx.data_list.root(
            fact("Amount", F.amount, id="payment-amount", weight="bold"),
            fact("Refunded", F.refunded, id="payment-refunded"),
            fact("Left to refund", F.refundable, id="payment-refundable"),
            fact("Method", F.kind),
            fact("Card", F.card, id="payment-card"),
            fact("Paid at", F.paid_at, id="payment-paid-at"),
            fact("Created at", F.created_at),
            fact("Failure", F.failure),
            code_fact("Checkout Session", F.checkout_session_id, id="stripe-session-id"),
            code_fact("PaymentIntent", F.payment_intent_id, id="stripe-payment-intent-id"),
            code_fact("Charge", F.charge_id, id="stripe-charge-id"),
            fact("Receipt", F.receipt_number, id="payment-receipt-number"),
            orientation="horizontal",
            size="2",
        ),
        rx.cond(
            F.has_receipt,
            rx.vstack(
                download_receipt_button(S.download_receipt, S.receipt_busy == "receipt"),
                receipt_status(S.receipt_message, S.receipt_tone, width="100%"),
                spacing="2",
                width="100%",
                id="receipt-actions",
            ),
        ),
    )


def booking_facts() -> rx.Component:
    return section(
        "Booking #" + F.booking_id.to_string(),
        rx.data_list.root(
            rx.data_list.item(
                rx.data_list.label("Status", min_width="11em"),
                rx.data_list.value(
                    status_badge(
                        F.booking_status_label,
                        F.booking_status_color,
                        F.booking_status,
                        id="booking-status",
                    )
                ),
            ),
            fact("Patient", F.patient_name, id="patient-name"),
            fact("Patient email", F.patient_email, id="patient-email"),
            fact("Doctor", F.doctor_name, id="doctor-name"),
            fact("Speciality", F.speciality),
            fact("Appointment", F.appointment),
            orientation="horizontal",
            size="2",
        ),
    )


def amount_choice() -> rx.Component:
    """What to refund: the policy's amount (for an upcoming booking), everything left, or another
    amount; each one click away."""
    policy = rx.cond(
        F.has_policy,
        rx.el.label(
            rx.radio_group.item(value="policy", id="choice-policy"),
            rx.text(
                "By the policy: ",
                rx.text.strong(F.policy_amount),
                " (",
                F.policy_percent.to_string(),
                " %)",
                size="2",
            ),
            class_name="choice",
        ),
    )
    return rx.vstack(
        rx.text("What to refund", size="2", weight="medium", id="choice-label"),
        rx.radio_group.root(
            rx.vstack(
                policy,
                rx.el.label(
                    rx.radio_group.item(value="full", id="choice-full"),
                    rx.text("Full refund: ", rx.text.strong(F.refundable), size="2"),
                    class_name="choice",
                ),
                rx.el.label(
                    rx.radio_group.item(value="other", id="choice-other"),
                    rx.text("Other amount", size="2"),
                    class_name="choice",
                ),
                spacing="2",
            ),
            value=S.choice,
            on_change=S.set_choice,
            name="choice",
            aria_labelledby="choice-label",
        ),
        rx.cond(F.has_policy, note(F.policy_reason, id="policy-reason")),
        spacing="2",
        width="100%",
    )


def refund_form() -> rx.Component:
    return section(
        "Refund",
        rx.cond(
            F.can_refund,
            rx.form(
                rx.el.input(type="hidden", name="submission", value=S.form_token, read_only=True),
                rx.vstack(
                    amount_choice(),
                    rx.cond(
                        S.choice == "other",
                        form_field(
                            ["Amount (", F.currency, ")"],
                            rx.input(
                                id="refund-amount",
                                name="amount",
                                input_mode="decimal",
                                placeholder="e.g. 30.50",
                                on_change=S.form_changed,
                                width="100%",
                            ),
                            html_for="refund-amount",
                            width="100%",
                            max_width="20em",
                        ),
                    ),
                    form_field(
                        "Reason",
                        rx.input(
                            id="refund-reason",
                            name="reason",
                            max_length=500,
                            placeholder=rx.cond(
                                F.has_policy & (S.choice == "policy"),
                                "Optional for the policy's amount",
                                "Needed: kept in the audit trail",
                            ),
                            on_change=S.form_changed,
                            width="100%",
                        ),
                        html_for="refund-reason",
                        width="100%",
                    ),
                    rx.cond(
                        F.can_cancel_booking,
                        rx.checkbox(
                            "Also cancel the booking (frees the time; the patient is emailed)",
                            checked=S.cancel_booking,
                            on_change=S.set_cancel_booking,
                            id="cancel-booking",
                            size="2",
                        ),
                    ),
                    note(
                        "Any amount other than the policy's needs a reason. Write amounts with a "
                        "point for decimals, e.g. 30.50. The refund goes back to the patient's "
                        "card through Stripe; you confirm it first.",
                    ),
                    rx.button(
                        rx.icon("undo-2", size=16),
                        "Refund",
                        type="submit",
                        color_scheme="orange",
                        loading=S.busy,
                        disabled=S.busy,
                    ),
                    spacing="3",
                    width="100%",
                    align="start",
                ),
                on_submit=S.review_refund,
                reset_on_submit=False,
                width="100%",
                key=S.form_key,
            ),
            rx.text("Nothing is left to refund on this payment.", color=MUTED, id="no-refund"),
        ),
        error_callout(S.error, width="100%", id="refund-error"),
        notice_callout(S.notice, width="100%", id="refund-notice"),
        confirm_dialog(),
    )


def confirm_dialog() -> rx.Component:
    """The last step before money moves: the amount, in the payment's currency, and the card."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Confirm the refund"),
            rx.alert_dialog.description(S.confirm_question, id="refund-question"),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray"),
                ),
                # Not an alert_dialog.action: its own close would race the refund's handler.
                rx.button(
                    "Refund", color_scheme="orange", on_click=S.confirm_refund, disabled=S.busy
                ),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
            max_width="28em",
        ),
        open=S.confirm_open,
        on_open_change=S.set_confirm_open,
    )


def refund_row(r: RefundEntry) -> rx.Component:
    return rx.table.row(
        rx.table.cell("#", r.id.to_string()),
        rx.table.cell(r.amount, class_name="amount", white_space="nowrap"),
        rx.table.cell(
            rx.vstack(
                status_badge(r.status_label, r.status_color, r.status),
                rx.cond(
                    r.failure_reason != "",
                    rx.text(r.failure_reason, size="1", color=rx.color("red", 11)),
                ),
                spacing="1",
                align="start",
            ),
            class_name="status",
        ),
        rx.table.cell(
            rx.cond(
                r.has_note,
                refund_note_button(
                    rx.cond(r.note_number != "", r.note_number, "Download"),
                    S.download_refund_note(r.id),
                    S.receipt_busy == "note-" + r.id.to_string(),
                    aria_label=r.note_label,
                    size="1",
                    white_space="nowrap",
                ),
                rx.text("—", color=MUTED),
            ),
            class_name="refund-note",
        ),
        rx.table.cell(r.reason, class_name="reason", min_width="12em"),
        rx.table.cell(rx.text(r.requested_by, title=r.requested_by_detail), class_name="asked-by"),
        rx.table.cell(rx.text(r.created_at, title=r.created_exact), white_space="nowrap"),
        rx.table.cell(rx.code(r.stripe_refund_id, variant="ghost")),
        custom_attrs={"data-refund-id": r.id, "data-status": r.status},
    )


def refunds_ledger() -> rx.Component:
    return section(
        "Refunds",
        data_table(
            REFUND_COLUMNS,
            S.refund_rows,
            refund_row,
            aria_label="Refunds",
            empty=rx.text("No refunds.", color=MUTED),
        ),
        id="refunds-ledger",
    )


def audit_row(a: AuditEntry) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(a.at, title=a.at_exact), class_name="at", min_width="7em"),
        rx.table.cell(a.action, class_name="action"),
        rx.table.cell(a.why, class_name="why", min_width="14em"),
        rx.table.cell(
            rx.text(a.actor, title=a.actor_detail, class_name="actor-name"), class_name="actor"
        ),
        rx.table.cell(a.change, class_name="change"),
        rx.table.cell(a.subject, white_space="nowrap"),
        custom_attrs={"data-audit-id": a.id},
    )


def audit_trail() -> rx.Component:
    return section(
        "Audit trail",
        note("The payment, its booking and its refunds, oldest first. ", zone_note()),
        data_table(AUDIT_COLUMNS, S.audit_rows, audit_row, aria_label="Audit trail", size="1"),
        id="audit-trail",
    )


def not_found() -> rx.Component:
    return message_card(
        "Payment not found",
        "There is no payment with this number.",
        rx.link("Back to payments", href=routes.admin(tab="payments")),
        heading_size="5",
        size="1",
        width="100%",
    )


def detail() -> rx.Component:
    return rx.vstack(
        admin_nav(),
        rx.hstack(
            rx.heading("Payment #", F.id.to_string(), size="7", as_="h1"),
            payment_status_badge(F.status_label, F.status_color, F.status),
            align="center",
            spacing="3",
            id="payment-heading",
        ),
        rx.link("← All payments", href=routes.admin(tab="payments"), size="2", high_contrast=True),
        rx.cond(F.flagged, rx.callout(flag_badge(F.flag_reason), color_scheme="red", width="100%")),
        rx.grid(
            payment_facts(),
            booking_facts(),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),  # fmt: skip
        refund_form(),
        refunds_ledger(),
        audit_trail(),
        spacing="4",
        width="100%",
        align="start",
    )


@rx.page(
    route=routes.ADMIN_PAYMENT, title="Payment — Admin — Efoy", on_load=AdminPaymentState.load_page
)
def admin_payment() -> rx.Component:
    return admin_page(S, rx.cond(S.not_found, not_found(), detail()))
