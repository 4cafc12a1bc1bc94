"""/admin/webhooks: stored Stripe events, newest first, with attempts and processing errors."""

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
    zone_note,
)
from efoy_app.components.badges import status_badge
from efoy_app.components.layout import error_callout, notice_callout, page_heading
from efoy_app.state.admin_webhooks import AdminWebhooksState, WebhookEntry

S = AdminWebhooksState
# What happened first (type, status, when); the Stripe id and the details scroll on a phone.
# Replay beside the status it may change, so it is on screen without scrolling sideways.
EVENT_COLUMNS = [
    "Type",
    "Status",
    "Action",
    "Received",
    "Attempts",
    "Error",
    "Processed",
    "Stripe event",
]
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
        rx.table.cell(rx.text(e.type, title=e.stripe_event_id), class_name="type"),
        rx.table.cell(status_badge(e.status_label, e.status_color, e.status), class_name="status"),
        rx.table.cell(
            rx.button(
                "Replay",
                on_click=S.replay(e.id),
                disabled=S.busy,
                loading=S.busy,
                size="1",
                variant="soft",
                title="Run this event through its handler again (changes nothing if applied)",
            )
        ),
        rx.table.cell(rx.text(e.received_at, title=e.received_exact), white_space="nowrap"),
        rx.table.cell(e.attempts.to_string(), class_name="attempts"),
        rx.table.cell(
            rx.cond(
                e.error != "",
                rx.text(e.error, size="1", color=rx.color("red", 11), class_name="error"),
                rx.text("—", color=MUTED),
            ),
            min_width="14em",
            max_width="28em",
        ),
        rx.table.cell(
            rx.cond(
                e.processed_at != "",
                rx.text(e.processed_at, title=e.processed_exact),
                rx.text("—", color=MUTED),
            ),
            white_space="nowrap",
        ),
        rx.table.cell(rx.code(e.stripe_event_id, variant="ghost", size="1")),
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
                "are retried by Stripe and by reconciliation; Replay runs one again now.",
            ),
            admin_nav(),
            note(zone_note(), margin_bottom="1em"),
            status_filter(),
            error_callout(S.error, id="replay-error", margin_bottom="1em"),
            notice_callout(S.notice, id="replay-notice", margin_bottom="1em"),
            events_table(),
        ),
    )
