"""Paying in Chromium: our pages, the sandbox's hosted Checkout and card pages, the webhook.

The server runs as `make run` runs it, sandbox included, so a confirmation seen here went
through Stripe-shaped HTTP, a signed webhook and the one fulfil function.
"""

from __future__ import annotations

import re
import time
import uuid

import httpx
from playwright.sync_api import Page, expect
from sqlmodel import select

from efoy_app.domain.auth import register_patient
from efoy_app.domain.scheduling import upcoming_free_slots
from efoy_app.models import Booking, Doctor, Payment
from tests.e2e.conftest import AppServer
from tests.e2e.ui import choose_a_time_days_away, log_in

CONFIRMED = "Payment received: your appointment is confirmed."
PASSWORD = "e2e-payments-pass"


def _patient_with_booking(server: AppServer, page: Page, currency: str) -> tuple[int, Doctor]:
    """A fresh patient, logged in, who books a slot through the doctor page."""
    email = f"pay-{uuid.uuid4().hex[:10]}@example.com"
    with server.session() as s:
        register_patient(s, email=email, password=PASSWORD, full_name="Abebe Bikila")
        doctor = s.exec(select(Doctor).where(Doctor.currency == currency)).first()
        assert doctor is not None
    log_in(page, server.url, email, PASSWORD)
    page.goto(f"{server.url}/doctors/{doctor.id}")
    choose_a_time_days_away(page)
    page.get_by_role("button", name="Book appointment").click()
    expect(page).to_have_url(re.compile(r"/payment/\d+/?$"))
    booking_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    return booking_id, doctor


def _status(server: AppServer, booking_id: int) -> str:
    with server.session() as s:
        booking = s.get(Booking, booking_id)
        assert booking is not None
        return booking.status


def _fill_card(page: Page, card: str, email: str | None = None) -> None:
    """The hosted Checkout pre-fills the patient's email (read-only), as Stripe does."""
    if email is not None:
        page.get_by_label("Email").fill(email)
    page.get_by_label("Card number").fill(card)
    page.get_by_label("Expiry").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Cardholder name").fill("Abebe Bikila")


def test_pay_now_with_4242_confirms(app_server: AppServer, page: Page, screenshots_dir) -> None:
    booking_id, doctor = _patient_with_booking(app_server, page, "ETB")
    # `Book appointment` has brought the patient straight here.
    expect(page).to_have_url(re.compile(rf"/payment/{booking_id}/?$"))
    expect(page.locator("#payment-price")).to_contain_text(f"{doctor.fee_minor / 100:,.2f}")
    expect(page.locator("#hold-countdown")).to_contain_text("Held for you for ")
    page.screenshot(path=str(screenshots_dir / "payment.png"))
    # An impatient double click: one Checkout Session, one payment row.
    page.get_by_role("button", name="Pay now").dblclick()
    expect(page).to_have_url(re.compile(rf"^{re.escape(app_server.sandbox_url)}/"))
    _fill_card(page, "4242 4242 4242 4242")
    started = time.monotonic()
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page).to_have_url(re.compile(r"/payment/success/?\?session_id=cs_"))
    expect(page.get_by_text(CONFIRMED)).to_be_visible()
    seen = time.monotonic() - started
    print(f"\nPay -> confirmation seen (hosted Checkout): {seen:.2f}s")
    expect(page.locator("#confirmation-payment-id")).to_contain_text("pi_")
    with app_server.session() as s:
        [payment] = s.exec(select(Payment).where(Payment.booking_id == booking_id)).all()
        assert (payment.status, payment.card_last4, payment.amount_minor) == (
            "paid",
            "4242",
            doctor.fee_minor,
        )
    assert _status(app_server, booking_id) == "confirmed"
    page.goto(f"{app_server.url}/appointments")
    card = page.locator(f'.booking-card[data-booking-id="{booking_id}"]')
    expect(card).to_have_attribute("data-status", "confirmed")
    # Back on the payment page, a paid booking offers no second payment.
    page.goto(f"{app_server.url}/payment/{booking_id}")
    expect(page.get_by_text("This appointment is paid and confirmed.")).to_be_visible()
    expect(page.get_by_role("button", name="Pay now")).to_have_count(0)


