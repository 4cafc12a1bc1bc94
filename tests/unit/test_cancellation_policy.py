"""The cancellation policy: its compact form, its tiers in words, and what a cancellation gives
back, to the second, in the currency's minor units, never beyond what is left of the payment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from efoy_app.domain import refunds
from efoy_app.domain.cancellation import paid_payment, quote_cancellation
from efoy_app.domain.cancellation_policy import (
    DEFAULT_POLICY,
    CancellationPolicy,
    CancellationQuote,
    Tier,
    current_policy,
    parse_policy,
    refund_for,
)
from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.money import currency_exponent
from efoy_app.models import Booking, Payment
from efoy_app.settings import get_settings
from tests.unit.payment_setup import fresh, hold, paid_by_checkout

START = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DEFAULT = parse_policy(DEFAULT_POLICY)
BERLIN = ZoneInfo("Europe/Berlin")


def booking(
    starts_at: datetime = START, status: str = "confirmed", currency: str = "EUR"
) -> Booking:
    """A booking row in memory (the rule reads no database)."""
    return Booking(
        id=1,
        patient_id=1,
        doctor_id=1,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=30),
        status=status,
        price_minor=9000,
        currency=currency,
    )


def quote(
    before: timedelta,
    *,
    paid: int = 9000,
    left: int | None = None,
    currency: str = "EUR",
    policy: CancellationPolicy = DEFAULT,
) -> CancellationQuote:
    return refund_for(
        booking(currency=currency),
        START - before,
        paid_minor=paid,
        left_minor=paid if left is None else left,
        policy=policy,
    )


# --- the policy as data -------------------------------------------------------------------------


def test_the_default_is_100_from_48_hours_50_from_24_nothing_later() -> None:
    assert DEFAULT_POLICY == "48:100,24:50,0:0"
    assert DEFAULT.tiers == (Tier(48, 100), Tier(24, 50), Tier(0, 0))
    assert current_policy() == DEFAULT


def test_tiers_may_be_written_in_any_order_with_spaces_and_come_back_normalised() -> None:
    policy = parse_policy(" 0:0 , 72:100,24 : 25 ")
    assert policy.tiers == (Tier(72, 100), Tier(24, 25), Tier(0, 0))
    assert policy.text == "72:100,24:25,0:0"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is empty"),
        ("48:100,24;50,0:0", "'24;50' is not hours:percent in whole numbers"),
        ("48:100,24:50", "must end with a 0-hour tier"),
        ("48:101,0:0", "at most 100 percent"),
        ("48:100,48:50,0:0", "names the same hours twice"),
        ("48:40,24:50,0:0", "gives more back 24 hours before (50 %) than 48 hours before (40 %)"),
        ("1.5:50,0:0", "'1.5:50' is not hours:percent"),
        ("-1:50,0:0", "'-1:50' is not hours:percent"),
        ("48:50%,0:0", "'48:50%' is not hours:percent"),
        ("9000:100,0:0", "at most 8784 hours"),
        (",".join(f"{h}:100" for h in range(11)), "more than 10 tiers"),
    ],
)
def test_a_policy_a_person_could_misread_is_refused(text: str, says: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_policy(text)
    assert says in refused.value.message


def test_a_malformed_setting_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EFOY_CANCELLATION_POLICY", "48:100,24:50")
    get_settings.cache_clear()
    with pytest.raises(ValidationError) as refused:
        get_settings()
    assert "EFOY_CANCELLATION_POLICY '48:100,24:50': The cancellation policy must end" in str(
        refused.value
    )


def test_the_setting_is_the_policy_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EFOY_CANCELLATION_POLICY", "0:0, 12:100")
    get_settings.cache_clear()
    assert get_settings().cancellation_policy == "12:100,0:0"
    assert current_policy().tiers == (Tier(12, 100), Tier(0, 0))
    assert quote(12 * HOUR, policy=current_policy()).refund_minor == 9000


def test_the_tiers_in_words() -> None:
    assert DEFAULT.sentences() == [
        "Cancel 48 hours or more before the appointment starts: everything you paid back (100 %).",
        "Cancel less than 48 hours but 24 hours or more before the start: 50 % of what you paid "
        "back.",
        "Cancel less than 24 hours before the start: nothing back.",
    ]
    assert parse_policy("0:100").sentences() == [
        "Cancel any time before the appointment starts: everything you paid back (100 %)."
    ]
    assert parse_policy("1:75,0:10").sentences() == [
        "Cancel 1 hour or more before the appointment starts: 75 % of what you paid back.",
        "Cancel less than 1 hour before the start: 10 % of what you paid back.",
    ]


# --- boundaries, to the second ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "percent", "refund", "in_words"),
    [
        (48 * HOUR + SECOND, 100, 9000, "in 48 hours"),
        (48 * HOUR, 100, 9000, "in 48 hours"),
        (48 * HOUR - SECOND, 50, 4500, "in 47 hours"),
        (30 * HOUR, 50, 4500, "in 30 hours"),
        (24 * HOUR + SECOND, 50, 4500, "in 24 hours"),
        (24 * HOUR, 50, 4500, "in 24 hours"),
        (24 * HOUR - SECOND, 0, 0, "in 23 hours"),
        (HOUR, 0, 0, "in 1 hour"),
        (timedelta(minutes=45), 0, 0, "in 45 minutes"),
        (SECOND, 0, 0, "in less than a minute"),
    ],
    ids=lambda v: str(v) if isinstance(v, timedelta) else None,
)
def test_each_boundary_is_exact(
    before: timedelta, percent: int, refund: int, in_words: str
) -> None:
    assert quote(before) == CancellationQuote(
        refund_minor=refund,
        refund_percent=percent,
        currency="EUR",
        reason=f"The appointment is {in_words}: {percent} % back under the policy.",
    )


@pytest.mark.parametrize("before", [timedelta(0), -SECOND, -HOUR])
def test_once_the_appointment_has_started_nothing_comes_back(before: timedelta) -> None:
    assert quote(before, policy=parse_policy("0:100")) == CancellationQuote(
        0, 0, "EUR", "The appointment has already started: nothing back under the policy."
    )


# --- minor units --------------------------------------------------------------------------------


def test_amounts_are_rounded_down_to_the_minor_unit() -> None:
    # 50 % of €45.01 is €22.505: the patient gets €22.50, never a cent more than the policy.
    assert quote(30 * HOUR, paid=4501).refund_minor == 2250


def test_jpy_has_no_minor_unit_so_whole_yen_are_rounded_down() -> None:
    assert currency_exponent("JPY") == 0
    got = quote(30 * HOUR, paid=5001, currency="JPY")
    assert (got.refund_minor, got.refund_percent, got.currency) == (2500, 50, "JPY")


def test_a_three_decimal_currency_rounds_to_the_fils() -> None:
    # KWD 12.345 is 12345 fils; 33 % is 4073.85 fils: 4073 (down; half-even would say 4074).
    assert currency_exponent("KWD") == 3
    got = quote(30 * HOUR, paid=12345, currency="KWD", policy=parse_policy("48:100,24:33,0:0"))
    assert (got.refund_minor, got.refund_percent, got.currency) == (4073, 33, "KWD")
    assert quote(30 * HOUR, paid=12345, currency="BHD").refund_minor == 6172


# --- daylight saving in the doctor's timezone ---------------------------------------------------


def test_hours_count_in_utc_when_the_clocks_go_back() -> None:
    """Berlin goes from CEST to CET at 03:00 on Sun 25 Oct 2026: Sat 10:30 to Mon 10:00 reads
    47 h 30 min on the wall clock but is 48 h 30 min in real time, so 100 %."""
    start = datetime(2026, 10, 26, 10, 0, tzinfo=BERLIN)
    now = datetime(2026, 10, 24, 10, 30, tzinfo=BERLIN)
    assert start.replace(tzinfo=None) - now.replace(tzinfo=None) == 47.5 * HOUR
    got = refund_for(
        booking(start.astimezone(UTC)), now, paid_minor=9000, left_minor=9000, policy=DEFAULT
    )
    assert (got.refund_minor, got.refund_percent) == (9000, 100)
    assert got.reason == "The appointment is in 48 hours: 100 % back under the policy."
    # And exactly 48 h before in real time (11:00 on the Saturday's wall clock) is still 100 %.
    exactly = refund_for(
        booking(start.astimezone(UTC)),
        datetime(2026, 10, 24, 11, 0, tzinfo=BERLIN),
        paid_minor=9000,
        left_minor=9000,
        policy=DEFAULT,
    )
    assert exactly.refund_percent == 100
    one_second_later = refund_for(
        booking(start.astimezone(UTC)),
        datetime(2026, 10, 24, 11, 0, 1, tzinfo=BERLIN),
        paid_minor=9000,
        left_minor=9000,
        policy=DEFAULT,
    )
    assert one_second_later.refund_percent == 50


def test_hours_count_in_utc_when_the_clocks_go_forward() -> None:
    """Berlin goes from CET to CEST at 02:00 on Sun 29 Mar 2026: Sat 09:30 to Mon 10:00 reads
    48 h 30 min on the wall clock but is 47 h 30 min in real time, so 50 %."""
    start = datetime(2026, 3, 30, 10, 0, tzinfo=BERLIN)
    now = datetime(2026, 3, 28, 9, 30, tzinfo=BERLIN)
    assert start.replace(tzinfo=None) - now.replace(tzinfo=None) == 48.5 * HOUR
    got = refund_for(
        booking(start.astimezone(UTC)), now, paid_minor=9000, left_minor=9000, policy=DEFAULT
    )
    assert (got.refund_minor, got.refund_percent) == (4500, 50)
    assert got.reason == "The appointment is in 47 hours: 50 % back under the policy."


# --- what is left of the payment, and bookings with nothing paid ----------------------------------


def test_never_more_than_is_left_after_an_earlier_refund() -> None:
    assert quote(60 * HOUR, paid=9000, left=6000) == CancellationQuote(
        6000,
        100,
        "EUR",
        "The appointment is in 60 hours: 100 % back under the policy. €30.00 has been refunded "
        "already, so the €60.00 left is refunded.",
    )
    # 50 % is €45.00, within the €60.00 left: the earlier refund does not change it.
    assert quote(30 * HOUR, paid=9000, left=6000).refund_minor == 4500
    assert quote(30 * HOUR, paid=9000, left=0) == CancellationQuote(
        0,
        50,
        "EUR",
        "The appointment is in 30 hours: 50 % back under the policy. €90.00 has been refunded "
        "already, so nothing is left to refund.",
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("held", "Nothing has been paid for this booking, so there is nothing to refund."),
        ("expired", "This booking's hold has lapsed and nothing was paid: nothing to refund."),
        ("cancelled", "This booking is already cancelled."),
        ("completed", "The appointment has taken place: nothing to refund under the policy."),
    ],
)
def test_a_booking_that_is_not_confirmed_has_nothing_to_refund(status: str, reason: str) -> None:
    got = refund_for(
        booking(status=status), START - 72 * HOUR, paid_minor=0, left_minor=0, policy=DEFAULT
    )
    assert got == CancellationQuote(0, 0, "EUR", reason)


def test_a_confirmed_booking_with_nothing_paid_refunds_nothing() -> None:
    got = refund_for(booking(), START - 72 * HOUR, paid_minor=0, left_minor=0, policy=DEFAULT)
    assert got == CancellationQuote(0, 0, "EUR", "Nothing was paid for this booking.")


def test_a_naive_now_is_refused_rather_than_read_as_local_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        refund_for(
            booking(), datetime(2026, 6, 8, 9, 0), paid_minor=9000, left_minor=9000, policy=DEFAULT
        )


# --- read from the database ---------------------------------------------------------------------


@pytest.fixture
def doctor(make_doctor):
    return make_doctor(fee_minor=9000, currency="EUR")


def test_a_held_booking_quotes_nothing(session, doctor, patient) -> None:
    held = hold(session, doctor, patient)
    assert paid_payment(session, held.id) is None
    assert quote_cancellation(session, held) == CancellationQuote(
        0, 0, "EUR", "Nothing has been paid for this booking, so there is nothing to refund."
    )


def test_a_paid_booking_after_a_partial_refund_quotes_at_most_what_is_left(
    session, stripe_double, doctor, patient, admin
) -> None:
    confirmed, payment = paid_by_checkout(session, stripe_double, doctor, patient)
    early = confirmed.starts_at - 72 * HOUR
    late = confirmed.starts_at - 30 * HOUR
    assert quote_cancellation(session, confirmed, early, DEFAULT).refund_minor == 9000

    refunds.refund_payment(
        session,
        payment=payment,
        amount_minor=3000,
        reason="doctor ran late",
        requested_by_user_id=admin.id,
    )
    payment = fresh(session, Payment, payment.id)
    assert (payment.status, refunds.refundable_now(session, payment)) == (
        "partially_refunded",
        6000,
    )
    assert paid_payment(session, confirmed.id).id == payment.id
    assert quote_cancellation(session, confirmed, early, DEFAULT) == CancellationQuote(
        6000,
        100,
        "EUR",
        "The appointment is in 72 hours: 100 % back under the policy. €30.00 has been refunded "
        "already, so the €60.00 left is refunded.",
    )
    assert quote_cancellation(session, confirmed, late, DEFAULT).refund_minor == 4500


def test_a_doctors_own_policy_else_the_clinics() -> None:
    from efoy_app.domain.cancellation_policy import current_policy, policy_for
    from efoy_app.models import Doctor

    own = Doctor(id=7, user_id=1, speciality="x", fee_minor=1, currency="EUR",
                 cancellation_policy="72:100,24:50,0:0")  # fmt: skip
    assert policy_for(own).text == "72:100,24:50,0:0"
    assert policy_for(Doctor(id=8, user_id=2, speciality="x", fee_minor=1, currency="EUR")) == (
        current_policy()
    )
    assert policy_for(None) == current_policy()
    # Unreadable (written by hand in SQL): the clinic's, not an error for every cancellation.
    own.cancellation_policy = "72:100,24;50"
    assert policy_for(own) == current_policy()
