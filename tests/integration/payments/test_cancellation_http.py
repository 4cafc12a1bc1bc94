"""GET /api/v1/bookings/{id}/cancellation over HTTP: what cancelling now would refund, by the
policy in force, for the caller's own booking only. Real API under uvicorn, real sandbox; the
bookings are paid on the sandbox's hosted page and confirmed by its signed webhook."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import Session

from efoy_app.models import Doctor
from efoy_app.routes import MAX_ID
from tests.integration.payments.helpers import (
    auth,
    book_from_day,
    doctor_in,
    pay_and_confirm,
)

HOUR = timedelta(hours=1)


def cancellation(api_server, token: str | None, booking_id: int | str) -> httpx.Response:
    return httpx.get(
        f"{api_server.url}/api/v1/bookings/{booking_id}/cancellation",
        headers=auth(token) if token else None,
        timeout=30,
    )


def _hours_words(starts_at: str, moments: tuple[datetime, datetime]) -> set[str]:
    """What the reason may say about the hours left, between the two moments around a request."""
    start = datetime.fromisoformat(starts_at)
    return {f"in {math.floor((start - m) / HOUR)} hours" for m in moments}


def test_anonymous_is_401(api_server):
    r = cancellation(api_server, None, 1)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"


def test_another_patients_booking_an_unknown_one_and_ids_out_of_range(api_server, make_patient):
    owner, stranger = make_patient(), make_patient()
    booking = book_from_day(api_server, owner, doctor_in(api_server, "EUR")["id"], 3)
    r = cancellation(api_server, stranger, booking["id"])
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = cancellation(api_server, owner, MAX_ID)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    for bad in ("0", str(MAX_ID + 1), "abc", "1e3"):
        r = cancellation(api_server, owner, bad)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error"), bad
    # The owner still reads their own.
    assert cancellation(api_server, owner, booking["id"]).status_code == 200


def test_a_held_booking_refunds_nothing(api_server, make_patient):
    token = make_patient()
    booking = book_from_day(api_server, token, doctor_in(api_server, "EUR")["id"], 3)
    r = cancellation(api_server, token, booking["id"])
    assert r.status_code == 200, r.text
    assert r.json() == {
        "refundMinor": 0,
        "refundPercent": 0,
        "currency": "EUR",
        "reason": "Nothing has been paid for this booking, so there is nothing to refund.",
    }


def test_a_paid_jpy_booking_days_ahead_then_a_partial_refund_then_another_policy(
    api_server, sandbox, admin_token, make_patient
):
    token = make_patient()
    doctor = doctor_in(api_server, "JPY")
    booking = book_from_day(api_server, token, doctor["id"], 4)
    price = booking["priceMinor"]
    assert (price, booking["currency"]) == (5000, "JPY")
    session_id = pay_and_confirm(api_server, sandbox, token, booking)

    before = datetime.now(UTC)
    r = cancellation(api_server, token, booking["id"])
    after = datetime.now(UTC)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["refundMinor"], body["refundPercent"], body["currency"]) == (5000, 100, "JPY")
    assert body["reason"] in {
        f"The appointment is {words}: 100 % back under the policy."
        for words in _hours_words(booking["startsAt"], (before, after))
    }

    # An admin refunds ¥1,000; the policy's 100 % is now capped at the ¥4,000 left.
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/refund/{session_id}",
        json={"amountMinor": 1000, "reason": "doctor ran late"},
        headers=auth(admin_token),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    before = datetime.now(UTC)
    body = cancellation(api_server, token, booking["id"]).json()
    after = datetime.now(UTC)
    assert (body["refundMinor"], body["refundPercent"]) == (4000, 100)
    assert body["reason"] in {
        f"The appointment is {words}: 100 % back under the policy. ¥1,000 has been refunded "
        "already, so the ¥4,000 left is refunded."
        for words in _hours_words(booking["startsAt"], (before, after))
    }

    # The running API reads the policy from its setting: 35 % from 1 hour before, rounded down.
    api_server.set_env(EFOY_CANCELLATION_POLICY="1:35,0:0")
    try:
        body = cancellation(api_server, token, booking["id"]).json()
    finally:
        api_server.set_env(EFOY_CANCELLATION_POLICY=None)
    assert (body["refundMinor"], body["refundPercent"], body["currency"]) == (1750, 35, "JPY")
    assert body["reason"].endswith(": 35 % back under the policy.")
    # Back to the default, and nothing was changed by asking.
    assert cancellation(api_server, token, booking["id"]).json()["refundMinor"] == 4000
    r = httpx.get(f"{api_server.url}/api/v1/bookings/{booking['id']}", headers=auth(token))
    assert r.json()["status"] == "confirmed"


def test_the_route_is_in_the_openapi_document(api_server):
    doc = httpx.get(f"{api_server.url}/api/v1/openapi.json", timeout=30).json()
    op = doc["paths"]["/api/v1/bookings/{booking_id}/cancellation"]["get"]
    (param,) = op["parameters"]
    assert (param["schema"]["minimum"], param["schema"]["maximum"]) == (1, MAX_ID)
    schema = doc["components"]["schemas"]["CancellationOut"]
    assert set(schema["properties"]) == {"refundMinor", "refundPercent", "currency", "reason"}
    assert {"401", "404", "422"} <= set(op["responses"])


def test_a_doctors_own_policy_prices_the_cancellation_and_is_on_the_policy_page(
    api_server, sandbox, make_patient
):
    """The seeded neurologist has "72:100,24:50,0:0"; here one doctor gets tiers that give 50 %
    at any time the booking horizon allows, and back again afterwards."""
    token = make_patient()
    doctor = doctor_in(api_server, "EUR")
    booking = book_from_day(api_server, token, doctor["id"], 4)
    pay_and_confirm(api_server, sandbox, token, booking)
    assert cancellation(api_server, token, booking["id"]).json()["refundPercent"] == 100
    with Session(api_server.engine) as db:
        row = db.get(Doctor, doctor["id"])
        before, row.cancellation_policy = row.cancellation_policy, "1000:100,1:50,0:0"
        db.add(row)
        db.commit()
    try:
        body = cancellation(api_server, token, booking["id"]).json()
        assert (body["refundMinor"], body["refundPercent"]) == (booking["priceMinor"] // 2, 50)
        # A policy that no longer reads (written by hand in SQL) falls back to the clinic's.
        with Session(api_server.engine) as db:
            row = db.get(Doctor, doctor["id"])
            row.cancellation_policy = "48:100,24;50"
            db.add(row)
            db.commit()
        assert cancellation(api_server, token, booking["id"]).json()["refundPercent"] == 100
    finally:
        with Session(api_server.engine) as db:
            row = db.get(Doctor, doctor["id"])
            row.cancellation_policy = before
            db.add(row)
            db.commit()
