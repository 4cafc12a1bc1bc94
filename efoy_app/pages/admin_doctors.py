"""/admin/doctors and /admin/doctors/[doctor_id]: the clinic's doctors, the form that adds one,
and each doctor's profile, weekly hours, days off, extra hours and the next 14 days of slots.

A change that would strand booked appointments opens a dialog listing them, with "Keep these
bookings" and "Cancel them with a full refund"; nothing is saved until one is pressed.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from efoy_app import routes
from efoy_app.components.admin import MUTED, admin_nav, admin_page, data_table, note, table_card
from efoy_app.components.badges import status_badge
from efoy_app.components.doctor_photo import photo_editor
from efoy_app.components.forms import form_field
from efoy_app.components.layout import (
    error_callout,
    link_button,
    message_card,
    notice_callout,
    page_heading,
)
from efoy_app.pages.admin_webhooks import SELECT_STYLE
from efoy_app.state.admin_doctor import (
    ACTIVE,
    DAY_OFF,
    EXTRA,
    PROFILE,
    WEEK,
    AdminDoctorState,
    AffectedEntry,
    DayOffEntry,
    DayRanges,
    ExtraEntry,
    PreviewEntry,
    RangeRow,
)
from efoy_app.state.admin_doctors import AdminDoctorsState, DoctorEntry

L = AdminDoctorsState
D = AdminDoctorState
# Who, status and fee first: on a phone the rest scroll sideways.
COLUMNS = ["Doctor", "Status", "Fee", "Speciality", "Slot", "Timezone", "Upcoming"]
FULL = {"width": "100%"}
TIME_INPUT = {"width": "5.5em", "max_length": 5, "placeholder": "09:00", "auto_complete": "off"}


def active_badge(active: rx.Var) -> rx.Component:
    return rx.cond(
        active,
        status_badge("Active", "green", "active"),
        status_badge("Inactive", "gray", "inactive"),
    )


def select_of(choices: rx.Var, **props: object) -> rx.Component:
    return rx.el.select(
        rx.foreach(choices, lambda c: rx.el.option(c[1], value=c[0])),
        style={**SELECT_STYLE, "width": "100%"},
        **props,
    )


def timezone_picker(s: type[rx.State], prefix: str) -> rx.Component:
    """The register page's picker: a search box narrowing a native select grouped by region."""
    return rx.vstack(
        form_field(
            "Search timezones",
            rx.input(
                id=f"{prefix}-timezone-search",
                type="search",
                placeholder="City, country or zone name",
                value=s.tz_query,  # type: ignore[attr-defined]
                on_change=s.set_tz_query.debounce(250),  # type: ignore[attr-defined]
                auto_complete="off",
                width="100%",
                custom_attrs={"aria-describedby": f"{prefix}-timezone-matches"},
            ),
            html_for=f"{prefix}-timezone-search",
            **FULL,
        ),
        form_field(
            "Timezone",
            rx.el.select(
                rx.foreach(
                    s.tz_groups,  # type: ignore[attr-defined]
                    lambda g: rx.el.optgroup(
                        rx.foreach(g.zones, lambda z: rx.el.option(z.label, value=z.zone)),
                        label=g.region,
                    ),
                ),
                id=f"{prefix}-timezone",
                value=s.tz_value,  # type: ignore[attr-defined]
                on_change=s.set_tz_value,  # type: ignore[attr-defined]
                style={**SELECT_STYLE, "width": "100%"},
            ),
            note(
                "Hours and days off are in this timezone. ",
                rx.el.span(
                    s.tz_matches,  # type: ignore[attr-defined]
                    id=f"{prefix}-timezone-matches",
                    custom_attrs={"aria-live": "polite"},
                ),
            ),
            html_for=f"{prefix}-timezone",
            **FULL,
        ),
        spacing="3",
        **FULL,
    )


def text_field(label: str, name: str, id_: str, **props: object) -> rx.Component:
    return form_field(
        label, rx.input(id=id_, name=name, width="100%", **props), html_for=id_, **FULL
    )


