"""The payment rules, decided by the domain on a real SQLite with Stripe doubled at the gateway.

Starting: the amount is the booking's snapshot, a client amount that differs is refused, one open
Checkout Session is reused, one way of paying at a time, a paid booking or a lapsed hold cannot be
paid, a Stripe outage leaves nothing behind. Fulfilling: once, only for the amount expected, and
money that lands on a retaken slot goes back.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
from sqlmodel import select

from efoy_app.domain import bookings, payment_close, payment_fulfil, payment_start
from efoy_app.domain.errors import Conflict, PaymentFailed, PaymentProviderUnavailable
from efoy_app.domain.stripe_gateway import PaymentProviderRejected
from efoy_app.models import Booking, OutboxEmail, Payment, utcnow
from tests.unit.payment_setup import (
    audit_actions,
    fresh,
    hold,
    paid_by_checkout,
    payment_rows,
    refund_rows,
    status_moves,
)

FEE = 4500


@pytest.fixture
def doctor(make_doctor):
    return make_doctor(fee_minor=FEE, currency="USD")


# --- starting a payment ---


def test_the_amount_charged_is_the_price_held_not_todays_fee(
    session, stripe_double, doctor, patient
) -> None:
    booking = hold(session, doctor, patient)
    doctor.fee_minor = 9900  # the fee changes after the hold: the patient pays what was shown
    session.add(doctor)
    session.commit()

    start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    intent = payment_start.start_card_payment(session, booking_id=booking.id, user=patient)

    session_at_stripe = stripe_double.sessions[start.session_id]
    assert session_at_stripe["amount_total"] == FEE
    assert session_at_stripe["currency"] == "usd"
    assert session_at_stripe["metadata"] == {
        "booking_id": str(booking.id),
        "payment_id": str(start.payment_id),
    }
    assert stripe_double.intents[intent.payment_intent_id]["amount"] == FEE
    assert (intent.amount_minor, intent.currency) == (FEE, "USD")
    assert [p.amount_minor for p in payment_rows(session, booking.id)] == [FEE, FEE]


@pytest.mark.parametrize(
    "sent",
    [
        {"amount": "40.00"},
        {"amount": "45.001"},
        {"amount": "free"},
        {"amount_minor": FEE + 1},
        {"currency": "EUR"},
    ],
)
def test_a_client_amount_that_differs_from_the_price_is_refused(
    session, stripe_double, doctor, patient, sent
) -> None:
    booking = hold(session, doctor, patient)
    for start in (payment_start.start_checkout, payment_start.start_card_payment):
        with pytest.raises(payment_start.AmountMismatch) as refused:
            start(session, booking_id=booking.id, user=patient, **sent)
        assert (refused.value.http_status, refused.value.code) == (400, "amount_mismatch")
    assert payment_rows(session, booking.id) == []
    assert stripe_double.calls == []


def test_a_client_amount_equal_to_the_price_is_accepted(
    session, stripe_double, doctor, patient
) -> None:
    booking = hold(session, doctor, patient)
    start = payment_start.start_checkout(
        session, booking_id=booking.id, user=patient, amount="45.00", currency="usd"
    )
    assert stripe_double.sessions[start.session_id]["amount_total"] == FEE


def test_the_open_checkout_session_is_reused(session, stripe_double, doctor, patient) -> None:
    booking = hold(session, doctor, patient)
    first = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    again = payment_start.start_checkout(session, booking_id=booking.id, user=patient)

    assert (first.reused, again.reused) == (False, True)
    assert (again.payment_id, again.session_id, again.url) == (
        first.payment_id,
        first.session_id,
        first.url,
    )
    assert len(stripe_double.calls_to("checkout.sessions.create")) == 1
    assert len(payment_rows(session, booking.id)) == 1
    # The hold lasts as long as the session may still be paid.
    payment = fresh(session, Payment, first.payment_id)
    assert fresh(session, Booking, booking.id).hold_expires_at == payment.expires_at


def test_the_creation_key_is_the_payment_rows_own(session, stripe_double, doctor, patient) -> None:
    booking = hold(session, doctor, patient)
    start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    payment = fresh(session, Payment, start.payment_id)
    [(_, _, key)] = stripe_double.calls_to("checkout.sessions.create")
    assert key == payment_start.idempotency_key("checkout", payment)


def test_switching_method_closes_the_other_one_at_stripe(
    session, stripe_double, doctor, patient
) -> None:
    booking = hold(session, doctor, patient)
    checkout = payment_start.start_checkout(session, booking_id=booking.id, user=patient)

    card = payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
    assert stripe_double.sessions[checkout.session_id]["status"] == "expired"
    by_id = {p.id: p for p in payment_rows(session, booking.id)}
    assert (by_id[checkout.payment_id].status, by_id[card.payment_id].status) == (
        "expired",
        "pending",
    )

    back = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    assert stripe_double.intents[card.payment_intent_id]["status"] == "canceled"
    assert back.payment_id not in (checkout.payment_id, card.payment_id)
    assert back.session_id != checkout.session_id
    assert [(p.kind, p.status) for p in payment_rows(session, booking.id)] == [
        ("checkout", "expired"),
        ("payment_intent", "expired"),
        ("checkout", "pending"),
    ]
    assert fresh(session, Booking, booking.id).status == "held"


def test_a_payment_that_went_through_while_switching_confirms_and_refuses_the_switch(
    session, stripe_double, doctor, patient
) -> None:
    booking = hold(session, doctor, patient)
    checkout = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    stripe_double.pay_session(checkout.session_id)  # paid; its webhook has not come yet

    with pytest.raises(payment_start.AlreadyPaid):
        payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
    assert fresh(session, Payment, checkout.payment_id).status == "paid"
    assert fresh(session, Booking, booking.id).status == "confirmed"
    assert stripe_double.calls_to("payment_intents.create") == []


def test_a_paid_booking_refuses_a_second_payment(session, stripe_double, doctor, patient) -> None:
    booking, _ = paid_by_checkout(session, stripe_double, doctor, patient)
    calls = len(stripe_double.calls)
    for start in (payment_start.start_checkout, payment_start.start_card_payment):
        with pytest.raises(payment_start.AlreadyPaid) as refused:
            start(session, booking_id=booking.id, user=patient)
        assert (refused.value.http_status, refused.value.code) == (409, "already_paid")
    assert len(stripe_double.calls) == calls
    assert len(payment_rows(session, booking.id)) == 1


def test_a_lapsed_hold_refuses_payment(session, stripe_double, doctor, patient) -> None:
    booking = hold(session, doctor, patient, now=utcnow() - timedelta(minutes=31))
    with pytest.raises(payment_start.HoldLapsed) as refused:
        payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    assert (refused.value.http_status, refused.value.code) == (409, "hold_expired")
    assert payment_rows(session, booking.id) == []
    assert stripe_double.calls == []


def test_a_cancelled_booking_refuses_payment(session, stripe_double, doctor, patient) -> None:
    booking = hold(session, doctor, patient)
    payment_close.cancel_held_booking(session, booking_id=booking.id, actor=patient)
    with pytest.raises(Conflict) as refused:
        payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
    assert refused.value.code == "conflict"
    assert stripe_double.calls == []


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (stripe.APIConnectionError("down"), PaymentProviderUnavailable),
        (stripe.InvalidRequestError("bad", param="x", code="parameter_invalid"), None),
        (stripe.CardError("declined", param=None, code="card_declined"), PaymentFailed),
    ],
)
@pytest.mark.parametrize("op", ["checkout.sessions.create", "payment_intents.create"])
def test_a_stripe_failure_leaves_no_payment_row_and_a_retry_starts_clean(
    session, stripe_double, doctor, patient, op, error, raised
) -> None:
    raised = raised or PaymentProviderRejected
    start = (
        payment_start.start_checkout
        if op.startswith("checkout")
        else payment_start.start_card_payment
    )
    booking = hold(session, doctor, patient)
    stripe_double.fail(op, error)

    with pytest.raises(raised):
        start(session, booking_id=booking.id, user=patient)
    assert payment_rows(session, booking.id) == []
    assert fresh(session, Booking, booking.id).status == "held"

    retried = start(session, booking_id=booking.id, user=patient)
    [payment] = payment_rows(session, booking.id)
    assert (payment.id, payment.status) == (retried.payment_id, "pending")
    assert len(stripe_double.calls_to(op)) == 2


def test_a_declined_card_is_retried_on_the_same_payment_intent(
    session, stripe_double, doctor, patient
) -> None:
    booking = hold(session, doctor, patient)
    first = payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
    stripe_double.decline_intent(first.payment_intent_id)
    failed = payment_fulfil.fulfill_payment_intent(session, first.payment_intent_id)
    assert (failed.status, failed.failure_code) == ("failed", "insufficient_funds")

    again = payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
    assert (again.payment_id, again.payment_intent_id) == (
        first.payment_id,
        first.payment_intent_id,
    )
    assert again.client_secret == stripe_double.intents[first.payment_intent_id]["client_secret"]
    assert len(stripe_double.calls_to("payment_intents.create")) == 1
    assert [p.status for p in payment_rows(session, booking.id)] == ["pending"]


# --- fulfilling ---


def test_fulfilment_confirms_once_however_often_it_runs(
    session, stripe_double, doctor, patient
) -> None:
    booking = hold(session, doctor, patient)
    start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    stripe_double.pay_session(start.session_id)

    first = payment_fulfil.fulfill_checkout(session, start.session_id)
    second = payment_fulfil.fulfill_checkout(session, start.session_id)

    assert first.id == second.id == start.payment_id
    assert (second.status, second.card_brand, second.card_last4) == ("paid", "visa", "4242")
    assert (
        second.stripe_payment_intent_id
        == stripe_double.sessions[start.session_id]["payment_intent"]
    )
    assert status_moves(session, "booking", booking.id) == [("held", "confirmed")]
    assert status_moves(session, "payment", start.payment_id) == [("pending", "paid")]
    assert refund_rows(session, start.payment_id) == []


def test_a_card_payment_is_fulfilled_from_the_payment_intent(
    session, stripe_double, doctor, patient
) -> None:
    booking = hold(session, doctor, patient)
    card = payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
    stripe_double.pay_intent(card.payment_intent_id)

    for _ in range(2):
        payment = payment_fulfil.fulfill_payment_intent(session, card.payment_intent_id)
    charge = stripe_double.intents[card.payment_intent_id]["latest_charge"]
    assert (payment.status, payment.stripe_charge_id) == ("paid", charge)
    assert status_moves(session, "booking", booking.id) == [("held", "confirmed")]


@pytest.mark.parametrize(
    "reported", [{"amount": FEE - 1}, {"amount": FEE + 100}, {"currency": "eur"}]
)
def test_a_checkout_paid_for_another_amount_is_flagged_not_confirmed(
    session, stripe_double, doctor, patient, reported
) -> None:
    booking = hold(session, doctor, patient)
    start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    stripe_double.pay_session(start.session_id, **reported)

    payment = payment_fulfil.fulfill_checkout(session, start.session_id)
    assert (payment.status, payment.flagged) == ("pending", True)
    assert "differs" in payment.flag_reason
    assert fresh(session, Booking, booking.id).status == "held"
    assert refund_rows(session, payment.id) == []


@pytest.mark.parametrize("reported", [{"amount": FEE - 1}, {"currency": "eur"}])
def test_a_card_payment_for_another_amount_is_flagged_not_confirmed(
    session, stripe_double, doctor, patient, reported
) -> None:
    booking = hold(session, doctor, patient)
    card = payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
    stripe_double.pay_intent(card.payment_intent_id, **reported)

    payment = payment_fulfil.fulfill_payment_intent(session, card.payment_intent_id)
    payment = payment_fulfil.fulfill_payment_intent(session, card.payment_intent_id)
    assert (payment.status, payment.flagged) == ("pending", True)
    assert payment.flag_reason.endswith(f"expected {FEE} USD; not confirmed.")
    assert fresh(session, Booking, booking.id).status == "held"
    # Flagged once, not on every pass.
    assert audit_actions(session, "payment", payment.id).count("amount_mismatch") == 1


def test_a_late_payment_on_a_retaken_slot_is_refunded_and_flagged(
    session, stripe_double, doctor, patient, other_patient
) -> None:
    booking = hold(session, doctor, patient)
    start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    # The hold (and the session's life) lapse; someone else takes the slot; then the money lands.
    later = utcnow() + timedelta(minutes=45)
    taken = hold(session, doctor, other_patient, starts_at=booking.starts_at, now=later)
    assert fresh(session, Booking, booking.id).status == "expired"
    stripe_double.pay_session(start.session_id)

    payment = payment_fulfil.fulfill_checkout(session, start.session_id)

    assert payment.status == "refunded" and payment.flagged
    assert payment.flag_reason.startswith("Refunded automatically: The payment arrived after")
    assert (
        payment.amount_refunded_minor,
        stripe_double.refunded(payment.stripe_payment_intent_id),
    ) == (
        FEE,
        FEE,
    )
    [refund] = refund_rows(session, payment.id)
    assert (refund.status, refund.amount_minor, refund.requested_by_user_id) == (
        "succeeded",
        FEE,
        None,
    )
    assert fresh(session, Booking, booking.id).status == "expired"
    assert fresh(session, Booking, taken.id).status == "held"
    late, note = session.exec(select(OutboxEmail).order_by(OutboxEmail.id)).all()
    assert (late.kind, late.to_address, late.subject) == (
        "late_payment",
        patient.email,
        "Your payment to Efoy is being refunded",
    )
    assert (note.kind, note.to_address) == ("refund_note", patient.email)
    assert note.subject.endswith(f"refunded: refund note {refund.note_number}")

    payment_fulfil.fulfill_checkout(session, start.session_id)  # again: nothing more is refunded
    assert len(stripe_double.refunds) == 1 and len(refund_rows(session, payment.id)) == 1


def test_a_late_payment_on_a_free_slot_confirms(session, stripe_double, doctor, patient) -> None:
    booking = hold(session, doctor, patient)
    start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    # The hold expiry marks it expired; nobody takes the slot.
    assert bookings.expire_lapsed_holds(session, now=utcnow() + timedelta(minutes=45)) == [
        booking.id
    ]
    stripe_double.pay_session(start.session_id)

    payment = payment_fulfil.fulfill_checkout(session, start.session_id)
    assert (payment.status, payment.flagged) == ("paid", False)
    assert fresh(session, Booking, booking.id).status == "confirmed"
    assert stripe_double.refunds == []
