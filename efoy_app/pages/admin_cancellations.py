"""/admin/cancellations: cancelled paid bookings and their refunds, the ones waiting for an
admin's approval first (`EFOY_CANCELLATION_REFUNDS=approval`), with `Approve` and `Decline`."""

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
from efoy_app.components.badges import status_badge
from efoy_app.components.layout import error_callout, notice_callout, page_heading
from efoy_app.pages.admin_webhooks import SELECT_STYLE
from efoy_app.state.admin_cancellations import AdminCancellationsState, CancellationEntry

S = AdminCancellationsState
COLUMNS = ["Patient", "Refund", "Status", "Appointment", "By", "Reason", ""]


def row(c: CancellationEntry) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            two_lines(
                rx.text(c.patient, weight="medium"),
                "Booking #" + c.booking_id.to_string() + " · " + c.patient_email,
            )
        ),
        rx.table.cell(c.amount, white_space="nowrap", class_name="amount"),
        rx.table.cell(status_badge(c.status_label, c.status_color, c.status), class_name="status"),
        rx.table.cell(c.appointment, min_width="10em"),
        rx.table.cell(c.by),
        rx.table.cell(
            rx.vstack(
                rx.text(c.reason, size="2"),
                rx.cond(c.note != "", rx.text("Note: ", c.note, size="1", color=MUTED)),
                spacing="1",
            ),
            min_width="12em",
        ),
        rx.table.cell(
            rx.cond(
                c.waiting,
                rx.hstack(
                    rx.button("Approve", size="1", on_click=S.ask(c.id, True)),
                    rx.button(
                        "Decline",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=S.ask(c.id, False),
                    ),
                    spacing="2",
                ),
            ),
        ),
        custom_attrs={"data-cancellation-id": c.id, "data-status": c.status},
    )


def decision_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(rx.cond(S.acting_approve, "Approve the refund", "Decline")),
            rx.alert_dialog.description(S.acting_question, id="decision-question"),
            rx.form(
                rx.vstack(
                    rx.cond(
                        S.acting_approve,
                        rx.fragment(),
                        rx.vstack(
                            rx.el.label(
                                rx.text("Why (the patient reads it)", size="2", weight="medium"),
                                html_for="decline-note",
                            ),
                            rx.input(id="decline-note", name="note", max_length=500, width="100%"),
                            width="100%",
                            spacing="1",
                        ),
                    ),
                    error_callout(S.error, width="100%"),
                    rx.hstack(
                        rx.alert_dialog.cancel(
                            rx.button("Keep waiting", variant="soft", color_scheme="gray"),
                        ),
                        rx.button(
                            rx.cond(S.acting_approve, "Send the refund", "Decline the refund"),
                            type="submit",
                            color_scheme=rx.cond(S.acting_approve, "teal", "red"),
                            loading=S.busy,
                            disabled=S.busy,
                        ),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    margin_top="1em",
                    width="100%",
                ),
                on_submit=S.decide,
                reset_on_submit=False,
            ),
            max_width="30em",
        ),
        open=S.acting_on != 0,
        on_open_change=S.dialog_open_changed,
    )


def toolbar() -> rx.Component:
    return rx.hstack(
        rx.el.label(rx.text("Show", size="2", weight="medium"), html_for="cancellation-status"),
        rx.el.select(
            rx.foreach(S.filter_choices, lambda c: rx.el.option(c[1], value=c[0])),
            id="cancellation-status",
            value=S.status_filter,
            on_change=S.set_status_filter,
            style=SELECT_STYLE,
        ),
        rx.spacer(),
        rx.text(S.page_label, size="2", color=MUTED, id="cancellations-count"),
        rx.button(
            "Previous", size="1", variant="soft", disabled=~S.has_previous, on_click=S.page_by(-1)
        ),
        rx.button("Next", size="1", variant="soft", disabled=~S.has_next, on_click=S.page_by(1)),
        align="center",
        spacing="2",
        width="100%",
        wrap="wrap",
        margin_bottom="1em",
    )


@rx.page(
    route=routes.ADMIN_CANCELLATIONS,
    title="Cancellation requests — Admin — Efoy",
    on_load=AdminCancellationsState.load_page,
)
def admin_cancellations() -> rx.Component:
    return admin_page(
        S,
        rx.box(
            page_heading(
                "Cancellation requests",
                "Paid appointments that were cancelled, and their refunds. Requests waiting "
                "for your approval come first, oldest first.",
            ),
            admin_nav(),
            note(zone_note(), margin_bottom="1em"),
            notice_callout(S.notice, margin_bottom="1em", id="decision-notice"),
            toolbar(),
            table_card(
                data_table(
                    COLUMNS,
                    S.rows,
                    row,
                    aria_label="Cancellations",
                    empty=rx.text("Nothing to show.", color=MUTED, padding="1em"),
                    size="1",
                )
            ),
            decision_dialog(),
        ),
    )