def two_columns(*children: rx.Component) -> rx.Component:
    return rx.grid(*children, columns=rx.breakpoints(initial="1", sm="2"), spacing="3", **FULL)


# --- /admin/doctors ------------------------------------------------------------------------


def doctor_row(d: DoctorEntry) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.link(d.full_name, href=d.href, weight="medium", high_contrast=True),
                rx.text(d.email, size="1", color=MUTED),
                spacing="0",
            ),
            min_width="12em",
        ),
        rx.table.cell(active_badge(d.active)),
        rx.table.cell(d.fee_display, white_space="nowrap", class_name="doctor-fee"),
        rx.table.cell(d.speciality),
        rx.table.cell(d.slot_minutes.to_string() + " min", white_space="nowrap"),
        rx.table.cell(d.timezone),
        rx.table.cell(d.upcoming_bookings, class_name="upcoming"),
        custom_attrs={"data-doctor-id": d.id},
    )


def search_bar() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.el.label(
                rx.text("Search doctors", size="2", weight="medium"), html_for="doctor-search"
            ),
            rx.input(
                id="doctor-search",
                name="search",
                type="search",
                placeholder="Name, email or speciality",
                max_length=100,
                min_width="14em",
            ),
            rx.button("Search", type="submit", variant="soft"),
            rx.spacer(),
            rx.text(L.page_label, size="2", color=MUTED, id="doctors-count"),
            rx.button(
                "Previous",
                size="1",
                variant="soft",
                type="button",
                disabled=~L.has_previous,
                on_click=L.page_by(-1),
            ),
            rx.button(
                "Next",
                size="1",
                variant="soft",
                type="button",
                disabled=~L.has_next,
                on_click=L.page_by(1),
            ),
            align="center",
            spacing="2",
            wrap="wrap",
            **FULL,
        ),
        on_submit=L.find,
        reset_on_submit=False,
        margin_bottom="1em",
        role="search",
        **FULL,
    )


def add_doctor_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Add a doctor", as_="h2", size="5"),
            note(
                "The doctor's account is made from the email, or an existing patient account "
                "with that email becomes theirs. Give them working hours next."
            ),
            rx.form(
                rx.vstack(
                    two_columns(
                        text_field(
                            "Full name", "full_name", "new-full-name", max_length=200, required=True
                        ),
                        text_field(
                            "Email",
                            "email",
                            "new-email",
                            type="email",
                            max_length=320,
                            required=True,
                        ),
                        text_field(
                            "Speciality",
                            "speciality",
                            "new-speciality",
                            max_length=100,
                            required=True,
                        ),
                        form_field(
                            "Fee",
                            rx.input(
                                id="new-fee",
                                name="fee",
                                input_mode="decimal",
                                placeholder="90.00",
                                max_length=20,
                                width="100%",
                                required=True,
                            ),
                            note("In the currency's units, e.g. 90 or 90.50."),
                            html_for="new-fee",
                            **FULL,
                        ),
                        form_field(
                            "Currency",
                            select_of(
                                L.currency_choices,
                                id="new-currency",
                                value=L.currency,
                                on_change=L.set_currency,
                            ),
                            html_for="new-currency",
                            **FULL,
                        ),
                        form_field(
                            "Appointment length",
                            select_of(
                                L.slot_choices,
                                id="new-slot",
                                value=L.slot_minutes,
                                on_change=L.set_slot_minutes,
                            ),
                            html_for="new-slot",
                            **FULL,
                        ),
                    ),
                    form_field(
                        "Bio",
                        rx.text_area(
                            id="new-bio", name="bio", max_length=2000, rows="3", width="100%"
                        ),
                        html_for="new-bio",
                        **FULL,
                    ),
                    timezone_picker(L, "new"),
                    rx.hstack(
                        rx.checkbox(name="active", default_checked=True, id="new-active"),
                        rx.el.label(
                            rx.text("Active: patients can book this doctor", size="2"),
                            html_for="new-active",
                        ),
                        align="center",
                        spacing="2",
                    ),
                    error_callout(L.form_error, id="add-doctor-error", **FULL),
                    rx.button("Add doctor", type="submit", loading=L.busy, disabled=L.busy),
                    spacing="4",
                    **FULL,
                ),
                on_submit=L.add_doctor,
                reset_on_submit=False,
                key=L.form_key,
                **FULL,
            ),
            spacing="3",
            **FULL,
        ),
        size=rx.breakpoints(initial="2", md="3"),
        id="add-doctor",
        **FULL,
    )


