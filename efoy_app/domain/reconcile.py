"""Reconciliation: what webhooks missed, this finds.

One pass (`reconcile_once`):
1. pending payments older than a grace period are fulfilled from Stripe's current state
   (a dropped webhook still ends in a confirmed booking);
2. held bookings whose hold lapsed: their open Checkout Session is expired (or PaymentIntent
   canceled) at Stripe, then fulfilled once more (a payment that slipped in still counts), and
   the slot is released;
3. webhook events whose processing failed are processed again;
4. refunds reserved in our ledger but never accepted by Stripe are sent again: the same row with
   its own idempotency key, looked up at Stripe first, so a refund is never paid twice.

Every step is idempotent, so passes may overlap on several workers. On PostgreSQL a
transaction-level advisory lock lets one worker run a pass while the others skip it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from efoy_app.db import get_engine
from efoy_app.domain import alerts, refunds, webhooks
from efoy_app.domain.errors import DomainError
from efoy_app.domain.payment_close import close_at_stripe, expire_payment, release_hold_if_unpaid
from efoy_app.domain.payment_fulfil import fulfill_checkout, fulfill_payment_intent
from efoy_app.domain.payment_views import payments_for_booking
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import (
    BOOKING_EXPIRED,
    BOOKING_HELD,
    OPEN_STATUSES,
    PAID_STATUSES,
    REFUND_PENDING,
    Booking,
    Payment,
    Refund,
    utcnow,
)

log = get_logger("reconcile")
ADVISORY_LOCK_KEY = 0x45464F59  # "EFOY"
ACTOR = "system:reconcile"


@dataclass
class ReconcileReport:
    fulfilled: int = 0
    holds_released: int = 0
    events: dict[str, int] = field(default_factory=dict)
    refunds_submitted: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: bool = False


def _try_lock(db: Session) -> bool:
    if db.get_bind().dialect.name != "postgresql":
        return True
    return bool(
        db.exec(
            text("SELECT pg_try_advisory_xact_lock(:k)").bindparams(k=ADVISORY_LOCK_KEY)
        ).scalar()
    )


def _fulfil(db: Session, payment: Payment) -> None:
    if payment.stripe_checkout_session_id:
        fulfill_checkout(db, payment.stripe_checkout_session_id, actor=ACTOR)
    elif payment.stripe_payment_intent_id:
        fulfill_payment_intent(db, payment.stripe_payment_intent_id, actor=ACTOR)


def reconcile_once(now: datetime | None = None, grace_seconds: int = 120) -> ReconcileReport:
    """One pass; safe to run on every worker at once."""
    now = now or utcnow()
    report = ReconcileReport()
    with Session(get_engine(), expire_on_commit=False) as lock_db:
        if not _try_lock(lock_db):
            report.skipped = True
            return report
        with Session(get_engine(), expire_on_commit=False) as db:
            # 1. pending payments whose webhook may never have come
            stale = db.exec(
                select(Payment).where(
                    col(Payment.status).in_(OPEN_STATUSES),
                    Payment.created_at <= now - timedelta(seconds=grace_seconds),
                )
            ).all()
            db.rollback()
            for payment in stale:
                # Read before anything can fail: touching an expired row after a rollback would
                # open a transaction (on SQLite, the write lock) that step 3 then waits on.
                payment_id = payment.id
                try:
                    before = payment.status
                    _fulfil(db, payment)
                    after = db.get(Payment, payment.id)
                    if (
                        after is not None
                        and after.status in PAID_STATUSES
                        and after.status != before
                    ):
                        report.fulfilled += 1
                except DomainError as exc:
                    db.rollback()
                    report.errors.append(f"payment {payment_id}: {exc.code}")
            # 2. lapsed holds
            lapsed = db.exec(
                select(Booking).where(
                    Booking.status == BOOKING_HELD,
                    col(Booking.hold_expires_at).is_not(None),
                    col(Booking.hold_expires_at) <= now,
                )
            ).all()
            db.rollback()
            for booking in lapsed:
                booking_id = booking.id  # as payment_id above
                try:
                    for payment in payments_for_booking(db, booking.id):
                        if payment.status in OPEN_STATUSES:
                            db.rollback()
                            close_at_stripe(payment)
                            _fulfil(db, payment)
                            fresh = db.get(Payment, payment.id)
                            if fresh.status in OPEN_STATUSES:
                                expire_payment(db, fresh, ACTOR, "hold lapsed")
                                db.commit()
                    release_hold_if_unpaid(db, booking.id, ACTOR, "hold lapsed")
                    db.commit()
                    # Released here or by the expired session's fulfilment just above: either
                    # way this pass freed the slot.
                    if db.get(Booking, booking.id).status == BOOKING_EXPIRED:
                        report.holds_released += 1
                except DomainError as exc:
                    db.rollback()
                    report.errors.append(f"booking {booking_id}: {exc.code}")
            # 3. webhook events that failed, or whose process died before applying them
            report.events = webhooks.retry_pending_events(
                stale_seconds=min(grace_seconds, webhooks.STALE_RECEIVED_SECONDS)
            )
            # 4. refunds Stripe never accepted
            # (not those whose last attempt may still be on its way: it sends the same key
            # anyway, but the admin waiting on it should hear the answer from it)
            pending = db.exec(
                select(Refund.id).where(
                    Refund.status == REFUND_PENDING,
                    col(Refund.stripe_refund_id).is_(None),
                    Refund.updated_at <= now - timedelta(seconds=grace_seconds),
                )
            ).all()
            db.rollback()
            for refund_id in pending:
                try:
                    if refunds.submit_refund(db, refund_id).queued:
                        report.errors.append(f"refund {refund_id}: still queued")
                    else:
                        report.refunds_submitted += 1
                except DomainError as exc:
                    db.rollback()
                    report.errors.append(f"refund {refund_id}: {exc.code}")
            # 5. what is still wrong after all that is warned about (once each), so monitoring
            # hears of it without an admin opening a page
            left = alerts.find_alerts(db, now=now, grace_seconds=grace_seconds)
            alerts.warn_new(db, left)
        lock_db.commit()
    log_kv(
        log,
        "reconcile.pass",
        fulfilled=report.fulfilled,
        holds_released=report.holds_released,
        events_retried=report.events.get("retried"),
        refunds_submitted=report.refunds_submitted,
        errors=len(report.errors),
        worker=os.getpid(),  # every worker runs passes; this says whose this was
    )
    return report
