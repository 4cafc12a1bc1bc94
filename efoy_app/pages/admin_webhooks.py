"""/admin/webhooks: stored Stripe events, newest first, with attempts and processing errors."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.admin import MUTED, admin_nav, admin_page, data_table, table_card
from efoy_app.components.badges import status_badge
from efoy_app.components.layout import page_heading
from efoy_app.state.admin_webhooks import AdminWebhooksState, WebhookEntry

S = AdminWebhooksState
EVENT_COLUMNS = ["Stripe event", "Type", "Status", "Attempts", "Error", "Received", "Processed"]
SELECT_STYLE = {
    "height": "36px",
    "padding": "0 0.75em",
    "border_radius": "var(--radius-3)",
    "border": f"1px solid {rx.color('gray', 7)}",
    "background": rx.color("gray", 1),
    "font_size": "var(--font-size-2)",
}


def event_row(e: WebhookEntry) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(e.stripe_event_id, variant="ghost", size="1")),
        rx.table.cell(e.type),
        rx.table.cell(status_badge(e.status, e.status_color)),
        rx.table.cell(e.attempts.to_string(), class_name="attempts"),
        rx.table.cell(
            rx.cond(
                e.error != "",
                rx.text(e.error, size="1", color=rx.color("red", 11), class_name="error"),
                rx.text("—", color=MUTED),
            ),
            max_width="28em",
        ),
        rx.table.cell(e.received_at, white_space="nowrap"),
        rx.table.cell(rx.cond(e.processed_at != "", e.processed_at, "—"), white_space="nowrap"),
        custom_attrs={"data-event-id": e.stripe_event_id, "data-status": e.status},
    )


def status_filter() -> rx.Component:
    return rx.hstack(
        rx.el.label(rx.text("Status", size="2", weight="medium"), html_for="event-status"),
        rx.el.select(
            rx.foreach(S.filter_choices, lambda c: rx.el.option(c[1], value=c[0])),
            id="event-status",
            value=S.status_filter,
            on_change=S.set_status_filter,
            style=SELECT_STYLE,
        ),
        align="center",
        spacing="2",
        margin_bottom="1em",
    )


def events_table() -> rx.Component:
    return table_card(
        data_table(
            EVENT_COLUMNS,
            S.events,
            event_row,
            aria_label="Webhook events",
            empty=rx.text("No events to show.", color=MUTED, padding="1em"),
            size="1",
        )
    )


@rx.page(
    route=routes.ADMIN_WEBHOOKS,
    title="Webhook events — Admin — Efoy",
    on_load=AdminWebhooksState.load_page,
)
def admin_webhooks() -> rx.Component:
    return admin_page(
        S,
        rx.box(
            page_heading(
                "Webhook events",
                "What Stripe sent us and what became of it, newest first. Failed events "
                "are retried by Stripe and by reconciliation.",
            ),
            admin_nav(),
            status_filter(),
            events_table(),
        ),
    )
