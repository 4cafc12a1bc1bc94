"""A newcomer's first look at the admin pages: the demo seed's payments, bookings and webhook
event, a refund of the seeded paid payment through the confirm dialog, tables on a phone, the
audit trail in words, times in the clinic's timezone, and the page-local accessibility rules.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import col, func, select

from efoy_app.domain.money import format_money
from efoy_app.launcher import DEMO_CLINIC_TIMEZONE, ROOT, SANDBOX_SECRET_KEY
from efoy_app.models import Booking, Payment, Refund, User, WebhookEvent
from efoy_app.seed import DEMO_PATIENT_EMAIL, FAILED_EVENT_ID, RIVAL_EMAIL
from tests.e2e.axe import report, serious_violations
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, log_in

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
WHEN = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} EAT$")


def _seeded(server: AppServer) -> dict[str, Payment]:
    """The demo patient's seeded payments: "paid" (EUR, refunded by a test below),
    "partially_refunded" (ETB) and "flagged" (USD)."""
    with server.session() as s:
        patient = s.exec(select(User).where(User.email == DEMO_PATIENT_EMAIL)).one()
        rows = s.exec(
            select(Payment)
            .join(Booking, col(Booking.id) == col(Payment.booking_id))
            .where(Booking.patient_id == patient.id)
            .order_by(col(Payment.id))
        ).all()
    names = {"EUR": "paid", "ETB": "partially_refunded", "USD": "flagged"}
    return {names[p.currency]: p for p in rows}


@pytest.fixture
def admin_page(app_server: AppServer, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    log_in(page, app_server.url, *DEMO_ADMIN)
    yield page
    context.close()


def test_the_demo_seed_shows_what_the_admin_pages_are_for(
    app_server: AppServer, admin_page: Page
) -> None:
    page = admin_page
    seeded = _seeded(app_server)
    assert sorted(seeded) == ["flagged", "paid", "partially_refunded"]
    paid, partly, flagged = seeded["paid"], seeded["partially_refunded"], seeded["flagged"]
    assert (paid.status, partly.status, flagged.flagged) == ("paid", "partially_refunded", True)
    assert (paid.currency, paid.card_brand, paid.card_last4) == ("EUR", "visa", "4242")
    assert partly.amount_refunded_minor == partly.amount_minor // 2
    assert (flagged.status, flagged.amount_refunded_minor) == ("refunded", flagged.amount_minor)

    page.goto(f"{app_server.url}/admin?tab=payments")
    row = page.locator(f'tr[data-payment-id="{paid.id}"]')
    expect(row.locator(".payment-status")).to_have_text("Paid")
    expect(row.locator(".amount")).to_have_text(format_money(paid.amount_minor, "EUR"))
    expect(row).to_contain_text("Demo Patient")
    row = page.locator(f'tr[data-payment-id="{partly.id}"]')
    expect(row.locator(".payment-status")).to_have_text("Partially refunded")
    expect(row.locator(".refunded")).to_have_text(
        format_money(partly.amount_refunded_minor, partly.currency)
    )
    row = page.locator(f'tr[data-payment-id="{flagged.id}"]')
    expect(row.locator(".payment-status")).to_have_text("Refunded")
    expect(row.get_by_text("Flagged", exact=True)).to_be_visible()
    # Appointment times are in the clinic's zone (the demo's: Addis Ababa), the zone named.
    zone_note = page.locator(".zone-note").first
    expect(zone_note).to_contain_text("Addis Ababa — East Africa Time (UTC+03:00)")

    # Bookings: the demo patient's past ones too; counters are labels, never raw values.
    page.get_by_role("tab", name="Bookings").click()
    counters = page.locator(".status-count")
    expect(counters.filter(has_text="Completed")).to_have_count(1)
    expect(counters.filter(has_text="Cancelled")).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text("partially_refunded")
    with app_server.session() as s:
        [done] = s.exec(select(Booking).where(Booking.status == "completed")).all()
        starts_at = datetime.fromisoformat(str(done.starts_at)).replace(tzinfo=ZoneInfo("UTC"))
    local = starts_at.astimezone(ZoneInfo(DEMO_CLINIC_TIMEZONE))
    past_row = page.locator(f'tr[data-booking-id="{done.id}"]')
    expect(past_row).to_contain_text(f"{local:%a} {local.day} {local:%b %Y, %H:%M} EAT")
    expect(past_row.locator(".status")).to_have_text("Completed")

    # The failed webhook event, with its error, as a label.
    page.get_by_role("link", name="Webhook events").click()
    event = page.locator(f'tr[data-event-id="{FAILED_EVENT_ID}"]')
    expect(event.locator(".status")).to_have_text("Failed")
    expect(event.locator(".error")).to_have_text("NotFound: Refund event without a payment intent.")
    expect(event.locator(".type > *")).to_have_attribute("title", FAILED_EVENT_ID)
    options = page.get_by_label("Status").locator("option")
    expect(options.filter(has_text=re.compile(r"^Failed \(\d+\)$"))).to_have_count(1)


def test_the_audit_trail_reads_as_sentences_with_names_in_the_clinics_time(
    app_server: AppServer, admin_page: Page
) -> None:
    page = admin_page
    partly = _seeded(app_server)["partially_refunded"]
    page.goto(f"{app_server.url}/admin/payments/{partly.id}")
    audit = page.locator("#audit-trail")
    half = format_money(partly.amount_minor // 2, partly.currency)
    requested = audit.locator("tr[data-audit-id]").filter(has_text="Refund requested")
    expect(requested.locator(".why")).to_have_text(
        f"A refund of {half} was asked for: The consultation was cut short; half the fee back."
    )
    expect(requested.locator(".actor-name")).to_have_text("Demo Admin")
    expect(requested.locator(".actor-name")).to_have_attribute("title", "admin@example.com")
    expect(requested.locator(".change")).to_have_text("— → Pending")
    moved = audit.locator("tr[data-audit-id]").filter(has_text="Paid → Partially refunded")
    expect(moved.locator(".why")).to_have_text("The refunds on this payment changed.")
    expect(moved.locator(".actor-name")).to_have_text("Automatic refunds")
    expect(audit).not_to_contain_text("{")
    expect(audit).not_to_contain_text("user:")
    expect(audit).not_to_contain_text("partially_refunded")
    # Every time in one format, in the clinic's zone; the seconds are in the tooltip.
    times = audit.locator(".at > *")
    assert times.count() >= 6
    for text in times.all_inner_texts():
        assert WHEN.match(text), text
    expect(times.first).to_have_attribute("title", re.compile(r", \d{2}:\d{2}:\d{2} EAT$"))


def test_refunding_the_seeded_payment_goes_through_the_confirm_dialog(
    app_server: AppServer, admin_page: Page
) -> None:
    page = admin_page
    paid = _seeded(app_server)["paid"]
    page.goto(f"{app_server.url}/admin/payments/{paid.id}")
    page.get_by_role("radio", name="Other amount").click()
    amount, reason = page.get_by_label("Amount (EUR)"), page.get_by_label("Reason")
    form_width = page.locator("#refunds-ledger").bounding_box()["width"]
    assert reason.bounding_box()["width"] > form_width * 0.8  # full width, not 70 px

    reason.fill("Demo: the patient was seen late")
    for typed, message in (
        ("30,50", '"30,50" could be read two ways. Write the amount with a point for the '
         "decimals and no thousands separator, e.g. 30.50."),
        ("1,234", '"1,234" could be read two ways. Write the amount with a point for the '
         "decimals and no thousands separator, e.g. 30.50."),
        ("30.505", "EUR amounts have at most 2 decimal places; '30.505' has 3."),
        ("-5", "The amount must not be negative."),
        ("0", "A refund must be more than zero."),
        ("99999999999999999999", "That amount is too large."),
        ("500.00", f"A refund of €500.00 is more than the "
         f"{format_money(paid.amount_minor, 'EUR')} left to refund on this payment."),
    ):  # fmt: skip
        amount.fill(typed)
        page.get_by_role("button", name="Refund", exact=True).click()
        expect(page.locator("#refund-error")).to_have_text(message)
        expect(page.get_by_role("alertdialog")).to_have_count(0)
    # Changing the form clears the old error.
    amount.fill("30.50")
    expect(page.locator("#refund-error")).to_have_count(0)

    page.get_by_role("button", name="Refund", exact=True).click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog.locator("#refund-question")).to_have_text("Refund €30.50 to Visa •••• 4242?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(amount).to_have_value("30.50")
    with app_server.session() as s:
        assert s.exec(select(Refund).where(Refund.payment_id == paid.id)).all() == []

    page.get_by_role("button", name="Refund", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Refund", exact=True).click()
    expect(page.locator("#refund-notice")).to_have_text("Refund of €30.50 sent to Stripe.")
    expect(page.locator("#payment-heading .payment-status")).to_have_text("Partially refunded")
    ledger = page.locator("tr[data-refund-id]")
    expect(ledger).to_have_count(1)
    expect(ledger.locator(".status")).to_have_text("Succeeded")
    with app_server.session() as s:
        [refund] = s.exec(select(Refund).where(Refund.payment_id == paid.id)).all()
        assert (refund.amount_minor, refund.status) == (3050, "succeeded")
        assert s.get(Payment, paid.id).amount_refunded_minor == 3050


def test_admin_tables_on_a_phone_keep_amount_and_status_in_view(
    app_server: AppServer, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    log_in(page, app_server.url, *DEMO_ADMIN)
    partly = _seeded(app_server)["partially_refunded"]
    page.goto(f"{app_server.url}/admin?tab=payments")
    row = page.locator(f'tr[data-payment-id="{partly.id}"]')
    region = page.get_by_role("region", name="Payments (scrolls sideways)")
    expect(row).to_be_visible()
    view = region.bounding_box()
    assert view is not None and view["x"] + view["width"] <= PHONE["width"]
    for cell in (row.locator(".amount"), row.locator(".payment-status")):
        expect(cell).to_be_visible()
        box = cell.bounding_box()  # wholly inside what the region shows, not scrolled away
        assert box is not None and box["x"] >= view["x"], (box, view)
        assert box["x"] + box["width"] <= view["x"] + view["width"], (box, view)
    # The rest scrolls sideways in a region a keyboard can reach and scroll.
    expect(region).to_have_attribute("tabindex", "0")
    assert region.evaluate("e => e.scrollWidth > e.clientWidth")
    region.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('[aria-label=\"Payments (scrolls sideways)\"]')"
        ".scrollLeft > 0"
    )
    # The refund form on a phone: the reason box spans the card.
    page.goto(f"{app_server.url}/admin/payments/{partly.id}")
    reason = page.get_by_label("Reason")
    assert reason.bounding_box()["width"] > 280
    context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_admin_pages_pass_axe(
    app_server: AppServer, browser: Browser, viewport: dict[str, int]
) -> None:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    log_in(page, app_server.url, *DEMO_ADMIN)
    paid = _seeded(app_server)["paid"]
    for path in ("/admin", "/admin?tab=payments", f"/admin/payments/{paid.id}", "/admin/webhooks"):
        page.goto(f"{app_server.url}{path}")
        expect(page.locator("table").first).to_be_visible()
        expect(page.locator("h1")).to_have_count(1)
        bad = serious_violations(page)
        assert bad == [], (path, report(bad))
    context.close()


def test_a_second_seed_adds_nothing(app_server: AppServer) -> None:
    """`make run` again: the seed finds its activity and leaves the database as it was."""

    def counts() -> tuple[int, ...]:
        with app_server.session() as s:
            return tuple(
                s.exec(select(func.count()).select_from(table)).one()
                for table in (Booking, Payment, Refund, WebhookEvent, User)
            )

    with app_server.session() as s:
        assert s.exec(select(User).where(User.email == RIVAL_EMAIL)).one().role == "patient"
    before = counts()
    env = {
        **os.environ,
        "REFLEX_DB_URL": app_server.db_url,
        "EFOY_ENV": "demo",
        "STRIPE_API_BASE": app_server.sandbox_url or "",
        "STRIPE_SECRET_KEY": SANDBOX_SECRET_KEY,
    }
    done = subprocess.run(
        [sys.executable, "-m", "efoy_app.seed"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "demo bookings and payments made" not in done.stdout
    assert counts() == before
