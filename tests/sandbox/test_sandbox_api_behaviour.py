"""What every endpoint shares: API keys, Stripe's error classes, idempotency, injected faults,
events and webhook endpoints."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import stripe

from stripe_sandbox.testing import SandboxProcess


def pi_params(**extra: Any) -> dict[str, Any]:
    return {"amount": 2000, "currency": "usd", "metadata": {"booking_id": "9"}, **extra}


def count(client: stripe.StripeClient, kind: str = "payment_intents") -> int:
    return len(getattr(client.v1, kind).list(params={"limit": 100}).data)


# Authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["sk_live_abc123456789", "pk_test_abc123456789", "sk_test_"])
def test_keys_other_than_sk_test_are_refused(sandbox: SandboxProcess, key: str) -> None:
    client = stripe.StripeClient(key, base_addresses={"api": sandbox.url})
    with pytest.raises(stripe.AuthenticationError) as caught:
        client.v1.payment_intents.create(params=pi_params())
    assert caught.value.http_status == 401


def test_missing_key_gets_stripes_401_body(sandbox: SandboxProcess) -> None:
    response = httpx.get(sandbox.url + "/v1/payment_intents")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("You did not provide an API key.")
    basic = httpx.get(sandbox.url + "/v1/payment_intents", auth=("sk_test_curl", ""))
    assert (basic.status_code, basic.json()["object"]) == (200, "list")


def test_unknown_urls_answer_like_stripe(sandbox: SandboxProcess) -> None:
    response = httpx.get(
        sandbox.url + "/v1/customers", headers={"Authorization": f"Bearer {sandbox.api_key}"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith(
        "Unrecognized request URL (GET: /v1/customers)."
    )


# Idempotency ----------------------------------------------------------------------------------


def test_same_key_and_parameters_replay_the_first_answer(
    client: stripe.StripeClient, sandbox: SandboxProcess
) -> None:
    first = client.v1.payment_intents.create(
        params=pi_params(), options={"idempotency_key": "booking-9-try-1"}
    )
    again = client.v1.payment_intents.create(
        params=pi_params(), options={"idempotency_key": "booking-9-try-1"}
    )
    assert (again.id, again.client_secret) == (first.id, first.client_secret)
    assert count(client) == 1
    assert len(client.v1.events.list(params={"type": "payment_intent.created"}).data) == 1
    raw = httpx.post(
        sandbox.url + "/v1/payment_intents",
        data={"amount": "2000", "currency": "usd", "metadata[booking_id]": "9"},
        headers={
            "Authorization": f"Bearer {sandbox.api_key}",
            "Idempotency-Key": "booking-9-try-1",
        },
    )
    assert raw.headers["Idempotent-Replayed"] == "true"
    assert raw.json()["id"] == first.id


def test_same_key_with_other_parameters_is_an_idempotency_error(
    client: stripe.StripeClient,
) -> None:
    client.v1.payment_intents.create(params=pi_params(), options={"idempotency_key": "k-2"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.payment_intents.create(
            params=pi_params(amount=2100), options={"idempotency_key": "k-2"}
        )
    assert caught.value.http_status == 400
    assert "k-2" in caught.value.user_message
    assert count(client) == 1


def test_a_declined_card_is_replayed_not_charged_twice(client: stripe.StripeClient) -> None:
    params = pi_params(
        payment_method="pm_card_chargeDeclined",
        confirm=True,
        return_url="https://efoy.example/done",
    )
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            client.v1.payment_intents.create(params=params, options={"idempotency_key": "d-1"})
    assert count(client) == 1
    assert count(client, "charges") == 1


# Fault injection ------------------------------------------------------------------------------


def retrying(sandbox: SandboxProcess) -> stripe.StripeClient:
    return stripe.StripeClient(
        sandbox.api_key, base_addresses={"api": sandbox.url}, max_network_retries=2
    )


def test_a_default_stripe_client_does_not_retry(
    client: stripe.StripeClient, sandbox: SandboxProcess
) -> None:
    """stripe 16.x: StripeClient's max_network_retries defaults to None, i.e. no retry (the
    module-level `stripe.max_network_retries = 2` applies only to the legacy global API)."""
    sandbox.control("faults/api", {"count": 1, "status": 500})
    with pytest.raises(stripe.APIError):
        client.v1.payment_intents.create(params=pi_params())
    assert count(client) == 0


def test_library_retries_500s_and_succeeds_within_two_retries(sandbox: SandboxProcess) -> None:
    client = retrying(sandbox)
    sandbox.control("faults/api", {"count": 2, "status": 500})
    intent = client.v1.payment_intents.create(params=pi_params())
    assert intent.status == "requires_payment_method"
    assert count(client) == 1
    assert sandbox.control("faults", method="GET")["api"] == []


def test_more_500s_than_retries_raise_api_error(sandbox: SandboxProcess) -> None:
    client = retrying(sandbox)
    sandbox.control("faults/api", {"count": 3, "status": 500})
    with pytest.raises(stripe.APIError) as caught:
        client.v1.payment_intents.create(params=pi_params())
    assert caught.value.http_status == 500
    assert count(client) == 0
    assert sandbox.control("faults", method="GET")["api"] == []


def test_429_raises_rate_limit_error_without_retry(sandbox: SandboxProcess) -> None:
    client = retrying(sandbox)
    sandbox.control("faults/api", {"count": 2, "status": 429})
    with pytest.raises(stripe.RateLimitError):
        client.v1.payment_intents.create(params=pi_params())
    assert sandbox.control("faults", method="GET")["api"][0]["count"] == 1  # no retry used it
    with pytest.raises(stripe.RateLimitError):
        client.v1.payment_intents.list()
    assert client.v1.payment_intents.list().data == []


def test_faults_only_hit_their_path_prefix(
    client: stripe.StripeClient, sandbox: SandboxProcess
) -> None:
    sandbox.control("faults/api", {"count": 1, "status": 500, "path_prefix": "/v1/checkout"})
    client.v1.payment_intents.create(params=pi_params())
    assert sandbox.control("faults", method="GET")["api"][0]["count"] == 1
    sandbox.control("faults/clear")
    assert sandbox.control("faults", method="GET")["api"] == []


def test_a_hanging_api_times_the_client_out(sandbox: SandboxProcess) -> None:
    sandbox.control("faults/api", {"count": 1, "status": 500, "hang_seconds": 1.0})
    http = stripe.HTTPXClient(timeout=0.3, allow_sync_methods=True)
    client = stripe.StripeClient(
        sandbox.api_key,
        base_addresses={"api": sandbox.url},
        http_client=http,
        max_network_retries=0,
    )
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        client.v1.payment_intents.list()
    assert 0.25 < time.monotonic() - started < 0.9
    assert client.v1.payment_intents.list().data == []


# Events ---------------------------------------------------------------------------------------


def test_events_name_their_request_and_filter_by_type(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        params=pi_params(), options={"idempotency_key": "e-1"}
    )
    client.v1.payment_intents.cancel(intent.id)
    events = client.v1.events.list().data
    assert [e.type for e in events] == ["payment_intent.canceled", "payment_intent.created"]
    created = events[1]
    assert created.id.startswith("evt_")
    assert (created.object, created.livemode, created.request.idempotency_key) == (
        "event",
        False,
        "e-1",
    )
    assert created.request.id.startswith("req_")
    assert created.data.object["status"] == "requires_payment_method"  # a snapshot
    assert created.api_version
    assert client.v1.events.retrieve(created.id).type == "payment_intent.created"
    only = client.v1.events.list(params={"type": "payment_intent.created"}).data
    assert [e.id for e in only] == [created.id]
    wildcard = client.v1.events.list(params={"type": "payment_intent.*", "limit": 1})
    assert (len(wildcard.data), wildcard.has_more) == (1, True)
    paged = [e.id for e in client.v1.events.list(params={"limit": 1}).auto_paging_iter()]
    assert paged == [e.id for e in events]


# Webhook endpoints ----------------------------------------------------------------------------


def test_webhook_endpoint_crud(client: stripe.StripeClient) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        params={
            "url": "https://efoy.example/api/v1/payment/webhook",
            "enabled_events": ["checkout.session.completed", "charge.refunded"],
            "description": "Efoy",
        }
    )
    assert endpoint.id.startswith("we_")
    assert endpoint.secret.startswith("whsec_")
    assert (endpoint.status, endpoint.enabled_events) == (
        "enabled",
        ["checkout.session.completed", "charge.refunded"],
    )
    fetched = client.v1.webhook_endpoints.retrieve(endpoint.id)
    assert "secret" not in fetched
    ids = [e.id for e in client.v1.webhook_endpoints.list().data]
    assert len(ids) == 2 and ids[0] == endpoint.id  # plus the --webhook one
    disabled = client.v1.webhook_endpoints.update(endpoint.id, params={"disabled": True})
    assert disabled.status == "disabled"
    deleted = client.v1.webhook_endpoints.delete(endpoint.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.webhook_endpoints.retrieve(endpoint.id)
    assert caught.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError) as bad:
        client.v1.webhook_endpoints.create(
            params={"url": "https://x.example/h", "enabled_events": ["not an event"]}
        )
    assert bad.value.param == "enabled_events[0]"
