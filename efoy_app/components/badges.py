"""Status badges. Their labels and colours come from the rows (`state.statuses` is the table)."""

from __future__ import annotations

import reflex as rx


def status_badge(
    label: rx.Var | str, color: rx.Var | str, status: rx.Var | None = None, **props: object
) -> rx.Component:
    """A soft badge; `status`, the raw value, goes into `data-status` for scripts and tests.

    High contrast: the label in the colour's step 12 on its soft step 3 (Radix's soft 11-on-3
    measured 3.8-4.1:1; step 12 on 3 is over 10:1 in every scale we use).
    """
    attrs = {"data-status": status} if status is not None else {}
    return rx.badge(
        label, color_scheme=color, variant="soft", high_contrast=True, custom_attrs=attrs, **props
    )


def payment_status_badge(label: rx.Var, color: rx.Var, status: rx.Var) -> rx.Component:
    return status_badge(label, color, status, size="2", class_name="payment-status")


def flag_badge(reason: rx.Var) -> rx.Component:
    """The "Flagged" badge and why, e.g. refunded automatically because the slot was retaken."""
    return rx.vstack(
        rx.badge(rx.icon("flag", size=12), "Flagged", color_scheme="red", variant="solid"),
        rx.text(reason, size="1", color=rx.color("red", 11), class_name="flag-reason"),
        spacing="1",
        align="start",
    )