def added_notice() -> rx.Component:
    return rx.cond(
        L.notice != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-check")),
            rx.callout.text(
                L.notice,
                " ",
                rx.link(
                    "Set " + L.new_doctor_name + "'s hours",
                    href=L.new_doctor_href,
                    weight="medium",
                    underline="always",
                    high_contrast=True,
                ),
            ),
            color_scheme="green",
            role="status",
            id="doctor-added",
            margin_bottom="1em",
        ),
    )


@rx.page(route=routes.ADMIN_DOCTORS, title="Doctors — Admin — Efoy", on_load=L.load_page)
def admin_doctors() -> rx.Component:
    return admin_page(
        L,
        rx.box(
            page_heading(
                "Doctors",
                "The clinic's doctors, their fees and hours. Inactive doctors are hidden from "
                "patients; their booked appointments stay.",
            ),
            admin_nav(),
            added_notice(),
            error_callout(L.error, margin_bottom="1em"),
            search_bar(),
            table_card(
                data_table(
                    COLUMNS,
                    L.rows,
                    doctor_row,
                    aria_label="Doctors",
                    empty=rx.text("No doctors match.", color=MUTED, padding="1em"),
                )
            ),
            rx.box(add_doctor_form(), margin_top="2em"),
        ),
    )


# --- /admin/doctors/[doctor_id] ------------------------------------------------------------


def section(title: str, id_: str, *children: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, as_="h2", size="5"), *children, spacing="3", **FULL),
        size=rx.breakpoints(initial="2", md="3"),
        id=id_,
        **FULL,
    )


def notice_for(kinds: tuple[str, ...]) -> rx.Component:
    shown = D.notice_at == kinds[0]
    for k in kinds[1:]:
        shown = shown | (D.notice_at == k)
    return rx.cond(shown, notice_callout(D.notice, **FULL))


def profile_section() -> rx.Component:
    f = D.facts
    return section(
        "Profile",
        "profile",
        photo_editor(),  # its own state, from the doctor in the address
        rx.form(
            rx.vstack(
                two_columns(
                    text_field(
                        "Full name",
                        "full_name",
                        "full-name",
                        default_value=f.full_name,
                        max_length=200,
                        required=True,
                    ),
                    text_field(
                        "Email",
                        "email",
                        "email",
                        type="email",
                        default_value=f.email,
                        max_length=320,
                        required=True,
                    ),
                    text_field(
                        "Speciality",
                        "speciality",
                        "speciality",
                        default_value=f.speciality,
                        max_length=100,
                        required=True,
                    ),
                    form_field(
                        "Fee",
                        rx.input(
                            id="fee",
                            name="fee",
                            input_mode="decimal",
                            default_value=f.fee_text,
                            max_length=20,
                            width="100%",
                            required=True,
                        ),
                        note("Now ", f.fee_display, ". A new fee applies to new bookings only."),
                        html_for="fee",
                        **FULL,
                    ),
                    form_field(
                        "Currency",
                        select_of(
                            D.currency_choices,
                            id="currency",
                            name="currency",
                            default_value=f.currency,
                        ),
                        html_for="currency",
                        **FULL,
                    ),
                    form_field(
                        "Appointment length",
                        select_of(
                            D.slot_choices,
                            id="slot",
                            name="slot_minutes",
                            default_value=f.slot_minutes,
                        ),
                        html_for="slot",
                        **FULL,
                    ),
                ),
                form_field(
                    "Bio",
                    rx.text_area(
                        id="bio",
                        name="bio",
                        default_value=f.bio,
                        max_length=2000,
                        rows="3",
                        width="100%",
                    ),
                    html_for="bio",
                    **FULL,
                ),
                timezone_picker(D, "edit"),
                error_callout(D.profile_error, id="profile-error", **FULL),
                rx.button("Save profile", type="submit", loading=D.busy, disabled=D.busy),
                spacing="4",
                **FULL,
            ),
            on_submit=D.save_profile,
            reset_on_submit=False,
            key=D.form_key,
            **FULL,
        ),
        notice_for((PROFILE, ACTIVE)),
        rx.separator(size="4"),
        rx.hstack(
            rx.vstack(
                rx.hstack(
                    rx.text("Status", weight="medium", size="2"),
                    active_badge(f.active),
                    spacing="2",
                    align="center",
                ),
                note(
                    rx.cond(
                        f.active,
                        "Patients see this doctor and can book their free slots.",
                        "Hidden from patients; no new slots are offered.",
                    )
                ),
                spacing="1",
            ),
            rx.spacer(),
            rx.button(
                rx.cond(f.active, "Deactivate doctor", "Activate doctor"),
                variant="soft",
                color_scheme=rx.cond(f.active, "red", "teal"),
                on_click=D.toggle_active,
                disabled=D.busy,
                type="button",
            ),
            align="center",
            wrap="wrap",
            spacing="3",
            **FULL,
        ),
    )


