"""Form fields: a visible label tied to its control by id, so the control's accessible name is
the label's text (what screen readers announce and what the e2e tests find it by)."""

from __future__ import annotations

import reflex as rx


def form_field(
    label: str | list[rx.Var | str],
    control: rx.Component,
    *notes: rx.Component,
    html_for: str,
    **props: object,
) -> rx.Component:
    """`label` over `control` (whose id is `html_for`), then any `notes` under it."""
    parts = [label] if isinstance(label, str) else label
    return rx.vstack(
        rx.el.label(rx.text(*parts, size="2", weight="medium"), html_for=html_for),
        control,
        *notes,
        spacing="1",
        **props,
    )
