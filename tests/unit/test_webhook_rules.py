"""Webhook processing rules on a real SQLite with Stripe doubled at the gateway (the signature is
the HTTP tests' business): an event is applied once, an unknown type is stored and ignored, a
failure is stored and raised and retried later, an event stored but never applied (its
process died) is applied by reconciliation, refund events that overtake the
payment's own event end in the same rows, and no client secret is stored."""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import count
from typing import Any

import pytest

from efoy_app.domain import payment_start, refunds, webhook_inbox, webhooks
from efoy_app.domain.redaction import REDACTED
from efoy_app.models import Booking, Payment, WebhookEvent
from tests.unit.payment_setup import (
    fresh,
    hold,
    paid_by_checkout,
    refund_rows,
    rows,
    status_moves,
)

FEE = 4500
_ids = count(1)


@pytest.fixture
def doctor(make_doctor):
    return make_doctor(fee_minor=FEE, currency="USD")


def event(type_: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_unit_{next(_ids)}",
        "object": "event",
        "type": type_,
        "data": {"object": obj},
    }


def deliver(session, evt: dict[str, Any]) -> str:
    """What the route does after verifying; webhooks open their own sessions on the same file,
    so the test's session holds no transaction meanwhile."""
    session.rollback()
    return webhooks.process_event(evt)


def stored(session, evt: dict[str, Any]) -> WebhookEvent:
    session.rollback()
    [row] = rows(session, WebhookEvent, stripe_event_id=evt["id"])
    return row


@pytest.fixture
def started(session, app_engine, stripe_double, doctor, patient):
    booking = hold(session, doctor, patient)
    return booking, payment_start.start_checkout(session, booking_id=booking.id, user=patient)


def test_a_completed_checkout_confirms_and_its_duplicate_is_a_no_op(
    session, stripe_double, started
) -> None:
    booking, start = started
    stripe_double.pay_session(start.session_id)
    completed = event("checkout.session.completed", {"id": start.session_id})

    assert deliver(session, completed) == "processed"
    retrieved = len(stripe_double.calls)
    assert deliver(session, completed) == "duplicate"
    assert deliver(session, dict(completed)) == "duplicate"

    assert len(stripe_double.calls) == retrieved  # a duplicate does not even ask Stripe
    row = stored(session, completed)
    assert (row.status, row.attempts, row.error) == ("processed", 1, None)
    assert fresh(session, Payment, start.payment_id).status == "paid"
    assert status_moves(session, "booking", booking.id) == [("held", "confirmed")]


def test_the_payment_intents_own_event_confirms_a_checkout_once(
    session, stripe_double, started
) -> None:
    booking, start = started
    paid = stripe_double.pay_session(start.session_id)
    assert deliver(session, event("payment_intent.succeeded", {"id": paid["payment_intent"]})) == (
        "processed"
    )
    assert deliver(session, event("checkout.session.completed", {"id": start.session_id})) == (
        "processed"
    )
    session.rollback()
    assert status_moves(session, "payment", start.payment_id) == [("pending", "paid")]
    assert status_moves(session, "booking", booking.id) == [("held", "confirmed")]


def test_an_unknown_event_type_is_stored_and_ignored(session, stripe_double, started) -> None:
    calls = len(stripe_double.calls)
    unknown = event("customer.created", {"id": "cus_1", "object": "customer"})

    assert deliver(session, unknown) == "ignored"
    assert deliver(session, unknown) == "duplicate"

    row = stored(session, unknown)
    assert (row.status, row.type, row.attempts) == ("ignored", "customer.created", 1)
    assert json.loads(row.payload) == unknown
    assert len(stripe_double.calls) == calls


