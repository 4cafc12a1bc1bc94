"""The refund ledger: one row per Stripe refund, and the rule that the total refunded never
exceeds what was paid.

A refund is written in two steps: `create_refund_row` reserves the amount in our database (in the
caller's transaction) with the idempotency key every attempt will send, then `submit_refund` asks
Stripe. When Stripe does not answer, the row stays reserved and queued: a retry (the admin's, or
reconciliation's) sends the same row with the same key, so money moves once however often it is
tried; a row tried before is first looked up at Stripe, in case an earlier answer was lost.
What Stripe reports back (webhooks, reconciliation, the answer to an attempt), including refunds
made elsewhere and refunds that fail later, is applied by `refund_sync`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from efoy_app.domain import audit
from efoy_app.domain.errors import (
    Conflict,
    DomainError,
    NotFound,
    PaymentProviderUnavailable,
    ValidationFailed,
)
from efoy_app.domain.money import format_money
from efoy_app.domain.refund_sync import apply_stripe_refund, recompute_payment
from efoy_app.domain.stripe_gateway import PaymentProviderRejected, call, get_stripe, to_dict
from efoy_app.domain.text import clean_text
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import (
    REFUND_FAILED,
    REFUND_PENDING,
    REFUND_RESERVING,
    REFUND_SUCCEEDED,
    REFUNDABLE_STATUSES,
    Payment,
    Refund,
    utcnow,
)

log = get_logger("refunds")
# Stripe lists at most 100 refunds a page; a payment never has that many of ours.
LOOKUP_LIMIT = 100
# How long the same admin asking for the same refund again counts as a retry (Stripe keeps an
# idempotency key this long).
REPEAT_WINDOW = timedelta(hours=24)


class RefundQueued(Conflict):
    """Another refund waits for Stripe on this payment; a different one must wait its turn."""

    code = "refund_queued"


class RefundRejected(PaymentProviderRejected):
    code = "refund_rejected"


@dataclass(frozen=True)
class RefundOutcome:
    """What became of one attempt: sent (Stripe answered) or queued (it did not, yet)."""

    refund: Refund
    queued: bool
    repeated: bool = False  # a retry of a refund that had already gone through

    @property
    def message(self) -> str:
        amount = format_money(self.refund.amount_minor, self.refund.currency)
        if self.repeated:
            return (
                f"The refund of {amount} asked for earlier has gone through to Stripe "
                f"(refund #{self.refund.id}); nothing more was refunded."
            )
        if self.queued:
            return (
                f"Stripe did not answer; the refund of {amount} is queued and will be sent "
                "automatically."
            )
        if self.refund.status == REFUND_SUCCEEDED:
            return f"Refund of {amount} sent to Stripe."
        if self.refund.status == REFUND_PENDING:
            return f"Refund of {amount} sent to Stripe; the bank has not confirmed it yet."
        return f"The refund of {amount} {self.refund.status}: {self.refund.failure_reason}."


def refund_key(refund: Refund) -> str:
    """The idempotency key of every attempt of this row (rows from before it was stored derive
    the same key their first attempt sent)."""
    if refund.stripe_idempotency_key:
        return refund.stripe_idempotency_key
    return f"efoy-refund-{refund.id}-{int(refund.created_at.timestamp() * 1_000_000)}"


def queued_refund(db: Session, payment_id: int) -> Refund | None:
    """The payment's refund that is reserved but not yet accepted by Stripe, if any."""
    return db.exec(
        select(Refund)
        .where(
            Refund.payment_id == payment_id,
            Refund.status == REFUND_PENDING,
            col(Refund.stripe_refund_id).is_(None),
        )
        .order_by(col(Refund.id))
    ).first()


def refundable_minor(db: Session, payment: Payment) -> int:
    """What is left to refund: paid minus every refund that is not failed or canceled."""
    reserved = db.exec(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.payment_id == payment.id, col(Refund.status).in_(REFUND_RESERVING)
        )
    ).one()
    return payment.amount_minor - int(reserved)


def refundable_now(db: Session, payment: Payment) -> int:
    """What an admin may still refund: nothing unless the payment is paid and not yet refunded
    in full (a Dashboard refund beside a queued one can leave it below zero: show 0)."""
    if payment.status not in REFUNDABLE_STATUSES:
        return 0
    return max(refundable_minor(db, payment), 0)


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
    if payment.status not in REFUNDABLE_STATUSES:
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
    refund.stripe_idempotency_key = refund_key(refund)
    db.add(refund)
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


