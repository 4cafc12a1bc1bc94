"""Refunds when Stripe does not answer: one reserved ledger row, sent once, whoever retries.

Real API under uvicorn, real sandbox with injected faults, real reconciliation. After every case
the books must agree: the refunds Stripe made for the payment are exactly the ledger's succeeded
rows, and never more than what the admin asked for.
"""

from __future__ import annotations

import json
import threading
import uuid

import httpx
import pytest
import stripe
from sqlmodel import Session, select

from efoy_app.domain.money import format_money
from efoy_app.domain.reconcile import reconcile_once
from efoy_app.domain.stripe_gateway import get_stripe
from efoy_app.models import Payment, Refund
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

# Creating refunds fails; listing them (the webhook handlers and our lookups do) still works.
REFUND_FAULT = {"status": 500, "path_prefix": "/v1/refunds", "method": "POST"}
QUEUED = "Stripe did not answer; the refund of {} is queued and will be sent automatically."


class Paid:
    """A booking paid through hosted Checkout and confirmed by the webhook."""

    def __init__(self, api_server, sandbox, token: str, doctor_index: int) -> None:
        booking = book_slot(api_server.url, token, doctor_index=doctor_index)
        checkout = start_checkout(api_server.url, token, booking["id"])
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
        self.session_id: str = checkout["sessionId"]
        self.price: int = booking["priceMinor"]
        self.currency: str = booking["currency"]
        self.part: int = self.price // 10

        def paid() -> Payment | None:
            with Session(api_server.engine) as db:
                p = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
                return p if p.status == "paid" else None

        payment = wait_for(paid)
        self.payment_id: int = payment.id
        self.payment_intent: str = payment.stripe_payment_intent_id


def refund(api_server, admin_token: str, paid: Paid, amount_minor: int, key: str | None = None,
           reason: str = "doctor ran late") -> httpx.Response:  # fmt: skip
    headers = auth(admin_token)
    if key is not None:
        headers["Idempotency-Key"] = key
    return httpx.post(
        f"{api_server.url}/api/v1/payment/refund/{paid.session_id}",
        json={"amountMinor": amount_minor, "reason": reason},
        headers=headers,
        timeout=60,
    )


def ledger(api_server, paid: Paid) -> list[tuple[int, str, bool, int]]:
    """(amount, status, has a Stripe id, attempts) of every refund row of the payment."""
    with Session(api_server.engine) as db:
        rows = db.exec(
            select(Refund).where(Refund.payment_id == paid.payment_id).order_by(Refund.id)
        ).all()
        return [(r.amount_minor, r.status, r.stripe_refund_id is not None, r.attempts)
                for r in rows]  # fmt: skip


def at_stripe(stripe_client: stripe.StripeClient, paid: Paid) -> list[tuple[int, str]]:
    """What the sandbox refunded on this payment, oldest first."""
    listed = stripe_client.v1.refunds.list(
        params={"payment_intent": paid.payment_intent, "limit": 100}
    )
    return sorted((r.amount, r.status) for r in listed.data)


def assert_books_agree(api_server, stripe_client, paid: Paid, asked: int) -> None:
    made = sum(amount for amount, status in at_stripe(stripe_client, paid) if status == "succeeded")
    booked = sum(row[0] for row in ledger(api_server, paid) if row[1] == "succeeded")
    assert made == booked <= asked
    with Session(api_server.engine) as db:
        assert db.get(Payment, paid.payment_id).amount_refunded_minor == booked


@pytest.mark.parametrize("with_key", [True, False], ids=["same-key", "no-key"])
def test_outage_then_retry_sends_the_one_reserved_refund_once(
    api_server, sandbox, stripe_client, admin_token, make_patient, with_key
):
    paid = Paid(api_server, sandbox, make_patient(), doctor_index=0)
    key = f"refund-{uuid.uuid4()}" if with_key else None
    sandbox.control("/faults/api", {"count": 3, **REFUND_FAULT})  # the call and both retries
    first = refund(api_server, admin_token, paid, paid.part, key)
    assert first.status_code == 202, first.text
    body = first.json()
    assert (body["queued"], body["status"], body["stripeRefundId"]) == (True, "pending", None)
    assert body["message"] == QUEUED.format(format_money(paid.part, paid.currency))
    assert "Nothing was charged" not in first.text
    assert ledger(api_server, paid) == [(paid.part, "pending", False, 1)]
    assert at_stripe(stripe_client, paid) == []

    again = refund(api_server, admin_token, paid, paid.part, key)
    assert again.status_code == 200, again.text
    assert (again.json()["refundId"], again.json()["status"], again.json()["queued"]) == (
        body["refundId"],
        "succeeded",
        False,
    )
    assert ledger(api_server, paid) == [(paid.part, "succeeded", True, 2)]
    assert at_stripe(stripe_client, paid) == [(paid.part, "succeeded")]

    reconcile_once(grace_seconds=0)  # finds nothing left to send
    assert at_stripe(stripe_client, paid) == [(paid.part, "succeeded")]
    assert len(ledger(api_server, paid)) == 1
    assert_books_agree(api_server, stripe_client, paid, asked=paid.part)


