"""The page for an address that is no page: in the app's frame, with the ways back in."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.layout import link_button, page_shell, page_title, stack_card, wrap_row
from efoy_app.state.auth import AuthState

# Reflex serves this for every unknown path (its route key for the 404 page is "404").
NOT_FOUND_ROUTE = "404"


@rx.page(route=NOT_FOUND_ROUTE, title="Page not found — Efoy", on_load=AuthState.sync_user)
def not_found() -> rx.Component:
    return page_shell(
        rx.center(
            stack_card(
                page_title("Page not found", size="7"),
                rx.text(
                    "There is no page at this address. It may have moved, or the link may be "
                    "mistyped.",
                    color=rx.color("gray", 11),
                ),
                wrap_row(
                    link_button(
                        rx.icon("stethoscope", size=18), "Find a doctor", href=routes.DOCTORS
                    ),
                    link_button("Home", href=routes.HOME, variant="soft"),
                ),
                spacing="4",
                size="4",
                max_width="560px",
                width="100%",
            ),
            padding_top="2em",
        ),
    )
