"""/admin: recent bookings and payments (admins only; checked on the server every load).

Also the pieces every admin page shares: the "Admins only" card, the admin sub-navigation and the
payment status and "Flagged" badges.
"""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.layout import link_button, page_heading, page_shell
from efoy_app.state.admin import AdminBookingRow, AdminPaymentListRow, AdminState

MUTED = rx.color("gray", 10)


def forbidden() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Admins only", size="6", as_="h1"),
            rx.text("You do not have access to this page.", id="forbidden-message"),
            link_button("Back to doctors", href=routes.DOCTORS, variant="soft"),
            spacing="3",
        ),
        size="4",
        role="alert",
    )


def loading() -> rx.Component:
    return rx.center(rx.spinner(size="3"), padding="4em")


def admin_nav() -> rx.Component:
    return rx.hstack(
        rx.link("Bookings and payments", href=routes.ADMIN, size="2", weight="medium"),
        rx.link("Webhook events", href=routes.ADMIN_WEBHOOKS, size="2", weight="medium"),
        spacing="4",
        margin_bottom="1em",
        aria_label="Admin",
        role="navigation",
    )


def payment_status_badge(label: rx.Var, color: rx.Var, status: rx.Var) -> rx.Component:
    return rx.badge(
        label,
        color_scheme=color,
        variant="soft",
        size="2",
        class_name="payment-status",
        custom_attrs={"data-status": status},
    )


def flag_badge(reason: rx.Var) -> rx.Component:
    """The "Flagged" badge and why, e.g. refunded automatically because the slot was retaken."""
    return rx.vstack(
        rx.badge(rx.icon("flag", size=12), "Flagged", color_scheme="red", variant="solid"),
        rx.text(reason, size="1", color=rx.color("red", 11), class_name="flag-reason"),
        spacing="1",
        align="start",
    )


def booking_row(item: AdminBookingRow) -> rx.Component:
    b = item.booking
    return rx.table.row(
        rx.table.cell(b.id.to_string()),
        rx.table.cell(
            rx.vstack(
                rx.text(item.patient_name, weight="medium"),
                rx.text(item.patient_email, size="1", color=MUTED),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.text(b.doctor_name),
                rx.text(b.speciality, size="1", color=MUTED),
                spacing="0",
            )
        ),
        rx.table.cell(b.when),
        rx.table.cell(b.price),
        rx.table.cell(rx.badge(b.status_label, color_scheme=b.status_color, variant="soft")),
        custom_attrs={"data-booking-id": b.id},
    )


def summary() -> rx.Component:
    return rx.hstack(
        rx.foreach(
            AdminState.status_counts,
            lambda kv: rx.card(
                rx.vstack(
                    rx.text(kv[0], size="1", color=MUTED),
                    rx.text(kv[1].to_string(), size="6", weight="bold"),
                    spacing="0",
                ),
                min_width="120px",
            ),
        ),
        spacing="3",
        wrap="wrap",
        margin_bottom="1em",
    )


def bookings_panel() -> rx.Component:
    return rx.box(
        summary(),
        rx.card(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("#"),
                        rx.table.column_header_cell("Patient"),
                        rx.table.column_header_cell("Doctor"),
                        rx.table.column_header_cell("When (your timezone)"),
                        rx.table.column_header_cell("Price"),
                        rx.table.column_header_cell("Status"),
                    )
                ),
                rx.table.body(rx.foreach(AdminState.rows, booking_row)),
                width="100%",
                aria_label="Recent bookings",
            ),
            size="2",
            width="100%",
        ),
    )


def payment_row(p: AdminPaymentListRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text("#", p.id.to_string(), weight="medium"),
                rx.text("Booking #", p.booking_id.to_string(), size="1", color=MUTED),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.text(p.patient_name, weight="medium"),
                rx.text(p.patient_email, size="1", color=MUTED),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.text(p.doctor_name),
                rx.text(p.appointment, size="1", color=MUTED),
                spacing="0",
            )
        ),
        rx.table.cell(p.amount, class_name="amount"),
        rx.table.cell(
            rx.cond(p.has_refunds, rx.text(p.refunded), rx.text("—", color=MUTED)),
            class_name="refunded",
        ),
        rx.table.cell(
            rx.vstack(
                payment_status_badge(p.status_label, p.status_color, p.status),
                rx.cond(p.flagged, flag_badge(p.flag_reason)),
                spacing="2",
                align="start",
            )
        ),
        rx.table.cell(rx.link("Details", href=p.href)),
        custom_attrs={"data-payment-id": p.id, "data-flagged": p.flagged},
    )


def payments_panel() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.checkbox(
                "Flagged only",
                checked=AdminState.flagged_only,
                on_change=AdminState.set_flagged_only,
                size="2",
            ),
            rx.spacer(),
            rx.text(
                AdminState.payments.length().to_string(),
                " shown, ",
                AdminState.flagged_count.to_string(),
                " flagged",
                size="2",
                color=MUTED,
                id="payments-count",
            ),
            align="center",
            width="100%",
            margin_bottom="1em",
        ),
        rx.card(
            rx.cond(
                AdminState.payments.length() == 0,
                rx.text("No payments to show.", color=MUTED, padding="1em"),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Payment"),
                            rx.table.column_header_cell("Patient"),
                            rx.table.column_header_cell("Doctor and appointment"),
                            rx.table.column_header_cell("Amount"),
                            rx.table.column_header_cell("Refunded"),
                            rx.table.column_header_cell("Status"),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(AdminState.payments, payment_row)),
                    width="100%",
                    aria_label="Payments",
                ),
            ),
            size="2",
            width="100%",
        ),
    )


@rx.page(route=routes.ADMIN, title="Admin — Efoy", on_load=AdminState.load_page)
def admin() -> rx.Component:
    return page_shell(
        rx.cond(
            AdminState.forbidden,
            forbidden(),
            rx.cond(
                AdminState.loaded & AdminState.is_admin,
                rx.box(
                    page_heading("Admin", "Recent bookings and payments, newest first."),
                    admin_nav(),
                    rx.tabs.root(
                        rx.tabs.list(
                            rx.tabs.trigger("Bookings", value="bookings"),
                            rx.tabs.trigger("Payments", value="payments"),
                        ),
                        rx.tabs.content(bookings_panel(), value="bookings", padding_top="1em"),
                        rx.tabs.content(payments_panel(), value="payments", padding_top="1em"),
                        value=AdminState.tab,
                        on_change=AdminState.set_tab,
                    ),
                ),
                loading(),
            ),
        ),
    )
