"""/appointments: My appointments, with `Pay` and `Cancel` for held ones."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.badges import status_badge
from efoy_app.components.layout import (
    error_callout,
    icon_text,
    link_button,
    loading,
    notice_callout,
    page_heading,
    page_shell,
    stack_card,
)
from efoy_app.state.appointments import AppointmentsState, BookingRow


def booking_card(row: BookingRow) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.hstack(
                    rx.link(
                        rx.heading(row.doctor_name, size="4", as_="h2"),
                        href=row.doctor_href,
                        underline="none",
                        color=rx.color("gray", 12),
                    ),
                    status_badge(row.status_label, row.status_color, size="2", class_name="status"),
                    align="center",
                    spacing="3",
                ),
                rx.text(row.speciality, size="2", color=rx.color("gray", 11)),
                icon_text(
                    "calendar",
                    rx.text(row.when, size="3", weight="medium", class_name="when"),
                    icon_size=16,
                    spacing="2",
                ),
                rx.cond(
                    row.reason != "",
                    rx.text("Reason: ", row.reason, size="2", color=rx.color("gray", 11)),
                ),
                rx.cond(
                    row.hold_note != "",
                    rx.text(row.hold_note, size="2", color=rx.color("amber", 11)),
                ),
                spacing="2",
                align="start",
            ),
            rx.spacer(),
            rx.vstack(
                rx.text(row.price, size="5", weight="bold", class_name="price"),
                rx.hstack(
                    rx.cond(row.can_pay, link_button("Pay", href=row.pay_href, size="2")),
                    rx.cond(
                        row.can_cancel,
                        rx.button(
                            "Cancel",
                            on_click=AppointmentsState.cancel(row.id),
                            color_scheme="red",
                            variant="soft",
                            size="2",
                        ),
                    ),
                    spacing="2",
                ),
                align="end",
                spacing="3",
            ),
            width="100%",
            align="start",
            wrap="wrap",
        ),
        size="3",
        width="100%",
        class_name="booking-card",
        custom_attrs={"data-booking-id": row.id, "data-status": row.status},
    )


def empty_state() -> rx.Component:
    return stack_card(
        rx.icon("calendar-plus", size=32, color=rx.color("teal", 9)),
        rx.heading("No appointments yet", size="4", as_="h2"),
        rx.text("Find a doctor and pick a time that suits you.", color=rx.color("gray", 11)),
        link_button("Find a doctor", href=routes.DOCTORS),
        align="center",
        column={"padding": "2em"},
        size="3",
        width="100%",
    )


@rx.page(
    route=routes.APPOINTMENTS, title="My appointments — Efoy", on_load=AppointmentsState.load_page
)
def appointments() -> rx.Component:
    return page_shell(
        page_heading("My appointments", "Times are shown in your timezone."),
        notice_callout(AppointmentsState.notice, margin_bottom="1em"),
        error_callout(AppointmentsState.error, margin_bottom="1em"),
        rx.cond(
            AppointmentsState.loaded,
            rx.cond(
                AppointmentsState.bookings.length() == 0,
                empty_state(),
                rx.vstack(
                    rx.foreach(AppointmentsState.bookings, booking_card),
                    spacing="3",
                    width="100%",
                ),
            ),
            loading(),
        ),
        max_width="900px",
    )
