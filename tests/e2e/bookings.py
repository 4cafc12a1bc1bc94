"""Bookings the end-to-end tests need ready-made, paid through the sandbox's control API (as a
card payment on its hosted page) and confirmed by its signed webhook, so a test spends its time
on the pages it is about."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta

import httpx
from sqlmodel import select

from efoy_app.domain.auth import register_patient
from efoy_app.models import Doctor, Payment
from tests.e2e.conftest import AppServer

PASSWORD = "cancel-e2e-pass-1"


def new_patient(server: AppServer, name: str = "Tirunesh Dibaba") -> tuple[str, dict[str, str]]:
    """A fresh patient (email, bearer headers); their password is PASSWORD."""
    email = f"patient-{uuid.uuid4().hex[:10]}@example.com"
    with server.session() as s:
        register_patient(s, email=email, password=PASSWORD, full_name=name)
    r = httpx.post(f"{server.url}/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    return email, {"Authorization": f"Bearer {r.json()['accessToken']}"}


def paid_booking(server: AppServer, headers: dict[str, str], doctor_index: int) -> dict:
    """A booking five or more days ahead (100 % back under the default policy), paid."""
    with server.session() as s:
        doctors = s.exec(select(Doctor).where(Doctor.currency == "EUR").order_by(Doctor.id)).all()
        doctor = doctors[doctor_index % len(doctors)]
    for offset in range(5, 14):
        day = (date.today() + timedelta(days=offset)).isoformat()
        slots = httpx.get(f"{server.url}/api/v1/doctors/{doctor.id}/slots", params={"date": day})
        for slot in slots.json()["slots"]:
            r = httpx.post(f"{server.url}/api/v1/bookings", headers=headers, timeout=30,
                           json={"doctorId": doctor.id, "startsAt": slot["startsAt"]})  # fmt: skip
            if r.status_code == 201:
                booking = r.json()
                break
        else:
            continue
        break
    else:
        raise AssertionError("no free slot")
    booking["paymentId"] = pay_on_hosted_page(server, headers, booking["id"]).id
    return booking


def pay_on_hosted_page(server: AppServer, headers: dict[str, str], booking_id: int) -> Payment:
    """Pay a held booking with 4242 on the sandbox's hosted Checkout; returns the payment once
    the signed webhook has made it paid."""
    r = httpx.post(f"{server.url}/api/v1/payment/create-checkout-session", headers=headers,
                   json={"bookingId": booking_id}, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    session_id = r.json()["sessionId"]
    paid = httpx.post(f"{server.sandbox_url}/_sandbox/checkout/sessions/{session_id}/pay",
                      json={"card": "4242424242424242"}, timeout=30)  # fmt: skip
    assert paid.json()["outcome"] == "succeeded", paid.text
    deadline = time.monotonic() + 30
    while True:
        with server.session() as s:
            payment = s.exec(select(Payment).where(Payment.booking_id == booking_id)).one()
        if payment.status == "paid":
            return payment
        assert time.monotonic() < deadline, payment
        time.sleep(0.2)
