"""/login and /register."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.forms import form_field
from efoy_app.components.layout import error_callout, hint, page_shell, page_title, stack_card
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
                page_title(title, size="6"),
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
    """The fields, the error of the last try, and the submit button that spins while it runs.

    Until the page is hydrated the form is plain HTML, and a click (or Enter) would submit it
    natively: as a GET, with the email and password in the address, the history and the access
    log. So the button stays disabled until then (a disabled default button also stops Enter),
    and the form says POST, so even a browser without JavaScript never puts them in a URL."""
    return rx.form(
        rx.vstack(
            *fields,
            error_callout(error, width="100%"),
            rx.button(
                submit,
                type="submit",
                size="3",
                width="100%",
                loading=AuthState.auth_busy,
                disabled=~rx.State.is_hydrated,
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=on_submit,
        reset_on_submit=False,
        method="post",
        width="100%",
    )


def timezone_field() -> rx.Component:
    """The timezone list: a search box that narrows it, then a native select grouped by region.

    Both are plain form controls, so the keyboard works as everywhere: type a city or a country
    in the search box (the first match is chosen), Tab to the list, arrows to change.
    """
    return rx.vstack(
        form_field(
            "Search timezones",
            rx.input(
                id="timezone-search",
                name="timezone_search",
                type="search",
                placeholder="City, country or zone name",
                on_change=AuthState.set_timezone_query.debounce(250),
                size="3",
                width="100%",
                auto_complete="off",
                custom_attrs={"aria-describedby": "timezone-matches"},
            ),
            html_for="timezone-search",
            width="100%",
        ),
        form_field(
            "Your timezone",
            rx.el.select(
                rx.foreach(
                    AuthState.timezone_groups,
                    lambda g: rx.el.optgroup(
                        rx.foreach(g.zones, lambda z: rx.el.option(z.label, value=z.zone)),
                        label=g.region,
                    ),
                ),
                id="timezone",
                name="timezone",
                value=AuthState.detected_timezone,
                on_change=AuthState.set_detected_timezone,
                style=SELECT_STYLE,
            ),
            hint(
                "Appointment times are shown in this timezone. ",
                rx.el.span(
                    AuthState.timezone_matches,
                    id="timezone-matches",
                    custom_attrs={"aria-live": "polite"},
                ),
            ),
            html_for="timezone",
            width="100%",
        ),
        spacing="3",
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
        rx.text(
            "New to Efoy? ", rx.link("Create an account", href=AuthState.register_href), size="2"
        ),
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
            timezone_field(),
            error=AuthState.register_error,
            submit="Create account",
            on_submit=AuthState.register,
        ),
        rx.text("Already registered? ", rx.link("Log in", href=AuthState.login_href), size="2"),
    )
