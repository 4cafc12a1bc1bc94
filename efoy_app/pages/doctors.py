"""/doctors: the directory, searchable by name or speciality and filterable by speciality; the
search and the filter are in the URL."""

from __future__ import annotations

import reflex as rx

from efoy_app import routes
from efoy_app.components.avatar import avatar
from efoy_app.components.layout import (
    captioned,
    link_button,
    page_heading,
    page_shell,
    stack_card,
    wrap_row,
)
from efoy_app.state.doctors import ALL_SPECIALITIES, DoctorCard, DoctorsState


def doctor_card(doc: DoctorCard) -> rx.Component:
    return stack_card(
        rx.hstack(
            avatar(doc.initials, photo_url=doc.photo_url, photo_alt=doc.photo_alt),
            rx.vstack(
                rx.heading(doc.full_name, size="4", as_="h2"),
                rx.badge(doc.speciality, color_scheme="teal", variant="soft"),
                spacing="1",
                align="start",
            ),
            spacing="3",
            align="center",
        ),
        rx.text(doc.bio, size="2", color=rx.color("gray", 11), class_name="efoy-clamp"),
        rx.divider(),
        rx.hstack(
            captioned(
                "Consultation",
                rx.text(doc.fee_display, size="4", weight="bold", class_name="doctor-fee"),
                align="start",
            ),
            rx.spacer(),
            captioned(
                "Practises in",
                rx.text(doc.zone_name, size="2", class_name="doctor-zone"),
                align="end",
            ),
            width="100%",
            align="end",
        ),
        link_button(
            "See available times",
            href=doc.href,
            width="100%",
            variant="soft",
            aria_label="See available times with " + doc.full_name,
        ),
        column={"height": "100%"},
        size="3",
        class_name="doctor-card",
        custom_attrs={"data-doctor-id": doc.id},
    )


def filters() -> rx.Component:
    return wrap_row(
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            placeholder="Search by name or speciality",
            aria_label="Search doctors by name or speciality",
            type="search",
            value=DoctorsState.search,
            on_change=DoctorsState.set_search.debounce(250),
            size="3",
            flex="1",
            min_width="240px",
        ),
        rx.select.root(
            rx.select.trigger(placeholder="Speciality", aria_label="Speciality"),
            rx.select.content(
                rx.select.item("All specialities", value=ALL_SPECIALITIES),
                rx.foreach(DoctorsState.specialities, lambda s: rx.select.item(s, value=s)),
            ),
            value=DoctorsState.speciality,
            on_change=DoctorsState.set_speciality,
            size="3",
        ),
        width="100%",
        margin_bottom="1em",
    )


@rx.page(route=routes.DOCTORS, title="Doctors — Efoy", on_load=DoctorsState.load_page)
def doctors() -> rx.Component:
    return page_shell(
        page_heading(
            "Find a doctor",
            "Every fee is shown in the currency the doctor charges; times appear in your timezone.",
        ),
        filters(),
        rx.cond(
            DoctorsState.loaded,
            rx.text(
                DoctorsState.result_count_label, size="2", color=rx.color("gray", 11), role="status"
            ),
        ),
        rx.cond(
            DoctorsState.loaded & (DoctorsState.doctors.length() == 0),
            stack_card(
                rx.text("No doctor matches your search."),
                rx.button("Clear filters", on_click=DoctorsState.clear_filters, variant="soft"),
                align="center",
                margin_top="1em",
            ),
        ),
        rx.grid(
            rx.foreach(DoctorsState.doctors, doctor_card),
            columns=rx.breakpoints(initial="1", sm="2", lg="3"),
            spacing="4",
            width="100%",
            margin_top="1em",
        ),
    )
