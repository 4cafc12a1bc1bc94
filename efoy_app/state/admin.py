"""The admin overview: bookings and payments, filtered and paged on the server.

The URL is the source of truth: `/admin?tab=payments&status=paid&currency=EUR&page=2` shows
that filter on that page, after a reload, a shared link or Back alike. Every control that changes
the filter or the page navigates to the URL of the new view, and `load_page` (which Reflex runs
on every change of the URL, back and forward included) reads the URL with the API's own rules
(`domain.admin_query`), leaving out and naming what it cannot use. Only the page shown (50 rows)
and its totals are in the state, never a whole table.

Thin: `domain.admin_views` reads the rows and checks the admin role again on every call, so each
handler and on_load re-checks it against the database, never trusting the browser's idea of the
role. Display strings are made here (money by `format_money` inside the domain).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import admin_chart, admin_query, admin_views
from efoy_app.domain.auth import require_role
from efoy_app.domain.doctors import list_doctors
from efoy_app.domain.errors import DomainError, Forbidden
from efoy_app.domain.times import zone
from efoy_app.domain.timezones import zone_label
from efoy_app.models import ROLE_ADMIN, utcnow
from efoy_app.state import statuses
from efoy_app.state.admin_payment import PaymentLine
from efoy_app.state.appointments import BookingRow
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.display import clinic_timezone, when_label
from efoy_app.state.page_status import PageStatus
from efoy_app.state.rows import row_from
from efoy_app.state.statuses import look

TABS = ("bookings", "payments")
PER_PAGE = admin_views.PAGE_SIZE
# The query-string keys of each tab: switching tabs keeps the other tab's.
BOOKING_KEYS = ("booking_status", "booking_page")
CSV_URL = f"{routes.API_ADMIN}/payments.csv"


@dataclasses.dataclass
class AdminBookingRow:
    booking: BookingRow = dataclasses.field(default_factory=BookingRow)
    patient_name: str = ""
    patient_email: str = ""


@dataclasses.dataclass
class AdminPaymentListRow(PaymentLine):
    """One payment as the admin table shows it."""

    has_refunds: bool = False
    href: str = ""

    @classmethod
    def of(cls, row: admin_views.AdminPaymentRow, tz: str) -> AdminPaymentListRow:
        status = look(statuses.PAYMENT, row.status)
        return row_from(
            cls,
            row,
            tz=tz,
            appointment=when_label(row.starts_at, tz),
            amount=row.amount_display,
            refunded=row.refunded_display,
            has_refunds=row.refunded_minor > 0,
            status_label=status.label,
            status_color=status.color,
            href=routes.admin_payment(row.id),
        )


@dataclasses.dataclass
class TotalRow:
    """The totals of one currency for the filter (currencies are never added together)."""

    currency: str = ""
    count: str = ""
    collected: str = ""
    refunded: str = ""
    net: str = ""


@dataclasses.dataclass
class ChartDay:
    """One day of the chart: major units for the bars, display strings for the table."""

    day: str = ""
    taken: float = 0.0
    refunded: float = 0.0
    taken_display: str = ""
    refunded_display: str = ""
    payments: int = 0
    refunds: int = 0


@dataclasses.dataclass
class Choice:
    """One <option> of a filter's select."""

    value: str = ""
    label: str = ""


@dataclasses.dataclass
class FilterForm:
    """What the filter form shows: the URL's filter, as the fields' first values."""

    status: str = ""
    doctor: str = ""
    currency: str = ""
    date_from: str = ""
    date_to: str = ""
    dates: str = admin_query.DATE_WORDS[admin_views.DATE_CREATED]
    flagged: bool = False
    q: str = ""


@dataclasses.dataclass
class PaymentsView:
    """Everything the payments tab shows, read in one worker thread."""

    rows: list[AdminPaymentListRow]
    totals: list[TotalRow]
    count: int
    page: int
    pages: int
    notice: str
    chart: list[ChartDay]
    chart_caption: str
    chart_summary: str


@dataclasses.dataclass
class BookingsView:
    rows: list[AdminBookingRow]
    count: int
    page: int
    pages: int
    notice: str
    status_counts: list[list[str]]


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def range_label(count: int, page: int, word: str) -> str:
    """ "1–50 of 312 payments" (or "No payments")."""
    if count == 0:
        return f"No {word}s"
    first = (page - 1) * PER_PAGE + 1
    last = min(count, page * PER_PAGE)
    return f"{first:,}–{last:,} of {_count(count, word)}"


