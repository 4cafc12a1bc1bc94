"""`Pay by card`: a PaymentIntent created by our API, confirmed as Stripe.js would, fulfilled by
`confirm-payment` and by the webhook."""

from __future__ import annotations

import httpx
import pytest
import stripe
from sqlmodel import Session, select

from efoy_app.models import Booking, Payment
from tests.integration.payments.helpers import auth, book_slot, wait_for

# What Stripe.js passes when it confirms: where to come back after any redirect.
RETURN_URL = "http://127.0.0.1/payment/success"


def _create_intent(api_url: str, token: str, booking_id: int) -> dict:
    r = httpx.post(
        f"{api_url}/api/v1/payment/create-payment-intent",
        json={"bookingId": booking_id},
        headers=auth(token),
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return r.json()


def _confirm(api_url: str, token: str, pi: str) -> httpx.Response:
    return httpx.post(
        f"{api_url}/api/v1/payment/confirm-payment/{pi}", headers=auth(token), timeout=60
    )


def test_card_payment_confirms_the_booking(api_server, sandbox, make_patient, stripe_client):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=2)
    intent = _create_intent(api_server.url, token, booking["id"])
    assert intent["clientSecret"].startswith(intent["paymentIntentId"] + "_secret_")
    assert intent["amountMinor"] == booking["priceMinor"]
    assert intent["cardPageUrl"].startswith(sandbox.url + "/pay/" + intent["paymentIntentId"])
    # Twice: the same PaymentIntent.
    assert (
        _create_intent(api_server.url, token, booking["id"])["paymentIntentId"]
        == intent["paymentIntentId"]
    )
    stripe_client.v1.payment_intents.confirm(
        intent["paymentIntentId"], {"payment_method": "pm_card_visa", "return_url": RETURN_URL}
    )
    r = _confirm(api_server.url, token, intent["paymentIntentId"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["bookingStatus"], body["kind"]) == (
        "paid",
        "confirmed",
        "payment_intent",
    )
    assert body["amountMinor"] == booking["priceMinor"]
    # The webhook arrives too and changes nothing more.
    with Session(api_server.engine) as db:
        [payment] = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).all()
        assert payment.stripe_charge_id.startswith("ch_")


def test_declined_card_then_retry_on_the_same_intent(
    api_server, sandbox, make_patient, stripe_client
):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=3)
    intent = _create_intent(api_server.url, token, booking["id"])
    with pytest.raises(stripe.CardError):
        stripe_client.v1.payment_intents.confirm(
            intent["paymentIntentId"],
            {"payment_method": "pm_card_chargeDeclined", "return_url": RETURN_URL},
        )
    body = _confirm(api_server.url, token, intent["paymentIntentId"]).json()
    assert body["status"] == "failed"
    assert body["bookingStatus"] == "held"
    assert body["failureMessage"] == "Your card was declined."
    retry = _create_intent(api_server.url, token, booking["id"])
    assert retry["paymentIntentId"] == intent["paymentIntentId"]
    stripe_client.v1.payment_intents.confirm(
        intent["paymentIntentId"], {"payment_method": "pm_card_visa", "return_url": RETURN_URL}
    )
    body = _confirm(api_server.url, token, intent["paymentIntentId"]).json()
    assert (body["status"], body["bookingStatus"]) == ("paid", "confirmed")


def test_confirm_payment_of_another_patient_is_404(api_server, make_patient):
    alice, bob = make_patient(), make_patient()
    booking = book_slot(api_server.url, alice, doctor_index=4)
    intent = _create_intent(api_server.url, alice, booking["id"])
    r = _confirm(api_server.url, bob, intent["paymentIntentId"])
    assert r.status_code == 404
    with Session(api_server.engine) as db:
        assert db.get(Booking, booking["id"]).status == "held"


def test_webhook_alone_confirms_a_card_payment(api_server, sandbox, make_patient, stripe_client):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=5)
    intent = _create_intent(api_server.url, token, booking["id"])
    stripe_client.v1.payment_intents.confirm(
        intent["paymentIntentId"], {"payment_method": "pm_card_visa", "return_url": RETURN_URL}
    )

    def confirmed():
        with Session(api_server.engine) as db:
            return db.get(Booking, booking["id"]).status == "confirmed"

    wait_for(confirmed)


def test_switching_to_pay_now_closes_the_card_payment(
    api_server, sandbox, make_patient, stripe_client
):
    """One way to pay at a time: the abandoned PaymentIntent can no longer charge."""
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=0)
    intent = _create_intent(api_server.url, token, booking["id"])
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/create-checkout-session",
        json={"bookingId": booking["id"]},
        headers=auth(token),
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert stripe_client.v1.payment_intents.retrieve(intent["paymentIntentId"]).status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.payment_intents.confirm(
            intent["paymentIntentId"], {"payment_method": "pm_card_visa", "return_url": RETURN_URL}
        )
    with Session(api_server.engine) as db:
        rows = db.exec(
            select(Payment).where(Payment.booking_id == booking["id"]).order_by(Payment.id)
        ).all()
        assert [(p.kind, p.status) for p in rows] == [
            ("payment_intent", "expired"),
            ("checkout", "pending"),
        ]
        assert db.get(Booking, booking["id"]).status == "held"
