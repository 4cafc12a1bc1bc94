"""Reconciliation's rules on a real SQLite with Stripe doubled at the gateway: what a dropped
webhook missed is fulfilled, a lapsed hold is closed at Stripe and released, a queued refund is
sent once, and one whose last attempt may still be on its way is left alone."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from efoy_app.domain import payment_start, reconcile, refunds
from efoy_app.models import Booking, Payment, utcnow
from tests.unit.payment_setup import fresh, hold, paid_by_checkout, refund_rows

FEE = 4500
GRACE = 120


@pytest.fixture
def doctor(make_doctor):
    return make_doctor(fee_minor=FEE, currency="USD")


def reconcile_at(session, now):
    """One pass at `now`; it opens its own sessions, so the test's holds no transaction."""
    session.rollback()
    report = reconcile.reconcile_once(now=now, grace_seconds=GRACE)
    session.rollback()
    return report


def after_grace():
    return utcnow() + timedelta(seconds=GRACE + 5)


@pytest.mark.parametrize("kind", ["checkout", "card"])
def test_a_payment_whose_webhook_was_dropped_is_fulfilled(
    session, app_engine, stripe_double, doctor, patient, kind
) -> None:
    booking = hold(session, doctor, patient)
    if kind == "checkout":
        start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
        stripe_double.pay_session(start.session_id)
    else:
        start = payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
        stripe_double.pay_intent(start.payment_intent_id)

    assert reconcile_at(session, utcnow()).fulfilled == 0  # within the grace: the webhook may come
    assert fresh(session, Booking, booking.id).status == "held"

    report = reconcile_at(session, after_grace())
    assert (report.fulfilled, report.holds_released, report.errors) == (1, 0, [])
    assert fresh(session, Payment, start.payment_id).status == "paid"
    assert fresh(session, Booking, booking.id).status == "confirmed"
    assert reconcile_at(session, after_grace()).fulfilled == 0  # once


@pytest.mark.parametrize("kind", ["checkout", "card"])
def test_a_lapsed_hold_is_closed_at_stripe_and_released(
    session, app_engine, stripe_double, doctor, patient, kind
) -> None:
    booking = hold(session, doctor, patient)
    if kind == "checkout":
        start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
        at_stripe, close_op = stripe_double.sessions[start.session_id], "checkout.sessions.expire"
    else:
        start = payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
        at_stripe = stripe_double.intents[start.payment_intent_id]
        close_op = "payment_intents.cancel"

    report = reconcile_at(session, utcnow() + timedelta(hours=1))

    # For Checkout, fulfilling the expired session releases the slot itself; it still counts.
    assert (report.fulfilled, report.holds_released, report.errors) == (0, 1, [])
    assert at_stripe["status"] == ("expired" if kind == "checkout" else "canceled")
    assert len(stripe_double.calls_to(close_op)) == 1
    assert fresh(session, Payment, start.payment_id).status == "expired"
    assert fresh(session, Booking, booking.id).status == "expired"
    reconcile_at(session, utcnow() + timedelta(hours=1))
    assert len(stripe_double.calls_to(close_op)) == 1  # nothing left to close


def test_a_payment_that_slipped_in_before_the_hold_lapsed_still_confirms(
    session, app_engine, stripe_double, doctor, patient
) -> None:
    booking = hold(session, doctor, patient)
    start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    stripe_double.pay_session(start.session_id)

    report = reconcile_at(session, utcnow() + timedelta(hours=1))
    assert (report.fulfilled, report.holds_released) == (1, 0)
    assert fresh(session, Booking, booking.id).status == "confirmed"
    assert stripe_double.refunds == []


def _queued_refund(session, stripe_double, doctor, patient, admin):
    _, payment = paid_by_checkout(session, stripe_double, doctor, patient)
    stripe_double.offline = True
    outcome = refunds.refund_payment(
        session,
        payment=payment,
        amount_minor=1000,
        reason="goodwill",
        requested_by_user_id=admin.id,
    )
    stripe_double.offline = False
    assert outcome.queued
    return payment, outcome.refund


def test_a_queued_refund_is_sent_once(
    session, app_engine, stripe_double, doctor, patient, admin
) -> None:
    payment, queued = _queued_refund(session, stripe_double, doctor, patient, admin)

    report = reconcile_at(session, after_grace())
    assert (report.refunds_submitted, report.errors) == (1, [])
    again = reconcile_at(session, after_grace())
    assert (again.refunds_submitted, again.errors) == (0, [])

    assert [r["amount"] for r in stripe_double.refunds] == [1000]
    [row] = refund_rows(session, payment.id)
    assert (row.id, row.status, row.stripe_refund_id) == (
        queued.id,
        "succeeded",
        stripe_double.refunds[0]["id"],
    )
    assert fresh(session, Payment, payment.id).amount_refunded_minor == 1000


def test_a_queued_refund_stripe_still_does_not_answer_stays_queued(
    session, app_engine, stripe_double, doctor, patient, admin
) -> None:
    payment, queued = _queued_refund(session, stripe_double, doctor, patient, admin)
    stripe_double.offline = True
    report = reconcile_at(session, after_grace())
    assert (report.refunds_submitted, report.errors) == (0, [f"refund {queued.id}: still queued"])
    [row] = refund_rows(session, payment.id)
    assert (row.status, row.stripe_refund_id, row.attempts) == ("pending", None, 2)


def test_a_refund_whose_last_attempt_is_within_the_grace_is_left_alone(
    session, app_engine, stripe_double, doctor, patient, admin
) -> None:
    payment, queued = _queued_refund(session, stripe_double, doctor, patient, admin)
    calls = len(stripe_double.calls_to("refunds.create"))

    report = reconcile_at(session, utcnow() + timedelta(seconds=GRACE - 30))

    assert (report.refunds_submitted, report.errors) == (0, [])
    assert len(stripe_double.calls_to("refunds.create")) == calls
    assert stripe_double.refunds == []
    [row] = refund_rows(session, payment.id)
    assert (row.status, row.stripe_refund_id, row.attempts) == ("pending", None, 1)


def test_what_is_still_wrong_after_a_pass_is_warned_once(
    session, app_engine, stripe_double, doctor, patient, caplog: pytest.LogCaptureFixture
) -> None:
    """A payment reconciliation cannot settle (Stripe is down; its hold ended long ago) is logged
    as a warning by the pass itself, with no admin page open, once however many passes see it."""
    booking = hold(session, doctor, patient)
    start = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    session.rollback()
    stripe_double.offline = True
    later = utcnow() + timedelta(minutes=31, seconds=GRACE + 5)  # past the hold, and the grace
    with caplog.at_level(logging.WARNING, logger="efoy.alerts"):
        for _ in range(3):
            reconcile_at(session, later)
    assert fresh(session, Payment, start.payment_id).status == "pending"
    said = [r.getMessage() for r in caplog.records if r.name == "efoy.alerts"]
    assert [m.split(" ")[:2] for m in said] == [["alert.stale_payment", f"id={start.payment_id}"]]
