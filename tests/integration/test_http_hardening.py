"""Bad input over HTTP gets a declared 4xx JSON error, never a 500 (issue 7, items 3, 4 and 9).

Against the real API under uvicorn and the real sandbox: non-UTF-8 webhooks, ids and amounts past
any integer column or Decimal context, bodies over the cap (with and without Content-Length), and
the OpenAPI document declaring the errors the routes give.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session, select

from efoy_app.api import admin as admin_api
from efoy_app.api.limits import API_BODY_LIMIT
from efoy_app.domain import admin_views, webhooks
from efoy_app.models import Payment, Refund
from tests.integration.payments.helpers import (
    WEBHOOK_PATH,
    auth,
    book_slot,
    pay_session,
    sign,
    start_checkout,
    wait_for,
)

TOO_BIG_ID = 2**63  # one past a signed 64-bit column


def _error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    assert "Traceback" not in r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body


# --- item 3: the webhook ---


def test_non_utf8_webhook_body_is_a_400_not_a_500(api_server, stripe_world) -> None:
    body = b'{"id": "evt_\xff\xfe", "type": "charge.refunded"}'
    r = httpx.post(
        f"{api_server.url}{WEBHOOK_PATH}",
        content=body,
        headers={"Stripe-Signature": "t=1,v1=abc", "Content-Type": "application/json"},
        timeout=30,
    )
    _error(r, 400, "invalid_body")
    # Even correctly signed (as bytes), bytes that are not UTF-8 are not an event.
    r = httpx.post(
        f"{api_server.url}{WEBHOOK_PATH}",
        content=body,
        headers={"Stripe-Signature": sign(body, stripe_world.webhook_secret)},
        timeout=30,
    )
    _error(r, 400, "invalid_body")


def test_non_ascii_signature_header_is_a_400(api_server) -> None:
    r = httpx.post(
        f"{api_server.url}{WEBHOOK_PATH}",
        content=b'{"id": "evt_1", "type": "x"}',
        headers={"Stripe-Signature": b"t=1,v1=" + b"\xe9" * 64},
        timeout=30,
    )
    _error(r, 400, "invalid_signature")


# --- item 4: ids, amounts, strings ---


@pytest.mark.parametrize("route", ["create-checkout-session", "create-payment-intent"])
@pytest.mark.parametrize("booking_id", [TOO_BIG_ID, 2**53, 0, -1])
def test_booking_id_out_of_range_is_422(api_server, patient_token, route, booking_id) -> None:
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/{route}",
        json={"bookingId": booking_id},
        headers=auth(patient_token),
        timeout=30,
    )
    _error(r, 422, "validation_error")


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/bookings/{TOO_BIG_ID}",
        f"/api/v1/doctors/{TOO_BIG_ID}",
        f"/api/v1/doctors/{TOO_BIG_ID}/slots",
        f"/api/v1/admin/payments/{TOO_BIG_ID}",
        "/api/v1/admin/payments?limit=100000000000000000000",
        # One past PostgreSQL's INTEGER: these reached the database and failed there (500).
        f"/api/v1/bookings/{2**31}",
        f"/api/v1/admin/payments?doctor_id={2**53 - 1}",
        f"/api/v1/admin/outbox/{2**31}",
        "/api/v1/admin/payments?status=" + "x" * 5000,
        "/api/v1/payment/status/" + "cs_" + "a" * 300,
        "/api/v1/payment/status/cs_%C3%A9",
        "/api/v1/doctors?search=" + "a" * 101,
    ],
)
def test_out_of_range_paths_and_queries_are_422(api_server, admin_token, path) -> None:
    r = httpx.get(f"{api_server.url}{path}", headers=auth(admin_token), timeout=30)
    _error(r, 422, "validation_error")


@pytest.fixture(scope="module")
def paid_checkout(api_server, stripe_world, make_patient_module) -> Iterator[dict]:
    """A booking paid through hosted Checkout and confirmed by the webhook."""
    token = make_patient_module
    booking = book_slot(api_server.url, token, doctor_index=1)
    checkout = start_checkout(api_server.url, token, booking["id"])
    assert pay_session(stripe_world.sandbox, checkout["sessionId"])["outcome"] == "succeeded"

    def paid() -> int | None:
        with Session(api_server.engine) as db:
            p = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
            return p.id if p.status == "paid" else None

    yield {**checkout, "payment_id": wait_for(paid)}


@pytest.fixture(scope="module")
def make_patient_module(api_server) -> str:
    from tests.integration.conftest import register_patient

    return register_patient(api_server.url)


@pytest.mark.parametrize(
    "body",
    [
        {"amountMinor": 10**30, "reason": "too much"},
        {"amountMinor": 2**63, "reason": "too much"},
        {"amount": "1e999999999", "reason": "too much"},
        {"amount": "NaN", "reason": "not a number"},
        {"amount": "Infinity", "reason": "not a number"},
        {"amount": "0.0001", "reason": "sub-minor"},
        {"amountMinor": 100, "reason": "x" * 501},
    ],
)
def test_refund_amounts_out_of_range_are_422_and_refund_nothing(
    api_server, admin_token, paid_checkout, body
) -> None:
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/refund/{paid_checkout['sessionId']}",
        json=body,
        headers=auth(admin_token),
        timeout=30,
    )
    _error(r, 422, "validation_error")
    with Session(api_server.engine) as db:
        payment = db.get(Payment, paid_checkout["payment_id"])
        assert payment.status == "paid"
        refunds = db.exec(select(Refund).where(Refund.payment_id == payment.id)).all()
        assert refunds == []


@pytest.mark.parametrize("field", ["amountMinor", "amount"])
def test_start_payment_amounts_out_of_range_are_422(api_server, patient_token, field) -> None:
    value = 10**30 if field == "amountMinor" else "1e999999999"
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/create-checkout-session",
        json={"bookingId": 1, field: value},
        headers=auth(patient_token),
        timeout=30,
    )
    _error(r, 422, "validation_error")


def test_idempotency_key_longer_than_255_is_422(api_server, patient_token) -> None:
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/create-checkout-session",
        json={"bookingId": 1},
        headers={**auth(patient_token), "Idempotency-Key": "k" * 256},
        timeout=30,
    )
    _error(r, 422, "validation_error")


def test_admin_status_filters_are_the_domains() -> None:
    assert set(typing.get_args(admin_api.PaymentStatus)) == set(admin_views.PAYMENT_STATUSES)
    assert set(typing.get_args(admin_api.EventStatus)) == set(admin_views.EVENT_STATUSES)


# --- item 4: body size and encoding ---


def test_twenty_megabyte_body_is_413_before_it_is_read(api_server) -> None:
    body = b'{"email": "' + b"a" * (20 * 1024 * 1024) + b'", "password": "x"}'
    r = httpx.post(
        f"{api_server.url}/api/v1/auth/token",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    body = _error(r, 413, "payload_too_large")
    assert str(API_BODY_LIMIT) in body["error"]["message"]


def test_chunked_body_over_the_cap_is_413(api_server, patient_token) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"doctorId": 1, "startsAt": "2030-01-01T09:00:00+00:00", "reason": "'
        for _ in range(20):
            yield b"a" * 8192
        yield b'"}'

    r = httpx.post(
        f"{api_server.url}/api/v1/bookings",
        content=chunks(),
        headers={**auth(patient_token), "Content-Type": "application/json"},
        timeout=60,
    )
    assert "content-length" not in r.request.headers
    _error(r, 413, "payload_too_large")


def test_body_just_under_the_cap_is_read_and_validated(api_server) -> None:
    padding = "a" * (API_BODY_LIMIT - 100)
    r = httpx.post(
        f"{api_server.url}/api/v1/auth/token",
        json={"email": padding, "password": "x"},
        timeout=30,
    )
    _error(r, 422, "validation_error")


def test_webhook_keeps_its_own_larger_cap(api_server) -> None:
    big = b'{"id": "evt_1", "type": "x", "pad": "' + b"a" * (200 * 1024) + b'"}'
    r = httpx.post(
        f"{api_server.url}{WEBHOOK_PATH}",
        content=big,
        headers={"Stripe-Signature": "t=1,v1=abc"},
        timeout=30,
    )
    _error(r, 400, "invalid_signature")  # read and checked, not cut at 64 KB
    huge = b"a" * (webhooks.MAX_BODY_BYTES + 1)
    r = httpx.post(
        f"{api_server.url}{WEBHOOK_PATH}",
        content=huge,
        headers={"Stripe-Signature": "t=1,v1=abc"},
        timeout=30,
    )
    _error(r, 413, "payload_too_large")


def test_non_utf8_json_body_is_400(api_server) -> None:
    r = httpx.post(
        f"{api_server.url}/api/v1/auth/token",
        content=b'{"email": "\xff\xfe@example.com", "password": "x"}',
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    _error(r, 400)


def test_non_ascii_header_values_are_4xx(api_server, patient_token) -> None:
    r = httpx.get(
        f"{api_server.url}/api/v1/bookings",
        headers={"Authorization": b"Bearer \xff\xfe"},
        timeout=30,
    )
    _error(r, 401)
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/create-checkout-session",
        json={"bookingId": TOO_BIG_ID - 1},
        headers={**auth(patient_token), "Idempotency-Key": b"key-\xff"},
        timeout=30,
    )
    _error(r, 422)


def test_wrong_method_is_405_with_allow(api_server) -> None:
    r = httpx.put(f"{api_server.url}/api/v1/bookings", timeout=30)
    _error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, POST"


# --- item 9: the OpenAPI document declares the errors ---


def test_openapi_declares_the_error_responses(api_server) -> None:
    doc = httpx.get(f"{api_server.url}/api/v1/openapi.json", timeout=30).json()
    paths = doc["paths"]
    expected = {
        ("post", "/api/v1/payment/create-checkout-session"): {"400", "401", "404", "409", "413"},
        ("post", "/api/v1/payment/create-payment-intent"): {"400", "401", "404", "409", "413"},
        ("post", "/api/v1/payment/refund/{session_id}"): {"401", "403", "404", "409", "413"},
        ("post", "/api/v1/payment/webhook"): {"400", "413"},
        ("post", "/api/v1/bookings"): {"401", "404", "409", "413", "422"},
        ("get", "/api/v1/bookings/{booking_id}"): {"401", "404", "422"},
        ("post", "/api/v1/auth/token"): {"401", "413", "422", "429"},
    }
    for (method, path), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (path, sorted(responses))
        for status in statuses:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, status, schema)
    assert (
        "amount_mismatch"
        in (
            paths["/api/v1/payment/create-checkout-session"]["post"]["responses"]["400"][
                "description"
            ]
        )
    )
    assert "HTTPValidationError" not in doc["components"]["schemas"]
