"""/doctors/[doctor_id]: free slots for the next days, grouped by day; pick one and book it."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.avatar import avatar
from efoy_app.components.forms import form_field
from efoy_app.components.layout import (
    captioned,
    error_callout,
    hint,
    loading,
    message_card,
    page_shell,
    stack_card,
)
from efoy_app.state.doctor import DoctorState, SlotChoice, SlotDay


def slot_button(slot: SlotChoice) -> rx.Component:
    selected = DoctorState.selected_start == slot.starts_at
    return rx.button(
        slot.label,
        on_click=DoctorState.select_slot(slot.starts_at, slot.when),
        variant=rx.cond(selected, "solid", "outline"),
        size="2",
        aria_label=slot.when,
        aria_pressed=rx.cond(selected, "true", "false"),
        custom_attrs={"data-slot": slot.starts_at},
        class_name="slot-button",
        type="button",
    )


def slot_day(day: SlotDay) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.heading(day.label, size="3", as_="h3"),
            rx.badge(day.count.to_string() + " free", variant="soft", color_scheme="gray"),
            align="center",
            spacing="2",
            margin_bottom="0.6em",
        ),
        rx.flex(rx.foreach(day.slots, slot_button), wrap="wrap", spacing="2"),
        padding_y="0.9em",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="slot-day",
    )


def doctor_header() -> rx.Component:
    doc = DoctorState.doctor
    return rx.card(
        rx.hstack(
            avatar(doc.initials, size="72px"),
            rx.vstack(
                rx.heading(doc.full_name, size="7", as_="h1"),
                rx.hstack(
                    rx.badge(doc.speciality, color_scheme="teal", size="2"),
                    rx.text(
                        doc.slot_minutes.to_string() + "-minute consultations",
                        size="2",
                        color=rx.color("gray", 11),
                    ),
                    spacing="3",
                    align="center",
                ),
                rx.text(doc.bio, size="2", color=rx.color("gray", 11)),
                spacing="2",
                align="start",
            ),
            rx.spacer(),
            captioned(
                "Consultation fee",
                rx.text(doc.fee_display, size="6", weight="bold", class_name="doctor-fee"),
                align="end",
                min_width="140px",
            ),
            spacing="4",
            align="start",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def booking_panel() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Your appointment", size="4", as_="h2"),
                rx.cond(
                    DoctorState.selected_start != "",
                    captioned(
                        "Selected time",
                        rx.text(DoctorState.selected_when, weight="bold", id="selected-slot"),
                    ),
                    rx.text("Choose a time on the left.", size="2", color=rx.color("gray", 11)),
                ),
                rx.hstack(
                    rx.text("Fee", size="2", color=rx.color("gray", 11)),
                    rx.spacer(),
                    rx.text(DoctorState.doctor.fee_display, weight="bold"),
                    width="100%",
                ),
                form_field(
                    "Reason for the visit (optional)",
                    rx.text_area(
                        id="reason",
                        name="reason",
                        placeholder="e.g. follow-up on blood test results",
                        max_length=500,
                        rows="3",
                        width="100%",
                    ),
                    html_for="reason",
                    width="100%",
                ),
                error_callout(DoctorState.booking_error, width="100%"),
                rx.button(
                    rx.icon("calendar-check", size=18),
                    "Book appointment",
                    type="submit",
                    size="3",
                    width="100%",
                    disabled=DoctorState.selected_start == "",
                    loading=DoctorState.booking_busy,
                ),
                hint(
                    "We hold the time for you for ",
                    DoctorState.hold_minutes.to_string(),
                    " minutes while you pay.",
                ),
                rx.cond(~DoctorState.is_authenticated, hint("You will be asked to log in first.")),
                spacing="3",
                width="100%",
            ),
            on_submit=DoctorState.book,
            reset_on_submit=False,
        ),
        size="3",
        width="100%",
        position=rx.breakpoints(initial="static", md="sticky"),
        top="5em",
    )


def slots_card() -> rx.Component:
    return stack_card(
        rx.heading("Available times", size="4", as_="h2"),
        rx.text(
            "Shown in ",
            rx.text.strong(DoctorState.timezone_note),
            size="2",
            color=rx.color("gray", 11),
            id="timezone-note",
        ),
        rx.cond(
            DoctorState.slot_count == 0,
            rx.callout(
                "No free times in the next two weeks. Please check again later.",
                icon="calendar-x",
                color_scheme="gray",
            ),
            rx.box(rx.foreach(DoctorState.days, slot_day), width="100%"),
        ),
        spacing="2",
        column={"width": "100%"},
        size="3",
        width="100%",
    )


def not_found() -> rx.Component:
    return message_card(
        "Doctor not found", "This doctor does not exist or no longer takes appointments."
    )


@rx.page(route=routes.DOCTOR_DETAIL, title="Book a doctor — Efoy", on_load=DoctorState.load_page)
def doctor() -> rx.Component:
    return page_shell(
        rx.link("← All doctors", href=routes.DOCTORS, size="2"),
        rx.cond(
            DoctorState.not_found,
            not_found(),
            rx.cond(
                DoctorState.loaded,
                rx.vstack(
                    doctor_header(),
                    rx.grid(
                        slots_card(),
                        rx.box(booking_panel()),
                        columns=rx.breakpoints(initial="1", md="3fr 2fr"),
                        spacing="4",
                        width="100%",
                        align_items="start",
                    ),
                    spacing="4",
                    width="100%",
                    margin_top="1em",
                ),
                loading(),
            ),
        ),
    )
