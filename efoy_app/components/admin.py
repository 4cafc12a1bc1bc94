"""What every admin page shares: the frame that checks the role, the sub-navigation, tables."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from efoy_app import routes
from efoy_app.components.layout import loading, message_card, page_shell
from efoy_app.state.admin import ClinicClock
from efoy_app.state.alerts import AlertsState

# Muted text that still reads at 4.5:1 on the page's and the cards' backgrounds (gray 10 does not).
MUTED = rx.color("gray", 11)


def forbidden() -> rx.Component:
    return message_card(
        "Admins only",
        rx.text("You do not have access to this page.", id="forbidden-message"),
        role="alert",
    )


def admin_nav() -> rx.Component:
    return rx.hstack(
        rx.link(
            "Bookings and payments",
            href=routes.ADMIN,
            size="2",
            weight="medium",
            high_contrast=True,
        ),
        rx.link(
            "Webhook events",
            href=routes.ADMIN_WEBHOOKS,
            size="2",
            weight="medium",
            high_contrast=True,
        ),
        rx.link(
            "Cancellation requests",
            href=routes.ADMIN_CANCELLATIONS,
            size="2",
            weight="medium",
            high_contrast=True,
        ),
        rx.link(
            "Doctors", href=routes.ADMIN_DOCTORS, size="2", weight="medium", high_contrast=True
        ),
        rx.link("Audit", href=routes.ADMIN_AUDIT, size="2", weight="medium", high_contrast=True),
        rx.link("Outbox", href=routes.ADMIN_OUTBOX, size="2", weight="medium", high_contrast=True),
        spacing="4",
        wrap="wrap",
        margin_bottom="1em",
        aria_label="Admin",
        role="navigation",
    )


def _alert_line(text: rx.Var, link: str, href: rx.Var, shown: rx.Var) -> rx.Component:
    return rx.cond(
        shown,
        rx.text(
            text,
            " ",
            rx.link(link, href=href, weight="medium", underline="always", high_contrast=True),
            size="2",
        ),
    )


def alert_banner() -> rx.Component:
    """Failed webhook events (24 h) and stale pending payments, with links to them; loaded each
    time an admin page shows, so it clears once the condition has."""
    s = AlertsState
    return rx.box(
        rx.cond(
            s.has_alerts,
            rx.callout.root(
                rx.callout.icon(rx.icon("bell-ring")),
                rx.vstack(
                    rx.text("Needs attention", weight="bold", size="2"),
                    _alert_line(
                        s.failed_events_text,
                        "Show failed events",
                        s.failed_events_href,
                        s.failed_events > 0,
                    ),
                    _alert_line(
                        s.stale_payments_text,
                        "Show pending payments",
                        s.stale_payments_href,
                        s.stale_payments > 0,
                    ),
                    spacing="1",
                ),
                color_scheme="amber",
                role="status",
                id="admin-alerts",
                margin_bottom="1em",
            ),
        ),
        on_mount=AlertsState.load,
    )


def admin_page(state: type[rx.State], content: rx.Component) -> rx.Component:
    """`content` once the server has confirmed the admin role; "Admins only" when it refused.
    Above it, the alert banner.

    `state` is the page's state: it has `forbidden` and `loaded` vars beside AuthState's.
    """
    return page_shell(
        rx.cond(
            state.forbidden,  # type: ignore[attr-defined]
            forbidden(),
            rx.cond(
                state.loaded & state.is_admin,  # type: ignore[attr-defined]
                rx.fragment(alert_banner(), content),
                loading(),
            ),
        ),
    )


# Radix's Table wraps the table in its own ScrollArea, whose viewport scrolls but cannot take
# focus (axe: scrollable-region-focusable). It is kept from scrolling; the region around it
# scrolls instead, and a keyboard user can Tab to it and scroll with the arrow keys.
SCROLL_REGION_STYLE = {
    "overflow_x": "auto",
    "width": "100%",
    "& .rt-ScrollAreaRoot, & .rt-ScrollAreaViewport": {"overflow": "visible !important"},
    "& .rt-ScrollAreaScrollbar": {"display": "none"},
    "&:focus-visible": {"outline": f"2px solid {rx.color('accent', 9)}", "outline_offset": "2px"},
}


def data_table(
    columns: list[str],
    rows: rx.Var,
    row: Callable[[rx.Var], rx.Component],
    *,
    aria_label: str,
    empty: rx.Component | None = None,
    **props: object,
) -> rx.Component:
    """One table of an admin page: a header cell per column, `row` drawn for each of `rows`,
    and `empty` in its place while there are none.

    Put the columns a person looks for first (who, amount, status): on a phone the rest scroll
    sideways inside a focusable region named after the table.
    """
    props.setdefault("size", rx.breakpoints(initial="1", md="2"))  # tighter cells on a phone
    table = rx.table.root(
        rx.table.header(rx.table.row(*(rx.table.column_header_cell(c) for c in columns))),
        rx.table.body(rx.foreach(rows, row)),
        width="100%",
        aria_label=aria_label,
        **props,
    )
    region = rx.box(
        table,
        tab_index=0,
        role="region",
        aria_label=f"{aria_label} (scrolls sideways)",
        class_name="table-scroll",
        style=SCROLL_REGION_STYLE,
    )
    if empty is None:
        return region
    return rx.cond(rows.length() == 0, empty, region)  # type: ignore[attr-defined]


def note(*children: rx.Component | rx.Var | str, **props: object) -> rx.Component:
    """Small muted text on an admin page (a hint under a form, which clock the times use)."""
    return rx.text(*children, size="1", color=MUTED, **props)


def zone_note() -> rx.Component:
    """Which clock the admin pages use: the clinic's (EFOY_CLINIC_TIMEZONE)."""
    return rx.text.span("Times are the clinic's: ", ClinicClock.zone, ".", class_name="zone-note")


def table_card(*children: rx.Component) -> rx.Component:
    return rx.card(*children, size=rx.breakpoints(initial="1", md="2"), width="100%")


def two_lines(first: rx.Component, second: rx.Var | str) -> rx.Component:
    """A table cell's main line and a muted second line under it."""
    return rx.vstack(first, rx.text(second, size="1", color=MUTED), spacing="0")
