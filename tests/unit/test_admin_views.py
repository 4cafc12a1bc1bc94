"""Admin read models on a throwaway SQLite file, over rows written here by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from efoy_app.domain import admin_payment_detail, admin_views, audit
from efoy_app.domain.errors import Forbidden, NotFound, ValidationFailed
from efoy_app.models import (
    Booking,
    Doctor,
    Payment,
    Refund,
    User,
    WebhookEvent,
    utcnow,
)

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def _booking(session: Session, patient: User, doctor: Doctor, hour: int, **kw: object) -> Booking:
    starts = T0 + timedelta(hours=hour)
    row = Booking(
        patient_id=patient.id,
        doctor_id=doctor.id,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        status=kw.pop("status", "confirmed"),
        price_minor=doctor.fee_minor,
        currency=doctor.currency,
        **kw,
    )
    session.add(row)
    session.commit()
    return row


def _payment(session: Session, booking: Booking, minutes: int, **kw: object) -> Payment:
    row = Payment(
        booking_id=booking.id,
        kind=kw.pop("kind", "checkout"),
        amount_minor=booking.price_minor,
        currency=booking.currency,
        created_at=T0 - timedelta(days=1) + timedelta(minutes=minutes),
        **kw,
    )
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def world(session: Session, make_doctor, patient: User, other_patient: User, admin: User) -> dict:
    usd = make_doctor(name="Dr Meron Tadesse", fee_minor=4500, currency="USD")
    jpy = make_doctor(name="Dr Kenji Sato", fee_minor=5000, currency="JPY", tz="Asia/Tokyo")
    b1 = _booking(session, patient, usd, 0)
    b2 = _booking(session, other_patient, jpy, 1, status="cancelled")
    b3 = _booking(session, patient, usd, 2, status="held")
    paid = _payment(
        session,
        b1,
        0,
        status="partially_refunded",
        amount_refunded_minor=1000,
        stripe_checkout_session_id="cs_test_1",
        stripe_payment_intent_id="pi_test_1",
        stripe_charge_id="ch_test_1",
        card_brand="visa",
        card_last4="4242",
        paid_at=T0 - timedelta(hours=20),
    )
    flagged = _payment(
        session,
        b2,
        10,
        kind="payment_intent",
        status="refunded",
        amount_refunded_minor=5000,
        stripe_payment_intent_id="pi_test_2",
        flagged=True,
        flag_reason="Refunded automatically: the slot was taken by someone else.",
    )
    pending = _payment(session, b3, 20)
    r_ok = Refund(
        payment_id=paid.id,
        stripe_refund_id="re_1",
        amount_minor=1000,
        currency="USD",
        status="succeeded",
        reason="goodwill",
        requested_by_user_id=admin.id,
    )
    r_failed = Refund(
        payment_id=paid.id,
        stripe_refund_id="re_2",
        amount_minor=500,
        currency="USD",
        status="failed",
        failure_reason="expired_or_canceled_card",
        reason="second try",
        requested_by_user_id=admin.id,
    )
    r_pending = Refund(
        payment_id=paid.id, amount_minor=700, currency="USD", status="pending", reason="in flight"
    )
    r_auto = Refund(
        payment_id=flagged.id,
        stripe_refund_id="re_3",
        amount_minor=5000,
        currency="JPY",
        status="succeeded",
        reason="slot taken",
    )
    session.add_all([r_ok, r_failed, r_pending, r_auto])
    session.commit()
    at = T0 - timedelta(hours=19)
    for i, (actor, etype, eid, action, frm, to) in enumerate(
        [
            ("stripe:evt_1", "payment", paid.id, "status_changed", "pending", "paid"),
            ("stripe:evt_1", "booking", b1.id, "status_changed", "held", "confirmed"),
            (f"user:{admin.id}", "refund", r_ok.id, "refund_requested", None, "pending"),
            ("system:refunds", "refund", r_failed.id, "status_changed", "pending", "failed"),
            ("stripe:evt_9", "payment", flagged.id, "status_changed", "paid", "refunded"),
            ("stripe:evt_9", "refund", r_auto.id, "refund_requested", None, "pending"),
        ]
    ):
        row = audit.record(
            session,
            actor=actor,
            entity_type=etype,
            entity_id=eid,
            action=action,
            from_status=frm,
            to_status=to,
            details={"n": i} if etype == "refund" else None,
        )
        row.at = at + timedelta(minutes=i)
    session.commit()
    events = []
    for i, (evt_id, etype, status, attempts, error) in enumerate(
        [
            ("evt_a", "checkout.session.completed", "processed", 1, None),
            ("evt_b", "customer.created", "ignored", 1, None),
            ("evt_c", "charge.refunded", "failed", 3, "NotFound: Refund event without a payment"),
        ]
    ):
        event = WebhookEvent(
            stripe_event_id=evt_id,
            type=etype,
            payload="{}",
            status=status,
            attempts=attempts,
            error=error,
            received_at=T0 + timedelta(minutes=i),
            processed_at=T0 + timedelta(minutes=i, seconds=1) if status != "failed" else None,
        )
        session.add(event)
        events.append(event)
    session.commit()
    return {
        "usd": usd,
        "jpy": jpy,
        "bookings": (b1, b2, b3),
        "paid": paid,
        "flagged": flagged,
        "pending": pending,
        "refunds": (r_ok, r_failed, r_pending, r_auto),
        "events": events,
    }


def test_payments_newest_first_with_patient_doctor_and_amounts(session, world, admin, patient):
    rows = admin_views.list_payments(session, admin)
    assert [r.id for r in rows] == [world["pending"].id, world["flagged"].id, world["paid"].id]
    paid = rows[2]
    assert (paid.status, paid.amount_display, paid.refunded_display) == (
        "partially_refunded",
        "$45.00",
        "$10.00",
    )
    assert (paid.patient_name, paid.patient_email, paid.doctor_name) == (
        "alice",
        "alice@example.com",
        "Dr Meron Tadesse",
    )
    assert (paid.flagged, paid.flag_reason, paid.booking_id) == (
        False,
        None,
        world["bookings"][0].id,
    )
    flagged = rows[1]
    assert (flagged.amount_display, flagged.refunded_minor, flagged.patient_email) == (
        "¥5,000",
        5000,
        "bob@example.com",
    )


def test_flagged_only_and_status_filters(session, world, admin):
    [only] = admin_views.list_payments(session, admin, flagged_only=True)
    assert only.id == world["flagged"].id
    assert only.flag_reason == "Refunded automatically: the slot was taken by someone else."
    pending = admin_views.list_payments(session, admin, status="pending")
    assert [r.id for r in pending] == [world["pending"].id]
    assert admin_views.list_payments(session, admin, flagged_only=True, status="pending") == []
    with pytest.raises(ValidationFailed):
        admin_views.list_payments(session, admin, status="bogus")
    assert len(admin_views.list_payments(session, admin, limit=2)) == 2


def test_patients_are_refused_everything(session, world, patient):
    calls = [
        lambda: admin_views.list_payments(session, patient),
        lambda: admin_payment_detail.payment_detail(session, patient, world["paid"].id),
        lambda: admin_payment_detail.payment_for_admin(session, patient, world["paid"].id),
        lambda: admin_views.list_webhook_events(session, patient),
        lambda: admin_views.payment_list(session, patient),
        lambda: admin_views.webhook_event_list(session, patient),
        lambda: admin_views.webhook_status_counts(session, patient),
        lambda: admin_views.recent_bookings(session, patient),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            call()


def test_payment_detail_has_ledger_with_failed_refund_and_what_is_left(session, world, admin):
    detail = admin_payment_detail.payment_detail(session, admin, world["paid"].id)
    assert detail.payment.id == world["paid"].id
    assert (detail.checkout_session_id, detail.payment_intent_id, detail.charge_id) == (
        "cs_test_1",
        "pi_test_1",
        "ch_test_1",
    )
    assert (detail.card_brand, detail.card_last4) == ("visa", "4242")
    assert detail.booking.id == world["bookings"][0].id
    assert (detail.booking.doctor_name, detail.booking.status) == ("Dr Meron Tadesse", "confirmed")
    assert detail.patient_timezone == "Africa/Addis_Ababa"
    # 4500 paid - 1000 succeeded - 700 pending; the failed 500 does not count.
    assert (detail.refundable_minor, detail.refundable_display, detail.can_refund) == (
        2800,
        "$28.00",
        True,
    )
    r_ok, r_failed, r_pending, _ = world["refunds"]
    assert [r.id for r in detail.refunds] == [r_ok.id, r_failed.id, r_pending.id]
    failed = detail.refunds[1]
    assert (failed.status, failed.failure_reason, failed.amount_display, failed.reason) == (
        "failed",
        "expired_or_canceled_card",
        "$5.00",
        "second try",
    )
    assert failed.requested_by == "root (root@example.com)"
    assert detail.refunds[2].requested_by == admin_payment_detail.SYSTEM_REQUESTER
    # The payment's, its booking's and its refunds' audit rows, oldest first; not other payments'.
    trail = [(a.entity_type, a.entity_id, a.to_status) for a in detail.audit]
    assert trail == [
        ("payment", world["paid"].id, "paid"),
        ("booking", world["bookings"][0].id, "confirmed"),
        ("refund", r_ok.id, "pending"),
        ("refund", r_failed.id, "failed"),
    ]
    assert detail.audit[2].actor_label == "root (root@example.com)"
    assert (detail.audit[2].actor_name, detail.audit[2].actor_email) == ("root", "root@example.com")
    assert (failed.requested_by_name, failed.requested_by_email) == ("root", "root@example.com")
    assert detail.refunds[2].requested_by_name == admin_payment_detail.SYSTEM_REQUESTER
    assert detail.audit[2].details == {"n": 2}
    assert (detail.audit[0].actor, detail.audit[0].actor_label) == ("stripe:evt_1", "stripe:evt_1")
    assert (detail.audit[0].actor_name, detail.audit[0].actor_email) == (None, None)


def test_nothing_left_to_refund_on_refunded_or_pending_payments(session, world, admin):
    flagged = admin_payment_detail.payment_detail(session, admin, world["flagged"].id)
    assert (flagged.refundable_minor, flagged.refundable_display, flagged.can_refund) == (
        0,
        "¥0",
        False,
    )
    assert [r.requested_by for r in flagged.refunds] == [admin_payment_detail.SYSTEM_REQUESTER]
    assert [(a.entity_type, a.action) for a in flagged.audit] == [
        ("payment", "status_changed"),
        ("refund", "refund_requested"),
    ]
    pending = admin_payment_detail.payment_detail(session, admin, world["pending"].id)
    assert (pending.refundable_minor, pending.can_refund, pending.refunds, pending.audit) == (
        0,
        False,
        [],
        [],
    )
    with pytest.raises(NotFound):
        admin_payment_detail.payment_detail(session, admin, 999)
    with pytest.raises(NotFound):
        admin_payment_detail.payment_for_admin(session, admin, 999)


def test_webhook_events_newest_first_filtered_and_counted(session, world, admin):
    rows = admin_views.list_webhook_events(session, admin)
    assert [r.stripe_event_id for r in rows] == ["evt_c", "evt_b", "evt_a"]
    failed = rows[0]
    assert (failed.type, failed.status, failed.attempts, failed.processed_at) == (
        "charge.refunded",
        "failed",
        3,
        None,
    )
    assert failed.error == "NotFound: Refund event without a payment"
    assert rows[2].processed_at == T0 + timedelta(seconds=1)
    [only] = admin_views.list_webhook_events(session, admin, status="failed")
    assert only.stripe_event_id == "evt_c"
    assert admin_views.list_webhook_events(session, admin, status="received") == []
    with pytest.raises(ValidationFailed):
        admin_views.list_webhook_events(session, admin, status="lost")
    assert admin_views.webhook_status_counts(session, admin) == {
        "processed": 1,
        "ignored": 1,
        "failed": 1,
        "received": 0,
    }


def test_recent_bookings_newest_first_with_effective_status(session, world, admin):
    b1, b2, b3 = world["bookings"]
    b3.hold_expires_at = utcnow() - timedelta(minutes=1)
    session.add(b3)
    session.commit()
    rows = admin_views.recent_bookings(session, admin)
    assert [r.booking.id for r in rows] == [b3.id, b2.id, b1.id]
    assert [r.booking.status for r in rows] == ["expired", "cancelled", "confirmed"]
    assert [r.patient_email for r in rows] == [
        "alice@example.com",
        "bob@example.com",
        "alice@example.com",
    ]


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [("", "USD", None), ("  ", "EUR", None), (None, "EUR", None), ("12.50", "USD", 1250),
     ("1,234.5", "EUR", 123450), ("€30.50", "EUR", 3050), ("500", "JPY", 500),
     ("5,000", "JPY", 5000), ("1.234", "BHD", 1234), ("92233720368547758.07", "USD", 2**63 - 1)],
)  # fmt: skip
def test_parse_refund_amount(text, currency, expected):
    assert admin_payment_detail.parse_refund_amount(text, currency) == expected


TWO_WAYS = "could be read two ways. Write the amount with a point for the decimals"


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("30,50", "EUR", f'"30,50" {TWO_WAYS}'),  # a decimal comma: refused, never 3,050
        ("1,234", "EUR", f'"1,234" {TWO_WAYS}'),  # a thousands comma or three decimals
        ("1,234", "BHD", f'"1,234" {TWO_WAYS}'),
        ("12.345", "USD", "USD amounts have at most 2 decimal places; '12.345' has 3."),
        ("1.5", "JPY", "JPY amounts have no decimals"),
        ("0", "USD", "A refund must be more than zero."),
        ("0.00", "EUR", "A refund must be more than zero."),
        ("-3", "USD", "The amount must not be negative."),
        ("abc", "USD", "is not an amount in USD"),
        ("92233720368547758.08", "USD", "That amount is too large."),
        ("1e5", "USD", "is not an amount in USD"),
    ],
)
def test_parse_refund_amount_refuses_with_a_clear_message(text, currency, message):
    with pytest.raises(ValidationFailed) as refused:
        admin_payment_detail.parse_refund_amount(text, currency)
    assert message in refused.value.message


def test_refund_preview_names_the_amount_and_card_before_anything_is_sent(session, world, admin):
    paid = world["paid"]  # $45.00, $10.00 refunded, $7.00 reserved: $28.00 left
    preview = admin_payment_detail.refund_preview(session, admin, paid.id, "12.50", "goodwill")
    assert preview == admin_payment_detail.RefundPreview(1250, "$12.50", "visa", "4242")
    everything = admin_payment_detail.refund_preview(session, admin, paid.id, "", "goodwill")
    assert (everything.amount_minor, everything.amount_display) == (None, "$28.00")
    with pytest.raises(ValidationFailed) as refused:
        admin_payment_detail.refund_preview(session, admin, paid.id, "28.01", "goodwill")
    assert refused.value.message == (
        "A refund of $28.01 is more than the $28.00 left to refund on this payment."
    )
    with pytest.raises(ValidationFailed) as refused:
        admin_payment_detail.refund_preview(session, admin, paid.id, "1.00", "   ")
    assert refused.value.message == admin_payment_detail.NO_REASON
    with pytest.raises(ValidationFailed) as refused:
        admin_payment_detail.refund_preview(session, admin, world["flagged"].id, "1", "why")
    assert refused.value.message == "Nothing is left to refund on this payment."
    assert session.exec(select(Refund).where(Refund.payment_id == paid.id)).all() == list(
        world["refunds"][:3]
    )


def test_refund_preview_is_for_admins_only(session, world, patient):
    with pytest.raises(Forbidden):
        admin_payment_detail.refund_preview(session, patient, world["paid"].id, "1", "why")


def test_payment_list_pages_and_counts_and_totals_all_that_match(session, world, admin):
    page = admin_views.payment_list(session, admin, limit=1, offset=1)
    assert ([r.id for r in page.data], page.count) == ([world["flagged"].id], 3)
    # Per currency, over every matching payment, not only the page; a pending one took nothing.
    assert page.totals == [
        admin_views.CurrencyTotal("JPY", 1, 5000, "¥5,000", 5000, "¥5,000", 0, "¥0"),
        admin_views.CurrencyTotal("USD", 2, 4500, "$45.00", 1000, "$10.00", 3500, "$35.00"),
    ]
    pending = admin_views.payment_list(session, admin, status="pending")
    assert ([r.id for r in pending.data], pending.count) == ([world["pending"].id], 1)
    assert pending.totals == [
        admin_views.CurrencyTotal("USD", 1, 0, "$0.00", 0, "$0.00", 0, "$0.00")
    ]
    past_the_end = admin_views.payment_list(session, admin, flagged_only=True, offset=5)
    assert (past_the_end.data, past_the_end.count) == ([], 1)
    none = admin_views.payment_list(session, admin, flagged_only=True, status="pending")
    assert (none.data, none.count, none.totals) == ([], 0, [])
    with pytest.raises(ValidationFailed):
        admin_views.payment_list(session, admin, status="bogus")


def test_webhook_event_list_pages_and_counts_all_that_match(session, world, admin):
    page = admin_views.webhook_event_list(session, admin, limit=2, offset=1)
    assert ([r.stripe_event_id for r in page.data], page.count) == (["evt_b", "evt_a"], 3)
    failed = admin_views.webhook_event_list(session, admin, status="failed", offset=1)
    assert (failed.data, failed.count) == ([], 1)
    with pytest.raises(ValidationFailed):
        admin_views.webhook_event_list(session, admin, status="lost")


def _ids(session, admin, **kw) -> list[int]:
    page = admin_views.payment_list(session, admin, admin_views.PaymentFilter(**kw))
    assert page.count == sum(t.count for t in page.totals)
    return [r.id for r in page.data]


def test_payment_filters_search_doctor_currency_and_flag(session, world, admin, patient):
    paid, flagged, pending = world["paid"], world["flagged"], world["pending"]
    assert _ids(session, admin, q="cs_test_1") == [paid.id]
    assert _ids(session, admin, q="pi_test_2") == [flagged.id]
    assert _ids(session, admin, q="pi_test_") == []  # ids match whole, never in part
    assert _ids(session, admin, q=f"#{pending.booking_id}") == [pending.id]
    assert _ids(session, admin, q=str(paid.booking_id)) == [paid.id]
    assert _ids(session, admin, q=str(2**63)) == []  # past any id: no match, no overflow
    # A part of the email, any case; a LIKE wildcard is a plain character.
    assert _ids(session, admin, q="ALICE@") == [pending.id, paid.id]
    assert _ids(session, admin, q="b%b") == []
    assert _ids(session, admin, q="bob") == [flagged.id]
    jpy_doctor = session.get(Booking, flagged.booking_id).doctor_id
    assert _ids(session, admin, doctor_id=jpy_doctor) == [flagged.id]
    assert _ids(session, admin, currency="usd") == [pending.id, paid.id]
    assert _ids(session, admin, flagged=True, currency="JPY") == [flagged.id]
    assert _ids(session, admin, flagged=True, currency="USD") == []
    with pytest.raises(ValidationFailed):
        _ids(session, admin, q="x" * 201)
    with pytest.raises(ValidationFailed):
        _ids(session, admin, date_field="updated")


def test_payment_date_range_is_whole_days_in_the_clinic_zone(session, world, admin):
    paid, flagged, pending = world["paid"], world["flagged"], world["pending"]
    # Created 2030-03-03 09:00, 09:10, 09:20 UTC; paid at 13:00 UTC.
    day = T0.date() - timedelta(days=1)
    assert _ids(session, admin, date_from=day, date_to=day) == [pending.id, flagged.id, paid.id]
    assert _ids(session, admin, date_from=day + timedelta(days=1)) == []
    # In Honolulu (UTC-10) those are still 2 March; in Kiritimati (UTC+14) already 3 March 23:00.
    hnl = {"tz": "Pacific/Honolulu"}
    assert _ids(session, admin, date_to=day - timedelta(days=1), **hnl) == [
        pending.id,
        flagged.id,
        paid.id,
    ]
    assert _ids(session, admin, date_from=day, **hnl) == []
    assert _ids(session, admin, date_from=day, date_to=day, tz="Pacific/Kiritimati") == [
        pending.id,
        flagged.id,
        paid.id,
    ]
    # By paid_at: only the one that was paid.
    assert _ids(session, admin, date_field="paid_at", date_from=day, date_to=day) == [paid.id]
    with pytest.raises(ValidationFailed):
        _ids(session, admin, date_from=day, date_to=day - timedelta(days=1))


def test_a_day_boundary_across_a_dst_change_is_local_midnight():
    # Berlin goes to summer time on 31 March 2030: that day is 23 hours long.
    start = admin_views._day_start(datetime(2030, 3, 31).date(), "Europe/Berlin")
    end = admin_views._day_start(datetime(2030, 4, 1).date(), "Europe/Berlin")
    assert (start, end - start) == (datetime(2030, 3, 30, 23, 0, tzinfo=UTC), timedelta(hours=23))


def test_booking_list_pages_and_counts_every_booking(session, world, admin, patient):
    page = admin_views.booking_list(session, admin, limit=2, offset=1)
    assert (len(page.data), page.count) == (2, 3)
    assert admin_views.booking_list(session, admin, offset=3).data == []
    with pytest.raises(Forbidden):
        admin_views.booking_list(session, patient)
