"""Refunds: full or partial, never more than what is left on the charge; optionally failing later.

A refund succeeds at once (`refund.created`, `charge.refunded`). After
`POST /_sandbox/refunds/fail_next`, the next refund fails a moment later, as a closed card
account makes a real one fail: `refund.updated`, `charge.refund.updated`, `refund.failed`, and
the charge's `amount_refunded` given back.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from . import objects
from .errors import invalid_request, no_such
from .events import emit
from .faults import RefundFailure
from .forms import Params
from .money import format_amount

if TYPE_CHECKING:
    from .runtime import Sandbox

REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CREATE_PARAMS = {
    "charge",
    "payment_intent",
    "amount",
    "reason",
    "metadata",
    "expand",
    "instructions_email",
    "refund_application_fee",
    "reverse_transfer",
    "origin",
}


def create(sb: Sandbox, params: Params) -> dict[str, Any]:
    params.reject_unknown(CREATE_PARAMS)
    charge = _charge_to_refund(sb, params)
    amount = params.int("amount", minimum=1)
    reason = params.enum("reason", REASONS)
    metadata = params.metadata()
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise invalid_request(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    if amount is None:
        amount = remaining
    if amount > remaining:
        currency = charge["currency"]
        if charge["amount_refunded"] == 0:
            message = (
                f"Refund amount ({format_amount(amount, currency)}) is greater than "
                f"charge amount ({format_amount(charge['amount'], currency)})"
            )
        else:
            message = (
                f"Refund amount ({format_amount(amount, currency)}) is greater than "
                f"unrefunded amount on charge ({format_amount(remaining, currency)})"
            )
        raise invalid_request(message, param="amount")
    failure = sb.faults.take_refund()
    refund = objects.refund(
        charge=charge,
        amount=amount,
        reason=reason,
        metadata=metadata,
        created=sb.clock.now(),
        status=failure.initial_status if failure else "succeeded",
    )
    sb.store.put(refund)
    sb.store.put(
        objects.balance_transaction(
            transaction_id=refund["balance_transaction"],
            amount=-amount,
            currency=charge["currency"],
            source=refund["id"],
            type_="refund",
            created=refund["created"],
            description="REFUND",
        )
    )
    _add_refunded(charge, amount)
    sb.store.put(charge)
    emit(sb, "charge.refunded", charge)
    emit(sb, "refund.created", refund)
    if failure is not None:
        sb.spawn(_fail_later(sb, refund["id"], failure))
    return refund


def _charge_to_refund(sb: Sandbox, params: Params) -> dict[str, Any]:
    charge_id = params.str("charge")
    intent_id = params.str("payment_intent")
    if charge_id is None and intent_id is None:
        raise invalid_request(
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            param="charge",
            code="parameter_missing",
        )
    if intent_id is not None:
        intent = sb.store.get(intent_id, "payment_intent")
        if intent is None:
            raise no_such("payment_intent", intent_id, param="payment_intent")
        if intent["status"] != "succeeded":
            raise invalid_request(
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        if charge_id is not None and charge_id != intent["latest_charge"]:
            raise invalid_request(
                f"Charge {charge_id} does not belong to PaymentIntent {intent_id}.", param="charge"
            )
        charge_id = intent["latest_charge"]
    charge = sb.store.get(charge_id or "", "charge")
    if charge is None:
        raise no_such("charge", charge_id or "", param="charge")
    if charge["status"] != "succeeded":
        raise invalid_request(
            f"Charge {charge['id']} has not succeeded and cannot be refunded.", param="charge"
        )
    return charge


def _add_refunded(charge: dict[str, Any], amount: int) -> None:
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]


async def _fail_later(sb: Sandbox, refund_id: str, failure: RefundFailure) -> None:
    await asyncio.sleep(failure.after_seconds)
    refund = sb.store.get(refund_id, "refund")
    charge = sb.store.get(refund["charge"], "charge") if refund else None
    if refund is None or charge is None:
        return
    previous = {"status": refund["status"], "failure_reason": None}
    refund.update(status="failed", failure_reason=failure.failure_reason)
    sb.store.put(refund)
    _add_refunded(charge, -refund["amount"])
    sb.store.put(charge)
    emit(sb, "refund.updated", refund, previous=previous)
    emit(sb, "charge.refund.updated", refund, previous=previous)
    emit(sb, "refund.failed", refund)


def update(sb: Sandbox, refund: dict[str, Any], params: Params) -> dict[str, Any]:
    params.reject_unknown({"metadata", "expand"})
    refund["metadata"] = params.metadata(refund["metadata"])
    return sb.store.put(refund)
