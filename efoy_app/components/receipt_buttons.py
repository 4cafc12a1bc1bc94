"""`Download receipt (PDF)`, `Email receipt` and `Refund note …`, as every page that has a paid
payment shows them, and the line that says how the last one went.

The buttons carry our own ids only (a payment's, a refund's); the state looks up whose they are.
"""

from __future__ import annotations

import reflex as rx

from efoy_app.state.receipt_actions import TONE_ERROR, TONE_WAIT


def download_receipt_button(
    on_click: rx.EventSpec, loading: rx.Var, **props: object
) -> rx.Component:
    return rx.button(
        rx.icon("file-down", size=16),
        "Download receipt (PDF)",
        on_click=on_click,
        loading=loading,
        disabled=loading,
        **{"variant": "soft", "size": "2", **props},
    )


def email_receipt_button(on_click: rx.EventSpec, loading: rx.Var, **props: object) -> rx.Component:
    return rx.button(
        rx.icon("mail", size=16),
        "Email receipt",
        on_click=on_click,
        loading=loading,
        disabled=loading,
        **{"variant": "outline", "size": "2", **props},
    )


def refund_note_button(
    label: rx.Var | str, on_click: rx.EventSpec, loading: rx.Var, **props: object
) -> rx.Component:
    """A succeeded refund's note, e.g. `Refund note EFOY-RN-2026-000007`."""
    return rx.button(
        rx.icon("file-minus", size=16),
        label,
        on_click=on_click,
        loading=loading,
        disabled=loading,
        **{"variant": "soft", "color_scheme": "gray", "size": "2", **props},
    )


def receipt_status(message: rx.Var, tone: rx.Var, **props: object) -> rx.Component:
    """How the last receipt action went: sent (green), ask again later (amber, a notice, not a
    failure), or what went wrong (red). Shown only while there is something to say, so a page
    has no empty live regions; it is announced as it appears."""
    return rx.cond(
        message != "",
        rx.match(
            tone,
            (
                TONE_ERROR,
                rx.callout(
                    message, icon="triangle-alert", color_scheme="red", role="alert", **props
                ),
            ),
            (
                TONE_WAIT,
                rx.callout(
                    message,
                    icon="clock",
                    color_scheme="amber",
                    role="status",
                    aria_live="polite",
                    **props,
                ),
            ),
            rx.callout(
                message,
                icon="mail-check",
                color_scheme="green",
                role="status",
                aria_live="polite",
                **props,
            ),
        ),
    )