def test_outage_then_reconciliation_sends_it_once(
    api_server, sandbox, stripe_client, admin_token, make_patient
):
    paid = Paid(api_server, sandbox, make_patient(), doctor_index=1)
    sandbox.control("/faults/api", {"count": 3, **REFUND_FAULT})
    assert refund(api_server, admin_token, paid, paid.part).status_code == 202
    report = reconcile_once(grace_seconds=0)
    assert report.refunds_submitted >= 1
    assert ledger(api_server, paid) == [(paid.part, "succeeded", True, 2)]
    reconcile_once(grace_seconds=0)
    assert at_stripe(stripe_client, paid) == [(paid.part, "succeeded")]
    assert_books_agree(api_server, stripe_client, paid, asked=paid.part)


def race_retry_and_reconciliation(api_server, admin_token: str, paid: Paid, key: str | None
                                  ) -> list[int]:  # fmt: skip
    """The admin's retry and a reconciliation pass, released at the same instant."""
    start = threading.Barrier(2)
    answers: list[int] = []

    def retry() -> None:
        start.wait()
        answers.append(refund(api_server, admin_token, paid, paid.part, key).status_code)

    def reconcile() -> None:
        start.wait()
        reconcile_once(grace_seconds=0)

    threads = [threading.Thread(target=retry), threading.Thread(target=reconcile)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return answers


def test_outage_then_retry_and_reconciliation_at_the_same_moment(
    api_server, sandbox, stripe_client, admin_token, make_patient
):
    for round_, with_key in enumerate((True, False, True, False)):
        paid = Paid(api_server, sandbox, make_patient(), doctor_index=2 + round_)
        key = f"refund-{uuid.uuid4()}" if with_key else None
        sandbox.control("/faults/api", {"count": 3, **REFUND_FAULT})
        assert refund(api_server, admin_token, paid, paid.part, key).status_code == 202
        assert race_retry_and_reconciliation(api_server, admin_token, paid, key) == [200]
        assert at_stripe(stripe_client, paid) == [(paid.part, "succeeded")]
        [(amount, status, sent, _attempts)] = ledger(api_server, paid)
        assert (amount, status, sent) == (paid.part, "succeeded", True)
        assert_books_agree(api_server, stripe_client, paid, asked=paid.part)


def test_stripe_refunds_but_the_answer_is_lost_then_a_retry_adopts_it(
    api_server, sandbox, stripe_client, admin_token, make_patient
):
    """Stripe's "the request may have succeeded": the retry must find that refund, not add one."""
    paid = Paid(api_server, sandbox, make_patient(), doctor_index=5)
    key = f"refund-{uuid.uuid4()}"
    with sandbox.webhooks_paused():  # only our own retry can learn what happened
        sandbox.control("/faults/api", {"count": 3, "after": True, **REFUND_FAULT})
        first = refund(api_server, admin_token, paid, paid.part, key)
        assert first.status_code == 202, first.text
        assert at_stripe(stripe_client, paid) == [(paid.part, "succeeded")]  # it did happen
        assert ledger(api_server, paid) == [(paid.part, "pending", False, 1)]
        again = refund(api_server, admin_token, paid, paid.part, key)
        assert again.status_code == 200, again.text
        assert again.json()["refundId"] == first.json()["refundId"]
        assert again.json()["stripeRefundId"].startswith("re_")
    wait_for(lambda: ledger(api_server, paid) == [(paid.part, "succeeded", True, 2)])
    assert at_stripe(stripe_client, paid) == [(paid.part, "succeeded")]
    assert_books_agree(api_server, stripe_client, paid, asked=paid.part)


def test_answer_lost_then_the_webhook_settles_it_and_a_retry_with_the_key_adds_nothing(
    api_server, sandbox, stripe_client, admin_token, make_patient
):
    paid = Paid(api_server, sandbox, make_patient(), doctor_index=0)
    key = f"refund-{uuid.uuid4()}"
    sandbox.control("/faults/api", {"count": 3, "after": True, **REFUND_FAULT})
    first = refund(api_server, admin_token, paid, paid.part, key)
    assert first.status_code == 202, first.text
    # Stripe's refund events reach the webhook, which matches them to our row by its metadata.
    wait_for(lambda: ledger(api_server, paid) == [(paid.part, "succeeded", True, 1)])
    again = refund(api_server, admin_token, paid, paid.part, key)
    assert again.status_code == 200, again.text
    assert (again.json()["refundId"], again.json()["status"]) == (first.json()["refundId"],
                                                                 "succeeded")  # fmt: skip
    reconcile_once(grace_seconds=0)
    assert at_stripe(stripe_client, paid) == [(paid.part, "succeeded")]
    assert ledger(api_server, paid) == [(paid.part, "succeeded", True, 1)]
    assert_books_agree(api_server, stripe_client, paid, asked=paid.part)


def test_a_hang_past_the_client_timeout_is_settled_by_reconciliation(
    api_server, sandbox, stripe_client, admin_token, make_patient
):
    paid = Paid(api_server, sandbox, make_patient(), doctor_index=1)
    api_server.set_env(EFOY_STRIPE_TIMEOUT_SECONDS="0.5")
    get_stripe.cache_clear()
    try:
        with sandbox.webhooks_paused():
            sandbox.control(
                "/faults/api", {"count": 3, "after": True, "hang_seconds": 1.5, **REFUND_FAULT}
            )
            first = refund(api_server, admin_token, paid, paid.part)
            assert first.status_code == 202, first.text
            assert at_stripe(stripe_client, paid) == [(paid.part, "succeeded")]
            report = reconcile_once(grace_seconds=0)
            assert report.refunds_submitted >= 1
            assert ledger(api_server, paid) == [(paid.part, "succeeded", True, 2)]
    finally:
        api_server.set_env(EFOY_STRIPE_TIMEOUT_SECONDS=None)
        get_stripe.cache_clear()
    assert at_stripe(stripe_client, paid) == [(paid.part, "succeeded")]
    assert_books_agree(api_server, stripe_client, paid, asked=paid.part)


def test_a_different_refund_waits_for_the_queued_one(
    api_server, sandbox, stripe_client, admin_token, make_patient
):
    paid = Paid(api_server, sandbox, make_patient(), doctor_index=2)
    sandbox.control("/faults/api", {"count": 3, **REFUND_FAULT})
    assert refund(api_server, admin_token, paid, paid.part).status_code == 202
    other = refund(api_server, admin_token, paid, 2 * paid.part, reason="goodwill")
    assert (other.status_code, other.json()["error"]["code"]) == (409, "refund_queued")
    assert "queued and will be sent automatically" in other.json()["error"]["message"]
    assert ledger(api_server, paid) == [(paid.part, "pending", False, 1)]
    full = httpx.post(f"{api_server.url}/api/v1/payment/refund/{paid.session_id}",
                      json={"reason": "everything"}, headers=auth(admin_token),
                      timeout=60)  # fmt: skip
    assert (full.status_code, full.json()["error"]["code"]) == (409, "refund_queued")
    reconcile_once(grace_seconds=0)
    assert at_stripe(stripe_client, paid) == [(paid.part, "succeeded")]
    # Once through, the next refund is an ordinary one.
    rest = refund(api_server, admin_token, paid, 2 * paid.part, reason="goodwill")
    assert rest.status_code == 200, rest.text
    assert at_stripe(stripe_client, paid) == sorted([(paid.part, "succeeded"),
                                                     (2 * paid.part, "succeeded")])  # fmt: skip
    assert_books_agree(api_server, stripe_client, paid, asked=3 * paid.part)


def test_a_refund_stripe_refuses_is_failed_and_releases_its_reservation(
    api_server, sandbox, stripe_client, admin_token, make_patient
):
    paid = Paid(api_server, sandbox, make_patient(), doctor_index=3)
    with sandbox.webhooks_paused():
        # Refunded in full in Stripe's Dashboard; our ledger does not know yet.
        stripe_client.v1.refunds.create(params={"payment_intent": paid.payment_intent})
        r = refund(api_server, admin_token, paid, paid.part)
        assert (r.status_code, r.json()["error"]["code"]) == (502, "refund_rejected")
        assert "Nothing was refunded" in r.json()["error"]["message"]
        [(amount, status, sent, attempts)] = ledger(api_server, paid)
        assert (amount, status, sent, attempts) == (paid.part, "failed", False, 1)
        with Session(api_server.engine) as db:
            row = db.exec(select(Refund).where(Refund.payment_id == paid.payment_id)).one()
            assert row.failure_reason.startswith("refused by Stripe:")
    # The Dashboard refund arrives by webhook and is booked; the failed row reserved nothing.
    wait_for(lambda: len(ledger(api_server, paid)) == 2)
    assert_books_agree(api_server, stripe_client, paid, asked=paid.price)
    with Session(api_server.engine) as db:
        assert db.get(Payment, paid.payment_id).status == "refunded"


def test_an_event_for_a_session_stripe_does_not_know_stores_what_happened(
    api_server, webhook_secret, admin_token
):
    session_id = f"cs_test_unknown_{uuid.uuid4().hex[:10]}"
    event_id = f"evt_unknown_{uuid.uuid4().hex[:10]}"
    body = json.dumps({"id": event_id, "object": "event", "type": "checkout.session.completed",
                       "data": {"object": {"object": "checkout.session", "id": session_id,
                                           "metadata": {}}}}).encode()  # fmt: skip
    r = httpx.post(f"{api_server.url}{WEBHOOK_PATH}", content=body, timeout=30,
                   headers={"Stripe-Signature": sign(body, webhook_secret),
                            "Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert applied_event(api_server.engine, event_id).status == "failed"
    rows = httpx.get(f"{api_server.url}/api/v1/admin/webhooks", params={"status": "failed"},
                     headers=auth(admin_token), timeout=30).json()["data"]  # fmt: skip
    [row] = [e for e in rows if e["stripeEventId"] == event_id]
    assert row["error"] == (
        "PaymentProviderRejected: Stripe refused checkout.sessions.retrieve: "
        f"No such checkout.session: '{session_id}' (resource_missing)."
    )
