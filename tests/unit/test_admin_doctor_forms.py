"""The doctor pages' forms read as the domain's values: blank ranges left out, each error naming
its weekday, dates and fees refused with sentences, a tampered form checked like typing."""

from __future__ import annotations

from datetime import date, time

import pytest

from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.working_plan import TimeRange
from efoy_app.state.admin_doctor import _small_int, parse_day, parse_week
from efoy_app.state.admin_doctors import fields_from_form

FORM = {"full_name": "Ada Lovelace", "email": "ada@clinic.example", "speciality": "Cardiology",
        "bio": "", "fee": "90.50", "currency": "EUR", "slot_minutes": "30",
        "timezone": "Europe/Berlin", "active": "on"}  # fmt: skip


def test_a_week_keeps_filled_ranges_and_reads_24_00_as_midnight() -> None:
    rows = [[["9", "12:00"], ["", ""], ["13:00", "24:00"]]] + [[] for _ in range(6)]
    week = parse_week(rows)
    assert week[0] == [TimeRange(time(9), time(12)), TimeRange(time(13), time(0))]
    assert [week[d] for d in range(1, 7)] == [[]] * 6


@pytest.mark.parametrize(
    ("pair", "said"),
    [
        (["09:00", ""], "Tuesday: give each range a start and an end, like 09:00."),
        (["25:00", "26:00"], "Tuesday: “25:00” is not a time of day."),
        (["nine", "12:00"], "Tuesday: “nine” is not a time like 09:30."),
    ],
)
def test_a_bad_range_names_its_weekday(pair: list[str], said: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_week([[], [pair]] + [[] for _ in range(5)])
    assert err.value.message == said


@pytest.mark.parametrize("raw", ["", "2026-13-01", "2026-1-1x", "9" * 40, None, 7])
def test_a_bad_date_is_a_sentence(raw: object) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_day(raw)
    assert err.value.message in ("Choose a date.",) or err.value.message.endswith(
        "is not a date like 2026-12-24."
    )


def test_a_date_input_value_is_read() -> None:
    assert parse_day(" 2026-12-24 ") == date(2026, 12, 24)


def test_the_add_form_becomes_the_domains_fields_with_the_fee_in_minor_units() -> None:
    f = fields_from_form(FORM)
    assert (f.fee_minor, f.currency, f.slot_minutes, f.active) == (9050, "EUR", 30, True)
    assert fields_from_form({**FORM, "active": None}).active is False
    assert fields_from_form({**FORM, "fee": "5000", "currency": "JPY"}).fee_minor == 5000


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"fee": ""}, "Fee is required."),
        ({"fee": "9" * 30}, "That amount is too large."),
        ({"currency": "KRW"}, "Efoy does not take payments in KRW; choose one from the list."),
    ],
)
def test_a_bad_fee_or_currency_is_refused_with_a_sentence(change: dict, said: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        fields_from_form({**FORM, **change})
    assert err.value.message == said


def test_tampered_values_are_read_as_empty_or_impossible() -> None:
    f = fields_from_form({**FORM, "full_name": ["x"], "slot_minutes": "9" * 50})
    assert (f.full_name, f.slot_minutes) == ("", -1)  # the domain refuses both


@pytest.mark.parametrize(
    ("raw", "value"),
    [(3, 3), ("3", 3), (True, None), ("x", None), (10**40, None), ("9" * 40, None), (None, None)],
)
def test_ids_and_indexes_from_the_browser(raw: object, value: int | None) -> None:
    assert _small_int(raw) == value
