"""Hosted Checkout through the real REST API, the real sandbox and the real webhook."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlmodel import Session, select

from efoy_app.domain.bookings import expire_lapsed_holds
from efoy_app.domain.reconcile import reconcile_once
from efoy_app.models import AuditLog, Booking, Payment, Refund, utcnow
from tests.integration.payments.helpers import (
    auth,
    book_slot,
    pay_session,
    payment_status,
    start_checkout,
    wait_for,
)


def _booking_status(engine, booking_id: int) -> str:
    with Session(engine) as db:
        return db.get(Booking, booking_id).status


def _payments(engine, booking_id: int) -> list[Payment]:
    with Session(engine) as db:
        return list(db.exec(select(Payment).where(Payment.booking_id == booking_id)).all())


def test_pay_with_4242_confirms_through_the_webhook(api_server, sandbox, make_patient):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=0)
    checkout = start_checkout(api_server.url, token, booking["id"])
    assert checkout["url"].startswith(sandbox.url)
    assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
    wait_for(lambda: _booking_status(api_server.engine, booking["id"]) == "confirmed")
    status = payment_status(api_server.url, token, checkout["sessionId"])
    assert status["status"] == "paid"
    assert status["bookingStatus"] == "confirmed"
    assert status["amountMinor"] == booking["priceMinor"]
    assert status["currency"] == booking["currency"]
    assert status["amountRefundedMinor"] == 0
    assert status["paidAt"] is not None
    assert (status["cardBrand"], status["cardLast4"]) == ("visa", "4242")
    # A paid booking refuses a second payment.
    again = httpx.post(
        f"{api_server.url}/api/v1/payment/create-checkout-session",
        json={"bookingId": booking["id"]},
        headers=auth(token),
        timeout=30,
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_paid"


def test_ten_concurrent_pay_now_make_one_session(api_server, make_patient):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=1)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(
            pool.map(lambda _: start_checkout(api_server.url, token, booking["id"]), range(10))
        )
    assert len({r["sessionId"] for r in results}) == 1
    assert len({r["url"] for r in results}) == 1
    rows = _payments(api_server.engine, booking["id"])
    assert len(rows) == 1
    assert rows[0].stripe_checkout_session_id == results[0]["sessionId"]


def test_idempotency_key_replays_and_refuses_other_parameters(api_server, make_patient):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=2)
    headers = {**auth(token), "Idempotency-Key": "pay-once-123"}
    url = f"{api_server.url}/api/v1/payment/create-checkout-session"
    first = httpx.post(url, json={"bookingId": booking["id"]}, headers=headers, timeout=30)
    second = httpx.post(url, json={"bookingId": booking["id"]}, headers=headers, timeout=30)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    other = httpx.post(
        url, json={"bookingId": booking["id"], "amountMinor": 1}, headers=headers, timeout=30
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_amount_tampering_is_refused(api_server, make_patient):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=0)
    url = f"{api_server.url}/api/v1/payment/create-checkout-session"
    for body in (
        {"bookingId": booking["id"], "amountMinor": booking["priceMinor"] - 1},
        {"bookingId": booking["id"], "amount": "0.50"},
        {"bookingId": booking["id"], "currency": "XAF" if booking["currency"] != "XAF" else "USD"},
    ):
        r = httpx.post(url, json=body, headers=auth(token), timeout=30)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "amount_mismatch"
    assert _payments(api_server.engine, booking["id"]) == []
    # The right amount, in major units as the seed's client sends it, is accepted.
    exponent = 0 if booking["currency"] in ("JPY", "KRW") else 2
    major = booking["priceMinor"] / (10**exponent)
    ok = start_checkout(api_server.url, token, booking["id"], amount=f"{major:.{exponent}f}")
    assert ok["sessionId"].startswith("cs_")


def test_another_patients_booking_is_404_everywhere(api_server, make_patient):
    alice, bob = make_patient(), make_patient()
    booking = book_slot(api_server.url, alice, doctor_index=3)
    checkout = start_checkout(api_server.url, alice, booking["id"])
    for method, path, body in (
        ("POST", "/api/v1/payment/create-checkout-session", {"bookingId": booking["id"]}),
        ("POST", "/api/v1/payment/create-payment-intent", {"bookingId": booking["id"]}),
        ("GET", f"/api/v1/payment/status/{checkout['sessionId']}", None),
    ):
        r = httpx.request(method, api_server.url + path, json=body, headers=auth(bob), timeout=30)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "not_found"
    # and a patient cannot refund at all
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/refund/{checkout['sessionId']}",
        json={"reason": "mine"},
        headers=auth(alice),
        timeout=30,
    )
    assert r.status_code == 403


def test_decline_keeps_the_hold_and_the_patient_can_pay_again(api_server, sandbox, make_patient):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=4)
    checkout = start_checkout(api_server.url, token, booking["id"])
    declined = pay_session(sandbox, checkout["sessionId"], card="4000000000000002")
    assert declined["outcome"] == "declined"
    assert declined["error"]["message"] == "Your card was declined."
    wait_for(lambda: any(p.failure_message for p in _payments(api_server.engine, booking["id"])))
    assert _booking_status(api_server.engine, booking["id"]) == "held"
    [payment] = _payments(api_server.engine, booking["id"])
    assert (payment.status, payment.failure_code) == ("pending", "generic_decline")
    # Pay now again reuses the same session; this time the card works.
    again = start_checkout(api_server.url, token, booking["id"])
    assert again["sessionId"] == checkout["sessionId"]
    assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
    wait_for(lambda: _booking_status(api_server.engine, booking["id"]) == "confirmed")


def test_3ds_completed_confirms_and_failed_keeps_held(api_server, sandbox, make_patient):
    token = make_patient()
    ok_booking = book_slot(api_server.url, token, doctor_index=5)
    ok = start_checkout(api_server.url, token, ok_booking["id"])
    step = pay_session(sandbox, ok["sessionId"], card="4000002500003155")
    assert step["outcome"] == "requires_action"
    pi = sandbox.session_payment_intent(ok["sessionId"])
    sandbox.control(f"/payment_intents/{pi}/authenticate", {"result": "complete"})
    wait_for(lambda: _booking_status(api_server.engine, ok_booking["id"]) == "confirmed")

    bad_booking = book_slot(api_server.url, token, doctor_index=5)
    bad = start_checkout(api_server.url, token, bad_booking["id"])
    assert (
        pay_session(sandbox, bad["sessionId"], card="4000002500003155")["outcome"]
        == "requires_action"
    )
    pi = sandbox.session_payment_intent(bad["sessionId"])
    sandbox.control(f"/payment_intents/{pi}/authenticate", {"result": "fail"})
    wait_for(
        lambda: any(p.failure_message for p in _payments(api_server.engine, bad_booking["id"]))
    )
    assert _booking_status(api_server.engine, bad_booking["id"]) == "held"
    assert payment_status(api_server.url, token, bad["sessionId"])["status"] == "pending"


def test_session_expiry_releases_the_slot(api_server, sandbox, make_patient, stripe_client):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=0)
    checkout = start_checkout(api_server.url, token, booking["id"])
    stripe_client.v1.checkout.sessions.expire(checkout["sessionId"])
    wait_for(lambda: _booking_status(api_server.engine, booking["id"]) == "expired")
    assert payment_status(api_server.url, token, checkout["sessionId"])["status"] == "expired"
    # The slot is free: another patient holds it at once.
    other = make_patient()
    again = book_slot(api_server.url, other, doctor_index=0, starts_at=booking["startsAt"])
    assert again["status"] == "held"


def test_late_payment_on_a_retaken_slot_is_refunded_and_flagged(api_server, sandbox, make_patient):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=1)
    with sandbox.webhooks_paused():
        checkout = start_checkout(api_server.url, token, booking["id"])
        # The hold lapses and someone else takes the slot...
        with Session(api_server.engine) as db:
            expired = expire_lapsed_holds(db, now=utcnow() + timedelta(hours=25))
        assert booking["id"] in expired
        rival = book_slot(
            api_server.url, make_patient(), doctor_index=1, starts_at=booking["startsAt"]
        )
        # ...and only then does the first patient's payment go through.
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"

    def refunded():
        with Session(api_server.engine) as db:
            p = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
            return p if p.status == "refunded" else None

    payment = wait_for(refunded, timeout=20)
    assert payment.flagged is True
    assert "taken by someone else" in payment.flag_reason
    assert payment.amount_refunded_minor == booking["priceMinor"]
    with Session(api_server.engine) as db:
        [refund] = db.exec(select(Refund).where(Refund.payment_id == payment.id)).all()
        assert (refund.status, refund.amount_minor) == ("succeeded", booking["priceMinor"])
        assert db.get(Booking, booking["id"]).status == "expired"
        assert db.get(Booking, rival["id"]).status == "held"
    status = payment_status(api_server.url, token, checkout["sessionId"])
    assert status["flagged"] is True and status["status"] == "refunded"


def test_stripe_outage_gives_a_clear_error_and_a_retry_works(api_server, sandbox, make_patient):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=2)
    sandbox.control("/faults/api", {"count": 3, "status": 500, "path_prefix": "/v1/checkout"})
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/create-checkout-session",
        json={"bookingId": booking["id"]},
        headers=auth(token),
        timeout=60,
    )
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "payment_provider_unavailable"
    assert "Nothing was charged" in r.json()["error"]["message"]
    assert _payments(api_server.engine, booking["id"]) == []
    assert _booking_status(api_server.engine, booking["id"]) == "held"
    checkout = start_checkout(api_server.url, token, booking["id"])
    assert checkout["sessionId"].startswith("cs_")
    assert len(_payments(api_server.engine, booking["id"])) == 1


def test_dropped_webhook_is_caught_by_reconciliation(api_server, sandbox, make_patient):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=3)
    checkout = start_checkout(api_server.url, token, booking["id"])
    sandbox.control("/faults/webhooks", {"mode": "drop", "count": 50})
    try:
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
        assert _booking_status(api_server.engine, booking["id"]) == "held"
        report = reconcile_once(grace_seconds=0)
    finally:
        sandbox.control("/faults/clear")
    assert report.fulfilled >= 1
    assert _booking_status(api_server.engine, booking["id"]) == "confirmed"
    assert payment_status(api_server.url, token, checkout["sessionId"])["status"] == "paid"


def test_cancel_before_paying_closes_the_checkout_session(api_server, sandbox, make_patient):
    """A patient cancels with the Checkout page still open: that page can no longer charge."""
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=4)
    checkout = start_checkout(api_server.url, token, booking["id"])
    r = httpx.post(
        f"{api_server.url}/api/v1/bookings/{booking['id']}/cancel",
        json={"reason": "changed my mind"},
        headers=auth(token),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    late = pay_session(sandbox, checkout["sessionId"])
    assert late["outcome"] == "invalid"
    assert late["error"]["code"] == "checkout_session_expired"
    [payment] = _payments(api_server.engine, booking["id"])
    assert payment.status == "expired"
    assert _booking_status(api_server.engine, booking["id"]) == "cancelled"


def test_cancel_after_paying_is_refused(api_server, sandbox, make_patient):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=5)
    with sandbox.webhooks_paused():
        checkout = start_checkout(api_server.url, token, booking["id"])
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
        # The webhook has not arrived yet; cancelling still finds the payment at Stripe.
        r = httpx.post(
            f"{api_server.url}/api/v1/bookings/{booking['id']}/cancel",
            json={},
            headers=auth(token),
            timeout=30,
        )
    assert r.status_code == 409, r.text
    assert _booking_status(api_server.engine, booking["id"]) == "confirmed"


def test_two_reconciliation_passes_at_once_confirm_once(api_server, sandbox, make_patient):
    """Every worker runs reconciliation: two overlapping passes make one confirmation."""
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=5)
    checkout = start_checkout(api_server.url, token, booking["id"])
    sandbox.control("/faults/webhooks", {"mode": "drop", "count": 50})
    try:
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
        with ThreadPoolExecutor(max_workers=2) as pool:
            reports = list(pool.map(lambda _: reconcile_once(grace_seconds=0), range(2)))
    finally:
        sandbox.control("/faults/clear")
    assert all(r.errors == [] for r in reports), [r.errors for r in reports]
    assert _booking_status(api_server.engine, booking["id"]) == "confirmed"
    with Session(api_server.engine) as db:
        confirmations = db.exec(
            select(AuditLog).where(
                AuditLog.entity_type == "booking",
                AuditLog.entity_id == booking["id"],
                AuditLog.to_status == "confirmed",
            )
        ).all()
        assert len(confirmations) == 1
