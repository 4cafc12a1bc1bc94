"""PaymentIntents through the real `stripe` library (sync and async), with Stripe's test
PaymentMethods."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from stripe_sandbox.testing import SandboxError, SandboxProcess

RETURN_URL = "https://efoy.example/payment/done"


def create(client: stripe.StripeClient, **params: Any) -> Any:
    return client.v1.payment_intents.create(
        params={
            "amount": 4500,
            "currency": "eur",
            "metadata": {"booking_id": "7"},
            "description": "Dermatology, 12 May 10:00",
            "receipt_email": "patient@example.com",
            **params,
        }
    )


def test_create_and_retrieve(client: stripe.StripeClient) -> None:
    intent = create(client, automatic_payment_methods={"enabled": True})
    assert intent.id.startswith("pi_")
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert (intent.status, intent.amount, intent.currency) == (
        "requires_payment_method",
        4500,
        "eur",
    )
    assert intent.automatic_payment_methods.enabled is True
    assert (intent.payment_method, intent.latest_charge, intent.last_payment_error) == (
        None,
        None,
        None,
    )
    again = client.v1.payment_intents.retrieve(intent.id)
    assert (again.description, again.receipt_email, again.metadata.to_dict()) == (
        "Dermatology, 12 May 10:00",
        "patient@example.com",
        {"booking_id": "7"},
    )
    events = client.v1.events.list(params={"type": "payment_intent.created"}).data
    assert [e.data.object["id"] for e in events] == [intent.id]


def test_update_merges_metadata_and_changes_the_amount(client: stripe.StripeClient) -> None:
    intent = create(client)
    updated = client.v1.payment_intents.update(
        intent.id, params={"amount": 5000, "metadata": {"slot": "s1", "booking_id": ""}}
    )
    assert updated.amount == 5000
    assert updated.metadata.to_dict() == {"slot": "s1"}


def test_confirm_with_pm_card_visa_succeeds_with_a_charge(client: stripe.StripeClient) -> None:
    intent = create(client)
    intent = client.v1.payment_intents.confirm(
        intent.id, params={"payment_method": "pm_card_visa", "return_url": RETURN_URL}
    )
    assert (intent.status, intent.amount_received) == ("succeeded", 4500)
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.status, charge.amount, charge.currency, charge.payment_intent) == (
        "succeeded",
        4500,
        "eur",
        intent.id,
    )
    assert charge.payment_method_details.card.brand == "visa"
    assert charge.metadata.to_dict() == {"booking_id": "7"}
    types = [e.type for e in reversed(client.v1.events.list().data)]
    assert types == ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]


def test_create_with_confirm_needs_a_return_url_unless_redirects_are_off(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        create(client, payment_method="pm_card_visa", confirm=True)
    assert caught.value.param == "return_url"
    intent = create(
        client,
        payment_method="pm_card_visa",
        confirm=True,
        automatic_payment_methods={"enabled": True, "allow_redirects": "never"},
    )
    assert intent.status == "succeeded"


@pytest.mark.parametrize(
    ("method", "code", "decline_code", "message"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline", "Your card was declined."),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "expired_card",
            "expired_card",
            "Your card has expired.",
        ),
    ],
)
def test_declined_confirm_raises_card_error(
    client: stripe.StripeClient, method: str, code: str, decline_code: str, message: str
) -> None:
    intent = create(client)
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.confirm(
            intent.id, params={"payment_method": method, "return_url": RETURN_URL}
        )
    error = caught.value
    assert (error.http_status, error.code, error.user_message) == (402, code, message)
    assert error.error.decline_code == decline_code
    assert error.json_body["error"]["payment_intent"]["id"] == intent.id
    intent = client.v1.payment_intents.retrieve(intent.id)
    assert intent.status == "requires_payment_method"
    assert (intent.last_payment_error.code, intent.last_payment_error.decline_code) == (
        code,
        decline_code,
    )
    types = [e.type for e in reversed(client.v1.events.list().data)]
    assert types == ["payment_intent.created", "charge.failed", "payment_intent.payment_failed"]
    retried = client.v1.payment_intents.confirm(
        intent.id, params={"payment_method": "pm_card_visa"}
    )  # the return_url from the first confirm is kept
    assert (retried.status, retried.last_payment_error) == ("succeeded", None)


def test_authentication_required_redirects_then_succeeds(
    client: stripe.StripeClient, sandbox: SandboxProcess
) -> None:
    intent = create(
        client, payment_method="pm_card_authenticationRequired", confirm=True, return_url=RETURN_URL
    )
    assert intent.status == "requires_action"
    assert intent.next_action.type == "redirect_to_url"
    assert intent.next_action.redirect_to_url.return_url == RETURN_URL
    assert intent.next_action.redirect_to_url.url.startswith(
        f"{sandbox.url}/authenticate/{intent.id}?client_secret="
    )
    result = sandbox.control(f"payment_intents/{intent.id}/authenticate", {"result": "complete"})
    query = parse_qs(urlsplit(result["redirect"]).query)
    assert result["redirect"].startswith(RETURN_URL + "?")
    assert query == {
        "payment_intent": [intent.id],
        "payment_intent_client_secret": [intent.client_secret],
        "redirect_status": ["succeeded"],
    }
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_failed_authentication_redirects_with_failed_status(
    client: stripe.StripeClient, sandbox: SandboxProcess
) -> None:
    intent = create(
        client, payment_method="pm_card_authenticationRequired", confirm=True, return_url=RETURN_URL
    )
    result = sandbox.control(f"payment_intents/{intent.id}/authenticate", {"result": "fail"})
    assert parse_qs(urlsplit(result["redirect"]).query)["redirect_status"] == ["failed"]
    intent = client.v1.payment_intents.retrieve(intent.id)
    assert (intent.status, intent.payment_method) == ("requires_payment_method", None)
    assert intent.last_payment_error.code == "payment_intent_authentication_failure"
    with pytest.raises(SandboxError, match="not awaiting authentication"):
        sandbox.control(f"payment_intents/{intent.id}/authenticate", {"result": "complete"})


def test_cancel_and_the_states_that_refuse_it(client: stripe.StripeClient) -> None:
    intent = create(client)
    canceled = client.v1.payment_intents.cancel(
        intent.id, params={"cancellation_reason": "requested_by_customer"}
    )
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "requested_by_customer")
    assert canceled.canceled_at is not None
    with pytest.raises(stripe.InvalidRequestError) as confirm_canceled:
        client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert confirm_canceled.value.code == "payment_intent_unexpected_state"
    paid = create(client, payment_method="pm_card_visa", confirm=True, return_url=RETURN_URL)
    with pytest.raises(stripe.InvalidRequestError) as cancel_paid:
        client.v1.payment_intents.cancel(paid.id)
    assert cancel_paid.value.code == "payment_intent_unexpected_state"
    assert [
        e.type for e in client.v1.events.list(params={"type": "payment_intent.canceled"}).data
    ] == ["payment_intent.canceled"]


def test_unknown_ids_and_bad_amounts(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.retrieve("pi_doesnotexist")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError) as small:
        create(client, amount=20)
    assert (small.value.code, small.value.param) == ("amount_too_small", "amount")
    with pytest.raises(stripe.InvalidRequestError) as bad_method:
        create(client, payment_method="pm_nope")
    assert bad_method.value.param == "payment_method"


def test_async_methods(sandbox: SandboxProcess) -> None:
    async def flow() -> tuple[str, str, str, str, int]:
        client = stripe.StripeClient(sandbox.api_key, base_addresses={"api": sandbox.url})
        intent = await client.v1.payment_intents.create_async(
            params={"amount": 3000, "currency": "usd"}
        )
        confirmed = await client.v1.payment_intents.confirm_async(
            intent.id, params={"payment_method": "pm_card_mastercard", "return_url": RETURN_URL}
        )
        charge = await client.v1.charges.retrieve_async(confirmed.latest_charge)
        try:
            await client.v1.payment_intents.confirm_async(
                intent.id, params={"payment_method": "pm_card_visa"}
            )
        except stripe.InvalidRequestError as exc:
            code = exc.code or ""
        refund = await client.v1.refunds.create_async(
            params={"payment_intent": intent.id, "amount": 1000}
        )
        session = await client.v1.checkout.sessions.create_async(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 1500,
                            "product_data": {"name": "Visit"},
                        },
                    }
                ],
            }
        )
        found = await client.v1.checkout.sessions.retrieve_async(session.id)
        return (
            confirmed.status,
            charge.payment_method_details.card.brand,
            code,
            found.status,
            refund.amount,
        )

    # A thread of its own: pytest-playwright's sync API keeps an event loop running in the main
    # thread once a browser test has run, and asyncio.run() refuses to nest in it.
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(asyncio.run, flow()).result(timeout=30)
    assert result == ("succeeded", "mastercard", "payment_intent_unexpected_state", "open", 1000)
