"""The admin refund form's rules (domain.admin_refund): which amount each choice stands for, and
that only the policy's amount may go without a written reason."""

from __future__ import annotations

import pytest

from efoy_app.domain.admin_refund import (
    BY_POLICY,
    FULL,
    OTHER,
    RefundChoices,
    chosen_amount,
    reason_for,
)
from efoy_app.domain.errors import ValidationFailed

UPCOMING = RefundChoices("EUR", 9000, 4500, 50, "The appointment is in 30 hours.", True)
PAST = RefundChoices("JPY", 5000, None, 0, "", False)


def test_each_choice_stands_for_its_amount() -> None:
    assert chosen_amount(UPCOMING, BY_POLICY, None) == 4500
    assert chosen_amount(UPCOMING, FULL, None) == 9000
    assert chosen_amount(UPCOMING, OTHER, 1234) == 1234
    assert chosen_amount(PAST, FULL, None) == 5000


@pytest.mark.parametrize(
    ("choices", "choice", "other", "message"),
    [
        (PAST, BY_POLICY, None, "No cancellation policy applies: the booking is not upcoming."),
        (UPCOMING, OTHER, None, "Write the amount to refund, e.g. 30.50."),
        (UPCOMING, "half", None, "Choose what to refund."),
        (UPCOMING, OTHER, 9001, "A refund of €90.01 is more than the €90.00 left to refund on "
         "this payment."),
    ],
)  # fmt: skip
def test_a_choice_that_cannot_be_refunded_says_why(choices, choice, other, message) -> None:
    with pytest.raises(ValidationFailed) as caught:
        chosen_amount(choices, choice, other)
    assert caught.value.message == message


def test_the_policys_amount_needs_no_words_any_other_does() -> None:
    assert reason_for(UPCOMING, 4500, "") == "By the cancellation policy (50 %)."
    assert reason_for(UPCOMING, 4500, "  patient asked  ") == "patient asked"
    assert reason_for(UPCOMING, 9000, "doctor was ill") == "doctor was ill"
    for amount in (9000, 4499, 4501, 1):
        with pytest.raises(ValidationFailed) as caught:
            reason_for(UPCOMING, amount, "   ")
        assert "is not the policy's €45.00: say why" in caught.value.message
    with pytest.raises(ValidationFailed) as caught:
        reason_for(PAST, 5000, "")
    assert caught.value.message == "Say why you refund: the reason is kept in the audit trail."
