"""/admin's payments and bookings in Chromium: the filter form writes the URL, the URL is what is
shown (after a reload and Back too), the pager moves, Download CSV saves the filtered rows, and a
URL with bad values still gives a page that says what it left out.

One payment is paid the way a patient pays (REST, then the sandbox's Checkout); sixty more are
written straight into the server's database for a patient made here, for the pager.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import col, delete, select

from efoy_app.models import Booking, Doctor, Payment, User, utcnow
from tests.e2e.conftest import AppServer
from tests.e2e.test_admin import _book, _checkout_paid, _patient
from tests.e2e.ui import DEMO_ADMIN, log_in

TAG = f"pager{uuid.uuid4().hex[:6]}"
MANY = 60


def _query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


@pytest.fixture(scope="module")
def paid(app_server: AppServer) -> tuple[Payment, str]:
    email, headers = _patient(app_server)
    booking = _book(app_server, headers, "EUR")
    return _checkout_paid(app_server, headers, booking["id"]), email


@pytest.fixture(scope="module")
def many(app_server: AppServer) -> Iterator[list[int]]:
    """MANY paid USD payments of one patient, a minute apart (newest last); removed afterwards,
    so later tests see the demo data's bookings as they were."""
    with app_server.session() as s:
        user = User(email=f"{TAG}@example.test", password_hash="!", full_name="Pager Patient")
        s.add(user)
        s.commit()
        doctor = s.exec(select(Doctor).where(Doctor.currency == "USD")).first()
        assert doctor is not None
        ids = []
        for i in range(MANY):
            starts = utcnow() + timedelta(days=400, hours=i)
            b = Booking(patient_id=user.id, doctor_id=doctor.id, starts_at=starts,
                        ends_at=starts + timedelta(minutes=30), status="completed",
                        price_minor=1000 + i, currency="USD")  # fmt: skip
            s.add(b)
            s.flush()
            at = utcnow() - timedelta(days=2, minutes=MANY - i)
            p = Payment(booking_id=b.id, kind="checkout", status="paid", amount_minor=1000 + i,
                        currency="USD", created_at=at, paid_at=at)  # fmt: skip
            s.add(p)
            s.flush()
            ids.append(p.id)
        s.commit()
        user_id = user.id
    yield ids
    with app_server.session() as s:
        s.exec(delete(Payment).where(col(Payment.id).in_(ids)))
        s.exec(delete(Booking).where(col(Booking.patient_id) == user_id))
        s.exec(delete(User).where(col(User.id) == user_id))
        s.commit()


