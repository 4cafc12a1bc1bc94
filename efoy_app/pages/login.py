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


def password_field(auto_complete: str, **props: object) -> rx.Component:
    """The password box; `auto_complete` tells password managers to fill it or to make one."""
    return field(
        "Password", "password", "password", auto_complete=auto_complete, required=True, **props
    )


def auth_page(title: str, subtitle: str, form: rx.Component, other: rx.Component) -> rx.Component:
    """Log in and Create an account: one narrow card with the form and the way to the other."""
    return page_shell(
        rx.center(
            stack_card(
                rx.heading(title, size="6", as_="h1"),
                rx.text(subtitle, color=rx.color("gray", 11), size="2"),
                form,
                other,
                spacing="4",
                column={"width": "100%"},
                size="4",
                width="100%",
                max_width="440px",
            ),
            padding_top="2em",
        )
    )


def auth_form(
    *fields: rx.Component, error: rx.Var, submit: str, on_submit: rx.EventHandler
) -> rx.Component:
    """The fields, the error of the last try, and the submit button that spins while it runs."""
    return rx.form(
        rx.vstack(
            *fields,
            error_callout(error, width="100%"),
            rx.button(submit, type="submit", size="3", width="100%", loading=AuthState.auth_busy),
            spacing="4",
            width="100%",
        ),
        on_submit=on_submit,
        reset_on_submit=False,
        width="100%",
    )


@rx.page(route=routes.LOGIN, title="Log in — Efoy", on_load=AuthState.open_login)
def login() -> rx.Component:
    return auth_page(
        "Log in",
        "Welcome back. Log in to book and manage your appointments.",
        auth_form(
            field("Email", "email", "email", auto_complete="username", required=True),
            password_field("current-password"),
            error=AuthState.login_error,
            submit="Log in",
            on_submit=AuthState.login,
        ),
        rx.text("New to Efoy? ", rx.link("Create an account", href=routes.REGISTER), size="2"),
    )


@rx.page(route=routes.REGISTER, title="Create an account — Efoy", on_load=AuthState.open_register)
def register() -> rx.Component:
    return auth_page(
        "Create an account",
        "Patients register here; it takes a minute.",
        auth_form(
            field("Full name", "full_name", auto_complete="name", required=True),
            field("Email", "email", "email", auto_complete="email", required=True),
            password_field("new-password", min_length=8),
            hint("At least 8 characters."),
            form_field(
                "Your timezone",
                rx.el.select(
                    rx.foreach(AuthState.timezone_choices, lambda z: rx.el.option(z, value=z)),
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
            error=AuthState.register_error,
            submit="Create account",
            on_submit=AuthState.register,
        ),
        rx.text("Already registered? ", rx.link("Log in", href=routes.LOGIN), size="2"),
    )
