"""Clinic set-up rules: doctors, weekly hours, days off, extra hours, and what a change does to
bookings already sold. The domain only, on SQLite, with the Stripe double as the card."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from efoy_app.domain import doctor_admin as da
from efoy_app.domain import doctors, sold_bookings
from efoy_app.domain import working_plan as wp
from efoy_app.domain.auth import NO_LOGIN_HASH
from efoy_app.domain.errors import Conflict, NotFound, ValidationFailed
from efoy_app.domain.scheduling import compute_free_slots, local_day_bounds, upcoming_free_slots
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_HELD,
    ROLE_DOCTOR,
    AuditLog,
    Booking,
    DayOff,
    Doctor,
    ExtraHours,
    OutboxEmail,
    Refund,
    User,
    WorkingHours,
)
from efoy_app.state import audit_text
from tests.unit.payment_setup import fresh, hold, paid_by_checkout, slot

R = wp.parse_range


def _new_doctor(session: Session, admin: User, **over: object) -> da.AdminDoctor:
    values = {
        "full_name": "Dr. Lena Vogel",
        "email": "lena@example.com",
        "speciality": "Dermatology",
        "fee_minor": 8000,
        "currency": "EUR",
        "timezone": "UTC",
    } | over
    view, _ = da.create_doctor(session, da.DoctorFields(**values), admin)
    return view


# --- ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("09:00-12:00", time(9), time(12)),
        ("9–12", time(9), time(12)),
        (" 13.30 to 17:00 ", time(13, 30), time(17)),
        ("22:00–24:00", time(22), time(0)),
    ],
)
def test_ranges_are_read_as_people_type_them(text: str, start: time, end: time) -> None:
    assert R(text) == wp.TimeRange(start, end)


@pytest.mark.parametrize("text", ["", "9", "25:00-26:00", "09:60-10:00", "24:00-10:00", "nine"])
def test_what_is_not_a_range_is_refused(text: str) -> None:
    with pytest.raises(ValidationFailed):
        R(text)


def test_overlapping_ranges_are_refused_naming_the_day_and_both() -> None:
    with pytest.raises(ValidationFailed, match="Tuesday: 09:00–12:00 and 11:30–13:00 overlap"):
        wp.check_week({1: [R("11:30-13:00"), R("09:00-12:00")]}, 30)


def test_touching_ranges_are_two_windows_not_an_overlap() -> None:
    week = wp.check_week({0: [R("13:00-17:00"), R("09:00-13:00")]}, 30)
    assert week[0] == [R("09:00-13:00"), R("13:00-17:00")]
    assert week[6] == []


def test_a_range_across_midnight_is_refused_with_the_two_to_enter_instead() -> None:
    """Refused, not split: the admin sees both halves and which day each belongs to."""
    with pytest.raises(ValidationFailed, match="22:00–24:00 and 00:00–02:00 of the next day"):
        wp.check_week({4: [R("22:00-02:00")]}, 30)


def test_a_reversed_or_empty_or_too_short_range_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="crosses midnight"):
        wp.check_week({0: [R("17:00-09:00")]}, 30)
    with pytest.raises(ValidationFailed, match="empty"):
        wp.check_week({0: [R("10:00-10:00")]}, 30)
    with pytest.raises(ValidationFailed, match="shorter than one 30-minute appointment"):
        wp.check_week({0: [R("10:00-10:20")]}, 30)
    with pytest.raises(ValidationFailed, match="Weekdays run"):
        wp.check_week({7: [R("10:00-12:00")]}, 30)
    with pytest.raises(ValidationFailed, match="at most 6"):
        wp.check_week({0: [R(f"{h:02d}:00-{h:02d}:30") for h in range(8, 15)]}, 30)


def test_until_midnight_gives_the_evening_slots() -> None:
    week = wp.check_week({0: [R("22:00-24:00")]}, 60)
    assert week[0] == [wp.TimeRange(time(22), time(0))]
    assert week[0][0].label == "22:00–24:00"


# --- weekly hours, with the scheduler patients use ------------------------------------------


def test_several_ranges_a_day_give_slots_in_each_and_none_between(
    session: Session, admin: User
) -> None:
    doc = _new_doctor(session, admin)
    saved = wp.set_week(session, doc.id, {0: [R("09:00-10:00"), R("14:00-15:00")]}, admin)
    assert saved.sentence == "Weekly hours saved."
    slots = upcoming_free_slots(session, doc.id)
    times = {s.starts_at.strftime("%H:%M") for s in slots}
    assert times == {"09:00", "09:30", "14:00", "14:30"}
    assert all(s.starts_at.weekday() == 0 for s in slots)


def test_an_edit_on_a_dst_day_gives_the_hours_that_really_pass(
    session: Session, admin: User
) -> None:
    """Berlin, 28 March 2027: 02:00 does not happen, so 01:00–04:00 is two hours (four slots);
    31 October 2027: 02:00–03:00 happens twice, so it is four hours (eight slots)."""
    doc = _new_doctor(session, admin, timezone="Europe/Berlin")
    wp.set_week(session, doc.id, {6: [R("01:00-04:00")]}, admin)
    doctor = session.get(Doctor, doc.id)
    berlin = ZoneInfo("Europe/Berlin")

    def slots_on(day: date) -> list[str]:
        start, end = local_day_bounds(day, "Europe/Berlin")
        hours = list(session.exec(select(WorkingHours).where(WorkingHours.doctor_id == doc.id)))
        found = compute_free_slots(
            doctor=doctor, working_hours=hours, days_off=[], busy_starts=set(),
            window_start=start, window_end=end, now=start - timedelta(days=1),
        )  # fmt: skip
        return [s.starts_at.astimezone(berlin).strftime("%H:%M%z") for s in found]

    assert slots_on(date(2027, 3, 28)) == ["01:00+0100", "01:30+0100", "03:00+0200", "03:30+0200"]
    autumn = slots_on(date(2027, 10, 31))
    assert len(autumn) == 8
    assert autumn[2:6] == ["02:00+0200", "02:30+0200", "02:00+0100", "02:30+0100"]
    assert slots_on(date(2027, 4, 4)) == ["01:00+0200", "01:30+0200", "02:00+0200", "02:30+0200",
                                          "03:00+0200", "03:30+0200"]  # fmt: skip
    # The preview patients' days are computed by shows the spring day the same way.
    days = wp.preview(session, doctor, now=datetime(2027, 3, 27, 12, tzinfo=UTC))
    assert days[1].day == date(2027, 3, 28)
    assert days[1].slots == ["01:00", "01:30", "03:00", "03:30"]
    assert days[0].closed == "Not a working day"


def test_shortening_hours_lists_the_booking_it_strands_and_saves_nothing_until_told(
    session: Session, admin: User, patient: User, make_doctor
) -> None:
    doctor = make_doctor()
    booking = hold(session, doctor, patient, starts_at=slot(16))
    before = wp.week_of(session, doctor.id)
    shorter = {d: [R("09:00-12:00"), R("13:00-15:00")] for d in range(5)}
    with pytest.raises(sold_bookings.BookingsAffected) as listed:
        wp.set_week(session, doctor.id, shorter, admin)
    assert [a.booking_id for a in listed.value.bookings] == [booking.id]
    assert listed.value.bookings[0].status == BOOKING_HELD
    assert listed.value.bookings[0].patient_email == patient.email
    assert wp.week_of(session, doctor.id) == before  # nothing saved
    saved = wp.set_week(session, doctor.id, shorter, admin, on_bookings=sold_bookings.KEEP)
    assert "1 booking outside the new hours kept as booked" in saved.sentence
    assert fresh(session, Booking, booking.id).status == BOOKING_HELD
    assert wp.week_of(session, doctor.id)[0] == [R("09:00-12:00"), R("13:00-15:00")]


def test_hours_that_keep_every_booking_need_no_choice(
    session: Session, admin: User, patient: User, make_doctor
) -> None:
    doctor = make_doctor()
    hold(session, doctor, patient, starts_at=slot(10))
    longer = {d: [R("08:00-18:00")] for d in range(5)}
    assert wp.set_week(session, doctor.id, longer, admin).sentence == "Weekly hours saved."


def test_an_unknown_choice_is_refused(session: Session, admin: User, make_doctor) -> None:
    doctor = make_doctor()
    with pytest.raises(ValidationFailed, match="keep or cancel"):
        wp.set_week(session, doctor.id, {}, admin, on_bookings="maybe")


# --- days off and extra hours --------------------------------------------------------------


def test_a_day_off_over_a_paid_booking_cancels_it_with_a_full_refund_when_told(
    session: Session, admin: User, patient: User, make_doctor, stripe_double
) -> None:
    doctor = make_doctor(fee_minor=9000, currency="EUR")
    booking, payment = paid_by_checkout(session, stripe_double, doctor, patient)
    day = booking.starts_at.date()
    with pytest.raises(sold_bookings.BookingsAffected) as listed:
        wp.add_day_off(session, doctor.id, day, admin, reason="Conference")
    assert listed.value.bookings[0].paid and listed.value.bookings[0].price_display == "€90.00"
    assert session.exec(select(DayOff).where(DayOff.doctor_id == doctor.id)).first() is None

    saved = wp.add_day_off(
        session, doctor.id, day, admin, reason="Conference", on_bookings=sold_bookings.CANCEL
    )
    assert "is a day off" in saved.sentence and "1 booking cancelled" in saved.sentence
    assert fresh(session, Booking, booking.id).status == BOOKING_CANCELLED
    refunds = session.exec(select(Refund).where(Refund.payment_id == payment.id)).all()
    assert [r.amount_minor for r in refunds] == [9000]
    assert stripe_double.refunded(payment.stripe_payment_intent_id) == 9000
    mail = session.exec(select(OutboxEmail).where(OutboxEmail.booking_id == booking.id)).all()
    assert any("cancelled" in m.subject for m in mail)
    assert upcoming_free_slots(session, doctor.id) and all(
        s.starts_at.date() != day for s in upcoming_free_slots(session, doctor.id)
    )


def test_a_day_off_over_a_held_booking_releases_it_and_tells_the_patient(
    session: Session, admin: User, patient: User, make_doctor
) -> None:
    doctor = make_doctor()
    booking = hold(session, doctor, patient)
    saved = wp.add_day_off(
        session, doctor.id, booking.starts_at.date(), admin, on_bookings=sold_bookings.CANCEL
    )
    assert "1 booking cancelled" in saved.sentence
    assert fresh(session, Booking, booking.id).status == BOOKING_CANCELLED
    mail = session.exec(select(OutboxEmail).where(OutboxEmail.booking_id == booking.id)).all()
    assert [m.to_address for m in mail] == [patient.email]
    assert "Nothing had been paid" in mail[0].body


def test_a_day_off_twice_in_the_past_or_far_ahead_is_refused(
    session: Session, admin: User, make_doctor
) -> None:
    doctor = make_doctor()
    day = slot().date()
    wp.add_day_off(session, doctor.id, day, admin)
    with pytest.raises(Conflict, match="a day off already"):
        wp.add_day_off(session, doctor.id, day, admin)
    with pytest.raises(ValidationFailed, match="over"):
        wp.add_day_off(session, doctor.id, date.today() - timedelta(days=2), admin)
    with pytest.raises(ValidationFailed, match="within 2 years"):
        wp.add_day_off(session, doctor.id, date.today() + timedelta(days=800), admin)
    assert "working day again" in wp.remove_day_off(session, doctor.id, day, admin).sentence
    with pytest.raises(NotFound):
        wp.remove_day_off(session, doctor.id, day, admin)


def test_extra_hours_add_slots_on_their_date_only(
    session: Session, admin: User, make_doctor
) -> None:
    doctor = make_doctor()
    saturday = slot().date()
    while saturday.weekday() != 5:
        saturday += timedelta(days=1)
    wp.add_extra_hours(session, doctor.id, saturday, R("10:00-11:00"), admin, reason="Clinic day")
    on_saturdays = [
        s for s in upcoming_free_slots(session, doctor.id) if s.starts_at.weekday() == 5
    ]
    assert [s.starts_at for s in on_saturdays] == [
        datetime.combine(saturday, time(10), tzinfo=UTC),
        datetime.combine(saturday, time(10, 30), tzinfo=UTC),
    ]
    plan = wp.plan_of(session, session.get(Doctor, doctor.id))
    assert [(x.day, x.range.label) for x in plan.extra_hours] == [(saturday, "10:00–11:00")]


def test_extra_hours_may_not_overlap_the_days_hours_nor_fall_on_a_day_off(
    session: Session, admin: User, make_doctor
) -> None:
    doctor = make_doctor()
    monday = slot().date()
    while monday.weekday() != 0:
        monday += timedelta(days=1)
    with pytest.raises(ValidationFailed, match="11:00–14:00 overlaps 09:00–12:00"):
        wp.add_extra_hours(session, doctor.id, monday, R("11:00-14:00"), admin)
    wp.add_extra_hours(session, doctor.id, monday, R("17:00-19:00"), admin)
    with pytest.raises(ValidationFailed, match="overlaps 17:00–19:00"):
        wp.add_extra_hours(session, doctor.id, monday, R("18:00-20:00"), admin)
    saved = wp.add_day_off(session, doctor.id, monday, admin)
    assert "Its extra hours were removed" in saved.sentence
    assert session.exec(select(ExtraHours).where(ExtraHours.doctor_id == doctor.id)).all() == []
    with pytest.raises(Conflict, match="day off"):
        wp.add_extra_hours(session, doctor.id, monday, R("17:00-19:00"), admin)


def test_removing_extra_hours_with_a_booking_in_them_lists_it_first(
    session: Session, admin: User, patient: User, make_doctor
) -> None:
    doctor = make_doctor()
    monday = slot().date()
    while monday.weekday() != 0:
        monday += timedelta(days=1)
    wp.add_extra_hours(session, doctor.id, monday, R("18:00-19:00"), admin)
    extra = session.exec(select(ExtraHours).where(ExtraHours.doctor_id == doctor.id)).one()
    booking = hold(session, doctor, patient, starts_at=datetime.combine(monday, time(18), UTC))
    with pytest.raises(sold_bookings.BookingsAffected):
        wp.remove_extra_hours(session, doctor.id, extra.id, admin)
    assert session.get(ExtraHours, extra.id) is not None
    wp.remove_extra_hours(session, doctor.id, extra.id, admin, on_bookings=sold_bookings.KEEP)
    assert fresh(session, Booking, booking.id).status == BOOKING_HELD


# --- doctors -------------------------------------------------------------------------------


def test_a_new_doctor_gets_an_account_that_cannot_log_in_and_no_hours(
    session: Session, admin: User
) -> None:
    view, said = da.create_doctor(
        session,
        da.DoctorFields(
            full_name=" Dr. Amara Okafor ",
            email="Amara@Example.com",
            speciality="Paediatrics",
            fee_minor=150000,
            currency="ngn",
            timezone="Africa/Lagos",
        ),  # fmt: skip
        admin,
    )
    assert (view.full_name, view.email, view.currency, view.fee_display) == (
        "Dr. Amara Okafor", "amara@example.com", "NGN", "NGN1,500.00",
    )  # fmt: skip
    assert "give them working hours" in said
    user = session.get(User, view.user_id)
    assert (user.role, user.password_hash) == (ROLE_DOCTOR, NO_LOGIN_HASH)
    assert wp.week_of(session, view.id) == {d: [] for d in range(7)}
    assert [d.full_name for d in doctors.list_doctors(session)] == ["Dr. Amara Okafor"]


def test_an_email_in_use_is_linked_or_refused(session: Session, admin: User, patient: User) -> None:
    view, said = da.create_doctor(
        session,
        da.DoctorFields(
            full_name="Dr. Alice",
            email=patient.email,
            speciality="GP",
            fee_minor=5000,
            currency="USD",
        ),  # fmt: skip
        admin,
    )
    assert "patient account alice@example.com is now the doctor's account" in said
    assert session.get(User, patient.id).role == ROLE_DOCTOR
    for email, match in ((patient.email, "another doctor's"), (admin.email, "admin's")):
        with pytest.raises(Conflict, match=match):
            _new_doctor(session, admin, email=email)


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"fee_minor": 0}, "more than zero"),
        ({"fee_minor": 2**63}, "larger than a card payment"),
        ({"fee_minor": True}, "more than zero"),
        ({"fee_minor": 49}, "at least €0.50: Stripe takes no smaller card payment"),
        ({"fee_minor": 49, "currency": "JPY"}, "at least ¥50"),
        ({"currency": "XAU"}, "does not take payments in XAU"),
        ({"currency": "ABC"}, "Unknown currency"),
        ({"slot_minutes": 7}, "An appointment lasts"),
        ({"timezone": "Mars/Olympus"}, "Unknown timezone"),
        ({"full_name": " \u202e "}, "Full name is required"),
        ({"speciality": "x" * 101}, "at most 100"),
        ({"email": "not-an-email"}, "valid email"),
    ],
)
def test_bad_doctor_fields_are_refused_with_a_sentence(
    session: Session, admin: User, over: dict, match: str
) -> None:
    with pytest.raises(ValidationFailed, match=match):
        _new_doctor(session, admin, **over)
    assert session.exec(select(Doctor)).first() is None


def test_a_fee_change_leaves_booked_prices_alone_and_says_so(
    session: Session, admin: User, patient: User, make_doctor
) -> None:
    doctor = make_doctor(fee_minor=4500, currency="USD")
    booking = hold(session, doctor, patient)
    view, saved = da.update_doctor(session, doctor.id, da.DoctorFields(fee_minor=6000), admin)
    assert view.fee_display == "$60.00"
    assert "the booked appointment keeps the price it was booked at" in saved.sentence
    assert fresh(session, Booking, booking.id).price_minor == 4500
    later = hold(session, doctor, patient, starts_at=slot(11))
    assert later.price_minor == 6000
    row = session.exec(select(AuditLog).where(AuditLog.action == "doctor_updated")).one()
    assert audit_text.why(row.action, row.reason, json.loads(row.details),
                          currency="USD") == "fee: $45.00 → $60.00."  # fmt: skip


def test_deactivating_lists_every_upcoming_booking_and_hides_the_doctor(
    session: Session, admin: User, patient: User, make_doctor, stripe_double
) -> None:
    doctor = make_doctor()
    paid, _ = paid_by_checkout(session, stripe_double, doctor, patient)
    held = hold(session, doctor, patient, starts_at=slot(11))
    with pytest.raises(sold_bookings.BookingsAffected) as listed:
        da.update_doctor(session, doctor.id, da.DoctorFields(active=False), admin)
    assert {a.booking_id for a in listed.value.bookings} == {paid.id, held.id}
    assert fresh(session, Doctor, doctor.id).active
    view, saved = da.update_doctor(
        session, doctor.id, da.DoctorFields(active=False), admin, on_bookings=sold_bookings.KEEP
    )
    assert not view.active and "Patients no longer see this doctor" in saved.sentence
    assert doctors.list_doctors(session) == []
    with pytest.raises(NotFound):
        doctors.get_doctor(session, doctor.id)
    assert fresh(session, Booking, paid.id).status == BOOKING_CONFIRMED
    assert da.get_doctor(session, doctor.id).upcoming_bookings == 2


def test_the_admin_list_searches_names_emails_and_specialities(
    session: Session, admin: User
) -> None:
    _new_doctor(session, admin)
    _new_doctor(session, admin, full_name="Dr. Tomás Ruiz", email="ruiz@clinic.example",
                speciality="Cardiology", active=False)  # fmt: skip
    names = lambda found: [d.full_name for d in found[0]]  # noqa: E731
    assert names(da.list_doctors(session)) == ["Dr. Lena Vogel", "Dr. Tomás Ruiz"]
    assert names(da.list_doctors(session, search="CLINIC.example")) == ["Dr. Tomás Ruiz"]
    assert names(da.list_doctors(session, search="derma")) == ["Dr. Lena Vogel"]
    assert names(da.list_doctors(session, active=False)) == ["Dr. Tomás Ruiz"]
    assert da.list_doctors(session, search="%")[1] == 0


def test_every_change_is_in_the_audit_trail_in_words(session: Session, admin: User) -> None:
    doc = _new_doctor(session, admin)
    wp.set_week(session, doc.id, {0: [R("09:00-12:00")]}, admin)
    day = slot().date()
    wp.add_day_off(session, doc.id, day, admin, reason="Training")
    da.update_doctor(session, doc.id, da.DoctorFields(slot_minutes=20, active=False), admin)
    rows = session.exec(
        select(AuditLog).where(AuditLog.entity_type == "doctor").order_by(AuditLog.id)
    ).all()
    assert [r.action for r in rows] == [
        "doctor_created", "hours_changed", "day_off_added", "doctor_updated",
    ]  # fmt: skip
    assert {r.actor for r in rows} == {f"user:{admin.id}"}
    words = [
        audit_text.why(r.action, r.reason, json.loads(r.details or "{}"),
                       currency="EUR")
        for r in rows
    ]  # fmt: skip
    assert words[0].startswith("Added with ") and "fee: €80.00" in words[0]
    assert words[1] == "Monday: none → 09:00–12:00."
    assert words[2] == f"{day.isoformat()} closed: Training."
    assert words[3] == "active: yes → no; appointment length: 30 → 20."
    assert audit_text.action_label("hours_changed") == "Weekly hours changed"


def test_an_unknown_doctor_is_not_found_everywhere(session: Session, admin: User) -> None:
    for call in (
        lambda: da.get_doctor(session, 999),
        lambda: da.update_doctor(session, 999, da.DoctorFields(bio="x"), admin),
        lambda: wp.set_week(session, 999, {}, admin),
        lambda: wp.add_day_off(session, 999, slot().date(), admin),
    ):
        with pytest.raises(NotFound):
            call()


def test_a_booking_kept_outside_the_hours_is_not_listed_again_by_the_next_change(
    session: Session, admin: User, patient: User, make_doctor
) -> None:
    doctor = make_doctor()
    booking = hold(session, doctor, patient, starts_at=slot(16))
    shorter = {d: [R("09:00-12:00"), R("13:00-15:00")] for d in range(5)}
    wp.set_week(session, doctor.id, shorter, admin, on_bookings=sold_bookings.KEEP)
    other_day = slot(days_ahead=9).date()
    assert other_day != booking.starts_at.date()
    saved = wp.add_day_off(session, doctor.id, other_day, admin)  # no choice needed
    assert saved.sentence.endswith("is a day off.")
    again = wp.set_week(session, doctor.id, {d: [R("09:00-12:00")] for d in range(5)}, admin,
                        on_bookings=sold_bookings.KEEP)  # fmt: skip
    assert "outside the new hours kept" not in again.sentence
    # Closing the kept booking's own day lists it again (the whole day is off now), and so
    # does deactivating the doctor.
    with pytest.raises(sold_bookings.BookingsAffected) as listed:
        wp.add_day_off(session, doctor.id, booking.starts_at.date(), admin)
    assert [a.booking_id for a in listed.value.bookings] == [booking.id]
    with pytest.raises(sold_bookings.BookingsAffected) as listed:
        da.update_doctor(session, doctor.id, da.DoctorFields(active=False), admin)
    assert [a.booking_id for a in listed.value.bookings] == [booking.id]


def test_a_fee_edit_under_stripes_minimum_for_the_currency_is_refused(
    session: Session, admin: User
) -> None:
    doc = _new_doctor(session, admin, fee_minor=5000, currency="EUR")
    with pytest.raises(ValidationFailed, match="at least HUF175.00"):
        da.update_doctor(session, doc.id, da.DoctorFields(currency="HUF"), admin)
    assert da.get_doctor(session, doc.id).currency == "EUR"
    view, _ = da.update_doctor(session, doc.id, da.DoctorFields(fee_minor=50), admin)
    assert view.fee_display == "€0.50"


def test_a_cancel_that_would_take_a_booking_the_admin_was_not_shown_saves_nothing(
    session: Session, admin: User, patient: User, other_patient: User, make_doctor
) -> None:
    doctor = make_doctor()
    first = hold(session, doctor, patient, starts_at=slot(10))
    day = first.starts_at.date()
    with pytest.raises(sold_bookings.BookingsAffected) as listed:
        wp.add_day_off(session, doctor.id, day, admin)
    shown = [a.booking_id for a in listed.value.bookings]
    later = hold(session, doctor, other_patient, starts_at=slot(11))  # booked meanwhile
    with pytest.raises(sold_bookings.BookingsAffected) as again:
        wp.add_day_off(session, doctor.id, day, admin, on_bookings=sold_bookings.CANCEL, seen=shown)
    assert again.value.message.startswith("The bookings changed since they were listed: 2 ")
    assert {a.booking_id for a in again.value.bookings} == {first.id, later.id}
    assert fresh(session, Booking, later.id).status == BOOKING_HELD
    assert session.exec(select(DayOff).where(DayOff.doctor_id == doctor.id)).first() is None
    saved = wp.add_day_off(
        session, doctor.id, day, admin, on_bookings=sold_bookings.CANCEL,
        seen=[a.booking_id for a in again.value.bookings],
    )  # fmt: skip
    assert "2 bookings cancelled" in saved.sentence
    # Keeping needs no list: keeping a booking nobody saw harms no one.
    doctor2 = make_doctor()
    kept = hold(session, doctor2, patient, starts_at=slot(10))
    wp.add_day_off(session, doctor2.id, kept.starts_at.date(), admin,
                   on_bookings=sold_bookings.KEEP, seen=[])  # fmt: skip
    assert fresh(session, Booking, kept.id).status == BOOKING_HELD
