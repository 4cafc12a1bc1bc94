"""/ : what Efoy is, and the way in."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.layout import link_button, page_shell, stack_card, wrap_row
from efoy_app.state.auth import AuthState


def feature(icon: str, title: str, text: str) -> rx.Component:
    return stack_card(
        rx.center(
            rx.icon(icon, size=22, color=rx.color("teal", 11)),
            background=rx.color("teal", 3),
            border_radius="10px",
            width="44px",
            height="44px",
        ),
        rx.heading(title, size="4", as_="h3"),
        rx.text(text, color=rx.color("gray", 11), size="2"),
        size="3",
    )


@rx.page(route=routes.HOME, title="Efoy — book a doctor", on_load=AuthState.sync_user)
def home() -> rx.Component:
    return page_shell(
        rx.vstack(
            rx.badge("Hospital appointments, online", color_scheme="teal", size="2"),
            rx.heading(
                "See the right doctor, at a time that suits you.",
                size=rx.breakpoints(initial="8", sm="9"),
                as_="h1",
                tab_index=-1,
                max_width="760px",
            ),
            rx.text(
                "Efoy shows every doctor's free times in your own timezone. Pick a slot, we "
                "hold it for you while you pay securely, and your appointment is confirmed "
                "with a receipt you can download.",
                size="4",
                color=rx.color("gray", 11),
                max_width="680px",
            ),
            wrap_row(
                link_button(
                    rx.icon("stethoscope", size=18), "Find a doctor", href=routes.DOCTORS, size="4"
                ),
                rx.cond(
                    AuthState.is_authenticated,
                    link_button(
                        "My appointments", href=routes.APPOINTMENTS, size="4", variant="soft"
                    ),
                    link_button(
                        "Create an account", href=routes.REGISTER, size="4", variant="soft"
                    ),
                ),
            ),
            spacing="5",
            align="start",
            padding_y="3em",
        ),
        rx.grid(
            feature(
                "calendar-clock",
                "Real availability",
                "Slots come from each doctor's working hours and days off, and a slot "
                "someone else holds is never offered twice.",
            ),
            feature(
                "globe",
                "Your timezone",
                "Doctors practise in several countries; every time is shown on your own "
                "clock, daylight saving included.",
            ),
            feature(
                "shield-check",
                "Secure payment",
                "Pay by card through Stripe in the doctor's currency. Cancel in time and "
                "the refund follows our published policy.",
            ),
            columns=rx.breakpoints(initial="1", md="3"),
            spacing="4",
            width="100%",
        ),
    )
