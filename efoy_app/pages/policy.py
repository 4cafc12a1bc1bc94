"""/policy: the cancellation policy in words, public, built from the policy in force.

The tiers come from `EFOY_CANCELLATION_POLICY` through the same `CancellationPolicy` that prices
a cancellation, so the page cannot promise what the refund does not do. The page is static: it
is compiled when the app starts, which is when the setting is read and validated.
"""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.layout import link_button, page_heading, page_shell, stack_card
from efoy_app.domain.cancellation_policy import CancellationPolicy, current_policy
from efoy_app.state.auth import AuthState


def how_it_is_counted(policy: CancellationPolicy) -> list[str]:
    """The rules every tier shares, with the policy's own first tier as the example."""
    hours = policy.tiers[0].hours or 1
    unit = "hour" if hours == 1 else "hours"
    return [
        "Hours are counted from the appointment's start time, to the second, whatever the clocks "
        f"do: {hours} {unit} before is exactly {hours} {unit} before, across a daylight-saving "
        "change too.",
        "The refund is that percentage of what you paid, in the doctor's currency, rounded down "
        "to the currency's smallest unit (a whole yen for JPY, a fils for KWD).",
        "A refund never comes on top of what has already been refunded on the same payment: in "
        "all, you never get back more than you paid.",
        "A booking you have not paid for yet costs nothing to cancel.",
    ]


def _bullets(lines: list[str], list_id: str) -> rx.Component:
    return rx.list.unordered(
        *[rx.list.item(line) for line in lines],
        id=list_id,
        spacing="2",
        padding_left="1.2em",
    )


@rx.page(route=routes.POLICY, title="Cancellation policy — Efoy", on_load=AuthState.sync_user)
def policy_page() -> rx.Component:
    policy = current_policy()
    return page_shell(
        page_heading(
            "Cancellation policy",
            "What you get back when you cancel a paid appointment, by how long before it starts.",
        ),
        rx.vstack(
            stack_card(
                rx.heading("What comes back", size="4", as_="h2"),
                _bullets(policy.sentences(), "policy-tiers"),
                size="3",
                width="100%",
            ),
            stack_card(
                rx.heading("How it is counted", size="4", as_="h2"),
                _bullets(how_it_is_counted(policy), "policy-rules"),
                size="3",
                width="100%",
            ),
            link_button(rx.icon("stethoscope", size=18), "Find a doctor", href=routes.DOCTORS),
            spacing="4",
            align="start",
            width="100%",
            max_width="760px",
        ),
    )
