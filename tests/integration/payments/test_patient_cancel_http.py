"""A patient cancels a paid booking over HTTP: preview, confirm, the booking cancelled, the slot
offered again, the refund at the sandbox for the previewed amount; a refund that fails later, an
outage, ten concurrent cancels, approval by an admin, and the clinic cancelling.

Real API under uvicorn, real sandbox; bookings are paid on the sandbox's hosted page and
confirmed by its signed webhook. Every case ends with the books agreeing: what the sandbox
refunded is the ledger's succeeded rows.
"""

from __future__ import annotations

import threading
from datetime import date, datetime

import httpx
import pytest
import stripe
from sqlmodel import Session, select

from efoy_app.domain.reconcile import reconcile_once
from efoy_app.models import AuditLog, Booking, Cancellation, OutboxEmail, Payment, Refund
from efoy_app.routes import MAX_ID
from tests.integration.payments.helpers import (
    auth,
    book_from_day,
    doctor_in,
    pay_and_confirm,
    wait_for,
)

REFUND_FAULT = {"status": 500, "path_prefix": "/v1/refunds", "method": "POST"}


def preview(api_server, token: str, booking_id: int) -> dict:
    r = httpx.get(
        f"{api_server.url}/api/v1/bookings/{booking_id}/cancellation",
        headers=auth(token),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()


def cancel(api_server, token: str | None, booking_id: int | str, **body) -> httpx.Response:
    return httpx.post(
        f"{api_server.url}/api/v1/bookings/{booking_id}/cancel",
        json=body or None,
        headers=auth(token) if token else None,
        timeout=60,
    )


def paid_booking(api_server, sandbox, token: str, currency: str = "EUR", days: int = 4) -> dict:
    """A booking `days` ahead (more than 48 hours: 100 % under the default policy), paid."""
    booking = book_from_day(api_server, token, doctor_in(api_server, currency)["id"], days)
    booking["sessionId"] = pay_and_confirm(api_server, sandbox, token, booking)
    return booking


def ledger(api_server, booking_id: int) -> list[tuple[int, str]]:
    with Session(api_server.engine) as db:
        payment = db.exec(select(Payment).where(Payment.booking_id == booking_id)).one()
        rows = db.exec(select(Refund).where(Refund.payment_id == payment.id)).all()
        return [(r.amount_minor, r.status) for r in rows]


def at_stripe(stripe_client: stripe.StripeClient, api_server, booking_id: int) -> list[int]:
    with Session(api_server.engine) as db:
        payment = db.exec(select(Payment).where(Payment.booking_id == booking_id)).one()
    listed = stripe_client.v1.refunds.list(
        params={"payment_intent": payment.stripe_payment_intent_id, "limit": 100}
    )
    return sorted(r.amount for r in listed.data if r.status == "succeeded")


def slots_of(api_server, booking: dict) -> list[str]:
    day = datetime.fromisoformat(booking["startsAt"]).date()
    r = httpx.get(
        f"{api_server.url}/api/v1/doctors/{booking['doctorId']}/slots",
        params={"date": day.isoformat()},
        timeout=30,
    )
    r.raise_for_status()
    return [datetime.fromisoformat(s["startsAt"]) for s in r.json()["slots"]]


def test_preview_confirm_refund_and_the_slot_is_free_again(
    api_server, sandbox, stripe_client, make_patient
):
    token = make_patient()
    booking = paid_booking(api_server, sandbox, token)
    shown = preview(api_server, token, booking["id"])
    assert (shown["refundMinor"], shown["refundPercent"]) == (booking["priceMinor"], 100)
    starts = datetime.fromisoformat(booking["startsAt"])
    assert starts not in slots_of(api_server, booking)

    r = cancel(api_server, token, booking["id"], expectedRefundMinor=shown["refundMinor"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "cancelled"
    assert body["cancellation"] == {
        "by": "patient",
        "amountMinor": booking["priceMinor"],
        "currency": "EUR",
        "percent": 100,
        "status": "refund_issued",
        "refundId": body["cancellation"]["refundId"],
        "refundStatus": "succeeded",
    }
    assert body["message"].endswith("is on its way back to the card.")
    assert ledger(api_server, booking["id"]) == [(booking["priceMinor"], "succeeded")]
    assert at_stripe(stripe_client, api_server, booking["id"]) == [booking["priceMinor"]]
    with Session(api_server.engine) as db:
        payment = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
        assert (payment.status, payment.amount_refunded_minor) == ("refunded", payment.amount_minor)
        trail = db.exec(
            select(AuditLog.action).where(
                AuditLog.entity_type == "booking", AuditLog.entity_id == booking["id"]
            )
        ).all()
        assert trail[-2:] == ["cancelled", "cancellation_recorded"]

    # The time is offered again, and another patient books it.
    assert starts in slots_of(api_server, booking)
    other = make_patient()
    r = httpx.post(
        f"{api_server.url}/api/v1/bookings",
        json={"doctorId": booking["doctorId"], "startsAt": booking["startsAt"]},
        headers=auth(other),
        timeout=30,
    )
    assert r.status_code == 201, r.text

    # Asking again (a double click) answers the same and refunds nothing more.
    again = cancel(api_server, token, booking["id"])
    assert again.status_code == 200, again.text
    assert again.json()["cancellation"] == body["cancellation"]
    assert at_stripe(stripe_client, api_server, booking["id"]) == [booking["priceMinor"]]
    # The preview now says there is nothing left.
    assert preview(api_server, token, booking["id"])["refundMinor"] == 0


def test_half_back_in_jpy_rounded_down_by_the_policy_in_force(
    api_server, sandbox, stripe_client, make_patient
):
    token = make_patient()
    booking = paid_booking(api_server, sandbox, token, currency="JPY")
    api_server.set_env(EFOY_CANCELLATION_POLICY="1:33,0:0")
    try:
        shown = preview(api_server, token, booking["id"])
        assert (shown["refundMinor"], shown["refundPercent"]) == (5000 * 33 // 100, 33)
        r = cancel(api_server, token, booking["id"], expectedRefundMinor=shown["refundMinor"])
    finally:
        api_server.set_env(EFOY_CANCELLATION_POLICY=None)
    assert r.status_code == 200, r.text
    assert r.json()["cancellation"]["amountMinor"] == 1650
    assert at_stripe(stripe_client, api_server, booking["id"]) == [1650]
    with Session(api_server.engine) as db:
        payment = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
        assert (payment.status, payment.amount_refunded_minor) == ("partially_refunded", 1650)


def test_a_preview_that_no_longer_holds_cancels_nothing(
    api_server, sandbox, stripe_client, make_patient
):
    token = make_patient()
    booking = paid_booking(api_server, sandbox, token)
    shown = preview(api_server, token, booking["id"])
    api_server.set_env(EFOY_CANCELLATION_POLICY="1:50,0:0")  # the policy changed meanwhile
    try:
        r = cancel(api_server, token, booking["id"], expectedRefundMinor=shown["refundMinor"])
    finally:
        api_server.set_env(EFOY_CANCELLATION_POLICY=None)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "refund_changed"
    assert "Nothing was cancelled" in error["message"]
    got = httpx.get(f"{api_server.url}/api/v1/bookings/{booking['id']}", headers=auth(token))
    assert got.json()["status"] == "confirmed"
    assert ledger(api_server, booking["id"]) == []
    assert at_stripe(stripe_client, api_server, booking["id"]) == []


def test_bad_input_and_other_peoples_bookings(api_server, sandbox, make_patient):
    token, stranger = make_patient(), make_patient()
    booking = paid_booking(api_server, sandbox, token)
    assert cancel(api_server, None, booking["id"]).status_code == 401
    r = cancel(api_server, stranger, booking["id"])
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    for bad in ({"expectedRefundMinor": -1}, {"expectedRefundMinor": 2**63},
                {"expectedRefundMinor": "lots"}, {"refund": 1}):  # fmt: skip
        r = cancel(api_server, token, booking["id"], **bad)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error"), bad
    r = httpx.post(
        f"{api_server.url}/api/v1/bookings/{booking['id']}/cancel",
        content=b'{"reason": "\xff\xfe"}',
        headers={**auth(token), "Content-Type": "application/json"},
        timeout=30,
    )
    assert 400 <= r.status_code < 500, r.text
    for bad_id in ("0", str(MAX_ID + 1), "abc"):
        assert cancel(api_server, token, bad_id).status_code == 422
    # None of it touched the booking.
    got = httpx.get(f"{api_server.url}/api/v1/bookings/{booking['id']}", headers=auth(token))
    assert got.json()["status"] == "confirmed"


def test_ten_concurrent_cancels_make_one_refund(api_server, sandbox, stripe_client, make_patient):
    token = make_patient()
    booking = paid_booking(api_server, sandbox, token)
    answers: list[httpx.Response] = []
    start = threading.Barrier(10)

    def one() -> None:
        start.wait()
        answers.append(cancel(api_server, token, booking["id"]))

    threads = [threading.Thread(target=one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200] * 10, [a.text for a in answers]
    assert len({a.json()["cancellation"]["refundId"] for a in answers}) == 1
    assert ledger(api_server, booking["id"]) == [(booking["priceMinor"], "succeeded")]
    assert at_stripe(stripe_client, api_server, booking["id"]) == [booking["priceMinor"]]
    with Session(api_server.engine) as db:
        rows = db.exec(select(Cancellation).where(Cancellation.booking_id == booking["id"])).all()
        assert len(rows) == 1


def test_a_refund_that_fails_later_shows_failed_and_the_money_is_refundable_again(
    api_server, sandbox, admin_token, make_patient
):
    token = make_patient()
    booking = paid_booking(api_server, sandbox, token)
    sandbox.control("/refunds/fail_next", {"failure_reason": "expired_or_canceled_card"})
    r = cancel(api_server, token, booking["id"])
    assert r.status_code == 200, r.text
    refund_id = r.json()["cancellation"]["refundId"]

    def failed() -> bool:
        with Session(api_server.engine) as db:
            return db.get(Refund, refund_id).status == "failed"

    wait_for(failed)  # the sandbox's refund.failed webhook
    again = cancel(api_server, token, booking["id"]).json()
    assert (again["status"], again["cancellation"]["refundStatus"]) == ("cancelled", "failed")
    with Session(api_server.engine) as db:
        payment = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
        assert (payment.status, payment.amount_refunded_minor) == ("paid", 0)
    # The admin sees it failed, with the whole amount refundable again.
    detail = httpx.get(
        f"{api_server.url}/api/v1/admin/payments/{payment.id}", headers=auth(admin_token)
    ).json()
    assert [(x["amountMinor"], x["status"]) for x in detail["refunds"]] == [
        (booking["priceMinor"], "failed")
    ]
    assert detail["refundableMinor"] == booking["priceMinor"]


def test_an_outage_queues_the_refund_and_reconciliation_sends_it_once(
    api_server, sandbox, stripe_client, make_patient
):
    token = make_patient()
    booking = paid_booking(api_server, sandbox, token)
    sandbox.control("/faults/api", {"count": 3, **REFUND_FAULT})
    r = cancel(api_server, token, booking["id"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["cancellation"]["refundStatus"]) == ("cancelled", "pending")
    assert "queued" in body["message"]
    assert at_stripe(stripe_client, api_server, booking["id"]) == []
    # A second click while Stripe is back sends the same reserved row, not a new one.
    cancel(api_server, token, booking["id"])
    reconcile_once(grace_seconds=0)
    reconcile_once(grace_seconds=0)
    assert at_stripe(stripe_client, api_server, booking["id"]) == [booking["priceMinor"]]
    assert ledger(api_server, booking["id"]) == [(booking["priceMinor"], "succeeded")]


def test_approval_mode_waits_for_an_admin_then_approving_twice_refunds_once(
    api_server, sandbox, stripe_client, admin_token, make_patient
):
    token = make_patient()
    booking = paid_booking(api_server, sandbox, token)
    api_server.set_env(EFOY_CANCELLATION_REFUNDS="approval")
    try:
        r = cancel(api_server, token, booking["id"])
    finally:
        api_server.set_env(EFOY_CANCELLATION_REFUNDS=None)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "cancelled"
    assert (body["cancellation"]["status"], body["cancellation"]["refundId"]) == (
        "awaiting_approval",
        None,
    )
    assert "The clinic confirms the refund" in body["message"]
    assert at_stripe(stripe_client, api_server, booking["id"]) == []

    waiting = httpx.get(
        f"{api_server.url}/api/v1/admin/cancellations",
        params={"status": "awaiting_approval"},
        headers=auth(admin_token),
    ).json()
    mine = next(c for c in waiting["data"] if c["bookingId"] == booking["id"])
    assert (mine["amountMinor"], mine["percent"], mine["by"]) == (
        booking["priceMinor"],
        100,
        "patient",
    )
    # A patient may neither list nor approve.
    for method, path in (
        ("GET", "/cancellations"),
        ("POST", f"/cancellations/{mine['id']}/approve"),
    ):
        r = httpx.request(method, f"{api_server.url}/api/v1/admin{path}", headers=auth(token))
        assert r.status_code == 403, r.text

    url = f"{api_server.url}/api/v1/admin/cancellations/{mine['id']}/approve"
    first = httpx.post(url, headers=auth(admin_token), timeout=60)
    second = httpx.post(url, headers=auth(admin_token), timeout=60)
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["cancellation"]["status"] == "refund_issued"
    assert first.json()["cancellation"]["refundId"] == second.json()["cancellation"]["refundId"]
    assert at_stripe(stripe_client, api_server, booking["id"]) == [booking["priceMinor"]]


def test_a_declined_request_keeps_the_money_and_says_why(
    api_server, sandbox, stripe_client, admin_token, make_patient
):
    token = make_patient()
    booking = paid_booking(api_server, sandbox, token)
    api_server.set_env(EFOY_CANCELLATION_REFUNDS="approval")
    try:
        cid = cancel(api_server, token, booking["id"]).json()
    finally:
        api_server.set_env(EFOY_CANCELLATION_REFUNDS=None)
    with Session(api_server.engine) as db:
        cancellation_id = db.exec(
            select(Cancellation.id).where(Cancellation.booking_id == booking["id"])
        ).one()
    assert cid["cancellation"]["status"] == "awaiting_approval"
    url = f"{api_server.url}/api/v1/admin/cancellations/{cancellation_id}/decline"
    r = httpx.post(url, json={"note": ""}, headers=auth(admin_token))
    assert r.status_code == 422, r.text
    r = httpx.post(url, json={"note": "No-show fee agreed at the desk"}, headers=auth(admin_token))
    assert r.status_code == 200, r.text
    assert r.json()["cancellation"]["status"] == "declined"
    assert r.json()["message"].endswith("No-show fee agreed at the desk")
    assert at_stripe(stripe_client, api_server, booking["id"]) == []
    r = httpx.post(f"{url[: -len('/decline')]}/approve", headers=auth(admin_token))
    assert r.json()["cancellation"]["status"] == "declined"  # decided: approving now sends nothing
    assert at_stripe(stripe_client, api_server, booking["id"]) == []


@pytest.mark.parametrize("days", [1, 4], ids=["under-48h", "days-ahead"])
def test_the_clinic_cancels_with_everything_back_and_the_patient_is_emailed(
    api_server, sandbox, stripe_client, admin_token, make_patient, days
):
    token = make_patient()
    booking = paid_booking(api_server, sandbox, token, days=days)
    url = f"{api_server.url}/api/v1/admin/bookings/{booking['id']}/cancel"
    assert httpx.post(url, json={"reason": "x"}, headers=auth(token)).status_code == 403
    assert httpx.post(url, json={"reason": ""}, headers=auth(admin_token)).status_code == 422
    r = httpx.post(url, json={"reason": "Dr. away: sick"}, headers=auth(admin_token), timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["cancellation"]["by"], body["cancellation"]["percent"]) == (
        "cancelled",
        "clinic",
        100,
    )
    assert at_stripe(stripe_client, api_server, booking["id"]) == [booking["priceMinor"]]
    with Session(api_server.engine) as db:
        booking_row = db.get(Booking, booking["id"])
        patient_email = db.exec(
            select(OutboxEmail).where(OutboxEmail.subject.contains("is cancelled"))
            .order_by(OutboxEmail.id.desc())
        ).first()  # fmt: skip
        assert booking_row.cancelled_reason == "Dr. away: sick"
        assert patient_email is not None and patient_email.to_address == token.email
        assert "Dr. away: sick" in patient_email.body
        assert "is being refunded to your card" in patient_email.body
    assert date.fromisoformat(booking["startsAt"][:10]) >= date.today()
