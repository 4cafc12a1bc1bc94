"""The webhook route over HTTP against the running API: signatures, duplicates, order, size."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlmodel import Session, select

from efoy_app.models import AuditLog, Booking, Payment, WebhookEvent
from tests.integration.payments.helpers import (
    WEBHOOK_PATH,
    applied_event,
    book_slot,
    pay_session,
    sign,
    start_checkout,
    wait_for,
)


def _post(api_url: str, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return httpx.post(api_url + WEBHOOK_PATH, content=body, headers=headers, timeout=30)


def _event(event_id: str, etype: str, obj: dict) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": etype,
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "api_version": "2025-01-01",
        }
    ).encode()


def _count_events(engine, event_id: str) -> int:
    with Session(engine) as db:
        return len(
            db.exec(select(WebhookEvent).where(WebhookEvent.stripe_event_id == event_id)).all()
        )


def test_valid_unknown_type_is_recorded_and_ignored(api_server, webhook_secret):
    body = _event("evt_unknown_1", "customer.created", {"id": "cus_1", "object": "customer"})
    r = _post(api_server.url, body, sign(body, webhook_secret))
    assert r.status_code == 200, r.text
    assert r.json() == {"received": True, "outcome": "stored"}
    row = applied_event(api_server.engine, "evt_unknown_1")
    assert (row.type, row.status, row.attempts) == ("customer.created", "ignored", 1)


def test_forged_and_tampered_webhooks_are_refused_and_write_nothing(api_server, webhook_secret):
    body = _event("evt_forged_1", "customer.created", {"id": "cus_2"})
    cases = {
        "missing": None,
        "garbage": "not-a-signature",
        "wrong_secret": sign(body, "whsec_wrong_secret_0000000000"),
        "stale": sign(body, webhook_secret, timestamp=int(time.time()) - 301),
    }
    for name, signature in cases.items():
        r = _post(api_server.url, body, signature)
        assert r.status_code == 400, (name, r.text)
        assert r.json()["error"]["code"] in {"missing_signature", "invalid_signature"}, name
    edited = body.replace(b"cus_2", b"cus_3")
    r = _post(api_server.url, edited, sign(body, webhook_secret))
    assert r.status_code == 400
    assert _count_events(api_server.engine, "evt_forged_1") == 0


def test_oversized_body_is_refused(api_server, webhook_secret):
    body = _event("evt_big_1", "customer.created", {"id": "cus_4", "pad": "x" * (1024 * 1024)})
    r = _post(api_server.url, body, sign(body, webhook_secret))
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert _count_events(api_server.engine, "evt_big_1") == 0


def test_same_event_five_times_has_one_effect(api_server, sandbox, webhook_secret, make_patient):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=0)
    with sandbox.webhooks_paused():
        checkout = start_checkout(api_server.url, token, booking["id"])
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
        event = sandbox.find_event("checkout.session.completed", checkout["sessionId"])
        body = json.dumps(event).encode()
        # Five at once (as when Stripe retries while a worker is slow), then five more.
        with ThreadPoolExecutor(5) as pool:
            answers = list(
                pool.map(
                    lambda _: _post(api_server.url, body, sign(body, webhook_secret)), range(5)
                )
            )
        assert [a.status_code for a in answers] == [200] * 5
        assert sorted(a.json()["outcome"] for a in answers) == ["duplicate"] * 4 + ["stored"]
        assert applied_event(api_server.engine, event["id"]).status == "processed"
        later = [_post(api_server.url, body, sign(body, webhook_secret)) for _ in range(5)]
        assert [a.json()["outcome"] for a in later] == ["duplicate"] * 5
    assert _count_events(api_server.engine, event["id"]) == 1
    with Session(api_server.engine) as db:
        b = db.get(Booking, booking["id"])
        assert b.status == "confirmed"
        confirmations = db.exec(
            select(AuditLog).where(
                AuditLog.entity_type == "booking",
                AuditLog.entity_id == booking["id"],
                AuditLog.to_status == "confirmed",
            )
        ).all()
        assert len(confirmations) == 1


def test_refund_reported_before_completion_ends_right(
    api_server, sandbox, make_patient, stripe_client
):
    """charge.refunded delivered before checkout.session.completed: same end state as in order."""
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=1)
    with sandbox.webhooks_paused(order="reverse"):
        checkout = start_checkout(api_server.url, token, booking["id"])
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
        session = stripe_client.v1.checkout.sessions.retrieve(checkout["sessionId"])
        refund = stripe_client.v1.refunds.create(
            {"payment_intent": session.payment_intent, "amount": booking["priceMinor"] // 2}
        )
        assert refund.status == "succeeded"
    # Deliveries resume newest first: refund events reach us before the completion.

    def settled():
        with Session(api_server.engine) as db:
            p = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
            return p if p.status == "partially_refunded" else None

    payment = wait_for(settled, timeout=20)
    assert payment.amount_refunded_minor == booking["priceMinor"] // 2
    with Session(api_server.engine) as db:
        assert db.get(Booking, booking["id"]).status == "confirmed"

    def ours() -> list[WebhookEvent]:
        """This test's stored events (other tests store failing events on purpose)."""
        with Session(api_server.engine) as db:
            return [
                e
                for e in db.exec(select(WebhookEvent)).all()
                if session.payment_intent in e.payload or checkout["sessionId"] in e.payload
            ]

    # The first refund event alone can settle the payment; wait for the rest to be delivered
    # and applied.
    wanted = {"checkout.session.completed", "charge.refunded"}

    def all_applied() -> bool:
        events = ours()
        return {e.type for e in events} >= wanted and all(e.status != "received" for e in events)

    wait_for(all_applied, timeout=20)
    assert [(e.type, e.error) for e in ours() if e.status not in ("processed", "ignored")] == []


