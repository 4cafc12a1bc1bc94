"""/policy: the cancellation policy in words, public, built from the policy in force.

The clinic's tiers come from `EFOY_CANCELLATION_POLICY` through the same `CancellationPolicy` that
prices a cancellation, so the page cannot promise what the refund does not do; that part is
compiled when the app starts, which is when the setting is read and validated. Doctors with a
policy of their own are listed under it, read from the database on each visit.
"""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.layout import link_button, page_heading, page_shell, stack_card
from efoy_app.domain.cancellation_policy import CancellationPolicy, current_policy
from efoy_app.state.policy import DoctorPolicy, PolicyState


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


def doctor_policy(d: DoctorPolicy) -> rx.Component:
    return rx.vstack(
        rx.heading(d.name, size="3", as_="h3"),
        rx.text(d.speciality, size="2", color=rx.color("gray", 11)),
        rx.list.unordered(
            rx.foreach(d.sentences, lambda line: rx.list.item(line)),
            spacing="1",
            padding_left="1.2em",
        ),
        spacing="1",
        width="100%",
        class_name="doctor-policy",
    )


def doctor_policies() -> rx.Component:
    return rx.cond(
        PolicyState.doctor_policies.length() > 0,
        stack_card(
            rx.heading("Doctors with their own policy", size="4", as_="h2"),
            rx.text(
                "These doctors' appointments follow their own tiers instead; the same rules of "
                "counting apply.",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.foreach(PolicyState.doctor_policies, doctor_policy),
            size="3",
            width="100%",
            id="doctor-policies",
        ),
    )


@rx.page(route=routes.POLICY, title="Cancellation policy — Efoy", on_load=PolicyState.load_page)
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
            doctor_policies(),
            link_button(rx.icon("stethoscope", size=18), "Find a doctor", href=routes.DOCTORS),
            spacing="4",
            align="start",
            width="100%",
            max_width="760px",
        ),
    )
