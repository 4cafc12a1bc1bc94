"""Properties of money: what `format_money` prints, `parse_amount` reads back, for every currency.

"Every currency" is the sandbox's list (the currencies Stripe presents in), so a currency a doctor
can charge in cannot format to something the refund form then misreads. Runs are derandomized so
CI sees the same examples every time; the explicit examples pin the zero- and three-decimal cases.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.money import (
    MAX_MINOR,
    currency_exponent,
    format_money,
    parse_amount,
    to_major,
    to_minor,
)
from stripe_sandbox.money import SUPPORTED, THREE_DECIMAL, ZERO_DECIMAL
from stripe_sandbox.money import exponent as sandbox_exponent

CURRENCIES = sorted(code.upper() for code in SUPPORTED)
LOCALES = ["en_US", "de_DE", "fr_FR", "am_ET", "ja_JP"]
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

currencies = st.sampled_from(CURRENCIES)
locales = st.sampled_from(LOCALES)
# Small amounts, amounts near group boundaries and amounts up to the int64 limit.
minor_amounts = st.one_of(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=MAX_MINOR),
)


def test_the_sandbox_list_has_zero_and_three_decimal_currencies() -> None:
    # The properties below are only as good as the list they draw from.
    assert {"JPY", "KRW", "BHD", "KWD", "JOD", "USD", "HUF", "ETB"} <= set(CURRENCIES)
    assert len(CURRENCIES) == len(SUPPORTED) > 130


@pytest.mark.parametrize("currency", CURRENCIES)
def test_app_and_sandbox_agree_on_decimals(currency: str) -> None:
    assert currency_exponent(currency) == sandbox_exponent(currency.lower())


@PROPERTY
@given(minor=minor_amounts, currency=currencies, locale=locales)
@example(minor=500000, currency="JPY", locale="de_DE")
@example(minor=1234567, currency="BHD", locale="fr_FR")
@example(minor=1234567, currency="KWD", locale="am_ET")
@example(minor=450000, currency="HUF", locale="ja_JP")
@example(minor=MAX_MINOR, currency="KRW", locale="en_US")
@example(minor=MAX_MINOR, currency="USD", locale="fr_FR")
@example(minor=0, currency="EUR", locale="de_DE")
def test_format_then_parse_gives_the_same_minor_amount(
    minor: int, currency: str, locale: str
) -> None:
    shown = format_money(minor, currency, locale)
    assert parse_amount(shown, currency, locale) == minor, shown


@PROPERTY
@given(minor=minor_amounts, currency=currencies, locale=locales)
def test_the_plain_number_people_type_parses_too(minor: int, currency: str, locale: str) -> None:
    # No symbol, no grouping: "1234.56" in en_US, "1234,56" in de_DE, "1234" for JPY.
    major = to_major(minor, currency)
    typed = f"{major:f}"
    if locale in ("de_DE", "fr_FR"):
        typed = typed.replace(".", ",")
    assert parse_amount(typed, currency, locale) == minor


@PROPERTY
@given(minor=minor_amounts, currency=currencies)
def test_to_major_then_to_minor_round_trips(minor: int, currency: str) -> None:
    major = to_major(minor, currency)
    assert major.as_tuple().exponent == -currency_exponent(currency)
    assert to_minor(major, currency) == minor
    assert to_minor(str(major), currency) == minor


@PROPERTY
@given(
    major=st.decimals(min_value=0, max_value=10**12, places=3, allow_nan=False),
    currency=currencies,
)
def test_to_minor_accepts_exactly_the_amounts_the_currency_can_hold(
    major: Decimal, currency: str
) -> None:
    places = currency_exponent(currency)
    if major == major.quantize(Decimal(1).scaleb(-places)):
        assert to_major(to_minor(major, currency), currency) == major
    else:
        with pytest.raises(ValidationFailed):
            to_minor(major, currency)


@PROPERTY
@given(text=st.text(max_size=80), currency=currencies, locale=locales)
@example(text="1e999999999", currency="USD", locale="en_US")
@example(text="NaN", currency="USD", locale="en_US")
@example(text="-Infinity", currency="EUR", locale="de_DE")
@example(text="9" * 64, currency="JPY", locale="ja_JP")
@example(text="\u0661\u0662\u0663", currency="USD", locale="en_US")  # Arabic-Indic digits
@example(text="\ufdfa", currency="USD", locale="en_US")  # one character, 18 after NFKC
@example(text="1,,2", currency="USD", locale="en_US")
@example(text=",", currency="EUR", locale="fr_FR")
def test_parse_refuses_anything_else_only_with_validation_failed(
    text: str, currency: str, locale: str
) -> None:
    try:
        minor = parse_amount(text, currency, locale)
    except ValidationFailed as exc:
        assert exc.message
    else:
        assert 0 <= minor <= MAX_MINOR


@PROPERTY
@given(
    text=st.text(alphabet="0123456789.,  \u00a0\u202f$€¥-+eE", max_size=24),
    currency=currencies,
    locale=locales,
)
def test_whatever_parses_formats_back_to_the_same_amount(
    text: str, currency: str, locale: str
) -> None:
    """Nothing is read in a way the page would then show differently (no silent guessing)."""
    try:
        minor = parse_amount(text, currency, locale)
    except ValidationFailed:
        return
    assert parse_amount(format_money(minor, currency, locale), currency, locale) == minor


@pytest.mark.parametrize(
    ("text", "currency", "locale", "minor"),
    [
        ("30.50", "USD", "en_US", 3050),
        ("$1,234.56", "USD", "en_US", 123456),
        ("30,50 €", "EUR", "de_DE", 3050),
        ("1.234", "JPY", "de_DE", 1234),
        ("1\u202f234,56", "EUR", "fr_FR", 123456),
        ("1 234,56", "EUR", "fr_FR", 123456),
        ("\uffe55,000", "JPY", "ja_JP", 5000),
        ("\uff11\uff12\uff13", "JPY", "ja_JP", 123),  # fullwidth digits from an IME
        ("1.234", "BHD", "en_US", 1234),
        ("ብር45.00", "ETB", "am_ET", 4500),
        ("92233720368547758.07", "USD", "en_US", MAX_MINOR),
    ],
)
def test_parse_amount_examples(text: str, currency: str, locale: str, minor: int) -> None:
    assert parse_amount(text, currency, locale) == minor


@pytest.mark.parametrize(
    ("text", "currency", "locale", "message"),
    [
        ("30,50", "USD", "en_US", "ambiguous"),
        ("30.50", "EUR", "de_DE", "ambiguous"),
        ("1,234", "JPY", "de_DE", "JPY amounts have no decimals"),
        ("1.5", "JPY", "en_US", "JPY amounts have no decimals"),
        ("30.505", "USD", "en_US", "at most 2 decimal places"),
        ("1.2345", "BHD", "en_US", "at most 3 decimal places"),
        ("-5", "USD", "en_US", "must not be negative"),
        ("(5.00)", "USD", "en_US", "must not be negative"),
        ("1e5", "USD", "en_US", "not an amount"),
        ("NaN", "USD", "en_US", "not an amount"),
        ("inf", "USD", "en_US", "not an amount"),
        ("€30", "USD", "en_US", "not an amount"),
        ("", "USD", "en_US", "Enter an amount"),
        ("92233720368547758.08", "USD", "en_US", "too large"),
        ("1" * 65, "USD", "en_US", "too long"),
    ],
)
def test_parse_amount_refuses_with_a_clear_message(
    text: str, currency: str, locale: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_amount(text, currency, locale)
    assert message in raised.value.message


def test_parse_amount_refuses_an_unknown_currency_or_locale() -> None:
    with pytest.raises(ValidationFailed, match="Unknown currency"):
        parse_amount("5", "XYZ")
    with pytest.raises(ValidationFailed, match="Unknown locale"):
        parse_amount("5", "USD", "xx_NOPE")


def test_sandbox_lists_are_in_the_app_list() -> None:
    assert {c.upper() for c in ZERO_DECIMAL} <= set(CURRENCIES)
    assert {c.upper() for c in THREE_DECIMAL} <= set(CURRENCIES)
