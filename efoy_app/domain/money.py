"""Money as integer minor units beside an ISO 4217 currency, converted and shown one way only.

The minor unit is Stripe's, because amounts go to Stripe unchanged: JPY and the other
zero-decimal currencies are not multiplied by 100, three-decimal currencies (BHD, KWD...) keep
three digits, and everything else has two, even where Babel says 0 (Stripe wants ISK or HUF
amounts times 100). Display goes through Babel so symbols and grouping follow the locale.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision, list_currencies

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
