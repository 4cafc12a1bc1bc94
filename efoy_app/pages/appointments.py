"""/appointments: My appointments, upcoming first, then past, then cancelled and expired; `Pay`
for held ones, `Cancel` (after a confirm step that shows what comes back) for upcoming ones, and
the refund of each cancelled paid booking; for every booking that took money `Download receipt
(PDF)`, `Email receipt` and a `Refund note …` per succeeded refund."""

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
from efoy_app.components.receipt_buttons import (
    download_receipt_button,
    email_receipt_button,
    receipt_status,
    refund_note_button,
)
from efoy_app.state.appointments import AppointmentsState, BookingRow, RefundNoteLink

S = AppointmentsState


def receipt_actions(row: BookingRow) -> rx.Component:
    """A paid booking's receipt buttons, its refund notes, and how the last action went."""
    pid = row.payment_id.to_string()

    def note(link: RefundNoteLink) -> rx.Component:
        return refund_note_button(
            link.label,
            S.download_refund_note(link.refund_id, row.payment_id),
            S.receipt_busy == "note-" + link.refund_id.to_string(),
            class_name="refund-note-button",
        )

    return rx.cond(
        row.payment_id != 0,
        rx.vstack(
            rx.flex(
                download_receipt_button(
                    S.download_receipt(row.payment_id), S.receipt_busy == "receipt-" + pid
                ),
                email_receipt_button(
                    S.email_receipt(row.payment_id), S.receipt_busy == "email-" + pid
                ),
                spacing="3",
                wrap="wrap",
                align="center",
            ),
            rx.cond(
                row.refund_notes.length() > 0,
                rx.flex(rx.foreach(row.refund_notes, note), spacing="3", wrap="wrap"),
            ),
            rx.cond(
                S.receipt_about == row.payment_id,
                receipt_status(S.receipt_message, S.receipt_tone, class_name="receipt-status"),
            ),
            spacing="2",
            width="100%",
            margin_top="0.9em",
            padding_top="0.9em",
            border_top=f"1px solid {rx.color('gray', 4)}",
            class_name="receipt-actions",
        ),
    )


def booking_card(row: BookingRow) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.hstack(
                    rx.link(
                        rx.heading(row.doctor_name, size="4", as_="h3"),
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
                rx.cond(
                    row.refund_note != "",
                    rx.text(
                        row.refund_note,
                        size="2",
                        weight="medium",
                        color=rx.match(
                            row.refund_color,
                            ("green", rx.color("green", 11)),
                            ("amber", rx.color("amber", 11)),
                            ("red", rx.color("red", 11)),
                            rx.color("gray", 11),
                        ),
                        class_name="refund-note",
                    ),
                ),
                spacing="2",
                align="start",
            ),
            rx.spacer(),
            rx.vstack(
                rx.text(row.price, size="5", weight="bold", class_name="price"),
                rx.hstack(
                    rx.cond(row.can_pay, link_button("Pay", href=row.pay_href, size="2")),
                    rx.cond(row.can_cancel, cancel_dialog(row)),
                    spacing="2",
                ),
                align="end",
                spacing="3",
            ),
            width="100%",
            align="start",
            wrap="wrap",
        ),
        receipt_actions(row),
        size="3",
        width="100%",
        class_name="booking-card",
        custom_attrs={"data-booking-id": row.id, "data-status": row.status},
    )


def refund_preview() -> rx.Component:
    """What cancelling a paid booking now gives back, read when its dialog opened."""
    return rx.vstack(
        rx.cond(
            AppointmentsState.quote_title == "",
            rx.text("Working out your refund…", size="2"),
            rx.text(AppointmentsState.quote_title, size="3", weight="bold", id="refund-preview"),
        ),
        rx.text(AppointmentsState.quote_reason, size="2", color=rx.color("gray", 11)),
        rx.link("Read the cancellation policy", href=routes.POLICY, size="2"),
        spacing="2",
        margin_top="0.75em",
    )


def cancel_dialog(row: BookingRow) -> rx.Component:
    """`Cancel` asks first: which appointment, that its time goes back to other patients, and
    for a paid one what comes back by the policy (read as the dialog opens, so the dialog is
    opened by the state rather than by a Radix trigger)."""
    return rx.fragment(
        rx.button(
            "Cancel",
            color_scheme="red",
            variant="soft",
            size="2",
            on_click=AppointmentsState.open_cancel(row.id),
            aria_haspopup="dialog",
        ),
        rx.alert_dialog.root(
            rx.alert_dialog.content(
                rx.alert_dialog.title("Cancel this appointment?"),
                rx.alert_dialog.description(
                    row.doctor_name
                    + ", "
                    + row.when
                    + ". The time will be offered to other patients.",
                    size="2",
                ),
                rx.cond(row.paid, refund_preview()),
                rx.hstack(
                    rx.alert_dialog.cancel(
                        rx.button("Keep it", variant="soft", color_scheme="gray"),
                    ),
                    rx.button(
                        "Cancel appointment",
                        color_scheme="red",
                        on_click=AppointmentsState.cancel(row.id, row.paid),
                        disabled=row.paid & (AppointmentsState.quote_title == ""),
                        # White on red 9 is 3.9:1; on red 11 it reads (AA).
                        style={"background": rx.color("red", 11), "color": "white"},
                    ),
                    spacing="3",
                    justify="end",
                    margin_top="1em",
                ),
                max_width="440px",
            ),
            open=AppointmentsState.dialog_for == row.id,
            on_open_change=AppointmentsState.dialog_open_changed,
        ),
    )


def section(title: str, rows: rx.Var, section_id: str) -> rx.Component:
    """One titled list of booking cards, shown only when it has any."""
    return rx.cond(
        rows.length() > 0,
        rx.el.section(
            rx.heading(title, size="5", as_="h2", margin_bottom="0.5em"),
            rx.vstack(rx.foreach(rows, booking_card), spacing="3", width="100%"),
            id=section_id,
            aria_label=title,
            style={"width": "100%", "margin_bottom": "2em"},
        ),
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


def empty_upcoming() -> rx.Component:
    return stack_card(
        rx.text("Nothing booked ahead.", color=rx.color("gray", 11)),
        link_button("Find a doctor", href=routes.DOCTORS, variant="soft"),
        width="100%",
    )


@rx.page(
    route=routes.APPOINTMENTS, title="My appointments — Efoy", on_load=AppointmentsState.load_page
)
def appointments() -> rx.Component:
    return page_shell(
        page_heading("My appointments", AppointmentsState.zone_note),
        notice_callout(AppointmentsState.notice, margin_bottom="1em"),
        error_callout(AppointmentsState.error, margin_bottom="1em"),
        rx.cond(
            AppointmentsState.loaded,
            rx.cond(
                AppointmentsState.has_bookings,
                rx.fragment(
                    rx.cond(
                        AppointmentsState.upcoming.length() == 0,
                        rx.box(
                            rx.heading("Upcoming", size="5", as_="h2", margin_bottom="0.5em"),
                            empty_upcoming(),
                            margin_bottom="2em",
                            width="100%",
                        ),
                    ),
                    section("Upcoming", AppointmentsState.upcoming, "upcoming"),
                    section("Past", AppointmentsState.past, "past"),
                    section("Cancelled and expired", AppointmentsState.closed, "closed"),
                ),
                empty_state(),
            ),
            loading(),
        ),
        max_width="900px",
    )
