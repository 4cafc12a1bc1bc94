"""What Stripe says of refunds, applied to our ledger, and the payment's refunded total and
status that follow from the ledger.

Stripe is the truth for a refund once it has one: its status (a refund may fail days later), and
refunds made outside Efoy (the Dashboard), which are recorded too. Nothing here calls Stripe or
commits; `refunds` sends refunds, webhooks and reconciliation bring Stripe's answers here.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from efoy_app.domain import audit, messages
from efoy_app.domain.receipt_numbers import issue_note_number, issue_receipt_number
from efoy_app.models import (
    PAID_STATUSES,
    PAYMENT_PAID,
    PAYMENT_PARTIALLY_REFUNDED,
    PAYMENT_REFUNDED,
    REFUND_CANCELED,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUND_RESERVING,
    REFUND_SUCCEEDED,
    Payment,
    Refund,
    utcnow,
)


def _status_of(obj: dict[str, Any]) -> str:
    status = obj.get("status")
    if status in (REFUND_SUCCEEDED, REFUND_FAILED, REFUND_CANCELED):
        return status
    return REFUND_PENDING


def apply_stripe_refund(db: Session, refund: Refund, obj: dict[str, Any], actor: str) -> None:
    """Copy Stripe's view of one refund onto our row (no commit)."""
    new_status = _status_of(obj)
    went_through = new_status == REFUND_SUCCEEDED and refund.status != REFUND_SUCCEEDED
    refund.stripe_refund_id = obj["id"]
    audit.change_status(
        db, refund, new_status, actor=actor, entity_type="refund", reason=obj.get("failure_reason")
    )
    refund.failure_reason = obj.get("failure_reason")
    refund.updated_at = utcnow()
    db.add(refund)
    if went_through:
        _issue_refund_note(db, refund)


def _issue_refund_note(db: Session, refund: Refund) -> None:
    """A refund that went through gets its numbered note, emailed to the patient."""
    payment = db.get(Payment, refund.payment_id)
    if payment is not None and payment.receipt_number is None:
        issue_receipt_number(db, payment)  # paid before receipts were numbered
    issue_note_number(db, refund)
    db.flush()
    messages.refund_succeeded(db, refund)


def sync_refunds(
    db: Session, payment: Payment, stripe_refunds: list[dict[str, Any]], actor: str
) -> None:
    """Apply every refund Stripe knows for this payment, whatever order the events came in."""
    for obj in stripe_refunds:
        row = db.exec(select(Refund).where(Refund.stripe_refund_id == obj["id"])).first()
        if row is None:
            local_id = (obj.get("metadata") or {}).get("efoy_refund_id")
            if local_id and str(local_id).isdigit():
                row = db.get(Refund, int(local_id))
                if row is not None and row.payment_id != payment.id:
                    row = None
        if row is None:
            # A refund made outside Efoy (e.g. Stripe's Dashboard): record it too.
            row = Refund(
                payment_id=payment.id,
                amount_minor=int(obj["amount"]),
                currency=str(obj["currency"]).upper(),
                reason=f"Refunded in Stripe ({obj.get('reason') or 'no reason given'})",
                status=REFUND_PENDING,
            )
            db.add(row)
            db.flush()
            audit.record(
                db,
                actor=actor,
                entity_type="refund",
                entity_id=row.id,
                action="refund_seen_in_stripe",
                details={"stripe_refund_id": obj["id"], "amount_minor": int(obj["amount"])},
            )
        apply_stripe_refund(db, row, obj, actor)
    db.flush()
    recompute_payment(db, payment, actor)


def recompute_payment(db: Session, payment: Payment, actor: str) -> None:
    """The payment's refunded total and status follow from its refund rows."""
    refunded = db.exec(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.payment_id == payment.id,
            col(Refund.status).in_(REFUND_RESERVING),
            col(Refund.stripe_refund_id).is_not(None),
        )
    ).one()
    payment.amount_refunded_minor = int(refunded)
    if payment.status in PAID_STATUSES:
        if payment.amount_refunded_minor >= payment.amount_minor:
            status = PAYMENT_REFUNDED
        elif payment.amount_refunded_minor > 0:
            status = PAYMENT_PARTIALLY_REFUNDED
        else:
            status = PAYMENT_PAID
        audit.change_status(
            db, payment, status, actor=actor, entity_type="payment", reason="refunds changed"
        )
    payment.updated_at = utcnow()
    db.add(payment)
