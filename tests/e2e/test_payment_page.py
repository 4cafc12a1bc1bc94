"""The payment pages as a patient sees them: the hold's countdown and what happens when it lapses,
an appointment too close for Stripe's hosted page, the words beside the two ways to pay, the
success card on a phone, and the success page that lost its payment reference.

Bookings are held through the domain on the server's own database (the booking flow that leads
here is tested elsewhere); a short hold is set on the row itself rather than waited for.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import col, select

from efoy_app.domain import bookings
from efoy_app.domain.auth import register_patient
from efoy_app.domain.scheduling import upcoming_free_slots
from efoy_app.models import BOOKING_HELD, Booking, Doctor, Payment, User, utcnow
from efoy_app.pages.payment import PAY_BY_CARD_LINE, PAY_NOW_LINE
from efoy_app.state.display import when_label
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import AppServer
from tests.e2e.ui import log_in

PASSWORD = "e2e-payment-page-pass"
ZONE = "Africa/Addis_Ababa"
CONFIRMED = "Payment received: your appointment is confirmed."
LAPSED_FREE = (
    "Your hold on this slot has lapsed, so it was not paid and nothing was charged. "
    "The time is still free: you can hold it again."
)
LAPSED_TAKEN = (
    "Your hold on this slot has lapsed, so it was not paid and nothing was charged. "
    "Someone else has booked this time since."
)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _patient(server: AppServer, name: str = "Tirunesh Dibaba") -> User:
    with server.session() as s:
        return register_patient(
            s,
            email=f"paypage-{uuid.uuid4().hex[:10]}@example.com",
            password=PASSWORD,
            full_name=name,
            timezone=ZONE,
        )


def _doctor(server: AppServer, currency: str) -> Doctor:
    with server.session() as s:
        doctor = s.exec(select(Doctor).where(Doctor.currency == currency)).first()
        assert doctor is not None
        return doctor


def _far_slot(server: AppServer, doctor: Doctor, skip: int = 0) -> datetime:
    """A free slot more than a day away (so Stripe's hosted page is open for it)."""
    with server.session() as s:
        later = [x.starts_at for x in upcoming_free_slots(s, doctor.id)]
    later = [t for t in later if t > utcnow() + timedelta(days=1)]
    return later[skip]


def _hold(server: AppServer, patient: User, doctor: Doctor, starts_at: datetime) -> int:
    with server.session() as s:
        booking = bookings.hold_slot(
            s, patient=s.get(User, patient.id), doctor_id=doctor.id, starts_at=starts_at
        )
        return booking.id


def _set_hold_end(server: AppServer, booking_id: int, end: datetime) -> None:
    with server.session() as s:
        booking = s.get(Booking, booking_id)
        booking.hold_expires_at = end
        s.add(booking)
        s.commit()


def _booking(server: AppServer, booking_id: int) -> Booking:
    with server.session() as s:
        booking = s.get(Booking, booking_id)
        assert booking is not None
        return booking


def _token(server: AppServer, email: str) -> str:
    r = httpx.post(
        f"{server.url}/api/v1/auth/token", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()["accessToken"]


def _paid_by_checkout(server: AppServer, patient: User, booking_id: int) -> Payment:
    """Pay on the sandbox's hosted page over HTTP, as the browser would; wait for the webhook."""
    headers = {"Authorization": f"Bearer {_token(server, patient.email)}"}
    r = httpx.post(
        f"{server.url}/api/v1/payment/create-checkout-session",
        json={"bookingId": booking_id},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    session_id = r.json()["sessionId"]
    paid = httpx.post(
        f"{server.sandbox_url}/_sandbox/checkout/sessions/{session_id}/pay",
        json={"card": "4242424242424242"},
        timeout=30,
    )
    assert paid.json()["outcome"] == "succeeded", paid.text
    deadline = time.monotonic() + 20
    while _booking(server, booking_id).status != "confirmed":
        assert time.monotonic() < deadline, "the booking was not confirmed within 20 s"
        time.sleep(0.2)
    with server.session() as s:
        return s.exec(select(Payment).where(Payment.stripe_checkout_session_id == session_id)).one()


def _event_frames(page: Page) -> list[str]:
    """Socket.IO event messages the page sends to the server from now on."""
    sent: list[str] = []

    def watch(ws) -> None:  # type: ignore[no-untyped-def]
        ws.on("framesent", lambda payload: sent.append(str(payload)))

    page.on("websocket", watch)
    return sent


def _serious(page: Page, within: str | None = None) -> list[str]:
    """axe-core's serious and critical violations on the page (or only `within` a selector, the
    page's own content apart from the shared frame), as "rule: target"."""
    return [str(v) for v in serious_violations(page, *([within] if within else []))]


def test_the_countdown_runs_in_the_page_and_a_lapsed_hold_is_held_again(
    app_server: AppServer, page: Page
) -> None:
    patient = _patient(app_server)
    doctor = _doctor(app_server, "EUR")
    starts_at = _far_slot(app_server, doctor)
    booking_id = _hold(app_server, patient, doctor, starts_at)
    _set_hold_end(app_server, booking_id, utcnow() + timedelta(seconds=8))
    log_in(page, app_server.url, patient.email, PASSWORD)
    frames = _event_frames(page)
    page.goto(f"{app_server.url}/payment/{booking_id}")
    countdown = page.locator("#hold-countdown")
    expect(countdown).to_have_text(re.compile(r"^Held for you for 0:0[0-8]$"))
    expect(countdown).to_have_attribute("role", "timer")
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3000)  # it ticks by itself
    before_lapse = [f for f in frames if f.startswith("42")]
    # The hold lapses: one message, no way to pay, the time offered again.
    lapsed = page.locator("#hold-lapsed")
    expect(lapsed).to_have_text(LAPSED_FREE, timeout=15000)
    expect(page.get_by_role("button", name="Pay now")).to_have_count(0)
    expect(page.get_by_role("button", name="Pay by card")).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator("#payment-status")).to_have_text("Expired")
    assert _serious(page, "main") == []
    print(f"\naxe 1280px /payment/[id] lapsed: {_serious(page)}")
    # While it counted down the page sent the server nothing but the page's own load.
    assert len(before_lapse) <= 2, before_lapse
    page.get_by_role("button", name="Hold this slot again").click()
    expect(page).not_to_have_url(re.compile(rf"/payment/{booking_id}/?$"))
    expect(page).to_have_url(re.compile(r"/payment/\d+/?$"))
    new_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    expect(page.locator("#hold-countdown")).to_have_text(
        re.compile(r"^Held for you for (30:00|29:[0-5]\d)$")
    )
    expect(page.get_by_role("button", name="Pay now")).to_be_enabled()
    again = _booking(app_server, new_id)
    assert (again.patient_id, again.doctor_id, again.starts_at, again.status) == (
        patient.id, doctor.id, starts_at, BOOKING_HELD,
    )  # fmt: skip
    assert _booking(app_server, booking_id).status == "expired"


def test_paying_on_a_lapsed_hold_gives_one_message_and_a_taken_slot_links_back(
    app_server: AppServer, page: Page
) -> None:
    patient = _patient(app_server)
    doctor = _doctor(app_server, "USD")
    starts_at = _far_slot(app_server, doctor)
    booking_id = _hold(app_server, patient, doctor, starts_at)
    log_in(page, app_server.url, patient.email, PASSWORD)
    page.goto(f"{app_server.url}/payment/{booking_id}")
    expect(page.locator("#hold-countdown")).to_have_text(re.compile(r"^Held for you for 29:"))
    # The hold runs out behind the page's back (its countdown still shows 29 minutes).
    _set_hold_end(app_server, booking_id, utcnow() - timedelta(seconds=1))
    page.get_by_role("button", name="Pay now").click()
    expect(page.locator("#hold-lapsed")).to_have_text(LAPSED_FREE)
    card = page.locator(".rt-Card")
    expect(card.locator(".rt-CalloutRoot")).to_have_count(1)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("button", name="Pay now")).to_have_count(0)
    with app_server.session() as s:
        assert s.exec(select(Payment).where(Payment.booking_id == booking_id)).all() == []
    # Someone else takes the time: the page says so and leads back to the doctor's page.
    other = _patient(app_server, "Haile Gebrselassie")
    _hold(app_server, other, doctor, starts_at)
    page.reload()
    expect(page.locator("#hold-lapsed")).to_have_text(LAPSED_TAKEN)
    expect(page.get_by_role("button", name="Hold this slot again")).to_have_count(0)
    back = page.get_by_role("link", name="Choose another time")
    expect(back).to_have_attribute("href", f"/doctors/{doctor.id}")


