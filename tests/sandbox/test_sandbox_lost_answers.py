"""`"after": true` API faults: Stripe did the work, but the answer never reached the client.

This is the case an idempotency key exists for: only a retry with the same key can tell the
client what happened, and it must not do the work twice.
"""

from __future__ import annotations

import time

import pytest
import stripe
from test_sandbox_refunds import paid_intent

from stripe_sandbox.testing import SandboxError, SandboxProcess


def refunds_of(client: stripe.StripeClient, intent_id: str) -> list[int]:
    return [
        r.amount
        for r in client.v1.refunds.list(params={"payment_intent": intent_id, "limit": 100}).data
    ]


def test_a_lost_answer_still_refunds_and_a_retry_with_the_key_replays_it(
    client: stripe.StripeClient, sandbox: SandboxProcess
) -> None:
    intent = paid_intent(client, amount=5000)
    sandbox.control("faults/api", {"count": 1, "status": 500, "after": True,
                                   "path_prefix": "/v1/refunds"})  # fmt: skip
    params = {"payment_intent": intent.id, "amount": 700}
    with pytest.raises(stripe.APIError):
        client.v1.refunds.create(params=params, options={"idempotency_key": "lost-1"})
    assert refunds_of(client, intent.id) == [700]  # it happened
    again = client.v1.refunds.create(params=params, options={"idempotency_key": "lost-1"})
    assert (again.amount, again.status) == (700, "succeeded")
    assert refunds_of(client, intent.id) == [700]  # and only once
    assert client.v1.charges.retrieve(intent.latest_charge).amount_refunded == 700


def test_a_retrying_client_sees_every_attempt_fail_but_one_refund_exists(
    sandbox: SandboxProcess, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client, amount=5000)
    retrying = stripe.StripeClient(
        sandbox.api_key, base_addresses={"api": sandbox.url}, max_network_retries=2
    )
    sandbox.control("faults/api", {"count": 3, "status": 500, "after": True,
                                   "path_prefix": "/v1/refunds"})  # fmt: skip
    with pytest.raises(stripe.APIError):
        retrying.v1.refunds.create(
            params={"payment_intent": intent.id, "amount": 1000},
            options={"idempotency_key": "lost-2"},
        )
    assert refunds_of(client, intent.id) == [1000]
    assert sandbox.control("faults", method="GET")["api"] == []


def test_a_hang_after_the_work_times_the_client_out_with_the_refund_made(
    sandbox: SandboxProcess, client: stripe.StripeClient
) -> None:
    intent = paid_intent(client, amount=5000)
    impatient = stripe.StripeClient(
        sandbox.api_key,
        base_addresses={"api": sandbox.url},
        http_client=stripe.HTTPXClient(timeout=0.3, allow_sync_methods=True),
        max_network_retries=0,
    )
    sandbox.control("faults/api", {"count": 1, "status": 500, "after": True, "hang_seconds": 1.0,
                                   "path_prefix": "/v1/refunds"})  # fmt: skip
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.refunds.create(
            params={"payment_intent": intent.id, "amount": 300},
            options={"idempotency_key": "lost-3"},
        )
    assert time.monotonic() - started < 0.9
    assert refunds_of(client, intent.id) == [300]


def test_after_must_be_a_boolean(sandbox: SandboxProcess) -> None:
    with pytest.raises(SandboxError, match="must be true or false"):
        sandbox.control("faults/api", {"count": 1, "after": "yes"})


def test_a_fault_can_spare_other_methods(
    client: stripe.StripeClient, sandbox: SandboxProcess
) -> None:
    intent = paid_intent(client, amount=5000)
    sandbox.control("faults/api", {"count": 1, "status": 500, "method": "POST",
                                   "path_prefix": "/v1/refunds"})  # fmt: skip
    assert refunds_of(client, intent.id) == []  # a GET passes
    with pytest.raises(stripe.APIError):
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 100})
    assert sandbox.control("faults", method="GET")["api"] == []
