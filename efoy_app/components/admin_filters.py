"""The /admin lists' controls: the payment filter form, totals per currency, the chart of money
per day with its text form, pagers and the bookings' status filter.

Every control leads to a URL (`AdminState` navigates; the pager is plain links), so what is shown
is always what the address bar says. The form's fields start from the URL's filter and are drawn
anew (`key`) whenever the URL's filter changes, so Back shows the filter it returns to.
"""

from __future__ import annotations

import reflex as rx

from efoy_app.components.admin import MUTED, data_table, note
from efoy_app.components.layout import wrap_row
from efoy_app.domain.admin_query import BOOKING_STATUSES, DATE_WORDS
from efoy_app.domain.admin_views import DATE_CREATED, DATE_PAID, PAYMENT_STATUSES
from efoy_app.state import statuses
from efoy_app.state.admin import AdminState, ChartDay, TotalRow

S = AdminState
SELECT_STYLE = {
    "height": "36px",
    "padding": "0 0.75em",
    "border_radius": "var(--radius-3)",
    "border": f"1px solid {rx.color('gray', 8)}",
    "background": rx.color("gray", 1),
    "color": rx.color("gray", 12),
    "font_size": "var(--font-size-2)",
    "min_width": "9em",
    "max_width": "100%",
}
TAKEN_COLOR = rx.color("grass", 9)
REFUNDED_COLOR = rx.color("orange", 9)


def labelled(label: str, control: rx.Component, html_for: str) -> rx.Component:
    return rx.vstack(
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for=html_for),
        control,
        spacing="1",
        max_width="100%",
    )


def _options(any_label: str, fixed: list[tuple[str, str]]) -> list[rx.Component]:
    return [rx.el.option(any_label, value=""), *(rx.el.option(t, value=v) for v, t in fixed)]


def _select(
    name: str, html_id: str, value: rx.Var, *options: rx.Component, **props: object
) -> rx.Component:
    return rx.el.select(
        *options, id=html_id, name=name, default_value=value, style=SELECT_STYLE, **props
    )


def filter_form() -> rx.Component:
    """Status, doctor, currency, dates and a search: Apply goes to the URL of that filter."""
    status_options = [(s, statuses.PAYMENT[s].label) for s in PAYMENT_STATUSES]
    fields = wrap_row(
        labelled(
            "Status",
            _select("status", "filter-status", S.form.status, *_options("Any", status_options)),
            "filter-status",
        ),
        labelled(
            "Doctor",
            _select(
                "doctor",
                "filter-doctor",
                S.form.doctor,
                rx.el.option("Any", value=""),
                rx.foreach(S.doctor_choices, lambda c: rx.el.option(c.label, value=c.value)),
            ),
            "filter-doctor",
        ),
        labelled(
            "Currency",
            _select(
                "currency",
                "filter-currency",
                S.form.currency,
                rx.el.option("Any", value=""),
                rx.foreach(S.currency_choices, lambda c: rx.el.option(c.label, value=c.value)),
            ),
            "filter-currency",
        ),
        labelled(
            "Dates apply to",
            _select(
                "dates",
                "filter-dates",
                S.form.dates,
                rx.el.option("Created", value=DATE_WORDS[DATE_CREATED]),
                rx.el.option("Paid", value=DATE_WORDS[DATE_PAID]),
            ),
            "filter-dates",
        ),
        labelled(
            "From",
            rx.input(
                type="date",
                id="filter-from",
                name="from",
                default_value=S.form.date_from,
                min="2000-01-01",
                max="2199-12-31",
            ),
            "filter-from",
        ),  # fmt: skip
        labelled(
            "To",
            rx.input(
                type="date",
                id="filter-to",
                name="to",
                default_value=S.form.date_to,
                min="2000-01-01",
                max="2199-12-31",
            ),
            "filter-to",
        ),  # fmt: skip
        labelled(
            "Search",
            rx.input(
                id="filter-q",
                name="q",
                default_value=S.form.q,
                max_length=200,
                placeholder="Email, booking #12, cs_… or pi_…",
                min_width="16em",
            ),
            "filter-q",
        ),
        align="end",
    )
    buttons = wrap_row(
        rx.button("Apply", type="submit"),
        rx.button(
            rx.link("Clear", href="/admin?tab=payments", underline="none"),
            as_child=True,
            variant="soft",
            color_scheme="gray",
        ),
        rx.checkbox(
            "Flagged only",
            checked=S.form.flagged,
            on_change=S.set_flagged,
            size="2",
        ),
        align="center",
    )
    return rx.form(
        rx.vstack(fields, buttons, spacing="3", width="100%"),
        key=S.form_key,
        on_submit=S.apply_filters,
        reset_on_submit=False,
        id="payment-filters",
        aria_label="Filter payments",
        role="search",
        width="100%",
    )


