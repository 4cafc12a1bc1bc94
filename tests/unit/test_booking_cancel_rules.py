"""Cancelling a paid booking through the domain, with the Stripe double: who may name an amount,
an appointment already started, a repeat answered with the first outcome, what the clinic may
give back, and what a patient is shown of money refunded without a cancellation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import update

from efoy_app.domain import booking_cancel, refunds
from efoy_app.domain.errors import Conflict, NotFound, ValidationFailed
from efoy_app.models import Booking, utcnow
from efoy_app.state.appointments import refund_line
from tests.unit.payment_setup import fresh, paid_by_checkout, refund_rows

FEE = 9000


@pytest.fixture
def doctor(make_doctor):
    return make_doctor(fee_minor=FEE, currency="EUR")


def test_a_started_appointment_cannot_be_cancelled_by_its_patient(
    session, stripe_double, doctor, patient
) -> None:
    booking, payment = paid_by_checkout(session, stripe_double, doctor, patient)
    session.exec(
        update(Booking)
        .where(Booking.id == booking.id)
        .values(starts_at=utcnow() - timedelta(minutes=5))
    )
    session.commit()
    with pytest.raises(Conflict) as caught:
        booking_cancel.cancel(session, booking_id=booking.id, actor=patient)
    assert caught.value.code == "appointment_started"
    assert fresh(session, Booking, booking.id).status == "confirmed"
    assert refund_rows(session, payment.id) == []


def test_only_the_clinic_names_an_amount_and_never_more_than_is_left(
    session, stripe_double, doctor, patient, admin
) -> None:
    booking, payment = paid_by_checkout(session, stripe_double, doctor, patient)
    with pytest.raises(ValidationFailed):
        booking_cancel.cancel_paid_booking(
            session, booking_id=booking.id, actor=patient, amount_minor=1
        )
    with pytest.raises(NotFound):  # a patient cannot act as the clinic
        booking_cancel.cancel_paid_booking(
            session, booking_id=booking.id, actor=patient, reason="x", by=booking_cancel.BY_CLINIC
        )
    with pytest.raises(ValidationFailed) as caught:
        booking_cancel.cancel_paid_booking(
            session, booking_id=booking.id, actor=admin, reason="Dr. away",
            by=booking_cancel.BY_CLINIC, amount_minor=FEE + 1,
        )  # fmt: skip
    assert caught.value.code == "refund_exceeds_payment"
    assert fresh(session, Booking, booking.id).status == "confirmed"
    done = booking_cancel.cancel_paid_booking(
        session, booking_id=booking.id, actor=admin, reason="Dr. away",
        by=booking_cancel.BY_CLINIC, amount_minor=3000,
    )  # fmt: skip
    assert (done.cancellation.by, done.cancellation.percent) == ("clinic", 33)
    assert [(r.amount_minor, r.status) for r in refund_rows(session, payment.id)] == [
        (3000, "succeeded")
    ]
    # The patient's cancel afterwards repeats the clinic's, and refunds nothing more.
    again = booking_cancel.cancel(session, booking_id=booking.id, actor=patient)
    assert again.repeated and again.refund.id == done.refund.id
    assert len(refund_rows(session, payment.id)) == 1


def test_money_refunded_without_a_cancellation_shows_too(
    session, stripe_double, doctor, patient, admin
) -> None:
    """An admin's refund on a booking that stays confirmed (or a payment refunded because it came
    too late) is shown to the patient like a cancellation's."""
    booking, payment = paid_by_checkout(session, stripe_double, doctor, patient)
    assert booking_cancel.refund_states(session, [booking.id]) == {}
    refunds.refund_payment(
        session,
        payment=payment,
        amount_minor=3000,
        reason="ran late",
        requested_by_user_id=admin.id,
    )
    state = booking_cancel.refund_states(session, [booking.id])[booking.id]
    assert (state.amount_minor, state.currency, state.percent) == (3000, "EUR", 33)
    assert refund_line(state) == ("Refunded €30.00 (33 %) to your card.", "green")
