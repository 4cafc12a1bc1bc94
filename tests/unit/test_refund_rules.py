"""The refund ledger's rules on a real SQLite with Stripe doubled at the gateway: reserve, then
submit; an unanswered refund stays queued as one row and is resent with its own key; a lost
answer is found at Stripe; a refused one is failed and frees its reservation; nothing beyond
what was paid, and nothing else while one waits."""

from __future__ import annotations

import pytest
import stripe

from efoy_app.domain import payment_start, refunds
from efoy_app.domain.errors import Conflict, ValidationFailed
from efoy_app.models import Payment
from tests.unit.payment_setup import fresh, hold, paid_by_checkout, refund_rows

FEE = 4500


@pytest.fixture
def doctor(make_doctor):
    return make_doctor(fee_minor=FEE, currency="USD")


@pytest.fixture
def paid(session, stripe_double, doctor, patient) -> Payment:
    _, payment = paid_by_checkout(session, stripe_double, doctor, patient)
    return payment


def ask(session, payment: Payment, admin, amount: int | None, reason: str = "goodwill"):
    return refunds.refund_payment(
        session,
        payment=payment,
        amount_minor=amount,
        reason=reason,
        requested_by_user_id=admin.id,
    )


def test_a_refund_is_reserved_then_sent_with_its_own_key(
    session, stripe_double, paid, admin
) -> None:
    outcome = ask(session, paid, admin, 1000)

    assert (outcome.queued, outcome.repeated) == (False, False)
    [row] = refund_rows(session, paid.id)
    assert (row.id, row.status, row.amount_minor, row.attempts) == (
        outcome.refund.id,
        "succeeded",
        1000,
        1,
    )
    [made] = stripe_double.refunds
    assert row.stripe_refund_id == made["id"]
    assert made["metadata"] == {
        "efoy_refund_id": str(row.id),
        "efoy_refund_key": row.stripe_idempotency_key,
        "payment_id": str(paid.id),
    }
    [(_, params, key)] = stripe_double.calls_to("refunds.create")
    assert (key, params["amount"]) == (row.stripe_idempotency_key, 1000)
    payment = fresh(session, Payment, paid.id)
    assert (payment.status, payment.amount_refunded_minor) == ("partially_refunded", 1000)
    assert refunds.refundable_minor(session, payment) == FEE - 1000


def test_a_full_refund_takes_what_is_left(session, stripe_double, paid, admin) -> None:
    ask(session, paid, admin, 1000)
    outcome = ask(session, fresh(session, Payment, paid.id), admin, None, reason="cancelled")
    assert outcome.refund.amount_minor == FEE - 1000
    payment = fresh(session, Payment, paid.id)
    assert (payment.status, payment.amount_refunded_minor) == ("refunded", FEE)
    assert stripe_double.refunded(payment.stripe_payment_intent_id) == FEE


def test_a_refund_stripe_does_not_answer_is_queued_as_one_row(
    session, stripe_double, paid, admin
) -> None:
    stripe_double.offline = True
    outcome = ask(session, paid, admin, 1000)

    assert outcome.queued and "queued" in outcome.message
    [row] = refund_rows(session, paid.id)
    assert (row.status, row.stripe_refund_id, row.attempts) == ("pending", None, 1)
    assert row.last_error == "Stripe did not answer (payment_provider_unavailable)"
    assert refunds.queued_refund(session, paid.id).id == row.id
    # The reservation holds while it waits: the payment's refundable amount is already less.
    payment = fresh(session, Payment, paid.id)
    assert (payment.status, payment.amount_refunded_minor) == ("paid", 0)
    assert refunds.refundable_minor(session, payment) == FEE - 1000
    assert stripe_double.refunds == []


def test_a_retry_resends_the_same_row_with_the_same_key(
    session, stripe_double, paid, admin
) -> None:
    stripe_double.offline = True
    queued = ask(session, paid, admin, 1000).refund
    stripe_double.offline = False

    retried = ask(session, fresh(session, Payment, paid.id), admin, 1000)

    assert (retried.refund.id, retried.queued, retried.refund.status) == (
        queued.id,
        False,
        "succeeded",
    )
    keys = [key for _, _, key in stripe_double.calls_to("refunds.create")]
    assert keys == [queued.stripe_idempotency_key, queued.stripe_idempotency_key]
    assert len(refund_rows(session, paid.id)) == 1
    assert [r["amount"] for r in stripe_double.refunds] == [1000]
    # Asked once more after it went through: reported, nothing more refunded.
    again = ask(session, fresh(session, Payment, paid.id), admin, 1000)
    assert (again.refund.id, again.repeated) == (queued.id, True)
    assert len(stripe_double.refunds) == 1 and len(refund_rows(session, paid.id)) == 1


