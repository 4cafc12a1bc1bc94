"""The frame every page shares: a navbar that knows who is signed in, a content column, a footer."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.state.auth import AuthState
from efoy_app.state.nav import NavState

CONTENT_ID = "content"  # <main>'s id: the skip link's target
PHONE_MENU_ID = "phone-menu"
# Radix breakpoints (initial, xs 30em, sm 48em, ...): the links stand in line from sm up.
DESKTOP_ONLY = ["none", "none", "flex"]
PHONE_ONLY = ["flex", "flex", "none"]


def brand() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.center(
                rx.icon("heart-pulse", size=20, color="white"),
                background=rx.color("teal", 9),
                border_radius="8px",
                width="32px",
                height="32px",
            ),
            rx.text("Efoy", size="5", weight="bold", color=rx.color("gray", 12)),
            align="center",
            spacing="2",
        ),
        href=routes.HOME,
        underline="none",
        aria_label="Efoy home",
    )


def link_button(*children: rx.Component | str, href: str, **props: object) -> rx.Component:
    """A link that looks like a button (one interactive element, one accessible name)."""
    return rx.button(rx.link(*children, href=href, underline="none"), as_child=True, **props)


def hint(*children: rx.Component | rx.Var | str, **props: object) -> rx.Component:
    """Small muted text: a note under a form or a card, a caption over a value."""
    return rx.text(*children, size="1", color=rx.color("gray", 11), **props)


def captioned(caption: rx.Var | str, value: rx.Component, **props: object) -> rx.Component:
    """A small muted caption right over the value it names (a fee, a count, a chosen time)."""
    return rx.vstack(hint(caption), value, spacing="0", **props)


def icon_text(icon: str, text: rx.Component, *, icon_size: int, spacing: str) -> rx.Component:
    """A muted icon in front of one line of text."""
    return rx.hstack(
        rx.icon(icon, size=icon_size, color=rx.color("gray", 11)),
        text,
        align="center",
        spacing=spacing,
    )


def wrap_row(*children: rx.Component, **props: object) -> rx.Component:
    """Buttons, filters or tiles side by side, wrapping onto the next line on a narrow screen."""
    return rx.hstack(*children, spacing="3", wrap="wrap", **props)


def stack_card(
    *children: rx.Component,
    spacing: str = "3",
    align: str = "start",
    column: dict[str, object] | None = None,
    **card_props: object,
) -> rx.Component:
    """A card whose children stand in one column (`column`: more props for that column)."""
    return rx.card(
        rx.vstack(*children, spacing=spacing, align=align, **(column or {})), **card_props
    )


def nav_link(label: str, href: str, **props: object) -> rx.Component:
    return rx.link(
        label,
        href=href,
        size="3",
        weight="medium",
        color=rx.color("gray", 11),
        on_click=NavState.close_menu,
        **props,
    )


def nav_links(**props: object) -> rx.Component:
    """Doctors for everyone, My appointments once signed in, Admin for admins."""
    return rx.flex(
        nav_link("Doctors", routes.DOCTORS),
        rx.cond(AuthState.is_authenticated, nav_link("My appointments", routes.APPOINTMENTS)),
        rx.cond(AuthState.is_admin, nav_link("Admin", routes.ADMIN)),
        **props,
    )


def account_menu(user_id: str = "navbar-user", **props: object) -> rx.Component:
    """Who is signed in and Log out, or Log in and Register."""
    return rx.cond(
        AuthState.is_authenticated,
        rx.hstack(
            icon_text(
                "circle-user-round",
                rx.text(AuthState.user_name, size="2", weight="medium", id=user_id),
                icon_size=18,
                spacing="1",
            ),
            rx.button(
                "Log out",
                on_click=[NavState.close_menu, AuthState.logout],
                variant="soft",
                color_scheme="gray",
                size="2",
            ),
            align="center",
            spacing="3",
            **props,
        ),
        rx.hstack(
            link_button(
                "Log in", href=routes.LOGIN, variant="soft", size="2", on_click=NavState.close_menu
            ),
            link_button("Register", href=routes.REGISTER, size="2", on_click=NavState.close_menu),
            spacing="2",
            **props,
        ),
    )


def menu_button() -> rx.Component:
    """Opens and closes the phone menu (a disclosure: the links follow it in the tab order)."""
    return rx.button(
        rx.cond(NavState.menu_open, rx.icon("x", size=18), rx.icon("menu", size=18)),
        "Menu",
        on_click=NavState.toggle_menu,
        variant="soft",
        color_scheme="gray",
        size="2",
        custom_attrs={
            "aria-expanded": rx.cond(NavState.menu_open, "true", "false"),
            "aria-controls": PHONE_MENU_ID,
        },
        display=PHONE_ONLY,
        class_name="efoy-phone-only",
    )


def phone_menu() -> rx.Component:
    """The links and the account, one under the other, while the Menu button is pressed."""
    return rx.box(
        rx.vstack(
            nav_links(direction="column", spacing="3"),
            rx.separator(size="4"),
            account_menu(user_id="phone-menu-user", wrap="wrap"),
            spacing="4",
            align="start",
            width="100%",
            max_width="1100px",
            margin_x="auto",
            padding_x="1.5em",
            padding_bottom="1.2em",
        ),
        id=PHONE_MENU_ID,
        display=rx.cond(NavState.menu_open, "block", "none"),
        class_name="efoy-phone-only",
        width="100%",
    )


def site_row(*children: rx.Component, padding_y: str, **props: object) -> rx.Component:
    """A row as wide as the site's content column, centred (the navbar's and the footer's)."""
    return rx.hstack(
        *children,
        width="100%",
        max_width="1100px",
        margin_x="auto",
        padding_x="1.5em",
        padding_y=padding_y,
        **props,
    )


