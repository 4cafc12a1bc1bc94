"""Admin views over REST: payments, one payment with refunds and audit, webhook events.

Real API under uvicorn, real sandbox, real signed webhooks; the payments are made here.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
from sqlmodel import Session, select

from efoy_app.domain.bookings import expire_lapsed_holds
from efoy_app.models import Booking, Payment, Refund, User, utcnow
from tests.integration.payments.helpers import (
    WEBHOOK_PATH,
    applied_event,
    auth,
    book_slot,
    pay_session,
    sign,
    start_checkout,
    wait_for,
)

ADMIN = "/api/v1/admin"


def _get(api_server, token: str, path: str, **params) -> httpx.Response:
    return httpx.get(f"{api_server.url}{ADMIN}{path}", params=params, headers=auth(token),
                     timeout=30)  # fmt: skip


def _paid_booking(api_server, sandbox, token: str, doctor_index: int) -> tuple[dict, dict, int]:
    """A booking paid through hosted Checkout and confirmed by the webhook."""
    booking = book_slot(api_server.url, token, doctor_index=doctor_index)
    checkout = start_checkout(api_server.url, token, booking["id"])
    assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"

    def paid() -> int | None:
        with Session(api_server.engine) as db:
            p = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
            return p.id if p.status == "paid" else None

    return booking, checkout, wait_for(paid)


def _admin_id(api_server) -> int:
    with Session(api_server.engine) as db:
        return db.exec(select(User).where(User.email == "admin@example.com")).one().id


def test_patients_get_403_and_strangers_401(api_server, patient_token, make_patient):
    for path in ("/payments", "/payments/1", "/webhooks"):
        for token in (patient_token, make_patient()):
            r = _get(api_server, token, path)
            assert r.status_code == 403, (path, r.text)
            assert r.json()["error"]["code"] == "forbidden"
        r = httpx.get(f"{api_server.url}{ADMIN}{path}", timeout=30)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"


def test_admin_lists_a_paid_payment_and_reads_its_detail(
    api_server, sandbox, admin_token, make_patient
):
    patient = make_patient()
    booking, checkout, payment_id = _paid_booking(api_server, sandbox, patient, doctor_index=3)
    r = _get(api_server, admin_token, "/payments")
    assert r.status_code == 200, r.text
    [row] = [p for p in r.json()["data"] if p["id"] == payment_id]
    assert row["bookingId"] == booking["id"]
    assert (row["status"], row["kind"], row["flagged"], row["flagReason"]) == (
        "paid",
        "checkout",
        False,
        None,
    )
    assert (row["amountMinor"], row["currency"], row["amountRefundedMinor"]) == (
        booking["priceMinor"],
        booking["currency"],
        0,
    )
    assert row["amountDisplay"] == booking["price"]
    assert (row["patientEmail"], row["patientId"]) == (patient.email, patient.user_id)
    assert row["doctorName"] == booking["doctorName"]
    assert row["paidAt"] is not None
    # Newest first: the payment just made leads the list.
    assert r.json()["data"][0]["id"] == payment_id
    flagged = _get(api_server, admin_token, "/payments", flagged="true").json()["data"]
    assert payment_id not in [p["id"] for p in flagged]
    assert all(p["flagged"] for p in flagged)
    only_paid = _get(api_server, admin_token, "/payments", status="paid").json()["data"]
    assert payment_id in [p["id"] for p in only_paid]
    assert {p["status"] for p in only_paid} == {"paid"}
    bad = _get(api_server, admin_token, "/payments", status="lost")
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "validation_error")
    bad = _get(api_server, admin_token, "/payments", offset=-1)
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "validation_error")

    d = _get(api_server, admin_token, f"/payments/{payment_id}").json()
    assert d["checkoutSessionId"] == checkout["sessionId"]
    assert d["paymentIntentId"].startswith("pi_") and d["chargeId"].startswith("ch_")
    assert (d["cardBrand"], d["cardLast4"]) == ("visa", "4242")
    assert (d["refundableMinor"], d["refunds"]) == (booking["priceMinor"], [])
    assert (d["booking"]["id"], d["booking"]["status"]) == (booking["id"], "confirmed")
    trail = [(a["entityType"], a["action"], a["toStatus"]) for a in d["audit"]]
    assert ("payment", "checkout_session_created", "pending") in trail
    assert ("payment", "status_changed", "paid") in trail
    assert ("booking", "status_changed", "confirmed") in trail
    text = json.dumps(d)
    assert "sk_" not in text and "whsec_" not in text and "_secret_" not in text
    missing = _get(api_server, admin_token, "/payments/999999")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


def test_admin_payments_page_with_count_and_totals_of_all_that_match(
    api_server, sandbox, admin_token, make_patient
):
    booking, _checkout, payment_id = _paid_booking(api_server, sandbox, make_patient(), 2)
    with Session(api_server.engine) as db:
        everything = db.exec(select(Payment)).all()
    first = _get(api_server, admin_token, "/payments", limit=1).json()
    assert ([p["id"] for p in first["data"]], first["count"]) == ([payment_id], len(everything))
    second = _get(api_server, admin_token, "/payments", limit=1, offset=1).json()
    assert len(second["data"]) == 1 and second["data"][0]["id"] != payment_id
    assert second["count"] == len(everything)
    took = ("paid", "partially_refunded", "refunded")
    expected = [
        {
            "currency": currency,
            "count": sum(1 for p in everything if p.currency == currency),
            "paidMinor": sum(
                p.amount_minor for p in everything if p.currency == currency and p.status in took
            ),
            "refundedMinor": sum(
                p.amount_refunded_minor for p in everything if p.currency == currency
            ),
        }
        for currency in sorted({p.currency for p in everything})
    ]
    totals = [{k: t[k] for k in expected[0]} for t in first["totals"]]
    assert totals == expected
    [mine] = [t for t in first["totals"] if t["currency"] == booking["currency"]]
    assert mine["paidMinor"] >= booking["priceMinor"]
    past_the_end = _get(api_server, admin_token, "/payments", offset=len(everything)).json()
    assert (past_the_end["data"], past_the_end["count"]) == ([], len(everything))


def test_refunds_show_in_the_detail_including_one_that_fails_later(
    api_server, sandbox, admin_token, make_patient
):
    patient = make_patient()
    booking, checkout, payment_id = _paid_booking(api_server, sandbox, patient, doctor_index=4)
    price = booking["priceMinor"]
    part = price // 4
    url = f"{api_server.url}/api/v1/payment/refund/{checkout['sessionId']}"
    r = httpx.post(url, json={"amountMinor": part, "reason": "doctor ran late"},
                   headers=auth(admin_token), timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    # The next refund is accepted by Stripe, then fails a moment later (a closed card account).
    sandbox.control("/refunds/fail_next", {"failure_reason": "expired_or_canceled_card",
                                           "after_seconds": 0.3})  # fmt: skip
    r = httpx.post(url, json={"amountMinor": part, "reason": "goodwill"},
                   headers=auth(admin_token), timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    failing_id = r.json()["refundId"]

    def failed() -> bool:
        with Session(api_server.engine) as db:
            return db.get(Refund, failing_id).status == "failed"

    wait_for(failed)
    d = _get(api_server, admin_token, f"/payments/{payment_id}").json()
    assert (d["status"], d["amountRefundedMinor"], d["refundableMinor"]) == (
        "partially_refunded",
        part,
        price - part,
    )
    admin_id = _admin_id(api_server)
    ledger = [
        (x["amountMinor"], x["status"], x["failureReason"], x["reason"], x["requestedByUserId"])
        for x in d["refunds"]
    ]
    assert ledger == [
        (part, "succeeded", None, "doctor ran late", admin_id),
        (part, "failed", "expired_or_canceled_card", "goodwill", admin_id),
    ]
    assert d["refunds"][0]["stripeRefundId"].startswith("re_")
    assert d["refunds"][0]["requestedBy"] == "Demo Admin (admin@example.com)"
    trail = [(a["entityType"], a["action"], a["toStatus"]) for a in d["audit"]]
    assert trail.count(("refund", "refund_requested", "pending")) == 2
    assert ("refund", "status_changed", "failed") in trail
    assert ("payment", "status_changed", "partially_refunded") in trail
    # More than is left is refused, and nothing changes.
    r = httpx.post(url, json={"amountMinor": price, "reason": "too much"},
                   headers=auth(admin_token), timeout=30)  # fmt: skip
    assert (r.status_code, r.json()["error"]["code"]) == (422, "refund_exceeds_payment")
    again = _get(api_server, admin_token, f"/payments/{payment_id}").json()
    assert (len(again["refunds"]), again["amountRefundedMinor"]) == (2, part)


def test_flagged_payment_is_listed_with_its_reason(api_server, sandbox, admin_token, make_patient):
    """A payment that lands after the hold lapsed and the slot was retaken: refunded, flagged."""
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=5)
    with sandbox.webhooks_paused():
        checkout = start_checkout(api_server.url, token, booking["id"])
        with Session(api_server.engine) as db:
            assert booking["id"] in expire_lapsed_holds(db, now=utcnow() + timedelta(hours=25))
        book_slot(api_server.url, make_patient(), doctor_index=5, starts_at=booking["startsAt"])
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"

    def refunded() -> int | None:
        with Session(api_server.engine) as db:
            p = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
            return p.id if p.status == "refunded" else None

    payment_id = wait_for(refunded, timeout=20)
    flagged = _get(api_server, admin_token, "/payments", flagged="true").json()["data"]
    [row] = [p for p in flagged if p["id"] == payment_id]
    assert row["flagged"] is True
    assert row["flagReason"].startswith("Refunded automatically:")
    assert "taken by someone else" in row["flagReason"]
    d = _get(api_server, admin_token, f"/payments/{payment_id}").json()
    [refund] = d["refunds"]
    assert (refund["amountMinor"], refund["status"], refund["requestedByUserId"]) == (
        booking["priceMinor"],
        "succeeded",
        None,
    )
    assert refund["requestedBy"] == "Efoy (automatic)"
    assert d["refundableMinor"] == 0
    with Session(api_server.engine) as db:
        assert db.get(Booking, booking["id"]).status == "expired"


def test_webhook_events_with_status_attempts_and_error(
    api_server, sandbox, webhook_secret, admin_token, make_patient
):
    _booking, checkout, _payment_id = _paid_booking(api_server, sandbox, make_patient(), 0)
    completed = sandbox.find_event("checkout.session.completed", checkout["sessionId"])
    # An event we cannot process, delivered twice: stored once, failed with its error.
    bad_id = f"evt_admin_{uuid.uuid4().hex[:12]}"
    body = json.dumps({"id": bad_id, "object": "event", "type": "charge.refunded",
                       "data": {"object": {"object": "charge", "id": None}}}).encode()  # fmt: skip
    for _ in range(2):
        r = httpx.post(f"{api_server.url}{WEBHOOK_PATH}", content=body, timeout=30,
                       headers={"Stripe-Signature": sign(body, webhook_secret),
                                "Content-Type": "application/json"})  # fmt: skip
        assert r.status_code == 200, r.text
        applied_event(api_server.engine, bad_id)

    def stored() -> dict | None:
        rows = _get(api_server, admin_token, "/webhooks").json()["data"]
        return next((e for e in rows if e["stripeEventId"] == completed["id"]), None)

    ok = wait_for(stored)
    assert (ok["type"], ok["status"], ok["attempts"], ok["error"]) == (
        "checkout.session.completed",
        "processed",
        1,
        None,
    )
    assert ok["processedAt"] is not None
    failed = _get(api_server, admin_token, "/webhooks", status="failed").json()["data"]
    assert {e["status"] for e in failed} == {"failed"}
    [bad] = [e for e in failed if e["stripeEventId"] == bad_id]
    assert (bad["type"], bad["attempts"], bad["processedAt"]) == ("charge.refunded", 2, None)
    assert bad["error"] == "NotFound: Refund event without a payment intent."
    assert _get(api_server, admin_token, "/webhooks", status="failed").json()["count"] == len(
        failed
    )
    processed = _get(api_server, admin_token, "/webhooks", status="processed").json()["data"]
    assert completed["id"] in [e["stripeEventId"] for e in processed]
    assert bad_id not in [e["stripeEventId"] for e in processed]
    r = _get(api_server, admin_token, "/webhooks", status="lost")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error")
