"""REST shapes are read from the domain's read models, not copied field by field."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from efoy_app.api.admin import AdminPaymentOut
from efoy_app.api.payments import PaymentStatusOut
from efoy_app.api.schemas import BookingOut, shown_in
from efoy_app.domain.admin_views import AdminPaymentRow
from efoy_app.domain.bookings import BookingView
from efoy_app.domain.payment_views import PaymentView

AT = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)

ROW = AdminPaymentRow(
    id=7,
    booking_id=3,
    kind="checkout",
    status="partially_refunded",
    amount_minor=4550,
    currency="usd",
    amount_display="$45.50",
    refunded_minor=1000,
    refunded_display="$10.00",
    flagged=False,
    flag_reason=None,
    patient_id=2,
    patient_name="Ada",
    patient_email="ada@example.com",
    doctor_name="Dr Meron Tadesse",
    starts_at=AT,
    paid_at=None,
    created_at=AT,
)


def test_an_admin_payment_row_on_the_wire_in_the_admins_timezone():
    wire = AdminPaymentOut.model_validate(ROW, context=shown_in("Africa/Addis_Ababa"))
    body = wire.model_dump(mode="json", by_alias=True)
    assert (body["amount"], body["amountMinor"], body["amountRefundedMinor"]) == (
        "45.50",
        4550,
        1000,
    )
    assert body["amountRefundedDisplay"] == "$10.00"
    assert (body["startsAt"], body["paidAt"]) == ("2030-03-04T12:00:00+03:00", None)
    # Without a timezone the time stays as the domain gave it.
    assert AdminPaymentOut.model_validate(ROW).model_dump(mode="json", by_alias=True)[
        "createdAt"
    ] == ("2030-03-04T09:00:00+00:00")


def test_amount_as_a_decimal_string_follows_the_currency():
    jpy = replace(ROW, amount_minor=5000, currency="jpy")
    assert AdminPaymentOut.model_validate(jpy).amount == "5000"


def test_the_patients_payment_status_leaves_out_what_the_view_has_for_others():
    view = PaymentView(
        payment_id=7,
        booking_id=3,
        kind="payment_intent",
        status="paid",
        booking_status="confirmed",
        amount_minor=4500,
        currency="usd",
        amount_display="$45.00",
        amount_refunded_minor=0,
        paid_at=AT,
        session_id=None,
        payment_intent_id="pi_1",
        charge_id="ch_1",
        card_brand="visa",
        card_last4="4242",
        failure_message=None,
        flagged=False,
        flag_reason=None,
        doctor_name="Dr Meron Tadesse",
        starts_at=AT,
        patient_id=2,
    )
    body = PaymentStatusOut.model_validate(view).model_dump(mode="json", by_alias=True)
    assert (body["paymentId"], body["amount"], body["bookingStatus"]) == (7, "45.00", "confirmed")
    assert not {"chargeId", "doctorName", "patientId", "amountDisplay"} & set(body)


def test_a_booking_shows_its_price_and_times_in_the_readers_timezone():
    view = BookingView(
        id=3,
        doctor_id=1,
        doctor_name="Dr Kenji Sato",
        speciality="Cardiology",
        starts_at=AT,
        ends_at=AT,
        status="held",
        reason="",
        price_minor=5000,
        currency="jpy",
        hold_expires_at=None,
        created_at=AT,
        patient_id=2,
    )
    body = BookingOut.model_validate(view, context=shown_in("Asia/Tokyo")).model_dump(
        mode="json", by_alias=True
    )
    assert (body["price"], body["startsAt"], body["holdExpiresAt"]) == (
        "¥5,000",
        "2030-03-04T18:00:00+09:00",
        None,
    )