def test_submitting_a_row_twice_refunds_once(session, stripe_double, paid, admin) -> None:
    stripe_double.offline = True
    queued = ask(session, paid, admin, 1000).refund
    stripe_double.offline = False
    first = refunds.submit_refund(session, queued.id)
    calls = len(stripe_double.calls)
    second = refunds.submit_refund(session, queued.id)
    assert first.refund.stripe_refund_id == second.refund.stripe_refund_id
    assert len(stripe_double.calls) == calls  # a row Stripe accepted is not sent again
    assert len(stripe_double.refunds) == 1


def test_a_lost_answer_is_found_at_stripe_not_made_again(
    session, stripe_double, paid, admin
) -> None:
    stripe_double.lose("refunds.create")
    outcome = ask(session, paid, admin, 1000)
    assert outcome.queued
    [made] = stripe_double.refunds  # Stripe did it; we did not hear

    stripe_double.fail("refunds.create", stripe.APIConnectionError("must not be called"))
    retried = refunds.submit_refund(session, outcome.refund.id)

    assert (retried.queued, retried.refund.stripe_refund_id) == (False, made["id"])
    assert len(stripe_double.calls_to("refunds.list")) == 1
    assert len(stripe_double.calls_to("refunds.create")) == 1
    assert len(stripe_double.refunds) == 1
    [row] = refund_rows(session, paid.id)
    assert (row.status, row.attempts) == ("succeeded", 2)
    assert fresh(session, Payment, paid.id).amount_refunded_minor == 1000


def test_a_refused_refund_is_failed_and_frees_its_reservation(
    session, stripe_double, paid, admin
) -> None:
    stripe_double.fail(
        "refunds.create",
        stripe.InvalidRequestError("Charge has been disputed.", param=None, code="charge_disputed"),
    )
    with pytest.raises(refunds.RefundRejected) as refused:
        ask(session, paid, admin, 1000)
    assert (refused.value.http_status, refused.value.code) == (502, "refund_rejected")

    [row] = refund_rows(session, paid.id)
    assert (row.status, row.stripe_refund_id) == ("failed", None)
    assert row.failure_reason == "refused by Stripe: Charge has been disputed."
    payment = fresh(session, Payment, paid.id)
    assert (payment.status, payment.amount_refunded_minor) == ("paid", 0)
    assert refunds.refundable_minor(session, payment) == FEE
    assert refunds.queued_refund(session, paid.id) is None


def test_another_amount_while_one_is_queued_is_a_conflict(
    session, stripe_double, paid, admin
) -> None:
    stripe_double.offline = True
    ask(session, paid, admin, 1000)
    stripe_double.offline = False

    for other in (2000, None):
        with pytest.raises(refunds.RefundQueued) as refused:
            ask(session, fresh(session, Payment, paid.id), admin, other)
        assert (refused.value.http_status, refused.value.code) == (409, "refund_queued")
    assert len(refund_rows(session, paid.id)) == 1
    assert stripe_double.calls_to("refunds.create")[1:] == []


def test_more_than_is_left_is_refused_before_stripe(session, stripe_double, paid, admin) -> None:
    ask(session, paid, admin, 3000)
    calls = len(stripe_double.calls)
    with pytest.raises(ValidationFailed) as refused:
        ask(session, fresh(session, Payment, paid.id), admin, FEE - 3000 + 1)
    assert (refused.value.http_status, refused.value.code) == (422, "refund_exceeds_payment")
    assert len(stripe_double.calls) == calls
    assert len(refund_rows(session, paid.id)) == 1
    ask(session, fresh(session, Payment, paid.id), admin, FEE - 3000)  # exactly what is left
    assert fresh(session, Payment, paid.id).status == "refunded"


@pytest.mark.parametrize("amount", [0, -1])
def test_a_refund_must_be_more_than_zero(session, stripe_double, paid, admin, amount) -> None:
    with pytest.raises(ValidationFailed):
        ask(session, paid, admin, amount)
    assert refund_rows(session, paid.id) == []


def test_only_a_paid_payment_is_refunded(session, stripe_double, doctor, patient, admin) -> None:
    booking = hold(session, doctor, patient)
    start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    with pytest.raises(Conflict):
        ask(session, fresh(session, Payment, start.payment_id), admin, 1000)
    assert refund_rows(session, start.payment_id) == []


def test_a_refund_without_a_reason_is_refused(session, stripe_double, paid, admin) -> None:
    with pytest.raises(ValidationFailed):
        ask(session, paid, admin, 1000, reason="   ")
    assert refund_rows(session, paid.id) == []
