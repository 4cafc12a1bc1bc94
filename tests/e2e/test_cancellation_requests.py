"""Approval mode in Chromium (`EFOY_CANCELLATION_REFUNDS=approval`, a server of its own): a patient
cancels a paid appointment and is told the clinic confirms the refund; the admin finds the request
on /admin/cancellations, approves one (sent once, at the sandbox) and declines another with a note
the patient then reads in My appointments."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from efoy_app.domain.money import format_money
from efoy_app.models import Refund
from tests.e2e.axe import report, serious_violations
from tests.e2e.bookings import PASSWORD, new_patient, paid_booking
from tests.e2e.conftest import AppServer, start_app_server, stop_app_server
from tests.e2e.ui import DEMO_ADMIN, log_in


@pytest.fixture(scope="module")
def approval_server(db_backend: str) -> Iterator[AppServer]:
    server = start_app_server({"EFOY_CANCELLATION_REFUNDS": "approval"}, db_backend)
    yield server
    stop_app_server(server)


def _patient_cancels(server: AppServer, page: Page, doctor_index: int) -> tuple[str, dict]:
    email, headers = new_patient(server)
    booking = paid_booking(server, headers, doctor_index=doctor_index)
    log_in(page, server.url, email, PASSWORD)
    page.goto(f"{server.url}/appointments")
    card = page.locator(f'#upcoming .booking-card[data-booking-id="{booking["id"]}"]')
    card.get_by_role("button", name="Cancel").click()
    dialog = page.get_by_role("alertdialog")
    amount = format_money(booking["priceMinor"], booking["currency"])
    expect(dialog.locator("#refund-preview")).to_have_text(f"You will get back {amount} (100 %).")
    dialog.get_by_role("button", name="Cancel appointment").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"The clinic confirms the refund of {amount} shortly."
    )
    closed = page.locator(f'#closed .booking-card[data-booking-id="{booking["id"]}"]')
    expect(closed.locator(".refund-note")).to_have_text(
        f"Refund of {amount} (100 %) waiting for the clinic's approval."
    )
    return amount, booking


def _at_sandbox(server: AppServer, payment_id: int) -> list[int]:
    with server.session() as s:
        refunds = s.exec(select(Refund).where(Refund.payment_id == payment_id)).all()
    return [r.amount_minor for r in refunds if r.status == "succeeded"]


def test_admin_approves_one_request_and_declines_another(
    approval_server: AppServer, page: Page, browser: Browser
) -> None:
    server = approval_server
    approved_amount, approved = _patient_cancels(server, page, doctor_index=0)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    other = context.new_page()
    declined_amount, declined = _patient_cancels(server, other, doctor_index=1)
    assert _at_sandbox(server, approved["paymentId"]) == []

    admin_context = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = admin_context.new_page()
    log_in(admin, server.url, *DEMO_ADMIN)
    admin.goto(f"{server.url}/admin")
    admin.get_by_role("navigation", name="Admin").get_by_role(
        "link", name="Cancellation requests"
    ).click()
    rows = admin.locator("tr[data-cancellation-id]")
    expect(rows).to_have_count(2)  # waiting ones only, oldest first
    expect(rows.first).to_contain_text(f"Booking #{approved['id']}")
    expect(rows.first.locator(".status")).to_have_text("Awaiting approval")
    bad = serious_violations(admin)
    assert bad == [], report(bad)

    rows.first.get_by_role("button", name="Approve").click()
    dialog = admin.get_by_role("alertdialog")
    expect(dialog.locator("#decision-question")).to_have_text(
        f"Refund {approved_amount} (100 %) to Tirunesh Dibaba's card?"
    )
    bad = serious_violations(admin, '[role="alertdialog"]')
    assert bad == [], report(bad)
    dialog.get_by_role("button", name="Send the refund").dblclick()
    expect(admin.locator("#decision-notice")).to_contain_text(
        f"{approved_amount} is on its way back to the patient's card."
    )
    expect(rows).to_have_count(1)
    time.sleep(0.5)  # a second refund from the double click would have landed by now
    assert _at_sandbox(server, approved["paymentId"]) == [approved["priceMinor"]]

    # Declining needs a note; the patient reads it.
    rows.first.get_by_role("button", name="Decline").click()
    dialog = admin.get_by_role("alertdialog")
    dialog.get_by_role("button", name="Decline the refund").click()
    expect(dialog).to_contain_text("Say why the refund is declined: the patient reads it.")
    dialog.get_by_label("Why (the patient reads it)").fill("Seen at the desk; no refund due")
    dialog.get_by_role("button", name="Decline the refund").click()
    expect(admin.locator("#decision-notice")).to_have_text(
        "Refund declined; the patient sees your note."
    )
    expect(rows).to_have_count(0)
    admin.get_by_label("Show").select_option("all")
    expect(rows).to_have_count(2)
    assert _at_sandbox(server, declined["paymentId"]) == []

    other.reload()
    card = other.locator(f'#closed .booking-card[data-booking-id="{declined["id"]}"]')
    expect(card.locator(".refund-note")).to_have_text(
        "The clinic declined the refund: Seen at the desk; no refund due"
    )
    page.reload()
    card = page.locator(f'#closed .booking-card[data-booking-id="{approved["id"]}"]')
    expect(card.locator(".refund-note")).to_have_text(
        f"Refunded {approved_amount} (100 %) to your card."
    )
    # Neither the patient nor the REST API without the admin role gets the list.
    other.goto(f"{server.url}/admin/cancellations")
    expect(other.get_by_text("Admins only")).to_be_visible()
    r = httpx.get(f"{server.url}/api/v1/admin/cancellations", timeout=30)
    assert r.status_code == 401
    context.close()
    admin_context.close()
    del declined_amount
