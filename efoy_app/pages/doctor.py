"""/doctors/[doctor_id]: booking as patients know it from Cal.com or Doctolib: a row of days with
their free times counted, then the chosen day's times, then the summary and `Book appointment`.

Days and times are native radio groups: each group is one Tab stop and the arrow keys move
within it, so from a chosen time the reason box and `Book appointment` are two Tabs away. The
summary is a sticky column on a desktop; on a phone it follows the day's times directly.
"""

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

# A radio input that stays focusable and in the accessibility tree but is drawn by its label.
_HIDDEN_INPUT = {
    "position": "absolute",
    "opacity": "0",
    "width": "1px",
    "height": "1px",
    "margin": "0",
    "pointer_events": "none",
}


def _choice_style(min_height: str) -> dict[str, object]:
    """A tile that is a radio's label: outlined, filled when chosen, ringed when focused."""
    return {
        "position": "relative",
        "display": "flex",
        "flex_direction": "column",
        "align_items": "center",
        "justify_content": "center",
        "gap": "1px",
        "min_height": min_height,
        "padding": "0.35em 0.25em",
        "border": f"1px solid {rx.color('gray', 7)}",
        "border_radius": "var(--radius-3)",
        "background": rx.color("gray", 1),
        "color": rx.color("gray", 12),
        "cursor": "pointer",
        "font_variant_numeric": "tabular-nums",
        "user_select": "none",
        "&:hover": {"border_color": rx.color("teal", 9)},
        "&:has(input:checked)": {
            "background": rx.color("teal", 11),
            "border_color": rx.color("teal", 11),
            "color": "white",
        },
        "&:has(input:focus-visible)": {
            "outline": f"3px solid {rx.color('teal', 11)}",
            "outline_offset": "2px",
        },
        "&:has(input:disabled)": {
            "cursor": "not-allowed",
            "color": rx.color("gray", 11),
            "background": rx.color("gray", 3),
            "border_style": "dashed",
        },
    }


def day_option(day: SlotDay) -> rx.Component:
    return rx.el.label(
        rx.el.input(
            type="radio",
            name="day",
            value=day.key,
            checked=DoctorState.selected_day == day.key,
            on_change=DoctorState.choose_day(day.key),
            disabled=day.count == 0,
            aria_label=day.label + ", " + day.count_label,
            style=_HIDDEN_INPUT,
        ),
        rx.el.span(day.weekday, style={"font_size": "var(--font-size-1)"}),
        rx.el.span(day.day, style={"font_size": "var(--font-size-5)", "font_weight": "700"}),
        rx.el.span(day.month, style={"font_size": "var(--font-size-1)"}),
        rx.el.span(
            day.count_label,
            style={"font_size": "var(--font-size-1)", "font_weight": "500"},
            class_name="day-count",
        ),
        style=_choice_style("5.2em"),
        class_name="slot-day",
        custom_attrs={"data-day": day.key},
    )


def slot_option(slot: SlotChoice) -> rx.Component:
    return rx.el.label(
        rx.el.input(
            type="radio",
            name="slot",
            value=slot.starts_at,
            checked=DoctorState.selected_start == slot.starts_at,
            on_change=DoctorState.select_slot(slot.starts_at, slot.when),
            aria_label=slot.when,
            style=_HIDDEN_INPUT,
        ),
        rx.el.span(slot.label, style={"font_size": "var(--font-size-2)", "font_weight": "500"}),
        style=_choice_style("2.6em"),
        class_name="slot-button",
        custom_attrs={"data-slot": slot.starts_at},
    )


def doctor_header() -> rx.Component:
    doc = DoctorState.doctor
    return rx.card(
        rx.flex(
            rx.hstack(
                avatar(doc.initials, size="72px", photo_url=doc.photo_url, photo_alt=doc.photo_alt),
                rx.vstack(
                    rx.heading(doc.full_name, size="7", as_="h1"),
                    rx.flex(
                        rx.badge(doc.speciality, color_scheme="teal", size="2"),
                        rx.text(
                            doc.slot_minutes.to_string() + "-minute consultations",
                            size="2",
                            color=rx.color("gray", 11),
                        ),
                        spacing="3",
                        align="center",
                        wrap="wrap",
                    ),
                    rx.text(doc.bio, size="2", color=rx.color("gray", 11)),
                    spacing="2",
                    align="start",
                    min_width="0",
                ),
                spacing="4",
                align="start",
                flex="1",
                min_width="0",
            ),
            captioned(
                "Consultation fee",
                rx.text(doc.fee_display, size="6", weight="bold", class_name="doctor-fee"),
                align=rx.breakpoints(initial="start", sm="end"),
                flex_shrink="0",
            ),
            direction=rx.breakpoints(initial="column", sm="row"),
            gap="4",
            width="100%",
        ),
        size=rx.breakpoints(initial="2", sm="3"),
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
                    rx.text("Choose a day, then a time.", size="2", color=rx.color("gray", 11)),
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
                hint(DoctorState.hold_note, id="hold-note"),
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
        id="booking-panel",
    )


def day_picker() -> rx.Component:
    return rx.el.div(
        rx.foreach(DoctorState.days, day_option),
        role="radiogroup",
        aria_label="Day",
        id="day-picker",
        style={
            "display": "grid",
            "grid_template_columns": "repeat(auto-fill, minmax(4.2em, 1fr))",
            "gap": "var(--space-2)",
            "width": "100%",
        },
    )


def time_picker() -> rx.Component:
    return rx.el.div(
        rx.foreach(DoctorState.day_slots, slot_option),
        role="radiogroup",
        aria_label="Time on " + DoctorState.selected_day_label,
        id="time-picker",
        style={
            "display": "grid",
            "grid_template_columns": "repeat(auto-fill, minmax(5em, 1fr))",
            "gap": "var(--space-2)",
            "width": "100%",
        },
    )


def slots_card() -> rx.Component:
    return stack_card(
        rx.heading("Choose a day", size="4", as_="h2"),
        rx.text(
            "Times are in ",
            rx.text.strong(DoctorState.timezone_note),
            ".",
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
            rx.fragment(
                day_picker(),
                rx.heading(
                    DoctorState.selected_day_label,
                    size="3",
                    as_="h3",
                    margin_top="0.75em",
                    id="times-heading",
                ),
                rx.cond(
                    DoctorState.day_slots.length() == 0,
                    rx.text("No free times left on this day.", size="2"),
                    time_picker(),
                ),
            ),
        ),
        spacing="3",
        column={"width": "100%"},
        size=rx.breakpoints(initial="2", sm="3"),
        width="100%",
    )


def not_found() -> rx.Component:
    return message_card(
        "Doctor not found", "This doctor does not exist or no longer takes appointments."
    )


@rx.page(route=routes.DOCTOR_DETAIL, title="Book a doctor — Efoy", on_load=DoctorState.load_page)
def doctor() -> rx.Component:
    return page_shell(
        rx.link(
            "← All doctors",
            href=routes.DOCTORS,
            size="2",
            weight="medium",
            color=rx.color("gray", 12),
            underline="always",
        ),
        rx.cond(
            DoctorState.not_found,
            not_found(),
            rx.cond(
                DoctorState.loaded,
                rx.vstack(
                    doctor_header(),
                    rx.grid(
                        slots_card(),
                        rx.box(booking_panel(), height="100%"),
                        columns=rx.breakpoints(initial="1", md="3fr 2fr"),
                        spacing="4",
                        width="100%",
                        align_items="stretch",
                    ),
                    spacing="4",
                    width="100%",
                    margin_top="1em",
                ),
                loading(),
            ),
        ),
    )
