"""/login and /register."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.forms import form_field
from efoy_app.components.layout import error_callout, hint, page_shell, stack_card
from efoy_app.state.auth import AuthState

SELECT_STYLE = {
    "width": "100%",
    "height": "40px",
    "padding": "0 0.75em",
    "border_radius": "var(--radius-3)",
    "border": f"1px solid {rx.color('gray', 7)}",
    "background": rx.color("gray", 1),
    "font_size": "var(--font-size-3)",
}


def field(label: str, name: str, type_: str = "text", **props: object) -> rx.Component:
    return form_field(
        label,
        rx.input(id=name, name=name, type=type_, size="3", width="100%", **props),
        html_for=name,
        width="100%",
    )


def auth_card(title: str, subtitle: str, *children: rx.Component) -> rx.Component:
    return rx.center(
        stack_card(
            rx.heading(title, size="6", as_="h1"),
            rx.text(subtitle, color=rx.color("gray", 11), size="2"),
            *children,
            spacing="4",
            column={"width": "100%"},
            size="4",
            width="100%",
            max_width="440px",
        ),
        padding_top="2em",
    )


@rx.page(route=routes.LOGIN, title="Log in — Efoy", on_load=AuthState.open_login)
def login() -> rx.Component:
    return page_shell(
        auth_card(
            "Log in",
            "Welcome back. Log in to book and manage your appointments.",
            rx.form(
                rx.vstack(
                    field("Email", "email", "email", auto_complete="username", required=True),
                    field(
                        "Password",
                        "password",
                        "password",
                        auto_complete="current-password",
                        required=True,
                    ),
                    error_callout(AuthState.login_error, width="100%"),
                    rx.button(
                        "Log in", type="submit", size="3", width="100%", loading=AuthState.auth_busy
                    ),
                    spacing="4",
                    width="100%",
                ),
                on_submit=AuthState.login,
                reset_on_submit=False,
                width="100%",
            ),
            rx.text(
                "New to Efoy? ",
                rx.link("Create an account", href=routes.REGISTER),
                size="2",
            ),
        ),
    )


@rx.page(route=routes.REGISTER, title="Create an account — Efoy", on_load=AuthState.open_register)
def register() -> rx.Component:
    return page_shell(
        auth_card(
            "Create an account",
            "Patients register here; it takes a minute.",
            rx.form(
                rx.vstack(
                    field("Full name", "full_name", auto_complete="name", required=True),
                    field("Email", "email", "email", auto_complete="email", required=True),
                    field(
                        "Password",
                        "password",
                        "password",
                        auto_complete="new-password",
                        required=True,
                        min_length=8,
                    ),
                    hint("At least 8 characters."),
                    form_field(
                        "Your timezone",
                        rx.el.select(
                            rx.foreach(
                                AuthState.timezone_choices,
                                lambda z: rx.el.option(z, value=z),
                            ),
                            id="timezone",
                            name="timezone",
                            value=rx.cond(
                                AuthState.detected_timezone != "",
                                AuthState.detected_timezone,
                                "UTC",
                            ),
                            on_change=AuthState.set_detected_timezone,
                            style=SELECT_STYLE,
                        ),
                        hint("Appointment times are shown in this timezone."),
                        html_for="timezone",
                        width="100%",
                    ),
                    error_callout(AuthState.register_error, width="100%"),
                    rx.button(
                        "Create account",
                        type="submit",
                        size="3",
                        width="100%",
                        loading=AuthState.auth_busy,
                    ),
                    spacing="4",
                    width="100%",
                ),
                on_submit=AuthState.register,
                reset_on_submit=False,
                width="100%",
            ),
            rx.text("Already registered? ", rx.link("Log in", href=routes.LOGIN), size="2"),
        ),
    )