def problems() -> rx.Component:
    """What of the URL was left out, and why (never an error page)."""
    return rx.cond(
        (S.problems.length() > 0) | (S.page_notice != ""),  # type: ignore[attr-defined]
        rx.callout(
            rx.vstack(
                rx.foreach(S.problems, lambda p: rx.text(p)),
                rx.cond(S.page_notice != "", rx.text(S.page_notice)),
                spacing="1",
            ),
            icon="info",
            color_scheme="amber",
            role="status",
            id="filter-problems",
            margin_top="1em",
        ),
    )


def pager(
    label: rx.Var,
    page_label: rx.Var,
    prev_href: rx.Var,
    next_href: rx.Var,
    *,
    name: str,
    html_id: str,
) -> rx.Component:
    """ "1–50 of 312 payments", Previous, "Page 2 of 7", Next (links, so pages are URLs)."""

    def step(text: str, href: rx.Var) -> rx.Component:
        return rx.cond(
            href != "",
            rx.link(text, href=href, weight="medium"),
            rx.text(text, color=MUTED, aria_disabled="true"),
        )

    return rx.el.nav(
        wrap_row(
            rx.text(label, size="2", class_name="range-label"),
            rx.spacer(),
            step("Previous", prev_href),
            rx.text(page_label, size="2", class_name="page-label"),
            step("Next", next_href),
            align="center",
            width="100%",
        ),
        aria_label=name,
        id=html_id,
        style={"width": "100%", "margin": "0.75em 0"},
    )


def total_row(t: TotalRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(t.currency),
        rx.table.cell(t.count),
        rx.table.cell(t.collected, class_name="collected"),
        rx.table.cell(t.refunded, class_name="refunded"),
        rx.table.cell(t.net, class_name="net", font_weight="bold"),
        custom_attrs={"data-currency": t.currency},
    )


def totals_table() -> rx.Component:
    """Collected, refunded and net per currency for the whole filter (never added across)."""
    return rx.cond(
        S.totals.length() > 0,  # type: ignore[attr-defined]
        rx.box(
            rx.heading("Totals for this filter", as_="h2", size="3", margin_bottom="0.5em"),
            rx.box(
                data_table(
                    ["Currency", "Payments", "Collected", "Refunded", "Net"],
                    S.totals,
                    total_row,
                    aria_label="Totals per currency",
                    size="1",
                ),
                id="payment-totals",
            ),
            note("Collected: payments taken, refunded since or not. Net: collected less refunded."),
            width="100%",
        ),
    )


def chart_row(d: ChartDay) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(d.day),
        rx.table.cell(d.payments),
        rx.table.cell(d.taken_display),
        rx.table.cell(d.refunds),
        rx.table.cell(d.refunded_display),
    )


def payments_chart() -> rx.Component:
    """Bars of money taken and refunded per day; the same figures as a sentence and a table."""
    chart = rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.x_axis(data_key="day", min_tick_gap=12),
        rx.recharts.y_axis(width=64),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        rx.recharts.bar(data_key="taken", name="Taken", fill=TAKEN_COLOR),
        rx.recharts.bar(data_key="refunded", name="Refunded", fill=REFUNDED_COLOR),
        data=S.chart,
        width="100%",
        height=240,
        # No tab stop inside the picture: its figures are in the table under it.
        custom_attrs={"accessibilityLayer": False},
    )
    return rx.el.figure(
        rx.heading("Money per day", as_="h2", size="3"),
        rx.el.figcaption(
            rx.text(S.chart_caption, size="2", id="chart-caption"),
            rx.text(S.chart_summary, size="2", color=MUTED, id="chart-summary"),
        ),
        rx.box(
            chart,
            role="img",
            aria_label=S.chart_caption + ". " + S.chart_summary,
            width="100%",
            min_width="0",
        ),
        rx.el.details(
            rx.el.summary(rx.text("The chart's figures as a table", size="2", as_="span")),
            rx.cond(
                S.chart_table.length() > 0,  # type: ignore[attr-defined]
                data_table(
                    ["Day", "Payments", "Taken", "Refunds", "Refunded"],
                    S.chart_table,
                    chart_row,
                    aria_label="Money per day",
                    size="1",
                ),
                note("No payment or refund on these days."),
            ),
        ),
        id="payments-chart",
        style={"margin": "1em 0", "width": "100%"},
    )


def csv_control() -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.icon("download", size=16),
            "Download CSV",
            on_click=S.download_csv,
            variant="outline",
            type="button",
        ),
        rx.text(S.csv_message, size="2", color=MUTED, role="status", id="csv-status"),
        align="center",
        spacing="3",
        wrap="wrap",
    )


def booking_status_filter() -> rx.Component:
    options = [(s, statuses.BOOKING[s].label) for s in BOOKING_STATUSES]
    return rx.hstack(
        rx.el.label(
            rx.text("Booking status", size="2", weight="medium"), html_for="booking-status"
        ),
        rx.el.select(
            *_options("Any", options),
            id="booking-status",
            value=S.booking_status,
            on_change=S.set_booking_status,
            style=SELECT_STYLE,
        ),
        align="center",
        spacing="2",
        margin_bottom="1em",
        wrap="wrap",
    )