def test_a_processing_error_is_kept_on_the_row_and_a_redelivery_applies_it(
    api_server, sandbox, webhook_secret, make_patient
):
    """Stripe is unreachable while we apply the event: the delivery was already answered 200
    (the event is stored), the row keeps the error, and a redelivery applies it."""
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=2)
    with sandbox.webhooks_paused():
        checkout = start_checkout(api_server.url, token, booking["id"])
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
        event = sandbox.find_event("checkout.session.completed", checkout["sessionId"])
        body = json.dumps(event).encode()
        sandbox.control("/faults/api", {"count": 3, "status": 500, "path_prefix": "/v1/checkout"})
        try:
            first = _post(api_server.url, body, sign(body, webhook_secret))
            row = applied_event(api_server.engine, event["id"])
        finally:
            sandbox.control("/faults/clear")
        assert (first.status_code, first.json()["outcome"]) == (200, "stored")
        assert (row.status, row.attempts) == ("failed", 1)
        assert "PaymentProviderUnavailable" in row.error
        with Session(api_server.engine) as db:
            assert db.get(Booking, booking["id"]).status == "held"
        again = _post(api_server.url, body, sign(body, webhook_secret))
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")

    def processed() -> WebhookEvent | None:
        with Session(api_server.engine) as db:
            row = db.exec(
                select(WebhookEvent).where(WebhookEvent.stripe_event_id == event["id"])
            ).one()
            return row if row.status == "processed" else None

    row = wait_for(processed)
    assert (row.status, row.attempts, row.error) == ("processed", 2, None)
    with Session(api_server.engine) as db:
        assert db.get(Booking, booking["id"]).status == "confirmed"


def test_async_payment_events(api_server, sandbox, webhook_secret, make_patient):
    """Delayed methods (bank debits) report through async_payment_* events; the sandbox has no
    delayed methods, so these events are built here around real sandbox sessions and signed."""
    token = make_patient()
    failing = book_slot(api_server.url, token, doctor_index=3)
    succeeding = book_slot(api_server.url, token, doctor_index=4)
    with sandbox.webhooks_paused():
        bad = start_checkout(api_server.url, token, failing["id"])
        good = start_checkout(api_server.url, token, succeeding["id"])
        assert pay_session(sandbox, good["sessionId"])["outcome"] == "succeeded"
        for event_id, etype, session_id in (
            ("evt_async_fail_1", "checkout.session.async_payment_failed", bad["sessionId"]),
            ("evt_async_ok_1", "checkout.session.async_payment_succeeded", good["sessionId"]),
        ):
            body = _event(event_id, etype, {"id": session_id, "object": "checkout.session"})
            r = _post(api_server.url, body, sign(body, webhook_secret))
            assert (r.status_code, r.json()["outcome"]) == (200, "stored"), r.text
            assert applied_event(api_server.engine, event_id).status == "processed"
    with Session(api_server.engine) as db:
        failed = db.exec(select(Payment).where(Payment.booking_id == failing["id"])).one()
        assert failed.status == "failed"
        assert failed.failure_message == "The bank did not complete the payment."
        assert db.get(Booking, failing["id"]).status == "held"
        assert db.get(Booking, succeeding["id"]).status == "confirmed"
