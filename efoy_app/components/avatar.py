"""A doctor's photo in a round frame, or their initials in a round badge when they have none
(the directory, the doctor's own page and the admin's photo editor)."""

from __future__ import annotations

import reflex as rx


def initials_badge(initials: rx.Var | str, size: str = "56px") -> rx.Component:
    return rx.center(
        rx.text(initials, weight="bold", size="4", color=rx.color("teal", 11)),
        width=size,
        height=size,
        min_width=size,
        border_radius="50%",
        background=rx.color("teal", 3),
        border=f"1px solid {rx.color('teal', 6)}",
    )


def photo_frame(src: rx.Var | str, alt: rx.Var | str, size: str = "56px") -> rx.Component:
    """The photo itself: square JPEGs shown as circles, the same size as the initials."""
    return rx.image(
        src=src,
        alt=alt,
        width=size,
        height=size,
        min_width=size,
        border_radius="50%",
        object_fit="cover",
        border=f"1px solid {rx.color('teal', 6)}",
        background=rx.color("teal", 3),
        loading="lazy",
        decoding="async",
        class_name="doctor-photo",
    )


def avatar(
    initials: rx.Var | str,
    size: str = "56px",
    photo_url: rx.Var | str | None = None,
    photo_alt: rx.Var | str = "",
) -> rx.Component:
    """The photo when `photo_url` is not empty, the initials otherwise."""
    badge = initials_badge(initials, size)
    if photo_url is None:
        return badge
    return rx.cond(photo_url != "", photo_frame(photo_url, photo_alt, size), badge)
