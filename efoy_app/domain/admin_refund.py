"""An admin's refund from a payment's page: the policy's amount suggested, the full refund and
any other amount one click away, and whether the refund also cancels the booking.

The rule that lives here: refunding the policy's amount needs no words (the policy is the
reason), any other amount needs a written reason, kept in the audit trail. Sending goes through
`refunds.refund_payment` (a refund only) or `booking_cancel.cancel_paid_booking` (cancel and
refund, on the clinic's side), so the ledger's guarantees hold either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from efoy_app.domain import booking_cancel
from efoy_app.domain.cancellation import quote_cancellation
from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.money import format_money
from efoy_app.domain.refunds import refund_payment, refundable_now
from efoy_app.domain.text import clean_text
from efoy_app.models import BOOKING_CONFIRMED, Booking, Payment, User, utcnow

BY_POLICY, FULL, OTHER = "policy", "full", "other"


@dataclass(frozen=True)
class RefundChoices:
    """What the form offers for this payment now."""

    currency: str
    left_minor: int  # everything still refundable
    policy_minor: int | None  # None: the booking is not an upcoming confirmed one
    policy_percent: int
    policy_reason: str
    can_cancel_booking: bool


def refund_choices(db: Session, payment: Payment) -> RefundChoices:
    booking = db.get(Booking, payment.booking_id)
    left = refundable_now(db, payment)
    upcoming = (
        booking is not None and booking.status == BOOKING_CONFIRMED and booking.starts_at > utcnow()
    )
    if not upcoming:
        return RefundChoices(payment.currency, left, None, 0, "", False)
    quote = quote_cancellation(db, booking)
    return RefundChoices(
        payment.currency, left, quote.refund_minor, quote.refund_percent, quote.reason, True
    )


def chosen_amount(choices: RefundChoices, choice: str, other_minor: int | None) -> int:
    """The amount a choice stands for (ValidationFailed when it cannot be refunded)."""
    if choice == BY_POLICY:
        if choices.policy_minor is None:
            raise ValidationFailed("No cancellation policy applies: the booking is not upcoming.")
        amount = choices.policy_minor
    elif choice == FULL:
        amount = choices.left_minor
    elif choice == OTHER:
        if other_minor is None:
            raise ValidationFailed("Write the amount to refund, e.g. 30.50.")
        amount = other_minor
    else:
        raise ValidationFailed("Choose what to refund.")
    if amount > choices.left_minor:
        raise ValidationFailed(
            f"A refund of {format_money(amount, choices.currency)} is more than the "
            f"{format_money(choices.left_minor, choices.currency)} left to refund on this payment."
        )
    return amount


def reason_for(choices: RefundChoices, amount_minor: int, reason: str) -> str:
    """The reason kept with the refund: the admin's words, or the policy's when the amount is
    the policy's; any other amount without words is refused."""
    reason = clean_text(reason)
    if reason:
        return reason
    if choices.policy_minor is not None and amount_minor == choices.policy_minor:
        return f"By the cancellation policy ({choices.policy_percent} %)."
    if choices.policy_minor is None:
        raise ValidationFailed("Say why you refund: the reason is kept in the audit trail.")
    raise ValidationFailed(
        f"{format_money(amount_minor, choices.currency)} is not the policy's "
        f"{format_money(choices.policy_minor, choices.currency)}: say why, the reason is kept in "
        "the audit trail."
    )


@dataclass(frozen=True)
class AdminRefundDone:
    message: str
    queued: bool


def refund_from_page(
    db: Session,
    *,
    payment: Payment,
    admin: User,
    choice: str,
    other_minor: int | None,
    reason: str,
    cancel_booking: bool,
) -> AdminRefundDone:
    """Refund as the admin chose, and cancel the booking too when asked (commits)."""
    choices = refund_choices(db, payment)
    amount = chosen_amount(choices, choice, other_minor)
    why = reason_for(choices, amount, reason)
    if cancel_booking:
        if not choices.can_cancel_booking:
            raise ValidationFailed("Only an upcoming confirmed booking can be cancelled.")
        outcome = booking_cancel.cancel_paid_booking(
            db, booking_id=payment.booking_id, actor=admin, reason=why,
            by=booking_cancel.BY_CLINIC, amount_minor=amount,
        )  # fmt: skip
        return AdminRefundDone(
            outcome.clinic_message + " The patient has been emailed.",
            outcome.queued,
        )
    if amount <= 0:
        raise ValidationFailed("A refund must be more than zero.")
    sent = refund_payment(
        db,
        payment=payment,
        amount_minor=None if choice == FULL else amount,
        reason=why,
        requested_by_user_id=admin.id,
    )
    return AdminRefundDone(sent.message, sent.queued)
