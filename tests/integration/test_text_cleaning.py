"""Over HTTP: names and reasons with bidi controls are stored and shown without them."""

from __future__ import annotations

import time

import httpx
from sqlmodel import Session

from efoy_app.models import Booking, User
from tests.integration.test_api_rest import bearer, book, doctor_named, free_slot_start

TIMEOUT = 30
RLO, LRI, PDI = "\u202e", "\u2066", "\u2069"


def test_a_name_with_an_override_is_stored_as_it_displays(api_server) -> None:
    email = f"eve-{time.monotonic_ns()}@example.com"
    r = httpx.post(
        f"{api_server.url}/api/v1/auth/register",
        json={"email": email, "password": "eve-password", "fullName": f"Eve {RLO}evil"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 201, r.text
    assert r.json()["fullName"] == "Eve evil"
    token = httpx.post(
        f"{api_server.url}/api/v1/auth/token",
        json={"email": email, "password": "eve-password"},
        timeout=TIMEOUT,
    ).json()["accessToken"]
    me = httpx.get(f"{api_server.url}/api/v1/auth/me", headers=bearer(token), timeout=TIMEOUT)
    assert me.json()["fullName"] == "Eve evil"
    with Session(api_server.engine) as s:
        assert s.get(User, r.json()["id"]).full_name == "Eve evil"
    # An address carrying a control is refused, not silently turned into another mailbox.
    r = httpx.post(
        f"{api_server.url}/api/v1/auth/register",
        json={"email": f"x{RLO}{email}", "password": "eve-password", "fullName": "Eve"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_booking_and_cancel_reasons_lose_their_controls(api_server, make_patient) -> None:
    patient = make_patient()
    doctor = doctor_named(api_server.url, "schmidt")
    starts_at = free_slot_start(api_server.url, doctor["id"], first_offset=10, index=5)
    r = book(api_server.url, patient, doctor["id"], starts_at, reason=f"{RLO}hguoc{LRI} x{PDI}")
    assert r.status_code == 201, r.text
    assert r.json()["reason"] == "hguoc x"
    booking_id = r.json()["id"]
    r = httpx.post(
        f"{api_server.url}/api/v1/bookings/{booking_id}/cancel",
        json={"reason": f"{LRI}changed my mind{PDI} "},
        headers=bearer(patient),
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reason"]) == ("cancelled", "hguoc x")
    with Session(api_server.engine) as s:
        stored = s.get(Booking, booking_id)
        assert (stored.reason, stored.cancelled_reason) == ("hguoc x", "changed my mind")
