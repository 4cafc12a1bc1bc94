"""A doctor's initials in a round badge (the directory and the doctor's own page)."""

from __future__ import annotations

import reflex as rx


def avatar(initials: rx.Var, size: str = "56px") -> rx.Component:
    return rx.center(
        rx.text(initials, weight="bold", size="4", color=rx.color("teal", 11)),
        width=size,
        height=size,
        min_width=size,
        border_radius="50%",
        background=rx.color("teal", 3),
        border=f"1px solid {rx.color('teal', 6)}",
    )