def _target(payment: Payment) -> dict[str, str]:
    if payment.stripe_payment_intent_id:
        return {"payment_intent": payment.stripe_payment_intent_id}
    return {"charge": payment.stripe_charge_id or ""}


def _find_at_stripe(payment: Payment, refund: Refund, key: str) -> dict[str, Any] | None:
    """A refund an earlier attempt made though its answer was lost (e.g. a timeout after Stripe
    did the work, or a key Stripe has forgotten after 24 hours)."""
    listed = call(
        "refunds.list",
        lambda: get_stripe().v1.refunds.list({**_target(payment), "limit": LOOKUP_LIMIT}),
        refund_id=refund.id,
        payment_id=payment.id,
    )
    for item in listed.data:
        obj = to_dict(item)
        metadata = obj.get("metadata") or {}
        if metadata.get("efoy_refund_key") == key:
            return obj
    return None


def _create_at_stripe(payment: Payment, refund: Refund, key: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        **_target(payment),
        "amount": refund.amount_minor,
        "metadata": {
            "efoy_refund_id": str(refund.id),
            "efoy_refund_key": key,
            "payment_id": str(payment.id),
        },
    }
    return to_dict(
        call(
            "refunds.create",
            lambda: get_stripe().v1.refunds.create(params, options={"idempotency_key": key}),
            refund_id=refund.id,
            payment_id=payment.id,
        )
    )


def _lock_refund(db: Session, refund_id: int) -> Refund:
    """The refund's row lock, taken after its payment's. Every other path that changes both (the
    webhook's refund sync, an admin's request, refund notes) locks the payment first; a refund
    locked first deadlocked with them on PostgreSQL (a second update of the refund in one
    transaction makes its foreign-key check wait for the payment's row)."""
    payment_id = db.exec(select(Refund.payment_id).where(Refund.id == refund_id)).first()
    if payment_id is None:
        raise NotFound("Refund not found.")
    db.exec(select(Payment.id).where(Payment.id == payment_id).with_for_update()).one()
    refund = db.exec(select(Refund).where(Refund.id == refund_id).with_for_update()).first()
    if refund is None:
        raise NotFound("Refund not found.")
    return refund


def submit_refund(db: Session, refund_id: int) -> RefundOutcome:
    """Send a reserved refund to Stripe, or find that an earlier attempt did. Commits.

    Safe to call at the same moment from an admin's retry and from reconciliation: every attempt
    sends the row's own idempotency key, so Stripe makes one refund of it.
    """
    refund = _lock_refund(db, refund_id)
    if refund.stripe_refund_id is not None or refund.status != REFUND_PENDING:
        db.commit()
        return RefundOutcome(refund, queued=False)
    payment = db.get(Payment, refund.payment_id)
    key = refund_key(refund)
    tried_before = refund.attempts > 0
    refund.stripe_idempotency_key = key
    refund.attempts += 1
    refund.updated_at = utcnow()  # reconciliation leaves a row alone while an attempt may run
    db.add(refund)
    db.commit()  # the attempt is on record before the network call; no transaction across it
    try:
        obj = _find_at_stripe(payment, refund, key) if tried_before else None
        if obj is None:
            obj = _create_at_stripe(payment, refund, key)
    except PaymentProviderUnavailable as exc:
        return _queued(db, refund_id, exc)
    except PaymentProviderRejected as exc:
        _rejected(db, refund_id, exc)
        raise RefundRejected(
            f"Stripe refused the refund of {format_money(refund.amount_minor, refund.currency)}:"
            f" {exc.message} Nothing was refunded; the ledger shows it as failed."
        ) from exc
    refund = _lock_refund(db, refund_id)
    apply_stripe_refund(db, refund, obj, actor="system:refunds")
    payment = db.get(Payment, refund.payment_id)
    recompute_payment(db, payment, actor="system:refunds")
    db.commit()
    return RefundOutcome(refund, queued=False)


def _queued(db: Session, refund_id: int, exc: DomainError) -> RefundOutcome:
    """Stripe did not answer: the row stays reserved, with its key, for the next attempt."""
    db.rollback()
    refund = _lock_refund(db, refund_id)
    refund.last_error = f"Stripe did not answer ({exc.code})"[:300]
    refund.updated_at = utcnow()
    db.add(refund)
    audit.record(
        db,
        actor="system:refunds",
        entity_type="refund",
        entity_id=refund.id,
        action="refund_queued",
        to_status=refund.status,
        reason="Stripe did not answer; it will be sent again with the same idempotency key.",
        details={"attempts": refund.attempts},
    )
    db.commit()
    log_kv(log, "refund.queued", refund_id=refund_id, attempts=refund.attempts, error=exc.code)
    return RefundOutcome(refund, queued=True)


