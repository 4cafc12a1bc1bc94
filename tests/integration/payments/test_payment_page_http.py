"""Over real HTTP, with the real sandbox: what Stripe is told about the appointment (in the
patient's timezone), and the hosted page refused for an appointment starting within 31 minutes."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlmodel import Session, select

from efoy_app.models import BOOKING_HELD, Booking, Doctor, Payment, utcnow
from efoy_app.state.display import when_label
from tests.integration.payments.helpers import auth, book_slot, start_checkout


def _sandbox_get(sandbox, path: str) -> dict:
    r = httpx.get(
        f"{sandbox.url}{path}", headers={"Authorization": f"Bearer {sandbox.api_key}"}, timeout=30
    )
    r.raise_for_status()
    return r.json()


def test_stripe_receives_the_appointment_in_the_patients_timezone(
    api_server, sandbox, make_patient
) -> None:
    token = make_patient(timezone="Asia/Tokyo")
    booking = book_slot(api_server.url, token, doctor_index=4)
    starts_at = datetime.fromisoformat(booking["startsAt"])
    expected = (
        f"Consultation with {booking['doctorName']}, {when_label(starts_at, 'Asia/Tokyo')} "
        f"(booking #{booking['id']})"
    )
    assert expected.endswith(f"JST (booking #{booking['id']})")
    checkout = start_checkout(api_server.url, token, booking["id"])
    items = _sandbox_get(sandbox, f"/v1/checkout/sessions/{checkout['sessionId']}/line_items")
    assert [item["description"] for item in items["data"]] == [expected]
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/create-payment-intent",
        json={"bookingId": booking["id"]},
        headers=auth(token),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    intent = _sandbox_get(sandbox, f"/v1/payment_intents/{r.json()['paymentIntentId']}")
    assert intent["description"] == expected


def test_checkout_for_an_appointment_starting_in_20_minutes_is_a_409(
    api_server, make_patient
) -> None:
    token = make_patient()
    starts_at = utcnow().replace(microsecond=0) + timedelta(minutes=20, seconds=40)
    with Session(api_server.engine, expire_on_commit=False) as db:
        doctor = db.exec(select(Doctor).where(Doctor.currency == "GBP")).first()
        row = Booking(
            patient_id=token.user_id, doctor_id=doctor.id, starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=doctor.slot_minutes), status=BOOKING_HELD,
            price_minor=doctor.fee_minor, currency=doctor.currency, hold_expires_at=starts_at,
        )  # fmt: skip
        db.add(row)
        db.commit()
        booking_id = row.id
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/create-checkout-session",
        json={"bookingId": booking_id},
        headers=auth(token),
        timeout=30,
    )
    assert r.status_code == 409, r.text
    assert r.json() == {
        "error": {
            "code": "checkout_too_late",
            "message": "This appointment starts in 20 minutes: Stripe's payment page needs at "
            "least 30 minutes, so please pay by card.",
        }
    }
    with Session(api_server.engine) as db:
        assert db.exec(select(Payment).where(Payment.booking_id == booking_id)).all() == []
    # The card form takes it, and its payment ends when the appointment starts.
    r = httpx.post(
        f"{api_server.url}/api/v1/payment/create-payment-intent",
        json={"bookingId": booking_id},
        headers=auth(token),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    with Session(api_server.engine) as db:
        [payment] = db.exec(select(Payment).where(Payment.booking_id == booking_id)).all()
        assert payment.expires_at == starts_at
        assert db.get(Booking, booking_id).hold_expires_at == starts_at
