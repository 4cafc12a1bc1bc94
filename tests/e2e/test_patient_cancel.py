"""A patient cancels a paid appointment in Chromium: My appointments shows what comes back by the
policy before they confirm, then the refund and where it stands; the time is offered again to
another patient; a refund that fails at the bank later shows as failed to the patient and the
admin. The booking is paid on the sandbox's hosted page (through its control API, as a card
payment) and confirmed by its signed webhook; everything after is the real pages."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from efoy_app.domain.money import format_money
from efoy_app.domain.times import zone
from efoy_app.models import Refund, User
from tests.e2e.axe import report, serious_violations
from tests.e2e.bookings import PASSWORD, new_patient, paid_booking
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, log_in


def _cancel_in_the_page(page: Page, booking: dict, check_axe: bool = False) -> None:
    card = page.locator(f'#upcoming .booking-card[data-booking-id="{booking["id"]}"]')
    expect(card).to_have_attribute("data-status", "confirmed")
    card.get_by_role("button", name="Cancel").click()
    dialog = page.get_by_role("alertdialog")
    amount = format_money(booking["priceMinor"], booking["currency"])
    expect(dialog.locator("#refund-preview")).to_have_text(f"You will get back {amount} (100 %).")
    expect(dialog).to_contain_text(": 100 % back under the policy.")
    expect(dialog.get_by_role("link", name="Read the cancellation policy")).to_be_visible()
    if check_axe:
        bad = serious_violations(page, '[role="alertdialog"]')
        assert bad == [], report(bad)
    dialog.get_by_role("button", name="Cancel appointment").click()


def test_cancel_a_paid_appointment_and_see_the_refund(
    app_server: AppServer, page: Page, browser: Browser
) -> None:
    email, headers = new_patient(app_server)
    booking = paid_booking(app_server, headers, doctor_index=0)
    amount = format_money(booking["priceMinor"], booking["currency"])
    log_in(page, app_server.url, email, PASSWORD)
    page.goto(f"{app_server.url}/appointments")
    _cancel_in_the_page(page, booking, check_axe=True)

    expect(page.get_by_role("status")).to_contain_text(f"{amount} is on its way back to the card.")
    closed = page.locator(f'#closed .booking-card[data-booking-id="{booking["id"]}"]')
    expect(closed).to_have_attribute("data-status", "cancelled")
    expect(closed.locator(".refund-note")).to_have_text(f"Refunded {amount} (100 %) to your card.")
    with app_server.session() as s:
        refunds = s.exec(select(Refund).where(Refund.payment_id == booking["paymentId"])).all()
        assert [(r.amount_minor, r.status) for r in refunds] == [
            (booking["priceMinor"], "succeeded")
        ]

    # Another patient sees the time offered again on the doctor's page, on its day.
    other_email, _ = new_patient(app_server)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    other = context.new_page()
    log_in(other, app_server.url, other_email, PASSWORD)
    other.goto(f"{app_server.url}/doctors/{booking['doctorId']}")
    starts = datetime.fromisoformat(booking["startsAt"])
    with app_server.session() as s:
        tz = s.exec(select(User.timezone).where(User.email == other_email)).one()
    day = other.locator(f'input[name=day][value="{starts.astimezone(zone(tz)).date()}"]')
    day.dispatch_event("click")
    expect(day).to_be_checked()
    expect(other.locator(f'[data-slot="{starts.astimezone(UTC).isoformat()}"]')).to_have_count(1)
    context.close()


def test_a_refund_that_fails_later_shows_failed_to_patient_and_admin(
    app_server: AppServer, page: Page, browser: Browser
) -> None:
    email, headers = new_patient(app_server)
    booking = paid_booking(app_server, headers, doctor_index=1)
    amount = format_money(booking["priceMinor"], booking["currency"])
    r = httpx.post(f"{app_server.sandbox_url}/_sandbox/refunds/fail_next",
                   json={"failure_reason": "expired_or_canceled_card"}, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    log_in(page, app_server.url, email, PASSWORD)
    page.goto(f"{app_server.url}/appointments")
    _cancel_in_the_page(page, booking)
    closed = page.locator(f'#closed .booking-card[data-booking-id="{booking["id"]}"]')
    expect(closed).to_have_attribute("data-status", "cancelled")

    deadline = time.monotonic() + 30
    while True:  # the sandbox's refund.failed webhook
        with app_server.session() as s:
            refund = s.exec(select(Refund).where(Refund.payment_id == booking["paymentId"])).one()
        if refund.status == "failed":
            break
        assert time.monotonic() < deadline, refund
        time.sleep(0.2)
    page.reload()
    expect(closed.locator(".refund-note")).to_have_text(
        f"The refund of {amount} failed at the bank; the clinic will contact you."
    )

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = context.new_page()
    log_in(admin, app_server.url, *DEMO_ADMIN)
    admin.goto(f"{app_server.url}/admin/payments/{booking['paymentId']}")
    expect(admin.locator("#refunds-ledger")).to_contain_text("Failed")
    # The whole amount can be refunded again.
    expect(admin.locator("#payment-refundable")).to_contain_text(amount)
    context.close()