def test_a_processing_error_is_stored_raised_and_retried(session, stripe_double, started) -> None:
    booking, start = started
    stripe_double.pay_session(start.session_id)
    completed = event("checkout.session.completed", {"id": start.session_id})
    stripe_double.offline = True

    with pytest.raises(webhooks.WebhookProcessingError):
        deliver(session, completed)
    row = stored(session, completed)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.error.startswith("PaymentProviderUnavailable: Stripe did not answer")
    assert json.loads(row.payload) == completed
    assert fresh(session, Booking, booking.id).status == "held"

    with pytest.raises(webhooks.WebhookProcessingError):
        deliver(session, completed)  # Stripe's own retry, still down
    assert stored(session, completed).attempts == 2

    stripe_double.offline = False
    session.rollback()
    assert webhooks.retry_pending_events() == {"retried": 1, "still_failing": 0}
    row = stored(session, completed)
    assert (row.status, row.attempts, row.error) == ("processed", 3, None)
    assert fresh(session, Booking, booking.id).status == "confirmed"
    assert deliver(session, completed) == "duplicate"


def test_an_expired_session_expires_the_payment_and_frees_the_slot(
    session, stripe_double, started
) -> None:
    booking, start = started
    stripe_double.v1.checkout.sessions.expire(start.session_id)

    assert deliver(session, event("checkout.session.expired", {"id": start.session_id})) == (
        "processed"
    )
    session.rollback()
    assert fresh(session, Payment, start.payment_id).status == "expired"
    assert fresh(session, Booking, booking.id).status == "expired"


def test_an_async_payment_failure_fails_the_pending_payment(
    session, stripe_double, started
) -> None:
    booking, start = started
    failed = event("checkout.session.async_payment_failed", {"id": start.session_id})
    assert deliver(session, failed) == "processed"
    session.rollback()
    payment = fresh(session, Payment, start.payment_id)
    assert (payment.status, payment.failure_message) == (
        "failed",
        "The bank did not complete the payment.",
    )
    assert fresh(session, Booking, booking.id).status == "held"


@pytest.mark.parametrize("refunded", [1000, FEE])
def test_a_refund_event_before_the_completion_event_ends_in_the_same_rows(
    session, stripe_double, started, refunded
) -> None:
    booking, start = started
    pi_id = stripe_double.pay_session(start.session_id)["payment_intent"]
    made = stripe_double.dashboard_refund(pi_id, refunded)
    charge = stripe_double.charges[made["charge"]]

    # Stripe reports the refund first, then the payment that it refunds.
    assert deliver(session, event("charge.refunded", {**charge, "payment_intent": None})) == (
        "processed"
    )
    assert deliver(session, event("refund.created", made)) == "processed"
    assert deliver(session, event("checkout.session.completed", {"id": start.session_id})) == (
        "processed"
    )

    session.rollback()
    payment = fresh(session, Payment, start.payment_id)
    status = "refunded" if refunded == FEE else "partially_refunded"
    assert (payment.status, payment.amount_refunded_minor) == (status, refunded)
    assert fresh(session, Booking, booking.id).status == "confirmed"
    [row] = refund_rows(session, payment.id)
    assert (row.stripe_refund_id, row.status, row.amount_minor) == (
        made["id"],
        "succeeded",
        refunded,
    )
    assert row.requested_by_user_id is None and row.reason.startswith("Refunded in Stripe")
    assert stripe_double.refunded(pi_id) == refunded  # nothing refunded by us on top


def test_a_refund_that_fails_at_the_bank_gives_the_amount_back(
    session, stripe_double, app_engine, doctor, patient, admin
) -> None:
    _, payment = paid_by_checkout(session, stripe_double, doctor, patient)
    refunds.refund_payment(
        session,
        payment=payment,
        amount_minor=1000,
        reason="goodwill",
        requested_by_user_id=admin.id,
    )
    [made] = stripe_double.refunds
    made.update(status="failed", failure_reason="expired_or_canceled_card")

    assert deliver(session, event("refund.failed", made)) == "processed"
    session.rollback()
    [row] = refund_rows(session, payment.id)
    assert (row.status, row.failure_reason) == ("failed", "expired_or_canceled_card")
    payment = fresh(session, Payment, payment.id)
    assert (payment.status, payment.amount_refunded_minor) == ("paid", 0)
    assert refunds.refundable_minor(session, payment) == FEE


