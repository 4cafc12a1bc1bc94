"""Refunds: partial, full, too much, and one that fails after it was accepted."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from sandbox_support import wait_for

from stripe_sandbox.testing import SandboxProcess


def paid_intent(client: stripe.StripeClient, amount: int = 5000, currency: str = "usd") -> Any:
    return client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": currency,
            "payment_method": "pm_card_visa",
            "confirm": True,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        }
    )


def refund_events(client: stripe.StripeClient) -> list[str]:
    return [
        e.type
        for e in reversed(client.v1.events.list(params={"limit": 100}).data)
        if e.type.startswith(("refund.", "charge.refund."))
    ]


def test_partial_then_full_then_nothing_left(client: stripe.StripeClient) -> None:
    intent = paid_intent(client)
    first = client.v1.refunds.create(
        params={
            "payment_intent": intent.id,
            "amount": 2000,
            "reason": "requested_by_customer",
            "metadata": {"booking_id": "42"},
        }
    )
    assert (first.status, first.amount, first.charge, first.payment_intent) == (
        "succeeded",
        2000,
        intent.latest_charge,
        intent.id,
    )
    assert (first.reason, first.metadata.to_dict()) == (
        "requested_by_customer",
        {"booking_id": "42"},
    )
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (2000, False)

    rest = client.v1.refunds.create(params={"charge": charge.id})  # the remaining 3000
    assert rest.amount == 3000
    charge = client.v1.charges.retrieve(charge.id)
    assert (charge.amount_refunded, charge.refunded) == (5000, True)
    assert [r.amount for r in charge.refunds.data] == [3000, 2000]

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1})
    assert caught.value.code == "charge_already_refunded"
    listed = client.v1.refunds.list(params={"payment_intent": intent.id}).data
    assert [r.id for r in listed] == [rest.id, first.id]
    assert refund_events(client) == ["refund.created", "refund.created"]
    refunded = client.v1.events.list(params={"type": "charge.refunded"}).data
    assert [e.data.object["amount_refunded"] for e in refunded] == [5000, 2000]


def test_more_than_the_charge_is_refused_with_stripes_message(client: stripe.StripeClient) -> None:
    intent = paid_intent(client)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 6000})
    assert caught.value.param == "amount"
    assert caught.value.user_message == (
        "Refund amount ($60.00) is greater than charge amount ($50.00)"
    )
    client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 4000})
    with pytest.raises(stripe.InvalidRequestError) as rest:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1500})
    assert rest.value.user_message == (
        "Refund amount ($15.00) is greater than unrefunded amount on charge ($10.00)"
    )
    assert client.v1.charges.retrieve(intent.latest_charge).amount_refunded == 4000


def test_refund_parameters_are_checked(client: stripe.StripeClient) -> None:
    intent = paid_intent(client, amount=5000, currency="jpy")
    with pytest.raises(stripe.InvalidRequestError) as reason:
        client.v1.refunds.create(params={"payment_intent": intent.id, "reason": "changed_mind"})
    assert reason.value.param == "reason"
    with pytest.raises(stripe.InvalidRequestError) as nothing:
        client.v1.refunds.create(params={"amount": 100})
    assert nothing.value.code == "parameter_missing"
    unpaid = client.v1.payment_intents.create(params={"amount": 5000, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as not_paid:
        client.v1.refunds.create(params={"payment_intent": unpaid.id})
    assert not_paid.value.param == "payment_intent"
    with pytest.raises(stripe.InvalidRequestError) as yen:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 5001})
    assert yen.value.user_message == "Refund amount (¥5,001) is greater than charge amount (¥5,000)"


def test_a_refund_can_fail_after_it_was_accepted(
    client: stripe.StripeClient, sandbox: SandboxProcess
) -> None:
    intent = paid_intent(client)
    sandbox.control("refunds/fail_next", {"failure_reason": "expired_or_canceled_card"})
    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 3000})
    assert refund.status == "succeeded"
    assert client.v1.charges.retrieve(intent.latest_charge).amount_refunded == 3000
    failed = wait_for(
        lambda: (r := client.v1.refunds.retrieve(refund.id)).status == "failed" and r, timeout=3
    )
    assert failed.failure_reason == "expired_or_canceled_card"
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (0, False)
    assert refund_events(client) == [
        "refund.created",
        "refund.updated",
        "charge.refund.updated",
        "refund.failed",
    ]
    updated = client.v1.events.list(params={"type": "refund.updated"}).data[0]
    assert updated.data.object["status"] == "failed"
    assert updated.data.previous_attributes["status"] == "succeeded"
    assert updated.request.id is None  # the bank did it, not an API request
    second = client.v1.refunds.create(params={"payment_intent": intent.id})  # only the next one
    assert second.amount == 5000
