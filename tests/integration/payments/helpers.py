"""What payment tests do over HTTP: book, pay on the sandbox, sign webhooks as Stripe does."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import httpx
from sqlmodel import Session, select

from efoy_app.models import Payment, WebhookEvent

T = TypeVar("T")
WEBHOOK_PATH = "/api/v1/payment/webhook"


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send for this body."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_slot(api_url: str, doctor_id: int, skip: int = 0) -> str:
    """The start of a free slot of this doctor in the coming days (ISO string). From the day
    after tomorrow: "tomorrow" in a doctor's timezone east of UTC can begin within the hour when
    the run is near midnight UTC, too soon for Stripe's payment page."""
    seen = 0
    for offset in range(2, 15):
        day = (date.today() + timedelta(days=offset)).isoformat()
        r = httpx.get(
            f"{api_url}/api/v1/doctors/{doctor_id}/slots", params={"date": day}, timeout=30
        )
        r.raise_for_status()
        for slot in r.json()["slots"]:
            if seen == skip:
                return slot["startsAt"]
            seen += 1
    raise AssertionError(f"doctor {doctor_id} has no free slot")


def doctor_ids(api_url: str) -> list[int]:
    r = httpx.get(f"{api_url}/api/v1/doctors", timeout=30)
    r.raise_for_status()
    return [d["id"] for d in r.json()]


def book_slot(
    api_url: str, token: str, doctor_index: int = 0, starts_at: str | None = None
) -> dict[str, Any]:
    """Hold a free slot (the next one not yet taken) with the given doctor."""
    doctor_id = doctor_ids(api_url)[doctor_index]
    for skip in range(40):
        start = starts_at or free_slot(api_url, doctor_id, skip=0)
        r = httpx.post(
            f"{api_url}/api/v1/bookings",
            json={"doctorId": doctor_id, "startsAt": start, "reason": "test"},
            headers=auth(token),
            timeout=30,
        )
        if r.status_code == 201:
            return r.json()
        if starts_at is not None or r.status_code != 409:
            raise AssertionError(r.text)
        del skip
    raise AssertionError("could not book")


def start_checkout(api_url: str, token: str, booking_id: int, **extra: Any) -> dict[str, Any]:
    r = httpx.post(
        f"{api_url}/api/v1/payment/create-checkout-session",
        json={"bookingId": booking_id, **extra},
        headers=auth(token),
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return r.json()


def payment_status(api_url: str, token: str, session_id: str) -> dict[str, Any]:
    r = httpx.get(f"{api_url}/api/v1/payment/status/{session_id}", headers=auth(token), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def pay_session(sandbox: Any, session_id: str, card: str = "4242424242424242") -> dict[str, Any]:
    """Submit the sandbox's hosted Checkout form (same code path as the browser)."""
    return sandbox.control(
        f"/checkout/sessions/{session_id}/pay", {"card": card, "email": "p@example.com"}
    )


def wait_for(probe: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.1) -> T:
    """Poll until `probe` returns something truthy; fail with the time waited."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def post_event(api_url: str, body: bytes, secret: str) -> httpx.Response:
    """Deliver a body to the webhook route, signed as Stripe signs it."""
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body, secret)}
    return httpx.post(api_url + WEBHOOK_PATH, content=body, headers=headers, timeout=30)


def applied_event(engine: Any, event_id: str, timeout: float = 20.0) -> WebhookEvent:
    """The stored event once it is applied (processed, ignored) or failed: the route answers
    as soon as the event is stored, and applies it after."""

    def finished() -> WebhookEvent | None:
        with Session(engine) as db:
            row = db.exec(
                select(WebhookEvent).where(WebhookEvent.stripe_event_id == event_id)
            ).first()
            return row if row is not None and row.status != "received" else None

    return wait_for(finished, timeout=timeout)


def settled_webhooks(engine: Any, sandbox: Any, timeout: float = 30.0) -> None:
    """Wait until the sandbox has nothing left to deliver and every stored event is applied,
    so that no webhook writes while a test reads a snapshot of the audit trail."""

    def quiet() -> bool:
        status = httpx.get(f"{sandbox.url}/_sandbox/webhooks", timeout=30).json()
        if status["held"] or status["in_flight"] or status["background_tasks"]:
            return False
        with Session(engine) as db:
            return (
                db.exec(select(WebhookEvent).where(WebhookEvent.status == "received")).first()
                is None
            )

    wait_for(quiet, timeout=timeout)


def doctor_in(api_server: Any, currency: str) -> dict[str, Any]:
    """The first active doctor whose fee is in `currency`."""
    r = httpx.get(f"{api_server.url}/api/v1/doctors", timeout=30)
    r.raise_for_status()
    return next(d for d in r.json() if d["currency"] == currency)


def book_from_day(api_server: Any, token: str, doctor_id: int, first_offset: int) -> dict[str, Any]:
    """Hold the first free slot of the doctor from `first_offset` days ahead on."""
    for offset in range(first_offset, 14):
        day = (date.today() + timedelta(days=offset)).isoformat()
        r = httpx.get(
            f"{api_server.url}/api/v1/doctors/{doctor_id}/slots", params={"date": day}, timeout=30
        )
        r.raise_for_status()
        for slot in r.json()["slots"]:
            r = httpx.post(
                f"{api_server.url}/api/v1/bookings",
                json={"doctorId": doctor_id, "startsAt": slot["startsAt"], "reason": "test"},
                headers=auth(token),
                timeout=30,
            )
            if r.status_code == 201:
                return r.json()
            assert r.status_code == 409, r.text
    raise AssertionError(f"doctor {doctor_id} has no free slot from day {first_offset}")


def pay_and_confirm(api_server: Any, sandbox: Any, token: str, booking: dict[str, Any]) -> str:
    """Pay the booking on the hosted page; returns the Checkout Session id once it is paid."""
    checkout = start_checkout(api_server.url, token, booking["id"])
    assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"

    def paid() -> bool:
        with Session(api_server.engine) as db:
            p = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
            return p.status == "paid"

    wait_for(paid)
    return checkout["sessionId"]