def _chart_days(chart: admin_chart.PaymentChart) -> list[ChartDay]:
    return [
        ChartDay(
            day=f"{d.day.day} {d.day:%b}",
            taken=chart.major(d.paid_minor),
            refunded=chart.major(d.refunded_minor),
            taken_display=chart.money(d.paid_minor),
            refunded_display=chart.money(d.refunded_minor),
            payments=d.paid_count,
            refunds=d.refunded_count,
        )
        for d in chart.days
    ]


def _chart_text(chart: admin_chart.PaymentChart) -> tuple[str, str]:
    """The chart's caption (what it draws) and its summary in one sentence (its text form)."""
    span = f"{chart.first:%-d %b %Y} to {chart.last:%-d %b %Y}"
    if chart.currency is None:
        return f"Payments and refunds per day, {span}", "No payment matches the filter."
    clipped = f" (the last {admin_chart.MAX_DAYS} days of the range)" if chart.clipped else ""
    caption = (
        f"Payments and refunds per day in {chart.currency} ({chart.currency_reason}), "
        f"{span}{clipped}"
    )
    taken = sum(d.paid_minor for d in chart.days)
    refunded = sum(d.refunded_minor for d in chart.days)
    n_paid = sum(d.paid_count for d in chart.days)
    n_refunds = sum(d.refunded_count for d in chart.days)
    active = sum(1 for d in chart.days if d.paid_count or d.refunded_count)
    summary = (
        f"{_count(n_paid, 'payment')} taken, {chart.money(taken)} in all; "
        f"{_count(n_refunds, 'refund')}, {chart.money(refunded)}; "
        f"on {_count(active, 'day')} of {len(chart.days)}."
    )
    return caption, summary


def _payments(user: SessionUser, f: admin_views.PaymentFilter, page: int) -> PaymentsView:
    with session_scope() as session:
        admin = db_user(session, user)
        tz = clinic_timezone()
        found = admin_views.payment_page(session, admin, f, page, PER_PAGE)
        chart = admin_chart.payment_chart(
            session, admin, f, found.totals, utcnow().astimezone(zone(tz)).date()
        )
        caption, summary = _chart_text(chart)
        return PaymentsView(
            rows=[AdminPaymentListRow.of(r, tz) for r in found.data],
            totals=[
                TotalRow(
                    t.currency, f"{t.count:,}", t.paid_display, t.refunded_display, t.net_display
                )
                for t in found.totals
            ],  # fmt: skip
            count=found.count,
            page=found.page,
            pages=found.pages,
            notice=found.notice,
            chart=_chart_days(chart),
            chart_caption=caption,
            chart_summary=summary,
        )


def _bookings(user: SessionUser, f: admin_views.BookingFilter, page: int) -> BookingsView:
    with session_scope() as session:
        admin = db_user(session, user)
        tz = clinic_timezone()
        found = admin_views.booking_page(session, admin, f, page, PER_PAGE)
        counts = admin_views.booking_status_counts(session, admin)
        order = [s for s in statuses.BOOKING if s in counts]
        order += sorted(s for s in counts if s not in statuses.BOOKING)
        return BookingsView(
            rows=[
                AdminBookingRow(
                    booking=BookingRow.of(v.booking, tz),
                    patient_name=v.patient_name,
                    patient_email=v.patient_email,
                )
                for v in found.data
            ],
            count=found.count,
            page=found.page,
            pages=found.pages,
            notice=found.notice,
            status_counts=[[look(statuses.BOOKING, s).label, f"{counts[s]:,}"] for s in order],
        )


def _check_admin(user: SessionUser) -> None:
    """Forbidden unless the user is an admin now (in the database, not in the browser)."""
    with session_scope() as session:
        require_role(db_user(session, user), ROLE_ADMIN)


def _choices(user: SessionUser) -> tuple[list[Choice], list[Choice]]:
    """The doctor and currency selects' options (the doctors' own currencies)."""
    with session_scope() as session:
        require_role(db_user(session, user), ROLE_ADMIN)
        doctors = list_doctors(session)
    currencies = sorted({d.currency for d in doctors})
    return (
        [Choice(str(d.id), d.full_name) for d in doctors],
        [Choice(c, c) for c in currencies],
    )


def _query_of(params: Mapping[str, object]) -> dict[str, str]:
    return {str(k): str(v) for k, v in params.items()}