def test_no_client_secret_is_stored(session, stripe_double, app_engine, doctor, patient) -> None:
    booking = hold(session, doctor, patient)
    card = payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
    secret = card.client_secret
    pi = dict(stripe_double.pay_intent(card.payment_intent_id))
    pi["next_action"] = {
        "type": "redirect_to_url",
        "redirect_to_url": {
            "url": f"https://hooks.stripe.test/3ds?payment_intent_client_secret={secret}"
        },
    }
    succeeded = event("payment_intent.succeeded", pi)

    assert deliver(session, succeeded) == "processed"

    row = stored(session, succeeded)
    assert secret not in row.payload
    payload = json.loads(row.payload)
    assert payload["data"]["object"]["client_secret"] == REDACTED
    assert payload["data"]["object"]["next_action"]["redirect_to_url"]["url"].endswith(
        f"payment_intent_client_secret={REDACTED}"
    )
    assert payload["data"]["object"]["amount"] == FEE  # the rest is kept as sent
    assert fresh(session, Booking, booking.id).status == "confirmed"


def test_a_failed_event_is_stored_without_its_client_secret(
    session, stripe_double, app_engine, doctor, patient
) -> None:
    booking = hold(session, doctor, patient)
    card = payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
    stripe_double.offline = True
    failed = event("payment_intent.payment_failed", stripe_double.intents[card.payment_intent_id])

    with pytest.raises(webhooks.WebhookProcessingError):
        deliver(session, failed)
    row = stored(session, failed)
    assert row.status == "failed" and card.client_secret not in row.payload


def test_the_inbox_stores_an_event_once_and_knows_what_is_left_to_apply(
    session, app_engine
) -> None:
    evt = event("customer.created", {"id": "cus_1", "object": "customer"})
    session.rollback()
    assert webhook_inbox.store(evt) == webhook_inbox.Stored(new=True, to_process=True)
    # Stored, not applied yet (the queue is on it, or its process died): apply it again.
    assert webhook_inbox.store(evt) == webhook_inbox.Stored(new=False, to_process=True)
    assert (stored(session, evt).status, stored(session, evt).attempts) == ("received", 0)
    assert deliver(session, evt) == "ignored"
    assert webhook_inbox.store(evt) == webhook_inbox.Stored(new=False, to_process=False)
    assert deliver(session, evt) == "duplicate"
    row = stored(session, evt)
    assert (row.status, row.attempts) == ("ignored", 1)


def test_an_event_its_process_never_applied_is_applied_by_reconciliation(
    session, stripe_double, started
) -> None:
    booking, start = started
    stripe_double.pay_session(start.session_id)
    completed = event("checkout.session.completed", {"id": start.session_id})
    session.rollback()
    assert webhook_inbox.store(completed).new  # ... and the process is killed here
    # Just stored: its own process may still be applying it, so reconciliation leaves it.
    assert webhooks.retry_pending_events() == {"retried": 0, "still_failing": 0}
    assert fresh(session, Booking, booking.id).status == "held"
    row = stored(session, completed)
    row.received_at -= timedelta(seconds=webhooks.STALE_RECEIVED_SECONDS + 1)
    session.add(row)
    session.commit()
    session.rollback()

    assert webhooks.retry_pending_events() == {"retried": 1, "still_failing": 0}
    row = stored(session, completed)
    assert (row.status, row.attempts) == ("processed", 1)
    assert fresh(session, Payment, start.payment_id).status == "paid"
    assert status_moves(session, "booking", booking.id) == [("held", "confirmed")]
    session.rollback()
    assert webhooks.retry_pending_events() == {"retried": 0, "still_failing": 0}


def test_the_inbox_keeps_no_client_secret(session, app_engine) -> None:
    evt = event("payment_intent.created", {"id": "pi_1", "client_secret": "pi_1_secret_abc"})
    session.rollback()
    webhook_inbox.store(evt)
    payload = json.loads(stored(session, evt).payload)
    assert payload["data"]["object"]["client_secret"] == REDACTED
