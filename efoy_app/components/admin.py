"""What every admin page shares: the frame that checks the role, the sub-navigation, tables."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from efoy_app import routes
from efoy_app.components.layout import loading, message_card, page_shell

MUTED = rx.color("gray", 10)


def forbidden() -> rx.Component:
    return message_card(
        "Admins only",
        rx.text("You do not have access to this page.", id="forbidden-message"),
        role="alert",
    )


def admin_nav() -> rx.Component:
    return rx.hstack(
        rx.link("Bookings and payments", href=routes.ADMIN, size="2", weight="medium"),
        rx.link("Webhook events", href=routes.ADMIN_WEBHOOKS, size="2", weight="medium"),
        spacing="4",
        margin_bottom="1em",
        aria_label="Admin",
        role="navigation",
    )


def admin_page(state: type[rx.State], content: rx.Component) -> rx.Component:
    """`content` once the server has confirmed the admin role; "Admins only" when it refused.

    `state` is the page's state: it has `forbidden` and `loaded` vars beside AuthState's.
    """
    return page_shell(
        rx.cond(
            state.forbidden,  # type: ignore[attr-defined]
            forbidden(),
            rx.cond(state.loaded & state.is_admin, content, loading()),  # type: ignore[attr-defined]
        ),
    )


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
    and `empty` in its place while there are none."""
    table = rx.table.root(
        rx.table.header(rx.table.row(*(rx.table.column_header_cell(c) for c in columns))),
        rx.table.body(rx.foreach(rows, row)),
        width="100%",
        aria_label=aria_label,
        **props,
    )
    if empty is None:
        return table
    return rx.cond(rows.length() == 0, empty, table)  # type: ignore[attr-defined]


def table_card(*children: rx.Component) -> rx.Component:
    return rx.card(*children, size="2", width="100%")


def two_lines(first: rx.Component, second: rx.Var | str) -> rx.Component:
    """A table cell's main line and a muted second line under it."""
    return rx.vstack(first, rx.text(second, size="1", color=MUTED), spacing="0")