def range_row(day: DayRanges, r: RangeRow, j: rx.Var) -> rx.Component:
    n = (j + 1).to_string()
    return rx.hstack(
        rx.input(
            value=r.start,
            on_change=lambda v: D.set_range(day.weekday, j, "start", v),
            aria_label=day.name + " range " + n + " from",
            class_name="hours-start",
            **TIME_INPUT,
        ),
        rx.text("to", size="2", color=MUTED),
        rx.input(
            value=r.end,
            on_change=lambda v: D.set_range(day.weekday, j, "end", v),
            aria_label=day.name + " range " + n + " to",
            class_name="hours-end",
            **TIME_INPUT,
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            variant="soft",
            color_scheme="gray",
            size="1",
            type="button",
            on_click=D.remove_range(day.weekday, j),
            aria_label="Remove " + day.name + " range " + n,
        ),
        align="center",
        spacing="2",
        padding_right="0.75em",
    )


def weekday_row(day: DayRanges) -> rx.Component:
    """A weekday's name, then its ranges side by side (wrapping on a phone) and its buttons."""
    return rx.flex(
        rx.text(day.name, weight="medium", size="2", min_width="7em", padding_top="0.4em"),
        rx.flex(
            rx.cond(
                day.ranges.length() == 0,
                rx.text("Not working", size="2", color=MUTED),
            ),
            rx.foreach(day.ranges, lambda r, j: range_row(day, r, j)),
            rx.button(
                rx.icon("plus", size=14),
                "Add a range",
                size="1",
                variant="ghost",
                type="button",
                on_click=D.add_range(day.weekday),
                aria_label="Add a range on " + day.name,
            ),
            rx.cond(
                day.ranges.length() > 0,
                rx.button(
                    "Copy to every day",
                    size="1",
                    variant="ghost",
                    type="button",
                    on_click=D.copy_to_all(day.weekday),
                    aria_label="Copy " + day.name + "'s hours to every day",
                ),
            ),
            wrap="wrap",
            align="center",
            spacing="3",
            flex_grow="1",
        ),
        direction=rx.breakpoints(initial="column", sm="row"),
        spacing="2",
        padding_y="0.6em",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        custom_attrs={"data-weekday": day.weekday},
        **FULL,
    )


def week_section() -> rx.Component:
    return section(
        "Weekly hours",
        "weekly-hours",
        note(
            D.week_saved_hint,
            " Several ranges a day, e.g. 09:00 to 12:00 and 13:00 to "
            "17:00; an end of 24:00 is midnight.",
        ),
        rx.box(rx.foreach(D.week, weekday_row), **FULL),
        error_callout(D.week_error, id="week-error", **FULL),
        notice_for((WEEK,)),
        rx.button("Save weekly hours", on_click=D.save_week, loading=D.busy, disabled=D.busy),
    )


