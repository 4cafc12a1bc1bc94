"""The hosted pages in Chromium: what a patient sees and clicks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import stripe
from playwright.sync_api import Page, expect
from sandbox_support import Receiver

from stripe_sandbox.testing import SandboxProcess

AUTH_FAILED = (
    "We are unable to authenticate your payment method. Please choose a different "
    "payment method and try again."
)


def fill_card(page: Page, number: str, *, email: str | None = "patient@example.com") -> None:
    if email is not None:
        page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Card number", exact=True).fill(number)
    page.get_by_label("Expiry", exact=True).fill("12 / 34")
    page.get_by_label("CVC", exact=True).fill("123")
    page.get_by_label("Cardholder name", exact=True).fill("Ada Patient")
    page.get_by_role("button", name="Pay", exact=True).click()


def test_checkout_success_redirects_to_success_url_with_the_session_id(
    page: Page,
    make_session: Callable[..., Any],
    sandbox: SandboxProcess,
    client: stripe.StripeClient,
) -> None:
    session = make_session()
    page.goto(session.url)
    expect(page.get_by_test_id("amount")).to_have_text("$50.00")
    expect(page.get_by_role("link", name="Cancel and go back")).to_have_attribute(
        "href", sandbox.url + "/?cancelled=1"
    )
    fill_card(page, "4242 4242 4242 4242")
    page.wait_for_url(f"{sandbox.url}/?paid={session.id}")
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert session.customer_details.email == "patient@example.com"
    page.goto(session_url(sandbox, session.id))
    expect(page.get_by_role("status")).to_have_text("This Checkout Session is already paid.")


def session_url(sandbox: SandboxProcess, session_id: str) -> str:
    return f"{sandbox.url}/checkout/{session_id}"


def test_a_decline_shows_the_message_and_the_patient_can_try_again(
    page: Page,
    make_session: Callable[..., Any],
    sandbox: SandboxProcess,
    client: stripe.StripeClient,
) -> None:
    session = make_session()
    page.goto(session.url)
    fill_card(page, "4000 0000 0000 0002")
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    fill_card(page, "4000 0000 0000 9995")
    expect(page.get_by_role("alert")).to_have_text("Your card has insufficient funds.")
    fill_card(page, "4242424242424242")
    page.wait_for_url(f"{sandbox.url}/?paid={session.id}")
    intent = client.v1.payment_intents.retrieve(
        client.v1.checkout.sessions.retrieve(session.id).payment_intent
    )
    assert intent.status == "succeeded"
    assert len(client.v1.charges.list(params={"payment_intent": intent.id}).data) == 3


def test_authentication_completed(
    page: Page,
    make_session: Callable[..., Any],
    sandbox: SandboxProcess,
    client: stripe.StripeClient,
) -> None:
    session = make_session()
    page.goto(session.url)
    fill_card(page, "4000 0025 0000 3155")
    expect(page.get_by_role("heading")).to_have_text("Authenticate your payment")
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(f"{sandbox.url}/?paid={session.id}")
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"


def test_authentication_failed_returns_to_the_form_with_the_reason(
    page: Page, make_session: Callable[..., Any], client: stripe.StripeClient
) -> None:
    session = make_session()
    page.goto(session.url)
    fill_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Fail authentication").click()
    page.wait_for_url(session.url)
    expect(page.get_by_role("alert")).to_have_text(AUTH_FAILED)
    expect(page.get_by_role("button", name="Pay", exact=True)).to_be_visible()
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert (
        client.v1.payment_intents.retrieve(session.payment_intent).status
        == "requires_payment_method"
    )


def test_an_expired_session_says_so(
    page: Page, make_session: Callable[..., Any], client: stripe.StripeClient
) -> None:
    session = make_session()
    client.v1.checkout.sessions.expire(session.id)
    page.goto(session.url)
    expect(page.get_by_role("status")).to_contain_text("This Checkout Session has expired.")
    expect(page.get_by_role("button", name="Pay", exact=True)).to_have_count(0)


def pay_page_url(sandbox: SandboxProcess, intent: Any, return_url: str) -> str:
    query = urlencode({"client_secret": intent.client_secret, "return_url": return_url})
    return f"{sandbox.url}/pay/{intent.id}?{query}"


def test_payment_intent_card_page_returns_to_return_url(
    page: Page, sandbox: SandboxProcess, receiver: Receiver, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(params={"amount": 5000, "currency": "jpy"})
    return_url = receiver.url + "/payment/done"
    page.goto(pay_page_url(sandbox, intent, return_url))
    expect(page.get_by_test_id("amount")).to_have_text("¥5,000")
    fill_card(page, "4000 0000 0000 0069", email=None)  # Email is optional on this page
    expect(page.get_by_role("alert")).to_have_text("Your card has expired.")
    fill_card(page, "4242 4242 4242 4242", email=None)
    page.wait_for_url(re.compile(re.escape(return_url) + r"\?"))
    assert page.url == return_url + "?" + urlencode(
        {
            "payment_intent": intent.id,
            "payment_intent_client_secret": intent.client_secret,
            "redirect_status": "succeeded",
        }
    )
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_payment_intent_card_page_failed_authentication_redirects_failed(
    page: Page, sandbox: SandboxProcess, receiver: Receiver, client: stripe.StripeClient
) -> None:
    intent = client.v1.payment_intents.create(params={"amount": 2500, "currency": "usd"})
    return_url = receiver.url + "/payment/done"
    page.goto(pay_page_url(sandbox, intent, return_url))
    fill_card(page, "4000002500003155", email=None)
    page.get_by_role("button", name="Fail authentication").click()
    page.wait_for_url(re.compile(r"redirect_status=failed"))
    assert page.url.startswith(return_url + "?payment_intent=" + intent.id)
    intent = client.v1.payment_intents.retrieve(intent.id)
    assert (intent.status, intent.last_payment_error.code) == (
        "requires_payment_method",
        "payment_intent_authentication_failure",
    )
