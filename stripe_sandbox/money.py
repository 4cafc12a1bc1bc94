"""Currencies as Stripe treats them: minor units, zero-decimal currencies, minimum charges."""

from __future__ import annotations

from .errors import invalid_request

# https://docs.stripe.com/currencies#zero-decimal and #three-decimal
ZERO_DECIMAL = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

# Stripe's presentment currencies (https://docs.stripe.com/currencies), lower-case.
SUPPORTED = frozenset(
    """
    aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn bzd
    cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq
    gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd
    lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk
    php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs tnd top
    try ttd twd tzs uah ugx usd uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw
""".split()  # noqa: SIM905 (a word list reads better than 139 quoted strings)
)
SUPPORTED = SUPPORTED | ZERO_DECIMAL

# Minimum charge amounts in minor units
# (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
MINIMUM = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "chf": 50,
    "cad": 50,
    "aud": 50,
    "nzd": 50,
    "jpy": 50,
    "sek": 300,
    "nok": 300,
    "dkk": 250,
    "pln": 200,
    "czk": 1500,
    "huf": 17500,
    "inr": 50,
    "sgd": 50,
    "hkd": 400,
    "mxn": 1000,
    "brl": 50,
    "aed": 200,
    "ron": 200,
    "bgn": 100,
}
MAXIMUM = 99_999_999

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹", "krw": "₩"}


def exponent(currency: str) -> int:
    """How many minor-unit digits: JPY amounts are already whole yen."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def format_amount(amount: int, currency: str) -> str:
    """ "$50.00", "¥5,000", "CHF 50.00": how a patient reads a price."""
    digits = exponent(currency)
    major = amount / 10**digits
    number = f"{major:,.{digits}f}"
    symbol = SYMBOLS.get(currency)
    if symbol:
        return f"-{symbol}{number[1:]}" if number.startswith("-") else f"{symbol}{number}"
    return f"{currency.upper()} {number}"


def check_currency(currency: str, param: str = "currency") -> str:
    currency = currency.lower()
    if currency not in SUPPORTED:
        raise invalid_request(
            f"Invalid currency: {currency}. Stripe currently supports these currencies: "
            + ", ".join(sorted(SUPPORTED)),
            param=param,
        )
    return currency


def check_amount(amount: int, currency: str, param: str = "amount") -> None:
    """Stripe refuses charges below the currency's minimum or above 8 digits."""
    minimum = MINIMUM.get(currency, 1)
    if amount < minimum:
        raise invalid_request(
            f"Amount must be at least {format_amount(minimum, currency)} {currency}",
            param=param,
            code="amount_too_small",
        )
    if amount > MAXIMUM:
        raise invalid_request(
            f"Amount must be no more than {format_amount(MAXIMUM, currency)}",
            param=param,
            code="amount_too_large",
        )