def test_an_admin_filters_to_a_paid_booking_and_downloads_it(
    app_server: AppServer, page: Page, paid: tuple[Payment, str]
) -> None:
    payment, email = paid
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin?tab=payments")
    form = page.get_by_role("search", name="Filter payments")
    form.get_by_label("Status").select_option("paid")
    form.get_by_label("Currency").select_option("EUR")
    form.get_by_label("Search").fill(email)
    form.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"status=paid"))
    assert _query(page) == {
        "tab": ["payments"], "status": ["paid"], "currency": ["EUR"], "q": [email],
    }  # fmt: skip
    row = page.locator(f'tr[data-payment-id="{payment.id}"]')

    def shows_only_it() -> None:
        expect(row).to_be_visible()
        expect(page.locator("tr[data-payment-id]")).to_have_count(1)
        expect(page.locator("#payments-pager .range-label")).to_have_text("1–1 of 1 payment")
        expect(page.locator("#payments-pager .page-label")).to_have_text("Page 1 of 1")
        totals = page.locator('#payment-totals tr[data-currency="EUR"]')
        expect(totals.locator(".collected")).to_have_text(
            re.compile(rf"€{payment.amount_minor // 100}\.{payment.amount_minor % 100:02d}")
        )
        expect(page.locator("#payment-totals tr[data-currency]")).to_have_count(1)
        expect(page.locator("#chart-caption")).to_contain_text("in EUR (the filter's currency)")
        expect(page.locator("#chart-summary")).to_contain_text("1 payment taken")

    shows_only_it()
    chart = page.get_by_role("img", name=re.compile(r"^Payments and refunds per day in EUR"))
    expect(chart).to_be_visible()
    expect(chart.locator(".recharts-wrapper")).to_have_count(1)
    expect(chart.locator('[tabindex]:not([tabindex="-1"])')).to_have_count(0)  # no tab stop
    page.reload()
    shows_only_it()
    expect(form.get_by_label("Search")).to_have_value(email)
    expect(form.get_by_label("Status")).to_have_value("paid")
    expect(form.get_by_label("Currency")).to_have_value("EUR")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    saved = download.value
    assert saved.suggested_filename.startswith("payments-") and saved.suggested_filename.endswith(
        ".csv"
    )
    with open(saved.path(), encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    got = [(int(r["payment_id"]), r["status"], r["currency"], r["patient_email"]) for r in rows]
    assert got == [(payment.id, "paid", "EUR", email)]
    assert int(rows[0]["amount_minor"]) == payment.amount_minor
    expect(page.locator("#csv-status")).to_have_text("The CSV file has been downloaded.")

    page.get_by_role("link", name="Clear").click()
    expect(page).to_have_url(re.compile(r"/admin\?tab=payments$"))
    expect(form.get_by_label("Search")).to_have_value("")
    expect(page.locator("tr[data-payment-id]").first).to_be_visible()
    page.go_back()
    expect(form.get_by_label("Search")).to_have_value(email)
    expect(page.locator("tr[data-payment-id]")).to_have_count(1)


def test_the_pager_moves_and_back_returns(app_server: AppServer, page: Page, many: list[int]):
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin?tab=payments&q={TAG}")
    pager = page.get_by_role("navigation", name="Payments pages")
    expect(pager.locator(".range-label")).to_have_text(f"1–50 of {MANY} payments")
    expect(pager.locator(".page-label")).to_have_text("Page 1 of 2")
    rows = page.locator("tr[data-payment-id]")
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_attribute("data-payment-id", str(many[-1]))  # newest first
    expect(pager.get_by_role("link", name="Previous")).to_have_count(0)
    pager.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(pager.locator(".range-label")).to_have_text(f"51–{MANY} of {MANY} payments")
    expect(rows).to_have_count(MANY - 50)
    expect(rows.last).to_have_attribute("data-payment-id", str(many[0]))
    expect(pager.get_by_role("link", name="Next")).to_have_count(0)
    page.reload()
    expect(pager.locator(".page-label")).to_have_text("Page 2 of 2")
    page.go_back()
    expect(pager.locator(".page-label")).to_have_text("Page 1 of 2")
    expect(rows).to_have_count(50)
    with app_server.session() as s:
        total = sum(
            p.amount_minor for p in s.exec(select(Payment).where(col(Payment.id).in_(many)))
        )
    totals = page.locator('#payment-totals tr[data-currency="USD"]')
    expect(totals.locator(".collected")).to_have_text(f"${total / 100:,.2f}")
    expect(totals.locator(".net")).to_have_text(f"${total / 100:,.2f}")


def test_bad_values_in_the_url_give_a_page_that_says_so(
    app_server: AppServer, page: Page, many: list[int]
) -> None:
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin?tab=payments&status=lost&from=2026-13-45&page=abc&q={TAG}")
    problems = page.locator("#filter-problems")
    expect(problems).to_contain_text("Ignored status “lost”")
    expect(problems).to_contain_text("Ignored from “2026-13-45”")
    expect(problems).to_contain_text("Ignored page “abc”")
    expect(page.locator("#payments-pager .page-label")).to_have_text("Page 1 of 2")
    page.goto(f"{app_server.url}/admin?tab=payments&q={TAG}&page={2**64}")
    expect(problems).to_contain_text("There is no page that far; showing page 2 of 2.")
    expect(page.locator("tr[data-payment-id]")).to_have_count(MANY - 50)
    page.goto(f"{app_server.url}/admin?tab=payments&q=%FF%FE&currency=%00")
    expect(problems).to_contain_text("Ignored currency")
    expect(page.locator("#payments-pager .range-label")).to_have_text("No payments")
    expect(page.get_by_text("No payments match this filter.")).to_be_visible()


def test_bookings_tab_is_paged_and_filtered_by_status(app_server: AppServer, page: Page, many):
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin")
    pager = page.get_by_role("navigation", name="Bookings pages")
    with app_server.session() as s:
        n = len(s.exec(select(Booking.id)).all())
        completed = len(s.exec(select(Booking.id).where(Booking.status == "completed")).all())
    assert n > 50
    expect(pager.locator(".range-label")).to_have_text(f"1–50 of {n} bookings")
    expect(page.locator("tr[data-booking-id]")).to_have_count(50)
    pager.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"booking_page=2"))
    expect(pager.locator(".page-label")).to_have_text(f"Page 2 of {-(-n // 50)}")
    page.get_by_label("Booking status").select_option("completed")
    expect(page).to_have_url(re.compile(r"booking_status=completed"))
    assert "booking_page" not in _query(page)
    expect(pager.locator(".range-label")).to_contain_text(f"of {completed} booking")
    expect(page.locator("tr[data-booking-id] .status").first).to_have_text("Completed")
    page.get_by_role("tab", name="Payments").click()
    expect(page).to_have_url(re.compile(r"tab=payments"))
    expect(page.get_by_role("search", name="Filter payments")).to_be_visible()
    page.go_back()
    expect(page.get_by_label("Booking status")).to_have_value("completed")