class ClinicClock(rx.State):
    """The clinic's timezone as the admin pages name it, e.g. "Addis Ababa — East Africa Time
    (UTC+03:00)"."""

    @rx.var
    def zone(self) -> str:
        tz = clinic_timezone()
        return zone_label(tz, utcnow())


class AdminState(AuthState, PageStatus):
    """State of /admin; the role is checked against the database on every load and action."""

    tab: str = "bookings"
    # Bookings tab
    rows: list[AdminBookingRow] = []
    status_counts: list[list[str]] = []
    booking_status: str = ""
    booking_count_label: str = ""
    booking_page_label: str = ""
    booking_prev_href: str = ""
    booking_next_href: str = ""
    booking_notice: str = ""
    # Payments tab
    payments: list[AdminPaymentListRow] = []
    totals: list[TotalRow] = []
    form: FilterForm = FilterForm()
    form_key: str = ""  # the filter's query string: the form is drawn anew when it changes
    doctor_choices: list[Choice] = []
    currency_choices: list[Choice] = []
    problems: list[str] = []  # parts of the URL that were left out, and why
    page_notice: str = ""
    count_label: str = ""
    page_label: str = ""
    prev_href: str = ""
    next_href: str = ""
    chart: list[dict[str, Any]] = []  # {day, taken, refunded} per day, for the bars
    chart_table: list[ChartDay] = []  # the days with a payment or a refund, for the table
    chart_caption: str = ""
    chart_summary: str = ""
    csv_query: str = ""
    csv_message: str = ""
    _query: dict[str, str] = {}

    @rx.var
    def flagged_count(self) -> int:
        return sum(1 for p in self.payments if p.flagged)

    def _url(self, **changes: str | None) -> str:
        """/admin with the current query string changed by `changes` (None removes a key)."""
        query = dict(self._query)
        for key, value in changes.items():
            if value is None or value == "":
                query.pop(key, None)
            else:
                query[key] = value
        return f"{routes.ADMIN}?{urlencode(query)}" if query else routes.ADMIN

    def _refuse(self) -> None:
        self.rows, self.payments, self.totals, self.chart = [], [], [], []
        self.chart_table = []
        self.forbidden = True

    @rx.event
    async def load_page(self) -> EventSpec | None:
        """on_load, and on every change of the URL: read it, then load the shown tab."""
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        self._query = _query_of(self.router.url.query_parameters)
        tab = self._query.get("tab", "")
        self.tab = tab if tab in TABS else "bookings"
        self.csv_message = ""
        try:
            if self.tab == "payments":
                await self._load_payments(user)
            else:
                await self._load_bookings(user)
            self.forbidden = False
        except Forbidden:
            self._refuse()
        self.loaded = True
        return None

    async def _load_payments(self, user: SessionUser) -> None:
        read = admin_query.lenient_payment_filter(self._query, clinic_timezone())
        f = read.filters
        page, page_problem = admin_query.parse_page(self._query.get("page"))
        problems = list(read.problems) + ([page_problem] if page_problem else [])
        try:
            view = await asyncio.to_thread(_payments, user, f, page)
        except Forbidden:
            raise
        except DomainError as exc:  # a filter the rules let through but the query refused
            problems.append(f"Ignored the filter: {exc.message}")
            f = admin_views.PaymentFilter(tz=f.tz)
            view = await asyncio.to_thread(_payments, user, f, 1)
        doctors, currencies = await asyncio.to_thread(_choices, user)
        self.doctor_choices, self.currency_choices = doctors, currencies
        self.payments, self.totals = view.rows, view.totals
        self.problems, self.page_notice = problems, view.notice
        self.count_label = range_label(view.count, view.page, "payment")
        self.page_label = f"Page {view.page} of {view.pages}"

        def at(p: int) -> str:
            return f"{routes.ADMIN}?{admin_query.page_query(f, page=p, extra=self._booking_keys())}"

        self.prev_href = at(view.page - 1) if view.page > 1 else ""
        self.next_href = at(view.page + 1) if view.page < view.pages else ""
        self.chart = [{"day": d.day, "taken": d.taken, "refunded": d.refunded} for d in view.chart]
        self.chart_table = [d for d in view.chart if d.payments or d.refunds]
        self.chart_caption = view.chart_caption
        self.chart_summary = view.chart_summary
        self.csv_query = urlencode(admin_query.filter_params(f))
        self.form_key = admin_query.page_query(f)
        self.form = FilterForm(
            status=f.status or "",
            doctor=str(f.doctor_id or ""),
            currency=f.currency or "",
            date_from=f.date_from.isoformat() if f.date_from else "",
            date_to=f.date_to.isoformat() if f.date_to else "",
            dates=admin_query.DATE_WORDS[f.date_field],
            flagged=f.flagged,
            q=f.q or "",
        )
        if f.currency and f.currency not in {c.value for c in currencies}:
            self.currency_choices = [*currencies, Choice(f.currency, f.currency)]

    def _booking_keys(self) -> dict[str, str]:
        return {k: self._query[k] for k in BOOKING_KEYS if self._query.get(k)}

    async def _load_bookings(self, user: SessionUser) -> None:
        problems: list[str] = []
        raw_status = self._query.get("booking_status", "")
        try:
            status = admin_query.parse_booking_status(raw_status)
        except DomainError as exc:
            status = None
            problems.append(f"Ignored status “{raw_status[:40]}”: {exc.message}")
        page, page_problem = admin_query.parse_page(self._query.get("booking_page"))
        problems += [page_problem] if page_problem else []
        view = await asyncio.to_thread(
            _bookings, user, admin_views.BookingFilter(status=status), page
        )
        self.rows, self.status_counts = view.rows, view.status_counts
        self.booking_status = status or ""
        self.booking_count_label = range_label(view.count, view.page, "booking")
        self.booking_page_label = f"Page {view.page} of {view.pages}"
        self.booking_notice = " ".join([*problems, view.notice]).strip()

        def at(p: int) -> str:
            return self._url(booking_page=str(p) if p > 1 else None)

        self.booking_prev_href = at(view.page - 1) if view.page > 1 else ""
        self.booking_next_href = at(view.page + 1) if view.page < view.pages else ""

    @rx.event
    def set_tab(self, tab: str) -> EventSpec | None:
        """A tab is part of the URL too (so Back returns to it)."""
        if tab not in TABS or tab == self.tab:
            return None
        self.tab = tab
        return rx.redirect(self._url(tab=tab))

    @rx.event
    def apply_filters(self, form: dict[str, str]) -> EventSpec | None:
        """Apply: go to the URL of the form's filter, page 1 (load_page then reads it)."""
        values = {**form, "flagged": "1" if self.form.flagged else ""}
        read = admin_query.lenient_payment_filter(values, clinic_timezone())
        if read.problems:
            self.problems = list(read.problems)
            return None
        query = admin_query.page_query(read.filters, extra=self._booking_keys())
        return rx.redirect(f"{routes.ADMIN}?{query}")

    @rx.event
    def set_flagged(self, checked: bool) -> EventSpec:
        """ "Flagged only" applies at once (with the filter of the URL), from page 1."""
        return rx.redirect(self._url(tab="payments", flagged="1" if checked else None, page=None))

    @rx.event
    def set_booking_status(self, status: str) -> EventSpec:
        return rx.redirect(self._url(tab="bookings", booking_status=status, booking_page=None))

    @rx.event
    async def download_csv(self) -> EventSpec | None:
        """Download CSV: the browser fetches the CSV route with its own bearer token (kept in
        localStorage, sent in the Authorization header, never in a URL) and saves the file."""
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        try:
            await asyncio.to_thread(_check_admin, user)
        except Forbidden:
            self._refuse()
            return None
        url = f"{CSV_URL}?{self.csv_query}" if self.csv_query else CSV_URL
        name = f"payments-{datetime.now(zone(clinic_timezone())):%Y-%m-%d}.csv"
        self.csv_message = "Preparing the CSV file…"
        return rx.call_script(
            _DOWNLOAD_SCRIPT % {"url": json.dumps(url), "name": json.dumps(name)},
            callback=AdminState.csv_done,
        )

    @rx.event
    def csv_done(self, result: str) -> None:
        text = str(result or "")
        if text == "ok":
            self.csv_message = "The CSV file has been downloaded."
        elif text == "401":
            self.csv_message = "Your session has ended. Please log in again."
        else:
            self.csv_message = f"The CSV file could not be made ({text[:80] or 'no answer'})."


# Runs in the browser: fetch with the bearer header, save the body under `name`.
_DOWNLOAD_SCRIPT = """(async () => {
  try {
    const token = window.localStorage.getItem("efoy_auth_token") || "";
    const answer = await fetch(%(url)s, {headers: {Authorization: "Bearer " + token}});
    if (!answer.ok) { return String(answer.status); }
    const blob = await answer.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = %(name)s;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    return "ok";
  } catch (e) { return "network error"; }
})()"""