def dated_item(
    title: rx.Var, reason: rx.Var, on_remove: Any, what: rx.Var, attrs: dict[str, Any]
) -> rx.Component:
    """One day off or one extra-hours entry: what and why, and its Remove button."""
    return rx.hstack(
        rx.vstack(
            rx.text(title, weight="medium", size="2"),
            rx.cond(reason != "", rx.text(reason, size="1", color=MUTED)),
            spacing="0",
        ),
        rx.spacer(),
        rx.button(
            "Remove",
            size="1",
            variant="soft",
            color_scheme="gray",
            type="button",
            on_click=on_remove,
            aria_label="Remove the " + what,
        ),
        align="center",
        padding_y="0.4em",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        custom_attrs=attrs,
        **FULL,
    )


def day_off_item(d: DayOffEntry) -> rx.Component:
    return dated_item(
        d.label, d.reason, D.remove_day_off(d.day), "day off on " + d.label, {"data-day-off": d.day}
    )


def days_off_section() -> rx.Component:
    return section(
        "Days off",
        "days-off",
        rx.cond(
            D.days_off.length() == 0,
            rx.text("No days off ahead.", size="2", color=MUTED),
            rx.box(rx.foreach(D.days_off, day_off_item), **FULL),
        ),
        rx.form(
            rx.flex(
                form_field(
                    "Date",
                    rx.input(id="day-off-date", name="day", type="date", required=True),
                    html_for="day-off-date",
                ),
                form_field(
                    "Reason (optional)",
                    rx.input(id="day-off-reason", name="reason", max_length=200, width="100%"),
                    html_for="day-off-reason",
                    flex_grow="1",
                ),
                rx.button("Add day off", type="submit", disabled=D.busy),
                direction=rx.breakpoints(initial="column", sm="row"),
                align=rx.breakpoints(initial="stretch", sm="end"),
                spacing="3",
                **FULL,
            ),
            on_submit=D.add_day_off,
            reset_on_submit=False,
            key=D.form_key,
            **FULL,
        ),
        error_callout(D.day_off_error, id="day-off-error", **FULL),
        notice_for((DAY_OFF,)),
    )


def extra_item(x: ExtraEntry) -> rx.Component:
    return dated_item(
        x.label + " · " + x.hours,
        x.reason,
        D.remove_extra(x.id),
        "extra hours " + x.hours + " on " + x.label,
        {"data-extra-id": x.id},
    )


def extra_section() -> rx.Component:
    return section(
        "Extra hours",
        "extra-hours",
        note("One-off hours on a date, beside that day's weekly hours."),
        rx.cond(
            D.extra.length() == 0,
            rx.text("No extra hours ahead.", size="2", color=MUTED),
            rx.box(rx.foreach(D.extra, extra_item), **FULL),
        ),
        rx.form(
            rx.flex(
                form_field(
                    "Date",
                    rx.input(id="extra-date", name="day", type="date", required=True),
                    html_for="extra-date",
                ),
                rx.hstack(
                    form_field(
                        "From",
                        rx.input(id="extra-start", name="start", **TIME_INPUT),
                        html_for="extra-start",
                    ),
                    form_field(
                        "To",
                        rx.input(id="extra-end", name="end", **TIME_INPUT),
                        html_for="extra-end",
                    ),
                    spacing="3",
                ),
                form_field(
                    "Reason (optional)",
                    rx.input(id="extra-reason", name="reason", max_length=200, width="100%"),
                    html_for="extra-reason",
                    flex_grow="1",
                ),
                rx.button("Add extra hours", type="submit", disabled=D.busy),
                direction=rx.breakpoints(initial="column", sm="row"),
                align=rx.breakpoints(initial="stretch", sm="end"),
                spacing="3",
                wrap="wrap",
                **FULL,
            ),
            on_submit=D.add_extra,
            reset_on_submit=False,
            key=D.form_key,
            **FULL,
        ),
        error_callout(D.extra_error, id="extra-error", **FULL),
        notice_for((EXTRA,)),
    )