def navbar() -> rx.Component:
    return rx.el.nav(
        site_row(
            brand(),
            nav_links(spacing="5", align="center", display=DESKTOP_ONLY),
            rx.spacer(),
            account_menu(display=DESKTOP_ONLY),
            menu_button(),
            padding_y="0.9em",
            align="center",
            spacing="6",
        ),
        phone_menu(),
        aria_label="Main",
        style={
            "border_bottom": f"1px solid {rx.color('gray', 5)}",
            "background": rx.color("gray", 1),
            "position": "sticky",
            "top": "0",
            "z_index": "10",
            "width": "100%",
        },
    )


def footer() -> rx.Component:
    return rx.el.footer(
        site_row(
            hint("Efoy — hospital appointments"),
            rx.link("Cancellation policy", href=routes.POLICY, size="1", underline="always"),
            rx.spacer(),
            hint("Payments are processed by Stripe; card details never touch our servers."),
            padding_y="1.5em",
            wrap="wrap",
        ),
        style={
            "border_top": f"1px solid {rx.color('gray', 4)}",
            "margin_top": "3em",
            "width": "100%",
        },
    )


def page_shell(*children: rx.Component, max_width: str = "1100px") -> rx.Component:
    """Skip link, navbar, then the page's own content in a centred column, then the footer."""
    return rx.box(
        rx.el.a("Skip to content", href=f"#{CONTENT_ID}", class_name="efoy-skip-link"),
        navbar(),
        rx.el.main(
            *children,
            id=CONTENT_ID,
            tab_index=-1,
            style={
                "flex_grow": "1",
                "max_width": max_width,
                "margin_x": "auto",
                "padding_x": "1.5em",
                "padding_top": "2em",
                "width": "100%",
            },
        ),
        footer(),
        min_height="100vh",
        display="flex",
        flex_direction="column",
        background=rx.color("gray", 2),
    )


def page_title(*children: str | rx.Var | rx.Component, **props: object) -> rx.Component:
    """The page's one h1; it takes focus after a client-side navigation (assets/efoy-focus.js)."""
    return rx.heading(*children, as_="h1", tab_index=-1, **props)


def page_heading(title: str | rx.Var, subtitle: str | rx.Var | None = None) -> rx.Component:
    parts = [page_title(title, size="7")]
    if subtitle is not None:
        parts.append(rx.text(subtitle, color=rx.color("gray", 11)))
    return rx.vstack(
        *parts,
        spacing="1",
        margin_bottom="1.5em",
        align="start",
    )


def error_callout(message: rx.Var, **props: object) -> rx.Component:
    """A red callout shown only while `message` is not empty."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert", **props),
    )


def notice_callout(message: rx.Var, **props: object) -> rx.Component:
    """A green callout shown only while `message` is not empty."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="circle-check", color_scheme="green", role="status", **props),
    )


def loading() -> rx.Component:
    """Shown until a page's state has loaded."""
    return rx.center(rx.spinner(size="3"), padding="4em")


def message_card(
    title: str,
    message: rx.Component | str,
    back: rx.Component | None = None,
    *,
    heading_size: str = "6",
    level: str = "h1",
    **props: object,
) -> rx.Component:
    """Why a page has nothing to show (not found, admins only), and the way back.

    Its title is the page's h1 when the card is all the page shows; pass `level="h2"` when the
    card sits under a `page_heading`.
    """
    if back is None:
        back = link_button("Back to doctors", href=routes.DOCTORS, variant="soft")
    card_props: dict[str, object] = {"size": "4", **props}
    return stack_card(
        page_title(title, size=heading_size)
        if level == "h1"
        else rx.heading(title, size=heading_size, as_=level),
        message if isinstance(message, rx.Component) else rx.text(message),
        back,
        **card_props,
    )