def test_an_appointment_starting_in_20_minutes_offers_only_the_card_form(
    app_server: AppServer, page: Page
) -> None:
    patient = _patient(app_server)
    doctor = _doctor(app_server, "GBP")
    # A time off the doctor's grid (no real slot collides with it), 40 minutes away at first.
    first_start = utcnow().replace(microsecond=0) + timedelta(minutes=40, seconds=17)
    with app_server.session() as s:
        booking = Booking(
            patient_id=patient.id, doctor_id=doctor.id, starts_at=first_start,
            ends_at=first_start + timedelta(minutes=doctor.slot_minutes), status=BOOKING_HELD,
            price_minor=doctor.fee_minor, currency=doctor.currency,
            hold_expires_at=utcnow() + timedelta(minutes=30),
        )  # fmt: skip
        s.add(booking)
        s.commit()
        booking_id = booking.id
    log_in(page, app_server.url, patient.email, PASSWORD)
    page.goto(f"{app_server.url}/payment/{booking_id}")
    expect(page.get_by_role("button", name="Pay now")).to_be_enabled()
    # While the page is open the appointment comes within 31 minutes (moved to 20 from now):
    # `Pay now` is refused with one message, in its place.
    starts_at = utcnow().replace(microsecond=0) + timedelta(minutes=20, seconds=40)
    with app_server.session() as s:
        row = s.get(Booking, booking_id)
        row.starts_at, row.ends_at, row.hold_expires_at = starts_at, starts_at, starts_at
        s.add(row)
        s.commit()
    page.get_by_role("button", name="Pay now").click()
    expect(page.locator("#starts-soon")).to_have_text(
        "This appointment starts in 20 minutes: pay by card below."
    )
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("button", name="Pay now")).to_have_count(0)
    # The hold ends when the appointment starts, and the countdown says so.
    expect(page.locator("#hold-countdown")).to_have_text(re.compile(r"^Held for you for 20:"))
    expect(page.locator("#hold-until")).to_have_text(f"(until {when_label(starts_at, ZONE)})")
    page.reload()
    expect(page.locator("#starts-soon")).to_be_visible()
    expect(page.get_by_role("button", name="Pay now")).to_have_count(0)
    page.get_by_role("button", name="Pay by card").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(app_server.sandbox_url)}/pay/pi_"))
    with app_server.session() as s:
        [payment] = s.exec(select(Payment).where(Payment.booking_id == booking_id)).all()
        assert (payment.kind, payment.expires_at) == ("payment_intent", starts_at)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_one_heading_and_a_line_for_each_way_to_pay(
    app_server: AppServer, page: Page, viewport: dict[str, int]
) -> None:
    page.set_viewport_size(viewport)
    patient = _patient(app_server)
    doctor = _doctor(app_server, "JPY")
    starts_at = _far_slot(app_server, doctor, skip=1 if viewport is PHONE else 0)
    booking_id = _hold(app_server, patient, doctor, starts_at)
    log_in(page, app_server.url, patient.email, PASSWORD)
    page.goto(f"{app_server.url}/payment/{booking_id}")
    expect(page.locator("#hold-countdown")).to_be_visible()
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("h1")).to_have_text("Pay for your appointment")
    expect(page.locator("#pay-now-line")).to_have_text(PAY_NOW_LINE)
    expect(page.locator("#pay-by-card-line")).to_have_text(PAY_BY_CARD_LINE)
    expect(page.locator("#payment-when")).to_have_text(when_label(starts_at, ZONE))
    expect(page.locator("#payment-status")).to_have_text("Held, awaiting payment")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert _serious(page, "main") == []
    print(f"\naxe {viewport['width']}px /payment/[id] held: {_serious(page)}")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_the_cancel_page_says_how_long_the_slot_stays_held(
    app_server: AppServer, page: Page, viewport: dict[str, int]
) -> None:
    page.set_viewport_size(viewport)
    patient = _patient(app_server)
    doctor = _doctor(app_server, "EUR")
    booking_id = _hold(
        app_server,
        patient,
        doctor,
        _far_slot(app_server, doctor, skip=2 if viewport is PHONE else 1),
    )
    end = _booking(app_server, booking_id).hold_expires_at
    log_in(page, app_server.url, patient.email, PASSWORD)
    page.goto(f"{app_server.url}/payment/cancel?booking_id={booking_id}")
    expect(page.locator("h1")).to_have_count(1)
    expect(page.get_by_text(f"stays held until {when_label(end, ZONE)}.")).to_be_visible()
    expect(page.get_by_role("link", name="Back to payment")).to_have_attribute(
        "href", f"/payment/{booking_id}"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert _serious(page, "main") == []
    print(f"\naxe {viewport['width']}px /payment/cancel: {_serious(page)}")


def _assert_inside(page: Page, inner: str, outer: str) -> None:
    a = page.locator(inner).bounding_box()
    b = page.locator(outer).bounding_box()
    assert a is not None and b is not None
    assert b["x"] <= a["x"] and a["x"] + a["width"] <= b["x"] + b["width"] + 0.5, (a, b)


def test_the_success_card_keeps_stripe_ids_inside_it_at_390_and_1280(
    app_server: AppServer, page: Page
) -> None:
    patient = _patient(app_server)
    doctor = _doctor(app_server, "ETB")
    booking_id = _hold(app_server, patient, doctor, _far_slot(app_server, doctor))
    payment = _paid_by_checkout(app_server, patient, booking_id)
    log_in(page, app_server.url, patient.email, PASSWORD)
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        page.goto(
            f"{app_server.url}/payment/success?session_id={payment.stripe_checkout_session_id}"
        )
        expect(page.get_by_text(CONFIRMED)).to_be_visible()
        ident = page.locator("#confirmation-payment-id")
        expect(ident).to_have_text(payment.stripe_payment_intent_id)
        _assert_inside(page, "#confirmation-payment-id", ".rt-Card")
        expect(page.locator("#confirmation-status")).to_have_text("Paid")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        expect(page.locator("h1")).to_have_count(1)
        assert _serious(page, "main") == []
        print(f"\naxe {viewport['width']}px /payment/success: {_serious(page)}")


def test_the_success_page_without_a_reference_shows_the_patients_latest_payment(
    app_server: AppServer, page: Page, browser
) -> None:
    patient = _patient(app_server)
    doctor = _doctor(app_server, "ETB")
    first = _hold(app_server, patient, doctor, _far_slot(app_server, doctor, skip=2))
    _paid_by_checkout(app_server, patient, first)
    latest_booking = _hold(app_server, patient, doctor, _far_slot(app_server, doctor, skip=3))
    latest = _paid_by_checkout(app_server, patient, latest_booking)
    log_in(page, app_server.url, patient.email, PASSWORD)
    page.goto(f"{app_server.url}/payment/success")
    expect(page.get_by_text(CONFIRMED)).to_be_visible()
    expect(page.locator("#latest-payment-note")).to_have_text(
        "The address had no payment reference, so this is your latest payment."
    )
    expect(page.locator("#confirmation-payment-id")).to_have_text(latest.stripe_payment_intent_id)
    expect(page.get_by_text("This page needs a payment reference.")).to_have_count(0)
    assert _serious(page, "main") == []
    print(f"\naxe 1280px /payment/success (no reference): {_serious(page)}")
    # Another patient, with payments of their own nowhere, sees none of this one's.
    stranger = _patient(app_server, "Kenenisa Bekele")
    other = browser.new_context(base_url=app_server.url)
    try:
        other_page = other.new_page()
        log_in(other_page, app_server.url, stranger.email, PASSWORD)
        other_page.goto(f"{app_server.url}/payment/success")
        expect(other_page.locator("#no-payments")).to_have_text("You have no payments yet.")
        expect(other_page.get_by_role("link", name="Go to My appointments")).to_be_visible()
        expect(other_page.get_by_text(CONFIRMED)).to_have_count(0)
        expect(other_page.locator("#confirmation-payment-id")).to_have_count(0)
    finally:
        other.close()
    with app_server.session() as s:
        mine = s.exec(
            select(Payment.id)
            .join(Booking, col(Booking.id) == col(Payment.booking_id))
            .where(Booking.patient_id == patient.id)
        ).all()
        assert len(mine) == 2
