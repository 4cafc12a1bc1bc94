"""A hold never outlives the appointment's start; Stripe's hosted page needs 30 minutes of it.

Also: holding a lapsed booking's time again, what Stripe is told about the appointment (in the
patient's timezone), and the success page's fallback to the patient's own latest payment.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from efoy_app.domain import bookings, payment_start, payment_views
from efoy_app.domain.errors import Conflict, SlotTaken
from efoy_app.models import Booking, utcnow
from tests.unit.payment_setup import fresh, hold, paid_by_checkout, payment_rows, slot


@pytest.fixture
def doctor(make_doctor):
    return make_doctor(fee_minor=4500, currency="USD", name="Dr Tsehay Alemu")


def test_a_hold_far_from_the_start_lasts_the_full_30_minutes(session, doctor, patient) -> None:
    start = slot()
    now = start - timedelta(days=1)
    booking = hold(session, doctor, patient, starts_at=start, now=now)
    assert booking.hold_expires_at == now + timedelta(minutes=30)


def test_a_hold_is_capped_at_the_start(session, doctor, patient) -> None:
    start = slot()
    booking = hold(session, doctor, patient, starts_at=start, now=start - timedelta(minutes=12))
    assert booking.hold_expires_at == start


def test_a_card_payment_does_not_extend_the_hold_past_the_start(
    session, stripe_double, doctor, patient
) -> None:
    start = slot()
    booking = hold(session, doctor, patient, starts_at=start, now=start - timedelta(minutes=20))
    card = payment_start.start_card_payment(
        session, booking_id=booking.id, user=patient, now=start - timedelta(minutes=19)
    )
    [payment] = payment_rows(session, booking.id)
    assert (payment.id, payment.expires_at) == (card.payment_id, start)
    assert fresh(session, Booking, booking.id).hold_expires_at == start


def test_checkout_extends_the_hold_up_to_the_start_only(
    session, stripe_double, doctor, patient
) -> None:
    start = slot()
    booking = hold(session, doctor, patient, starts_at=start, now=start - timedelta(minutes=45))
    now = start - timedelta(minutes=40)
    checkout = payment_start.start_checkout(session, booking_id=booking.id, user=patient, now=now)
    # 40 minutes to the start: the session may live 31 minutes, and ends before the start.
    assert stripe_double.sessions[checkout.session_id]["expires_at"] == int(
        (now + timedelta(minutes=31)).timestamp()
    )
    assert fresh(session, Booking, booking.id).hold_expires_at == now + timedelta(minutes=31)


def test_checkout_is_refused_when_the_appointment_starts_within_31_minutes(
    session, stripe_double, doctor, patient
) -> None:
    start = slot()
    booking = hold(session, doctor, patient, starts_at=start, now=start - timedelta(minutes=25))
    now = start - timedelta(minutes=20, seconds=30)
    assert payment_start.checkout_possible(booking, now) is False
    with pytest.raises(payment_start.CheckoutTooLate) as refused:
        payment_start.start_checkout(session, booking_id=booking.id, user=patient, now=now)
    assert (refused.value.http_status, refused.value.code) == (409, "checkout_too_late")
    assert refused.value.message == (
        "This appointment starts in 20 minutes: Stripe's payment page needs at least 30 "
        "minutes, so please pay by card."
    )
    assert payment_rows(session, booking.id) == []
    assert stripe_double.calls == []
    # The card form is still open for it.
    card = payment_start.start_card_payment(session, booking_id=booking.id, user=patient, now=now)
    assert card.amount_minor == 4500


def test_checkout_is_possible_from_31_minutes_before_the_start(doctor) -> None:
    start = slot()
    booking = Booking(
        patient_id=1, doctor_id=doctor.id, starts_at=start, ends_at=start, price_minor=1,
        currency="USD",
    )  # fmt: skip
    assert payment_start.checkout_possible(booking, start - timedelta(minutes=31)) is True
    assert payment_start.checkout_possible(booking, start - timedelta(minutes=30, seconds=59)) is (
        False
    )
    assert payment_start.minutes_to_start(booking, start - timedelta(minutes=1, seconds=59)) == 1
    assert payment_start.minutes_to_start(booking, start + timedelta(minutes=5)) == 0


def test_stripe_is_told_the_time_in_the_patients_timezone(
    session, stripe_double, doctor, patient
) -> None:
    start = slot(hour=10)  # 10:00 UTC is 13:00 in Addis Ababa, the patient's zone
    booking = hold(session, doctor, patient, starts_at=start)
    checkout = payment_start.start_checkout(session, booking_id=booking.id, user=patient)
    card = payment_start.start_card_payment(session, booking_id=booking.id, user=patient)
    day = f"{start:%a} {start.day} {start:%b %Y}"
    expected = f"Consultation with Dr Tsehay Alemu, {day}, 13:00 EAT (booking #{booking.id})"
    [item] = stripe_double.sessions[checkout.session_id]["_line_items"]
    assert item["price_data"]["product_data"]["name"] == expected
    assert stripe_double.intents[card.payment_intent_id]["description"] == expected


def test_a_lapsed_hold_can_be_held_again(session, doctor, patient) -> None:
    start = slot()
    old = hold(session, doctor, patient, starts_at=start, now=utcnow() - timedelta(minutes=31))
    assert bookings.slot_still_free(session, old) is True
    new = bookings.hold_again(session, booking_id=old.id, patient=patient)
    assert (new.id != old.id, new.starts_at, new.status, new.reason) == (
        True, start, "held", old.reason,
    )  # fmt: skip
    assert fresh(session, Booking, old.id).status == "expired"
    # The new hold runs: there is nothing to hold again.
    with pytest.raises(Conflict):
        bookings.hold_again(session, booking_id=new.id, patient=patient)


def test_a_lapsed_hold_taken_by_someone_else_cannot_be_held_again(
    session, doctor, patient, other_patient
) -> None:
    start = slot()
    old = hold(session, doctor, patient, starts_at=start, now=utcnow() - timedelta(minutes=31))
    hold(session, doctor, other_patient, starts_at=start)
    assert bookings.slot_still_free(session, old) is False
    with pytest.raises(SlotTaken):
        bookings.hold_again(session, booking_id=old.id, patient=patient)


def test_another_patients_booking_cannot_be_held_again(
    session, doctor, patient, other_patient, admin
) -> None:
    old = hold(session, doctor, patient, now=utcnow() - timedelta(minutes=31))
    for someone in (other_patient, admin):
        with pytest.raises(bookings.NotFound):
            bookings.hold_again(session, booking_id=old.id, patient=someone)


def test_the_latest_payment_is_the_patients_own(
    session, stripe_double, doctor, patient, other_patient, admin
) -> None:
    assert payment_views.latest_payment_of(session, patient) is None
    _booking, mine = paid_by_checkout(session, stripe_double, doctor, patient)
    hold(session, doctor, other_patient, starts_at=slot(hour=11))
    theirs = payment_start.start_checkout(
        session,
        booking_id=hold(session, doctor, other_patient, starts_at=slot(hour=14)).id,
        user=other_patient,
    )
    assert payment_views.latest_payment_of(session, patient).id == mine.id
    assert payment_views.latest_payment_of(session, other_patient).id == theirs.payment_id
    assert payment_views.latest_payment_of(session, admin) is None


def test_the_doctor_page_promises_what_booking_will_hold() -> None:
    from efoy_app.state.doctor import hold_promise

    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert hold_promise(None, now, 30) == "We hold the time for you for 30 minutes while you pay."
    assert hold_promise(now + timedelta(days=2), now, 30) == (
        "We hold the time for you for 30 minutes while you pay."
    )
    assert hold_promise(now + timedelta(minutes=20, seconds=59), now, 30) == (
        "It starts in 20 minutes: we hold it for you until then. You will pay by card."
    )
    assert hold_promise(now + timedelta(minutes=1, seconds=5), now, 30) == (
        "It starts in 1 minute: we hold it for you until then. You will pay by card."
    )
    # 40 minutes ahead with a 60-minute hold: held until the start, and Checkout still fits.
    assert hold_promise(now + timedelta(minutes=40), now, 60) == (
        "It starts in 40 minutes: we hold it for you until then."
    )
