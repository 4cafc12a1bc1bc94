"""The admin's refund form in Chromium, reached by filtering the payments list: the policy's
amount suggested for an appointment 24 to 48 hours away (50 % under the default policy), another
amount refused without a reason, then the policy's refund applied with "Also cancel the booking";
the ledger and the audit trail show it, the time is free again, the patient is emailed and sees
the refund in My appointments."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from efoy_app.domain.money import format_money, to_major
from efoy_app.models import Booking, Doctor, OutboxEmail, Refund
from tests.e2e.bookings import PASSWORD, new_patient, pay_on_hosted_page
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, log_in


def _free_starts(server: AppServer, doctor_id: int, offset: int) -> list[str]:
    """The free times of the doctor's day `offset` days from today (UTC); none when that day is
    already over in the doctor's own timezone (Tokyo's Tuesday begins on Monday at 15:00 UTC)."""
    day = (date.today() + timedelta(days=offset)).isoformat()
    r = httpx.get(
        f"{server.url}/api/v1/doctors/{doctor_id}/slots", params={"date": day}, timeout=30
    )
    if r.status_code == 422 and "in the past" in r.text:
        return []
    assert r.status_code == 200, r.text
    return [slot["startsAt"] for slot in r.json()["slots"]]


def _book_between_24_and_48_hours(server: AppServer, headers: dict[str, str]) -> dict:
    """Some doctor (they work in five timezones, so one always does) has a free time 25 to 47
    hours from now: the default policy's 50 % tier, with an hour's margin either side."""
    now = datetime.now(UTC)
    with server.session() as s:
        doctor_ids = list(
            s.exec(
                select(Doctor.id)
                .where(Doctor.active, Doctor.cancellation_policy.is_(None))  # the clinic's tiers
                .order_by(Doctor.id)
            )
        )
    for offset in range(0, 4):
        for doctor_id in doctor_ids:
            for starts_at in _free_starts(server, doctor_id, offset):
                ahead = datetime.fromisoformat(starts_at) - now
                if not timedelta(hours=25) <= ahead <= timedelta(hours=47):
                    continue
                body = {"doctorId": doctor_id, "startsAt": starts_at}
                r = httpx.post(
                    f"{server.url}/api/v1/bookings", headers=headers, json=body, timeout=30
                )
                if r.status_code == 201:
                    return r.json()
    raise AssertionError("no doctor has a free time 25 to 47 hours from now")


def test_admin_applies_the_policy_refund_and_cancels(
    app_server: AppServer, page: Page, browser: Browser
) -> None:
    email, headers = new_patient(app_server, "Derartu Tulu")
    booking = _book_between_24_and_48_hours(app_server, headers)
    payment = pay_on_hosted_page(app_server, headers, booking["id"])
    currency, price = payment.currency, payment.amount_minor
    half = format_money(price * 50 // 100, currency)

    log_in(page, app_server.url, *DEMO_ADMIN)
    # The admin finds it: paid, searched by the patient's email, then its details.
    page.goto(f"{app_server.url}/admin?tab=payments")
    form = page.get_by_role("search", name="Filter payments")
    form.get_by_label("Status").select_option("paid")
    form.get_by_label("Search").fill(email)
    form.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"status=paid"))
    rows = page.locator("tr[data-payment-id]")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link", name="Details").click()
    expect(page).to_have_url(re.compile(rf"/admin/payments/{payment.id}/?$"))
    policy = page.get_by_role("radio", name=f"By the policy: {half} (50 %)")
    expect(policy).to_be_checked()
    expect(page.locator("#policy-reason")).to_contain_text(": 50 % back under the policy.")
    expect(page.get_by_role("radio", name=f"Full refund: {format_money(price, currency)}"))
    # The amount box shows for "Other amount" only; another amount needs a reason.
    expect(page.get_by_label(f"Amount ({currency})")).to_have_count(0)
    page.get_by_role("radio", name="Other amount").click()
    page.get_by_label(f"Amount ({currency})").fill(str(to_major(price // 10, currency)))
    page.get_by_role("button", name="Refund", exact=True).click()
    expect(page.locator("#refund-error")).to_have_text(
        f"{format_money(price // 10, currency)} is not the policy's {half}: say why, the reason "
        "is kept in the audit trail."
    )
    expect(page.get_by_role("alertdialog")).to_have_count(0)

    # The policy's amount needs no words; the refund also cancels the booking.
    policy.click()
    page.get_by_role("checkbox", name=re.compile(r"^Also cancel the booking")).click()
    page.get_by_role("button", name="Refund", exact=True).click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog.locator("#refund-question")).to_have_text(
        f"Refund {half} to Visa •••• 4242 and cancel the booking? The patient is emailed."
    )
    dialog.get_by_role("button", name="Refund", exact=True).click()
    expect(page.locator("#refund-notice")).to_contain_text(f"{half} is on its way back")
    ledger = page.locator("tr[data-refund-id]")
    expect(ledger).to_have_count(1)
    expect(ledger).to_have_attribute("data-status", "succeeded")
    expect(ledger.locator(".amount")).to_have_text(half)
    expect(ledger.locator(".reason")).to_contain_text("By the cancellation policy (50 %).")
    expect(page.locator("#booking-status")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#audit-trail")).to_contain_text("Cancelled")

    with app_server.session() as s:
        assert s.get(Booking, booking["id"]).status == "cancelled"
        [refund] = s.exec(select(Refund).where(Refund.payment_id == payment.id)).all()
        assert (refund.amount_minor, refund.status) == (price * 50 // 100, "succeeded")
        mail = s.exec(select(OutboxEmail).where(OutboxEmail.to_address == email)).all()
        assert any("is cancelled" in m.subject and half in m.body for m in mail), mail

    # The time is offered again.
    starts = datetime.fromisoformat(booking["startsAt"])
    offered = [
        datetime.fromisoformat(starts_at)
        for offset in range(0, 4)
        for starts_at in _free_starts(app_server, booking["doctorId"], offset)
    ]
    assert starts in offered

    # The patient sees it in My appointments.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    patient = context.new_page()
    log_in(patient, app_server.url, email, PASSWORD)
    patient.goto(f"{app_server.url}/appointments")
    card = patient.locator(f'#closed .booking-card[data-booking-id="{booking["id"]}"]')
    expect(card.locator(".refund-note")).to_have_text(f"Refunded {half} (50 %) to your card.")
    context.close()
