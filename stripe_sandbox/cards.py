"""Stripe's test cards and test PaymentMethods, and what each one does when charged.

Numbers and messages from https://docs.stripe.com/testing. Card form validation mirrors what
Stripe.js checks in the browser before anything reaches Stripe.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from .clock import Clock


@dataclass(frozen=True)
class Behaviour:
    """What charging a card does: succeed, decline (with Stripe's codes), or ask for 3DS."""

    result: str  # "succeed" | "decline" | "authenticate"
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


SUCCEED = Behaviour("succeed")
AUTHENTICATE = Behaviour("authenticate")
DECLINED = "Your card was declined."

TEST_CARDS: dict[str, Behaviour] = {
    "4242424242424242": SUCCEED,
    "4000056655665556": SUCCEED,
    "5555555555554444": SUCCEED,
    "2223003122003222": SUCCEED,
    "378282246310005": SUCCEED,
    "6011111111111117": SUCCEED,
    "4000000000000002": Behaviour("decline", "card_declined", "generic_decline", DECLINED),
    "4000000000009995": Behaviour(
        "decline", "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000000000009987": Behaviour("decline", "card_declined", "lost_card", DECLINED),
    "4000000000009979": Behaviour("decline", "card_declined", "stolen_card", DECLINED),
    "4000000000000069": Behaviour(
        "decline", "expired_card", "expired_card", "Your card has expired."
    ),
    "4000000000000127": Behaviour(
        "decline", "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."
    ),
    "4000000000000119": Behaviour(
        "decline",
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "4000002500003155": AUTHENTICATE,
    "4000002760003184": AUTHENTICATE,
    "4000000000003220": AUTHENTICATE,
}

# Stripe's test PaymentMethod ids, usable with `payment_method=` on the API.
TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_threeDSecure2Required": "4000000000003220",
}

NON_TEST_CARD = Behaviour(
    "decline",
    "card_declined",
    "test_mode_live_card",
    "Your card was declined. Your request was in test mode, but used a non test card. "
    "For a list of valid test cards, visit: https://stripe.com/docs/testing.",
)


@dataclass
class CardForm:
    """What a card form (hosted page or the `/_sandbox/.../pay` call) submits, as typed."""

    number: str = ""
    expiry: str = ""
    cvc: str = ""
    name: str = ""
    email: str = ""


class CardInputError(ValueError):
    """A card form error Stripe.js shows before submitting: nothing is charged."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Card:
    number: str
    exp_month: int
    exp_year: int
    cvc: str
    name: str | None = None
    email: str | None = None

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def brand(self) -> str:
        return brand(self.number)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.number.encode()).hexdigest()[:16]

    @property
    def behaviour(self) -> Behaviour:
        return behaviour_of(self.number)


def behaviour_of(number: str) -> Behaviour:
    """Any number that is not a Stripe test card is declined, as in Stripe's test mode."""
    return TEST_CARDS.get(number, NON_TEST_CARD)


def brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in ("34", "37"):
        return "amex"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4] or 0) <= 2720:
        return "mastercard"
    if number.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def luhn_ok(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def parse_card(
    number: str,
    expiry: str,
    cvc: str,
    clock: Clock,
    *,
    name: str | None = None,
    email: str | None = None,
) -> Card:
    """Validate a card as typed in a form ("4242 4242 4242 4242", "12 / 34", "123")."""
    digits = "".join(ch for ch in number if ch not in " -")
    if not digits:
        raise CardInputError("incomplete_number", "Your card number is incomplete.", "card_number")
    if not digits.isdigit() or not 13 <= len(digits) <= 19 or not luhn_ok(digits):
        raise CardInputError("invalid_number", "Your card number is invalid.", "card_number")
    exp_month, exp_year = parse_expiry(expiry, clock)
    cvc = cvc.strip()
    wanted = 4 if brand(digits) == "amex" else 3
    if len(cvc) != wanted or not cvc.isdigit():
        raise CardInputError("incomplete_cvc", "Your card's security code is incomplete.", "cvc")
    return Card(digits, exp_month, exp_year, cvc, name or None, email or None)


def parse_expiry(expiry: str, clock: Clock) -> tuple[int, int]:
    text = expiry.replace(" ", "")
    month_text, _, year_text = text.partition("/")
    if not year_text and len(text) in (4, 6):
        month_text, year_text = text[:2], text[2:]
    if not (month_text.isdigit() and year_text.isdigit() and len(year_text) in (2, 4)):
        raise CardInputError(
            "incomplete_expiry", "Your card's expiration date is incomplete.", "expiry"
        )
    month, year = int(month_text), int(year_text)
    if year < 100:
        year += 2000
    if not 1 <= month <= 12:
        raise CardInputError(
            "invalid_expiry_month", "Your card's expiration date is invalid.", "expiry"
        )
    today = time.gmtime(clock.time())
    if (year, month) < (today.tm_year, today.tm_mon):
        raise CardInputError(
            "invalid_expiry_year", "Your card's expiration year is in the past.", "expiry"
        )
    return month, year


def test_payment_method_card(payment_method: str) -> Card | None:
    """`pm_card_visa` and friends stand for a test card number with a valid expiry."""
    number = TEST_PAYMENT_METHODS.get(payment_method)
    if number is None:
        return None
    return Card(number, 12, 2034, "1234" if brand(number) == "amex" else "123")