def preview_day(p: PreviewEntry) -> rx.Component:
    return rx.box(
        rx.text(p.label, weight="bold", size="2"),
        rx.cond(
            p.slots.length() > 0,
            rx.flex(
                rx.foreach(
                    p.slots,
                    lambda s: rx.badge(
                        s, variant="surface", color_scheme="gray", high_contrast=True
                    ),
                ),
                wrap="wrap",
                spacing="1",
                margin_top="0.3em",
            ),
            rx.text(p.closed, size="1", color=MUTED),
        ),
        padding="0.6em",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="var(--radius-3)",
        background=rx.color("gray", 1),
        custom_attrs={"data-preview-day": p.day, "data-slots": p.slots.length()},
    )


def preview_section() -> rx.Component:
    return section(
        "The next 14 days, as patients see them",
        "preview",
        note(
            "Free slots in the doctor's timezone; taken ones are left out. Refreshed after "
            "every change."
        ),
        rx.grid(
            rx.foreach(D.preview_days, preview_day),
            columns=rx.breakpoints(initial="1", sm="2", md="3"),
            spacing="2",
            **FULL,
        ),
    )


def affected_row(a: AffectedEntry) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(a.patient, weight="medium"),
                rx.text(a.patient_email, size="1", color=MUTED),
                spacing="0",
            ),
        ),
        rx.table.cell(a.when, min_width="10em"),
        rx.table.cell(status_badge(a.status_label, a.status_color, a.status)),
        rx.table.cell(a.price, white_space="nowrap"),
        custom_attrs={"data-booking-id": a.booking_id},
    )


def affected_dialog() -> rx.Component:
    """The bookings a change would strand; the change waits for one of the two choices."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Booked appointments in the way"),
            rx.alert_dialog.description(D.affected_message, id="affected-message"),
            rx.box(
                data_table(
                    ["Patient", "Time (doctor's)", "Status", "Price"],
                    D.affected,
                    affected_row,
                    aria_label="Affected bookings",
                ),
                margin_y="1em",
            ),
            note(
                "Cancelling refunds everything paid, whatever the policy, and emails each patient."
            ),
            rx.flex(
                rx.alert_dialog.cancel(
                    rx.button("Change nothing", variant="soft", color_scheme="gray", type="button"),
                ),
                rx.button(
                    "Keep these bookings",
                    variant="soft",
                    on_click=D.settle("keep"),
                    loading=D.busy,
                    disabled=D.busy,
                    type="button",
                ),
                rx.button(
                    "Cancel them with a full refund",
                    color_scheme="red",
                    on_click=D.settle("cancel"),
                    loading=D.busy,
                    disabled=D.busy,
                    type="button",
                ),
                spacing="3",
                justify="end",
                wrap="wrap",
                margin_top="1em",
            ),
            max_width="44em",
        ),
        open=D.affected.length() > 0,
        on_open_change=D.dialog_open_changed,
    )


def doctor_content() -> rx.Component:
    f = D.facts
    return rx.box(
        rx.link("← All doctors", href=routes.ADMIN_DOCTORS, size="2", high_contrast=True),
        rx.box(height="0.6em"),
        page_heading(f.full_name, f.speciality + " · " + f.zone_label),
        admin_nav(),
        error_callout(D.error, margin_bottom="1em"),
        rx.vstack(
            profile_section(),
            week_section(),
            days_off_section(),
            extra_section(),
            preview_section(),
            spacing="5",
            **FULL,
        ),
        affected_dialog(),
    )


@rx.page(route=routes.ADMIN_DOCTOR, title="Doctor — Admin — Efoy", on_load=D.load_page)
def admin_doctor() -> rx.Component:
    return admin_page(
        D,
        rx.cond(
            D.not_found,
            message_card(
                "Doctor not found",
                "There is no doctor with this number.",
                link_button("All doctors", href=routes.ADMIN_DOCTORS, variant="soft"),
            ),
            doctor_content(),
        ),
    )
