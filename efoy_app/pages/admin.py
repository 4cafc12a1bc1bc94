"""/admin: recent bookings and their status (admins only; checked on the server every load)."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.layout import link_button, page_heading, page_shell
from efoy_app.state.admin import AdminBookingRow, AdminState


def row(item: AdminBookingRow) -> rx.Component:
    b = item.booking
    return rx.table.row(
        rx.table.cell(b.id.to_string()),
        rx.table.cell(
            rx.vstack(
                rx.text(item.patient_name, weight="medium"),
                rx.text(item.patient_email, size="1", color=rx.color("gray", 10)),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.text(b.doctor_name),
                rx.text(b.speciality, size="1", color=rx.color("gray", 10)),
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
                    rx.text(kv[0], size="1", color=rx.color("gray", 10)),
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


@rx.page(route=routes.ADMIN, title="Admin — Efoy", on_load=AdminState.load_page)
def admin() -> rx.Component:
    return page_shell(
        rx.cond(
            AdminState.forbidden,
            forbidden(),
            rx.cond(
                AdminState.loaded & AdminState.is_admin,
                rx.box(
                    page_heading("Admin", "Recent bookings, newest first."),
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
                            rx.table.body(rx.foreach(AdminState.rows, row)),
                            width="100%",
                            aria_label="Recent bookings",
                        ),
                        size="2",
                        width="100%",
                    ),
                ),
                rx.center(rx.spinner(size="3"), padding="4em"),
            ),
        ),
    )
