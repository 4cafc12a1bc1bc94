"""/admin: bookings and payments, filtered and paged on the server with the filter in the URL
(admins only; checked on the server every load)."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.admin import (
    MUTED,
    admin_nav,
    admin_page,
    data_table,
    note,
    table_card,
    two_lines,
    zone_note,
)
from efoy_app.components.admin_filters import (
    booking_status_filter,
    csv_control,
    filter_form,
    pager,
    payments_chart,
    problems,
    totals_table,
)
from efoy_app.components.badges import flag_badge, payment_status_badge, status_badge
from efoy_app.components.layout import page_heading, wrap_row
from efoy_app.state.admin import AdminBookingRow, AdminPaymentListRow, AdminState

# The columns a person looks for first (who, how much, what state); on a phone the rest scroll.
BOOKING_COLUMNS = ["Booking", "Price", "Status", "When", "Doctor"]
PAYMENT_COLUMNS = [
    "#",
    "Amount",
    "Status",
    "Patient",
    "Booking",
    "Refunded",
    "Open",
]


def booking_row(item: AdminBookingRow) -> rx.Component:
    b = item.booking
    return rx.table.row(
        rx.table.cell(
            two_lines(
                rx.text(item.patient_name, weight="medium"),
                "#" + b.id.to_string() + " · " + item.patient_email,
            )
        ),
        rx.table.cell(b.price, white_space="nowrap", class_name="price"),
        rx.table.cell(status_badge(b.status_label, b.status_color, b.status), class_name="status"),
        rx.table.cell(b.when, min_width="10em"),
        rx.table.cell(two_lines(rx.text(b.doctor_name), b.speciality)),
        custom_attrs={"data-booking-id": b.id},
    )


def summary() -> rx.Component:
    return wrap_row(
        rx.foreach(
            AdminState.status_counts,
            lambda kv: rx.card(
                rx.vstack(note(kv[0]), rx.text(kv[1], size="6", weight="bold"), spacing="0"),
                min_width="120px",
                class_name="status-count",
            ),
        ),
        margin_bottom="1em",
    )


def bookings_panel() -> rx.Component:
    return rx.box(
        summary(),
        booking_status_filter(),
        rx.cond(
            AdminState.booking_notice != "",
            rx.callout(AdminState.booking_notice, icon="info", color_scheme="amber", role="status"),
        ),
        pager(
            AdminState.booking_count_label,
            AdminState.booking_page_label,
            AdminState.booking_prev_href,
            AdminState.booking_next_href,
            name="Bookings pages",
            html_id="bookings-pager",
        ),
        table_card(
            data_table(
                BOOKING_COLUMNS,
                AdminState.rows,
                booking_row,
                aria_label="Bookings",
                empty=rx.text("No bookings to show.", color=MUTED, padding="1em"),
            )
        ),
    )


def payment_row(p: AdminPaymentListRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text("#", p.id.to_string(), weight="medium"), white_space="nowrap"),
        rx.table.cell(p.amount, class_name="amount", white_space="nowrap"),
        rx.table.cell(
            rx.vstack(
                payment_status_badge(p.status_label, p.status_color, p.status),
                rx.cond(p.flagged, flag_badge(p.flag_reason)),
                spacing="2",
                align="start",
            ),
            class_name="status",
        ),
        rx.table.cell(two_lines(rx.text(p.patient_name, weight="medium"), p.patient_email)),
        rx.table.cell(
            two_lines(
                rx.text(p.doctor_name),
                "Booking #" + p.booking_id.to_string() + " · " + p.appointment,
            ),
            min_width="12em",
        ),
        rx.table.cell(
            rx.cond(p.has_refunds, rx.text(p.refunded), rx.text("—", color=MUTED)),
            class_name="refunded",
        ),
        rx.table.cell(rx.link("Details", href=p.href)),
        custom_attrs={"data-payment-id": p.id, "data-flagged": p.flagged},
    )


def payments_panel() -> rx.Component:
    return rx.box(
        table_card(filter_form()),
        problems(),
        rx.vstack(
            totals_table(),
            csv_control(),
            spacing="3",
            width="100%",
            margin_top="1em",
        ),
        payments_chart(),
        pager(
            AdminState.count_label,
            AdminState.page_label,
            AdminState.prev_href,
            AdminState.next_href,
            name="Payments pages",
            html_id="payments-pager",
        ),
        table_card(
            data_table(
                PAYMENT_COLUMNS,
                AdminState.payments,
                payment_row,
                aria_label="Payments",
                empty=rx.text("No payments match this filter.", color=MUTED, padding="1em"),
            )
        ),
    )


@rx.page(route=routes.ADMIN, title="Admin — Efoy", on_load=AdminState.load_page)
def admin() -> rx.Component:
    return admin_page(
        AdminState,
        rx.box(
            page_heading("Admin", "Bookings and payments, newest first."),
            note(zone_note(), margin_bottom="1em"),
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
    )
