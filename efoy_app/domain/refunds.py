"""The refund ledger: one row per Stripe refund, and the rule that the total refunded never
exceeds what was paid.

A refund is written in two steps: `create_refund_row` reserves the amount in our database (in the
caller's transaction), then `submit_refund` asks Stripe with an idempotency key derived from the
row, so a retry after an outage never refunds twice. `sync_refunds` applies what Stripe reports
(webhooks, reconciliation), including refunds made elsewhere and refunds that fail later.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from efoy_app.domain import audit
from efoy_app.domain.errors import Conflict, DomainError, NotFound, ValidationFailed
from efoy_app.domain.money import format_money
from efoy_app.domain.stripe_gateway import call, get_stripe, to_dict
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import (
    PAYMENT_PAID,
    PAYMENT_PARTIALLY_REFUNDED,
    PAYMENT_REFUNDED,
    REFUND_CANCELED,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUND_SUCCEEDED,
    Payment,
    Refund,
    utcnow,
)

log = get_logger("refunds")
RESERVING = (REFUND_PENDING, REFUND_SUCCEEDED)
STRIPE_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def refundable_minor(db: Session, payment: Payment) -> int:
    """What is left to refund: paid minus every refund that is not failed or canceled."""
    reserved = db.exec(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.payment_id == payment.id, col(Refund.status).in_(RESERVING)
        )
    ).one()
    return payment.amount_minor - int(reserved)


def create_refund_row(
    db: Session,
    *,
    payment: Payment,
    amount_minor: int,
    reason: str,
    requested_by_user_id: int | None,
    actor: str,
) -> Refund:
    """Reserve a refund in the ledger (no commit, no network)."""
    if payment.status not in (PAYMENT_PAID, PAYMENT_PARTIALLY_REFUNDED):
        raise Conflict(f"Only a paid payment can be refunded; this one is {payment.status}.")
    if amount_minor <= 0:
        raise ValidationFailed("A refund must be more than zero.")
    left = refundable_minor(db, payment)
    if amount_minor > left:
        raise ValidationFailed(
            f"A refund of {format_money(amount_minor, payment.currency)} is more than the "
            f"{format_money(left, payment.currency)} left to refund on this payment.",
            code="refund_exceeds_payment",
        )
    refund = Refund(
        payment_id=payment.id,
        amount_minor=amount_minor,
        currency=payment.currency,
        reason=reason[:500],
        requested_by_user_id=requested_by_user_id,
    )
    db.add(refund)
    db.flush()
    audit.record(
        db,
        actor=actor,
        entity_type="refund",
        entity_id=refund.id,
        action="refund_requested",
        to_status=REFUND_PENDING,
        reason=reason[:500],
        details={"payment_id": payment.id, "amount_minor": amount_minor},
    )
    return refund


def submit_refund(db: Session, refund_id: int) -> Refund:
    """Ask Stripe for a reserved refund; idempotent by the row's id. Commits."""
    refund = db.get(Refund, refund_id)
    if refund is None:
        raise NotFound("Refund not found.")
    if refund.stripe_refund_id is not None:
        return refund
    payment = db.get(Payment, refund.payment_id)
    target = payment.stripe_payment_intent_id
    params: dict[str, Any] = {
        "amount": refund.amount_minor,
        "metadata": {"efoy_refund_id": str(refund.id), "payment_id": str(payment.id)},
    }
    if target:
        params["payment_intent"] = target
    else:
        params["charge"] = payment.stripe_charge_id
    rid = refund.id
    key = f"efoy-refund-{rid}-{int(refund.created_at.timestamp() * 1_000_000)}"
    db.rollback()  # no transaction across the network call
    obj = to_dict(
        call(
            "refunds.create",
            lambda: get_stripe().v1.refunds.create(params, options={"idempotency_key": key}),
            refund_id=rid,
            payment_id=params["metadata"]["payment_id"],
        )
    )
    refund = db.get(Refund, rid)
    apply_stripe_refund(db, refund, obj, actor="system:refunds")
    payment = db.get(Payment, refund.payment_id)
    recompute_payment(db, payment, actor="system:refunds")
    db.commit()
    return refund


def submit_refund_quietly(db: Session, refund_id: int) -> None:
    """Used after fulfilment commits: a failure here is retried by reconciliation."""
    try:
        submit_refund(db, refund_id)
    except DomainError as exc:
        db.rollback()
        log_kv(log, "refund.submit_deferred", refund_id=refund_id, error=exc.code)


def _status_of(obj: dict[str, Any]) -> str:
    status = obj.get("status")
    if status in (REFUND_SUCCEEDED, REFUND_FAILED, REFUND_CANCELED):
        return status
    return REFUND_PENDING


def apply_stripe_refund(db: Session, refund: Refund, obj: dict[str, Any], actor: str) -> None:
    """Copy Stripe's view of one refund onto our row (no commit)."""
    new_status = _status_of(obj)
    refund.stripe_refund_id = obj["id"]
    audit.change_status(
        db, refund, new_status, actor=actor, entity_type="refund", reason=obj.get("failure_reason")
    )
    refund.failure_reason = obj.get("failure_reason")
    refund.updated_at = utcnow()
    db.add(refund)


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
            col(Refund.status).in_(RESERVING),
            col(Refund.stripe_refund_id).is_not(None),
        )
    ).one()
    payment.amount_refunded_minor = int(refunded)
    if payment.status in (PAYMENT_PAID, PAYMENT_PARTIALLY_REFUNDED, PAYMENT_REFUNDED):
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


def refund_payment(
    db: Session,
    *,
    payment: Payment,
    amount_minor: int | None,
    reason: str,
    requested_by_user_id: int,
) -> Refund:
    """An admin's refund: reserve, commit, submit. Full refund when no amount is given."""
    if not reason.strip():
        raise ValidationFailed("Say why you refund: the reason is kept in the audit trail.")
    locked = db.exec(select(Payment).where(Payment.id == payment.id).with_for_update()).one()
    amount = amount_minor if amount_minor is not None else refundable_minor(db, locked)
    refund = create_refund_row(
        db,
        payment=locked,
        amount_minor=amount,
        reason=reason.strip(),
        requested_by_user_id=requested_by_user_id,
        actor=f"user:{requested_by_user_id}",
    )
    rid = refund.id
    db.commit()
    return submit_refund(db, rid)
