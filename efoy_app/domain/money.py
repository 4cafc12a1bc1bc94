"""Money as integer minor units beside an ISO 4217 currency, converted and shown one way only.

The minor unit is Stripe's, because amounts go to Stripe unchanged: JPY and the other
zero-decimal currencies are not multiplied by 100, three-decimal currencies (BHD, KWD...) keep
three digits, and everything else has two, even where Babel says 0 (Stripe wants ISK or HUF
amounts times 100). Display goes through Babel so symbols and grouping follow the locale.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    NumberFormatError,
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    list_currencies,
    parse_decimal,
)

from efoy_app.domain.errors import ValidationFailed

# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL_CURRENCIES: frozenset[str] = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
        "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
_KNOWN_CURRENCIES = frozenset(list_currencies())


def normalize_currency(currency: str) -> str:
    """Upper-case ISO code; refuses what is not a currency Babel knows."""
    code = (currency or "").strip().upper()
    if len(code) != 3 or code not in _KNOWN_CURRENCIES:
        raise ValidationFailed(f"Unknown currency: {currency!r}.")
    return code


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point in the minor unit Stripe expects for this currency."""
    code = normalize_currency(currency)
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    return 3 if get_currency_precision(code) == 3 else 2


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """Major units (e.g. "45.00" USD) to minor units (4500); refuses sub-minor fractions."""
    if isinstance(amount, bool):
        raise ValidationFailed("Amount must be a number.")
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"Not an amount: {amount!r}.") from None
    if not value.is_finite():
        raise ValidationFailed("Amount must be a finite number.")
    if value < 0:
        raise ValidationFailed("Amount must not be negative.")
    exponent = currency_exponent(currency)
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValidationFailed(
            f"{normalize_currency(currency)} amounts have at most {exponent} decimal places."
        )
    return int(scaled)


def to_major(minor: int, currency: str) -> Decimal:
    """Minor units to a Decimal with exactly the currency's number of places (4500 → 45.00)."""
    exponent = currency_exponent(currency)
    return Decimal(int(minor)).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def format_money(minor: int, currency: str, locale: str = "en_US") -> str:
    """Human display: 4500 USD → "$45.00", 5000 JPY → "¥5,000", 1234 EUR → "€12.34"."""
    code = normalize_currency(currency)
    major = to_major(minor, code)
    # Babel's own digits unless Stripe's minor unit is finer (e.g. HUF): never hide a fraction.
    babel_digits = get_currency_precision(code)
    return format_currency(
        major, code, locale=locale, currency_digits=babel_digits >= currency_exponent(code)
    )


# --- amounts a person types --------------------------------------------------------------------

MAX_MINOR = 2**63 - 1  # the largest amount a BIGINT column (and Stripe's int64) can hold
_MAX_TYPED_LENGTH = 64
_NEGATIVE_MARKS = ("-", "\u2212", "(")  # hyphen-minus, minus sign, accounting parentheses
_SPACES = frozenset(" \u00a0\u2007\u2009\u202f")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _strip_currency_mark(text: str, code: str, locale: Locale) -> str:
    """Drop one leading or trailing mark of *this* currency ("$", "€", "USD", "ብር")."""
    marks = {code, _nfkc(get_currency_symbol(code, locale=locale))}
    for mark in sorted(marks, key=len, reverse=True):
        if text[: len(mark)].upper() == mark.upper():
            return text[len(mark) :].strip()
        if text[-len(mark) :].upper() == mark.upper():
            return text[: -len(mark)].strip()
    return text


def parse_amount(text: str, currency: str, locale: str = "en_US") -> int:
    """A typed amount ("30.50", "30,50 €", "¥5,000") to minor units, by the currency's rules.

    The one place that reads amounts people type (e.g. an admin's refund form): the locale decides
    which of "." and "," groups thousands and which starts the decimals, the currency decides how
    many decimals there may be. Anything that could be read two ways ("30,50" in en_US, "1,234"
    JPY in de_DE) is refused with a message saying what to type, never guessed; so are negatives,
    exponents, NaN/infinity, another currency's symbol and amounts above MAX_MINOR. Everything
    refused raises ValidationFailed. Accepts whatever `format_money` prints for the same locale.
    """
    if not isinstance(text, str):
        raise ValidationFailed("Enter the amount as text, e.g. 30.50.")
    code = normalize_currency(currency)
    try:
        loc = Locale.parse(locale)
    except (ValueError, TypeError, UnknownLocaleError):
        raise ValidationFailed(f"Unknown locale: {locale!r}.") from None
    if len(text) > _MAX_TYPED_LENGTH:
        raise ValidationFailed("That amount is too long.")
    # NFKC: fullwidth digits typed with a Japanese IME become ASCII, no-break spaces become spaces.
    typed = _nfkc(text).strip()
    if not typed:
        raise ValidationFailed("Enter an amount.")
    if any(mark in typed for mark in _NEGATIVE_MARKS):
        raise ValidationFailed("The amount must not be negative.")
    number = _strip_currency_mark(typed, code, loc)
    decimal_symbol = _nfkc(get_decimal_symbol(loc))
    group_symbol = _nfkc(get_group_symbol(loc))
    if group_symbol.strip() == "":
        group_symbol = " "
    allowed = set("0123456789") | {decimal_symbol, group_symbol}
    if not number or not set(number) <= allowed or not any(c.isdigit() for c in number):
        raise ValidationFailed(
            f"{text.strip()!r} is not an amount in {code}: use digits only, e.g. "
            f"{format_decimal(to_major(123456, code), locale=loc)}."
        )
    if number.count(decimal_symbol) > 1:
        raise ValidationFailed(f"{text.strip()!r} has more than one {decimal_symbol!r}.")
    exponent = currency_exponent(code)
    fraction = number.partition(decimal_symbol)[2] if decimal_symbol in number else None
    if fraction is not None and exponent == 0:
        raise ValidationFailed(
            f"{text.strip()!r} is ambiguous: {code} amounts have no decimals, and in this locale "
            f"{decimal_symbol!r} starts decimals. Type the whole amount without separators, "
            f"e.g. 1234."
        )
    if fraction is not None and len(fraction) > exponent:
        raise ValidationFailed(
            f"{code} amounts have at most {exponent} decimal places; {text.strip()!r} has "
            f"{len(fraction)}."
        )
    babel_text = number.replace(group_symbol, get_group_symbol(loc))
    babel_text = babel_text.replace(decimal_symbol, get_decimal_symbol(loc))
    try:
        value = parse_decimal(babel_text, locale=loc, strict=True)
    except NumberFormatError as exc:
        suggestions = " or ".join(repr(s) for s in getattr(exc, "suggestions", None) or [])
        raise ValidationFailed(
            f"{text.strip()!r} is ambiguous here: {group_symbol.strip() or 'a space'!r} groups "
            f"thousands and {decimal_symbol!r} starts decimals."
            + (f" Did you mean {suggestions}?" if suggestions else "")
        ) from None
    minor = to_minor(value, code)
    if minor > MAX_MINOR:
        raise ValidationFailed("That amount is too large.")
    return minor
