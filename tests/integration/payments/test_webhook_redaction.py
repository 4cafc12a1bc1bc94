"""Stored webhook events keep no PaymentIntent client secret: a real signed event, over HTTP."""

from __future__ import annotations

import copy
import json
import re

import httpx
from sqlmodel import Session, select

from efoy_app.models import WebhookEvent
from tests.integration.payments.helpers import WEBHOOK_PATH, auth, book_slot, sign, wait_for

SECRET = re.compile(r"(?:pi|seti|cs)_[A-Za-z0-9_]+?_secret_[A-Za-z0-9]+")
RETURN_URL = "http://127.0.0.1/payment/success"


def stored_payload(engine, event_id: str) -> str | None:
    with Session(engine) as db:
        row = db.exec(select(WebhookEvent).where(WebhookEvent.stripe_event_id == event_id)).first()
        return row.payload if row is not None and row.status == "processed" else None


def test_payment_intent_succeeded_is_stored_without_its_client_secret(
    api_server, sandbox, make_patient, stripe_client, webhook_secret
) -> None:
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=1)
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/create-payment-intent",
        json={"bookingId": booking["id"]},
        headers=auth(token),
        timeout=60,
    )
    assert r.status_code == 200, r.text
    pi_id, client_secret = r.json()["paymentIntentId"], r.json()["clientSecret"]
    stripe_client.v1.payment_intents.confirm(
        pi_id, {"payment_method": "pm_card_visa", "return_url": RETURN_URL}
    )
    # The event as the sandbox signed and delivered it carries the secret ...
    sent = sandbox.find_event("payment_intent.succeeded", pi_id)
    assert sent["data"]["object"]["client_secret"] == client_secret
    # ... the row the app stored does not, and keeps everything else.
    payload = wait_for(lambda: stored_payload(api_server.engine, sent["id"]))
    assert client_secret not in payload and SECRET.search(payload) is None
    expected = copy.deepcopy(sent)
    expected["data"]["object"]["client_secret"] = "[redacted]"
    stored = json.loads(payload)
    # The only other difference: Stripe's count of deliveries still to make, which moves.
    del expected["pending_webhooks"], stored["pending_webhooks"]
    assert stored == expected

    # The same event with the secret hidden deeper (a 3-D Secure return URL, a nested list),
    # signed as Stripe signs, posted to the running API.
    deeper = copy.deepcopy(sent)
    deeper["id"] = sent["id"] + "_deeper"
    deeper["data"]["object"]["next_action"] = {
        "type": "redirect_to_url",
        "redirect_to_url": {
            "url": f"{RETURN_URL}?payment_intent={pi_id}&payment_intent_client_secret="
            f"{client_secret}&source_redirect_slug=test"
        },
    }
    deeper["data"]["previous_attributes"] = {"items": [[{"client_secret": client_secret}]]}
    body = json.dumps(deeper).encode()
    r = httpx.post(
        api_server.url + WEBHOOK_PATH,
        content=body,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": sign(body, webhook_secret),
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    payload = wait_for(lambda: stored_payload(api_server.engine, deeper["id"]))
    assert payload is not None and client_secret not in payload and SECRET.search(payload) is None
    stored = json.loads(payload)
    assert stored["data"]["object"]["next_action"]["redirect_to_url"]["url"] == (
        f"{RETURN_URL}?payment_intent={pi_id}&payment_intent_client_secret=[redacted]"
        "&source_redirect_slug=test"
    )
    assert stored["data"]["previous_attributes"] == {"items": [[{"client_secret": "[redacted]"}]]}
    assert stored["data"]["object"]["amount"] == booking["priceMinor"]