def test_pay_by_card_confirms(app_server: AppServer, page: Page) -> None:
    booking_id, _doctor = _patient_with_booking(app_server, page, "JPY")
    page.goto(f"{app_server.url}/payment/{booking_id}")
    page.get_by_role("button", name="Pay by card").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(app_server.sandbox_url)}/pay/pi_"))
    _fill_card(page, "4242424242424242")
    started = time.monotonic()
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page).to_have_url(re.compile(r"/payment/success/?\?payment_intent=pi_"))
    expect(page.get_by_text(CONFIRMED)).to_be_visible()
    print(f"\nPay -> confirmation seen (card form): {time.monotonic() - started:.2f}s")
    assert _status(app_server, booking_id) == "confirmed"


def test_decline_shows_message_and_keeps_hold(app_server: AppServer, page: Page) -> None:
    booking_id, _doctor = _patient_with_booking(app_server, page, "EUR")
    page.goto(f"{app_server.url}/payment/{booking_id}")
    page.get_by_role("button", name="Pay now").click()
    _fill_card(page, "4000 0000 0000 0002")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_text("Your card was declined.")).to_be_visible()
    assert _status(app_server, booking_id) == "held"
    # Still within the hold: a good card on the same page goes through.
    _fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_text(CONFIRMED)).to_be_visible()
    assert _status(app_server, booking_id) == "confirmed"


def test_3ds_completed_and_failed(app_server: AppServer, page: Page) -> None:
    booking_id, doctor = _patient_with_booking(app_server, page, "USD")
    page.goto(f"{app_server.url}/payment/{booking_id}")
    page.get_by_role("button", name="Pay now").click()
    _fill_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_text(CONFIRMED)).to_be_visible()
    assert _status(app_server, booking_id) == "confirmed"

    # A second booking with the same doctor, this time failing authentication.
    with app_server.session() as s:
        free = upcoming_free_slots(s, doctor.id)
        assert free
    page.goto(f"{app_server.url}/doctors/{doctor.id}")
    choose_a_time_days_away(page)
    page.get_by_role("button", name="Book appointment").click()
    expect(page).to_have_url(re.compile(r"/payment/\d+/?$"))
    second = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.goto(f"{app_server.url}/payment/{second}")
    page.get_by_role("button", name="Pay now").click()
    _fill_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.get_by_text("We are unable to authenticate your payment method.")).to_be_visible()
    assert _status(app_server, second) == "held"


def test_dropped_webhook_is_confirmed_by_the_running_apps_reconciliation(
    app_server: AppServer,
) -> None:
    """Stripe's webhook never arrives: the app's own lifespan task confirms the booking."""
    api = f"{app_server.url}/api/v1"
    email = f"recon-{uuid.uuid4().hex[:10]}@example.com"
    account = {"email": email, "password": PASSWORD, "fullName": "Derartu Tulu"}
    r = httpx.post(f"{api}/auth/register", json=account, timeout=30)
    assert r.status_code == 201, r.text
    token = httpx.post(
        f"{api}/auth/token", json={"email": email, "password": PASSWORD}, timeout=30
    ).json()["accessToken"]
    headers = {"Authorization": f"Bearer {token}"}
    with app_server.session() as s:
        doctor = s.exec(select(Doctor).where(Doctor.currency == "GBP")).one()
        slot = upcoming_free_slots(s, doctor.id)[-1]
    r = httpx.post(f"{api}/bookings", json={"doctorId": doctor.id, "startsAt":
                   slot.starts_at.isoformat()}, headers=headers, timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text
    booking_id = r.json()["id"]
    r = httpx.post(f"{api}/payment/create-checkout-session", json={"bookingId": booking_id},
                   headers=headers, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    session_id = r.json()["sessionId"]
    control = f"{app_server.sandbox_url}/_sandbox"
    httpx.post(f"{control}/faults/webhooks", json={"mode": "drop", "count": 100}, timeout=10)
    try:
        paid = httpx.post(f"{control}/checkout/sessions/{session_id}/pay",
                          json={"card": "4242424242424242"}, timeout=30)  # fmt: skip
        assert paid.json()["outcome"] == "succeeded"
        deadline = time.monotonic() + 30
        while _status(app_server, booking_id) != "confirmed":
            assert time.monotonic() < deadline, "reconciliation did not confirm within 30 s"
            time.sleep(0.25)
    finally:
        httpx.post(f"{control}/faults/clear", timeout=10)
    with app_server.session() as s:
        [payment] = s.exec(select(Payment).where(Payment.booking_id == booking_id)).all()
        assert payment.status == "paid"