def _rejected(db: Session, refund_id: int, exc: DomainError) -> None:
    """Stripe refused the request itself, so no money moved: release the reservation."""
    db.rollback()
    refund = _lock_refund(db, refund_id)
    cause = exc.__cause__
    detail = getattr(cause, "user_message", None) or getattr(cause, "code", None) or exc.code
    refund.failure_reason = f"refused by Stripe: {detail}"[:200]
    audit.change_status(
        db, refund, REFUND_FAILED, actor="system:refunds", entity_type="refund",
        reason=refund.failure_reason,
    )  # fmt: skip
    recompute_payment(db, db.get(Payment, refund.payment_id), actor="system:refunds")
    db.commit()
    log_kv(log, "refund.rejected", refund_id=refund_id, error=str(detail))


def submit_refunds_quietly(db: Session, refund_ids: list[int]) -> None:
    """Used after fulfilment commits: whatever happens here, a row is retried or settled later,
    and the caller's work stands."""
    for refund_id in refund_ids:
        try:
            submit_refund(db, refund_id)
        except DomainError as exc:
            db.rollback()
            log_kv(log, "refund.submit_deferred", refund_id=refund_id, error=exc.code)


def _went_through_after_queueing(refund: Refund) -> bool:
    return refund.last_error is not None and refund.stripe_refund_id is not None


def _earlier_request(
    db: Session,
    payment: Payment,
    amount_minor: int | None,
    reason: str,
    requested_by_user_id: int,
) -> Refund | None:
    """The refund this request repeats, if it is a retry of one Stripe did not answer.

    A retry is: the payment's queued refund, asked again for the same amount; or a refund that
    was queued and went through meanwhile (the admin's retry and reconciliation raced), asked
    again by the same admin, for the same amount and reason, within Stripe's idempotency window.
    Anything else is a new refund.
    """
    queued = queued_refund(db, payment.id)
    if queued is not None:
        everything_left = refundable_minor(db, payment) + queued.amount_minor
        asked = amount_minor if amount_minor is not None else everything_left
        if asked != queued.amount_minor:
            raise RefundQueued(
                f"A refund of {format_money(queued.amount_minor, queued.currency)} on this "
                "payment is queued and will be sent automatically as soon as Stripe answers; "
                "ask for another refund once it is through."
            )
        return queued
    if amount_minor is None and refundable_minor(db, payment) > 0:
        return None  # "everything left" while something is left: a new refund
    recent = db.exec(
        select(Refund)
        .where(
            Refund.payment_id == payment.id,
            Refund.requested_by_user_id == requested_by_user_id,
            Refund.reason == reason,
            Refund.created_at >= utcnow() - REPEAT_WINDOW,
        )
        .order_by(col(Refund.id).desc())
    ).all()
    for row in recent:
        if _went_through_after_queueing(row) and amount_minor in (None, row.amount_minor):
            return row
    return None


def refund_payment(
    db: Session,
    *,
    payment: Payment,
    amount_minor: int | None,
    reason: str,
    requested_by_user_id: int,
) -> RefundOutcome:
    """An admin's refund: reserve, commit, submit. Full refund when no amount is given.

    Asking again for a refund Stripe did not answer sends that same row again (or reports it,
    if it went through meanwhile), never a second one; a different refund waits until the
    queued one is through.
    """
    reason = clean_text(reason)
    if not reason:
        raise ValidationFailed("Say why you refund: the reason is kept in the audit trail.")
    actor = f"user:{requested_by_user_id}"
    locked = db.exec(select(Payment).where(Payment.id == payment.id).with_for_update()).one()
    try:
        earlier = _earlier_request(db, locked, amount_minor, reason, requested_by_user_id)
    except RefundQueued:
        db.rollback()
        raise
    if earlier is not None:
        audit.record(
            db, actor=actor, entity_type="refund", entity_id=earlier.id,
            action="refund_retry_requested", to_status=earlier.status, reason=reason,
        )  # fmt: skip
        rid, through = earlier.id, earlier.stripe_refund_id is not None
        db.commit()
        outcome = submit_refund(db, rid)
        return replace(outcome, repeated=through)
    amount = amount_minor if amount_minor is not None else refundable_minor(db, locked)
    refund = create_refund_row(
        db,
        payment=locked,
        amount_minor=amount,
        reason=reason,
        requested_by_user_id=requested_by_user_id,
        actor=actor,
    )
    rid = refund.id
    db.commit()
    return submit_refund(db, rid)
