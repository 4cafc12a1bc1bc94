"""Money: minor units per Stripe's rules, Babel display."""

from __future__ import annotations

from decimal import Decimal

import pytest

from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.money import (
    ZERO_DECIMAL_CURRENCIES,
    currency_exponent,
    format_money,
    to_major,
    to_minor,
)


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("USD", 2), ("EUR", 2), ("ETB", 2), ("JPY", 0), ("KRW", 0), ("BHD", 3), ("jpy", 0)],
)
def test_currency_exponent(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


def test_stripe_zero_decimal_list_wins_over_babel() -> None:
    # Babel says ISK and HUF have no minor digits; Stripe wants them times 100.
    assert currency_exponent("ISK") == 2
    assert currency_exponent("HUF") == 2
    assert "JPY" in ZERO_DECIMAL_CURRENCIES and "USD" not in ZERO_DECIMAL_CURRENCIES


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("45.00", "USD", 4500),
        ("45", "USD", 4500),
        (Decimal("12.34"), "EUR", 1234),
        (5000, "JPY", 5000),
        ("5000", "JPY", 5000),
        ("1500.5", "ETB", 150050),
        ("0", "USD", 0),
        ("1.234", "BHD", 1234),
    ],
)
def test_to_minor(amount: object, currency: str, minor: int) -> None:
    assert to_minor(amount, currency) == minor  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("45.001", "USD"),
        ("1.5", "JPY"),
        ("0.0001", "BHD"),
        ("-1", "USD"),
        ("abc", "EUR"),
        ("NaN", "USD"),
        (True, "USD"),
    ],
)
def test_to_minor_refuses(amount: object, currency: str) -> None:
    with pytest.raises(ValidationFailed):
        to_minor(amount, currency)  # type: ignore[arg-type]


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        to_minor("1", "XYZ")
    with pytest.raises(ValidationFailed):
        format_money(100, "DOLLARS")


def test_to_major_keeps_the_currency_places() -> None:
    assert to_major(4500, "USD") == Decimal("45.00")
    assert str(to_major(4500, "USD")) == "45.00"
    assert str(to_major(5000, "JPY")) == "5000"
    assert str(to_major(150050, "ETB")) == "1500.50"
    assert to_minor(to_major(987654, "EUR"), "EUR") == 987654


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (4500, "USD", "$45.00"),
        (5000, "JPY", "¥5,000"),
        (1234, "EUR", "€12.34"),
        (150000, "ETB", "ETB1,500.00"),
        (123456789, "USD", "$1,234,567.89"),
        (0, "JPY", "¥0"),
        (12345, "HUF", "HUF123.45"),
    ],
)
def test_format_money(minor: int, currency: str, text: str) -> None:
    assert format_money(minor, currency) == text


def test_format_money_follows_the_locale() -> None:
    assert format_money(1234, "EUR", locale="de_DE") == "12,34\xa0€"
    assert format_money(5000, "JPY", locale="ja_JP") == "￥5,000"
