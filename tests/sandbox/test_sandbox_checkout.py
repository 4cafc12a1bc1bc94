"""Checkout Sessions through the real `stripe` library, paid with each test card over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe
from sandbox_support import line_item, wait_for

from stripe_sandbox.testing import SandboxProcess

AUTH_FAILED = (
    "We are unable to authenticate your payment method. Please choose a different "
    "payment method and try again."
)


def event_types(client: stripe.StripeClient, object_id: str) -> list[str]:
    """Types of the events about one object, oldest first."""
    events = client.v1.events.list(params={"limit": 100}).data
    return [e.type for e in reversed(events) if e.data.object["id"] == object_id]


def pay(sandbox: SandboxProcess, session_id: str, card: str, **extra: Any) -> dict[str, Any]:
    return sandbox.control(
        f"checkout/sessions/{session_id}/pay",
        {"card": card, "email": "patient@example.com", **extra},
    )


def test_create_returns_an_open_unpaid_session_with_a_hosted_page(
    make_session: Callable[..., Any], sandbox: SandboxProcess
) -> None:
    session = make_session(
        line_items=[line_item(2500, quantity=2)], customer_email="patient@example.com"
    )
    assert session.id.startswith("cs_test_")
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert (session.amount_total, session.amount_subtotal, session.currency) == (5000, 5000, "usd")
    assert session.payment_intent is None
    assert session.metadata.to_dict() == {"booking_id": "42"}
    assert session.client_reference_id == "booking-42"
    assert session.customer_email == "patient@example.com"
    assert session.url == f"{sandbox.url}/checkout/{session.id}"
    page = httpx.get(session.url)
    assert page.status_code == 200
    assert "$50.00" in page.text


def test_zero_decimal_currency_is_not_divided_by_100(make_session: Callable[..., Any]) -> None:
    session = make_session(line_items=[line_item(5000, currency="jpy")])
    assert session.amount_total == 5000
    assert "¥5,000" in httpx.get(session.url).text


@pytest.mark.parametrize(
    ("minutes", "accepted"),
    [(10, False), (29, False), (30, True), (24 * 60, True), (25 * 60, False)],
)
def test_expires_at_must_be_30_minutes_to_24_hours_away(
    make_session: Callable[..., Any], minutes: int, accepted: bool
) -> None:
    expires_at = int(time.time()) + minutes * 60
    if accepted:
        assert make_session(expires_at=expires_at).expires_at == expires_at
    else:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            make_session(expires_at=expires_at)
        assert caught.value.param == "expires_at"
        assert caught.value.http_status == 400


def test_invalid_parameters_are_refused_as_stripe_refuses_them(
    make_session: Callable[..., Any],
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        make_session(line_items=None)
    assert missing.value.param == "line_items"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        make_session(colour="blue")
    assert (unknown.value.code, unknown.value.param) == ("parameter_unknown", "colour")
    with pytest.raises(stripe.InvalidRequestError) as small:
        make_session(line_items=[line_item(10)])
    assert small.value.code == "amount_too_small"


def test_paying_with_4242_completes_the_session_and_succeeds_its_payment_intent(
    make_session: Callable[..., Any], sandbox: SandboxProcess, client: stripe.StripeClient
) -> None:
    session = make_session()
    result = pay(sandbox, session.id, "4242 4242 4242 4242", name="Ada Patient")
    assert result == {"outcome": "succeeded", "redirect": f"{sandbox.url}/?paid={session.id}"}
    session = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent", "line_items"]}
    )
    assert (session.status, session.payment_status, session.url) == ("complete", "paid", None)
    assert session.customer_details.email == "patient@example.com"
    assert session.customer_details.name == "Ada Patient"
    intent = session.payment_intent
    assert (intent.status, intent.amount, intent.amount_received) == ("succeeded", 5000, 5000)
    assert intent.metadata.to_dict() == {"booking_id": "42"}
    assert [i.quantity for i in session.line_items.data] == [1]
    assert session.line_items.data[0].description == "Consultation with Dr. Rossi"
    charge = client.v1.charges.retrieve(intent.latest_charge)
    card = charge.payment_method_details.card
    assert (charge.status, charge.paid, charge.amount, charge.amount_refunded) == (
        "succeeded",
        True,
        5000,
        0,
    )
    assert (card.brand, card.last4) == ("visa", "4242")
    assert charge.receipt_url == f"{sandbox.url}/receipts/{charge.id}"
    receipt = httpx.get(charge.receipt_url)
    assert receipt.status_code == 200 and "$50.00" in receipt.text
    assert event_types(client, session.id) == ["checkout.session.completed"]
    assert event_types(client, intent.id) == ["payment_intent.created", "payment_intent.succeeded"]
    assert event_types(client, charge.id) == ["charge.succeeded"]


@pytest.mark.parametrize(
    ("card", "code", "decline_code", "message"),
    [
        ("4000 0000 0000 0002", "card_declined", "generic_decline", "Your card was declined."),
        (
            "4000 0000 0000 9995",
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
        ("4000 0000 0000 0069", "expired_card", "expired_card", "Your card has expired."),
    ],
)
def test_declined_cards_leave_the_session_open_and_can_be_retried(
    make_session: Callable[..., Any],
    sandbox: SandboxProcess,
    client: stripe.StripeClient,
    card: str,
    code: str,
    decline_code: str,
    message: str,
) -> None:
    session = make_session()
    result = pay(sandbox, session.id, card)
    assert result == {
        "outcome": "declined",
        "error": {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": message,
        },
    }
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert (session.status, session.payment_status) == ("open", "unpaid")
    intent = client.v1.payment_intents.retrieve(session.payment_intent)
    assert intent.status == "requires_payment_method"
    error = intent.last_payment_error
    assert (error.type, error.code, error.decline_code, error.message) == (
        "card_error",
        code,
        decline_code,
        message,
    )
    failed = client.v1.events.list(params={"type": "payment_intent.payment_failed"}).data
    assert [e.data.object["last_payment_error"]["decline_code"] for e in failed] == [decline_code]

    assert pay(sandbox, session.id, "4242424242424242")["outcome"] == "succeeded"
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert (session.status, session.payment_intent) == ("complete", intent.id)
    charges = client.v1.charges.list(params={"payment_intent": intent.id}).data
    assert [c.status for c in charges] == ["succeeded", "failed"]
    assert charges[1].failure_code == code


def test_authentication_card_needs_3ds_then_completes(
    make_session: Callable[..., Any], sandbox: SandboxProcess, client: stripe.StripeClient
) -> None:
    session = make_session()
    result = pay(sandbox, session.id, "4000 0025 0000 3155")
    assert result["outcome"] == "requires_action"
    intent = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(session.id).payment_intent
    )
    assert intent.status == "requires_action"
    assert intent.next_action.type == "redirect_to_url"
    assert result["redirect"] == intent.next_action.redirect_to_url.url
    assert result["redirect"].startswith(f"{sandbox.url}/authenticate/{intent.id}?")
    done = sandbox.control(f"payment_intents/{intent.id}/authenticate", {"result": "complete"})
    assert done == {"outcome": "succeeded", "redirect": f"{sandbox.url}/?paid={session.id}"}
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    charge = client.v1.charges.retrieve(client.v1.payment_intents.retrieve(intent.id).latest_charge)
    assert charge.payment_method_details.card.three_d_secure.result == "authenticated"


def test_failed_authentication_returns_to_the_form(
    make_session: Callable[..., Any], sandbox: SandboxProcess, client: stripe.StripeClient
) -> None:
    session = make_session()
    pay(sandbox, session.id, "4000002500003155")
    intent_id = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    result = sandbox.control(f"payment_intents/{intent_id}/authenticate", {"result": "fail"})
    assert result["outcome"] == "declined"
    assert result["redirect"] == session.url
    intent = client.v1.payment_intents.retrieve(intent_id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "payment_intent_authentication_failure"
    assert intent.last_payment_error.message == AUTH_FAILED
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert AUTH_FAILED in httpx.get(session.url).text


def test_list_filters_by_payment_intent(
    make_session: Callable[..., Any], sandbox: SandboxProcess, client: stripe.StripeClient
) -> None:
    paid, other = make_session(), make_session()
    pay(sandbox, paid.id, "4242424242424242")
    pay(sandbox, other.id, "4242424242424242")
    intent_id = client.v1.checkout.sessions.retrieve(paid.id).payment_intent
    found = client.v1.checkout.sessions.list(params={"payment_intent": intent_id}).data
    assert [s.id for s in found] == [paid.id]
    assert len(client.v1.checkout.sessions.list().data) == 2


def test_expire_closes_an_open_session_once(
    make_session: Callable[..., Any], sandbox: SandboxProcess, client: stripe.StripeClient
) -> None:
    session = make_session()
    pay(sandbox, session.id, "4000000000000002")  # leaves a PaymentIntent to cancel
    expired = client.v1.checkout.sessions.expire(session.id)
    assert (expired.status, expired.payment_status, expired.url) == ("expired", "unpaid", None)
    intent = client.v1.payment_intents.retrieve(expired.payment_intent)
    assert intent.status == "canceled"
    assert event_types(client, session.id) == ["checkout.session.expired"]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)
    result = pay(sandbox, session.id, "4242424242424242")
    assert result["outcome"] == "invalid"
    assert result["error"]["message"].startswith("This Checkout Session has expired.")
    assert "This Checkout Session has expired." in httpx.get(session.url).text


def test_a_completed_session_cannot_be_paid_or_expired_again(
    make_session: Callable[..., Any], sandbox: SandboxProcess, client: stripe.StripeClient
) -> None:
    session = make_session()
    pay(sandbox, session.id, "4242424242424242")
    again = pay(sandbox, session.id, "4242424242424242")
    assert again["outcome"] == "invalid"
    assert again["error"]["message"].startswith("This Checkout Session is already paid.")
    assert len(client.v1.charges.list().data) == 1
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)


def test_sessions_expire_when_the_clock_passes_expires_at(
    make_session: Callable[..., Any], sandbox: SandboxProcess, client: stripe.StripeClient
) -> None:
    session = make_session(expires_at=int(time.time()) + 30 * 60)
    sandbox.control("clock/advance", {"seconds": 29 * 60})
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    moved = sandbox.control("clock/advance", {"seconds": 61 + 5})
    assert moved["expired_sessions"] == 1
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    assert event_types(client, session.id) == ["checkout.session.expired"]


def test_the_background_loop_expires_sessions_without_being_asked(
    make_session: Callable[..., Any], sandbox: SandboxProcess, client: stripe.StripeClient
) -> None:
    """Shift the clock to 1 s before expiry; the once-a-second loop must do the rest."""
    session = make_session(expires_at=int(time.time()) + 30 * 60)
    sandbox.control("clock/advance", {"seconds": session.expires_at - time.time() - 1})
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    wait_for(
        lambda: client.v1.checkout.sessions.retrieve(session.id).status == "expired", timeout=4
    )
