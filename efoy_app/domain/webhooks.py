"""Stripe webhooks: verify, store by Stripe's event id, answer, then apply.

- The signature is checked on the raw body with `WebhookSignature.verify_header` (300 s
  tolerance) and the JSON parsed here: `construct_event` would build Stripe objects we do not use.
- The route commits the verified event (`webhook_inbox.store`) and answers; `process_event` then
  applies it, in the same process right after the answer (`efoy_app.webhook_queue`), or later in
  reconciliation when that process died first (`retry_pending_events`).
- Each handler first reads the current truth from Stripe (network, no transaction open), then the
  event row (locked) and its effects are written in ONE transaction. A second processing of the
  same event (a redelivery, another worker's reconciliation) finds it finished and does nothing.
- Effects are computed from Stripe's current state, not the event's snapshot, so any arrival order
  ends in the same rows.
- A processing error is recorded on the event row (status failed, error, attempts); reconciliation
  retries it. The failure is logged as a warning once per event (`alerts`).
- An admin may replay a stored event (`replay_event`): the same handler runs again on the stored
  payload, whatever became of it the first time. Handlers apply Stripe's current state under row
  locks and every `apply_*` is idempotent, so replaying a processed event changes nothing (no
  second fulfilment, no second refund); a failed one is retried and its new outcome recorded.
  Each replay is audited with the admin as actor, in the transaction of its effects.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import stripe
from sqlalchemy import and_, or_
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from efoy_app.db import get_engine
from efoy_app.domain import alerts, audit, refunds
from efoy_app.domain.auth import require_role
from efoy_app.domain.errors import Conflict, DomainError, NotFound
from efoy_app.domain.payment_fulfil import (
    apply_checkout_async_failure,
    apply_checkout_session,
    apply_paid,
    apply_payment_intent,
    payment_for_intent,
    retrieve_checkout_session,
    retrieve_payment_intent,
)
from efoy_app.domain.refund_sync import sync_refunds
from efoy_app.domain.stripe_gateway import call, get_stripe, to_dict
from efoy_app.domain.webhook_inbox import stored_payload
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import (
    ALERT_FAILED_EVENT,
    EVENT_FAILED,
    EVENT_IGNORED,
    EVENT_PROCESSED,
    EVENT_RECEIVED,
    ROLE_ADMIN,
    AuditLog,
    User,
    WebhookEvent,
    utcnow,
)
from efoy_app.settings import get_settings

log = get_logger("webhook")
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024
# The event row's columns (`WebhookEvent`); Stripe's ids and types are far shorter.
MAX_EVENT_ID_CHARS = 255
MAX_EVENT_TYPE_CHARS = 100

# Applies an event's effects in the caller's transaction; returns the ids of refunds it reserved,
# to submit once that transaction has committed.
Apply = Callable[[Session], list[int]]
DUPLICATE = "duplicate"  # what `process_event` says of an event it has seen before


class InvalidWebhook(DomainError):
    http_status = 400
    code = "invalid_webhook"


class WebhookProcessingError(Exception):
    """Processing failed; the event row keeps the error and the route answers 500."""


def verify(raw_body: bytes, signature_header: str | None) -> dict[str, Any]:
    """Check Stripe's signature over the raw bytes, then parse; nothing is written on failure."""
    secret = get_settings().stripe_webhook_secret
    if secret is None:
        raise InvalidWebhook("Webhooks are not configured (STRIPE_WEBHOOK_SECRET is not set).")
    if len(raw_body) > MAX_BODY_BYTES:
        raise InvalidWebhook("Webhook body too large.", code="payload_too_large")
    if not signature_header:
        raise InvalidWebhook("Missing Stripe-Signature header.", code="missing_signature")
    # Stripe signs text: bytes that are not UTF-8 (stripe would raise UnicodeDecodeError) and a
    # header that is not ASCII (hmac.compare_digest raises TypeError) are a bad request, no more.
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidWebhook("Webhook body is not UTF-8.", code="invalid_body") from None
    if not signature_header.isascii():
        raise InvalidWebhook("Invalid Stripe-Signature.", code="invalid_signature")
    try:
        stripe.WebhookSignature.verify_header(
            text, signature_header, secret.get_secret_value(), tolerance=TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook("Invalid Stripe-Signature.", code="invalid_signature") from exc
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise InvalidWebhook("Webhook body is not JSON.") from exc
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not event["id"]
        or not event["type"]
        or len(event["id"]) > MAX_EVENT_ID_CHARS
        or len(event["type"]) > MAX_EVENT_TYPE_CHARS
    ):
        raise InvalidWebhook("Webhook body is not a Stripe event.")
    return event


# --- handlers: read Stripe (network), return what to apply in the transaction ---


def _actor(event: dict[str, Any]) -> str:
    return f"stripe:{event['id']}"


def _on_checkout_session(event: dict[str, Any]) -> Apply:
    session = retrieve_checkout_session(event["data"]["object"]["id"])
    return lambda db: apply_checkout_session(db, session, _actor(event))


def _on_checkout_async_failed(event: dict[str, Any]) -> Apply:
    session = retrieve_checkout_session(event["data"]["object"]["id"])
    return lambda db: apply_checkout_async_failure(db, session, _actor(event))


def _on_payment_intent(event: dict[str, Any]) -> Apply:
    pi = retrieve_payment_intent(event["data"]["object"]["id"])
    return lambda db: apply_payment_intent(db, pi, _actor(event))


def _refund_target(event: dict[str, Any]) -> tuple[str | None, str | None]:
    obj = event["data"]["object"]
    if obj.get("object") == "charge":
        return obj.get("id"), obj.get("payment_intent")
    return obj.get("charge"), obj.get("payment_intent")


def _on_refund_change(event: dict[str, Any]) -> Apply:
    """charge.refunded, refund.*: sync every refund of the charge from Stripe."""
    charge_id, pi_id = _refund_target(event)
    if pi_id is None and charge_id is not None:
        charge = to_dict(
            call(
                "charges.retrieve",
                lambda: get_stripe().v1.charges.retrieve(charge_id),
                charge=charge_id,
            )
        )
        pi_id = charge.get("payment_intent")
    if pi_id is None:
        raise NotFound("Refund event without a payment intent.")
    pi = retrieve_payment_intent(pi_id)
    listed = call(
        "refunds.list",
        lambda: get_stripe().v1.refunds.list({"payment_intent": pi_id, "limit": 100}),
        payment_intent=pi_id,
    )
    stripe_refunds = [to_dict(r) for r in listed.data]

    def apply(db: Session) -> list[int]:
        payment = payment_for_intent(db, pi)
        if payment is None:
            return []
        # A refund may be reported before the payment's own completion event: settle that first.
        refund_ids = apply_paid(db, payment, pi, _actor(event))
        sync_refunds(db, payment, stripe_refunds, _actor(event))
        return refund_ids

    return apply


HANDLERS: dict[str, Callable[[dict[str, Any]], Apply]] = {
    "checkout.session.completed": _on_checkout_session,
    "checkout.session.async_payment_succeeded": _on_checkout_session,
    "checkout.session.expired": _on_checkout_session,
    "checkout.session.async_payment_failed": _on_checkout_async_failed,
    "payment_intent.succeeded": _on_payment_intent,
    "payment_intent.payment_failed": _on_payment_intent,
    "payment_intent.canceled": _on_payment_intent,
    "charge.refunded": _on_refund_change,
    "charge.refund.updated": _on_refund_change,
    "refund.created": _on_refund_change,
    "refund.updated": _on_refund_change,
    "refund.failed": _on_refund_change,
}


# --- processing ---


def _existing(db: Session, event_id: str, lock: bool = False) -> WebhookEvent | None:
    query = select(WebhookEvent).where(WebhookEvent.stripe_event_id == event_id)
    return db.exec(query.with_for_update() if lock else query).first()


def _finished(row: WebhookEvent | None) -> bool:
    return row is not None and row.status in (EVENT_PROCESSED, EVENT_IGNORED)


def _stored(db: Session, *, commit: bool) -> bool:
    """Flush (or commit) the event row; False when another delivery of the same event, perhaps
    on another worker, stored it first (the unique index on its id): theirs is the effect."""
    try:
        if commit:
            db.commit()
        else:
            db.flush()
    except IntegrityError:
        db.rollback()
        return False
    return True


def _record_failure(
    event: dict[str, Any],
    error: str,
    on_record: Callable[[Session, WebhookEvent], None] | None = None,
) -> None:
    """Keep the error on the event row (its own transaction: the effects were rolled back), then
    warn once that it failed. `on_record` adds to that transaction (a replay's audit row)."""
    with Session(get_engine()) as db:
        row = _existing(db, event["id"])
        if row is None:
            row = WebhookEvent(
                stripe_event_id=event["id"], type=event["type"], payload=stored_payload(event)
            )
        audit.set_event_status(db, row, EVENT_FAILED)
        row.attempts += 1
        row.error = error[:4000]
        if on_record is not None:
            db.flush()
            on_record(db, row)
        if _stored(db, commit=True) and row.id is not None:
            alerts.warn_once(
                db, ALERT_FAILED_EVENT, row.id, event_id=event["id"], type=event["type"]
            )


def _apply_once(event: dict[str, Any], apply: Apply | None) -> str:
    """Store the event row and its effects in ONE transaction, then submit the refunds they
    reserved; returns processed | ignored | duplicate."""
    with Session(get_engine(), expire_on_commit=False) as db:
        # Locked first: a second processing of this event (a redelivery, or reconciliation on
        # another worker) waits here, then finds it finished. Replays take the same order.
        row = _existing(db, event["id"], lock=True)
        if _finished(row):
            return DUPLICATE
        if row is None:
            row = WebhookEvent(
                stripe_event_id=event["id"],
                type=event["type"],
                payload=stored_payload(event),
                status=EVENT_RECEIVED,
            )
            db.add(row)
            if not _stored(db, commit=False):
                return DUPLICATE
        row.attempts += 1
        refund_ids = apply(db) if apply else []
        audit.set_event_status(db, row, EVENT_PROCESSED if apply else EVENT_IGNORED)
        row.error = None
        row.processed_at = utcnow()
        if not _stored(db, commit=True):
            return DUPLICATE
        refunds.submit_refunds_quietly(db, refund_ids)
        return row.status


def process_event(event: dict[str, Any]) -> str:
    """Apply one verified event; returns processed | ignored | duplicate. Idempotent."""
    started = time.perf_counter()
    event_id, event_type = event["id"], event["type"]
    outcome = "error"
    try:
        with Session(get_engine()) as db:
            if _finished(_existing(db, event_id)):
                outcome = DUPLICATE
                return outcome
        handler = HANDLERS.get(event_type)
        try:
            outcome = _apply_once(event, handler(event) if handler else None)
            return outcome
        except Exception as exc:
            _record_failure(event, f"{type(exc).__name__}: {exc}")
            raise WebhookProcessingError(str(exc)) from exc
    finally:
        log_kv(
            log,
            "webhook",
            event_id=event_id,
            type=event_type,
            outcome=outcome,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )


# --- replay (admins) ---


REPLAY_ACTION = "webhook_replayed"
REPLAY_ENTITY = "webhook_event"


@dataclass(frozen=True)
class ReplayResult:
    """What one replay did: the event's status before and after, and how many changes of
    bookings, payments and refunds it wrote (0 for an event already applied)."""

    id: int
    stripe_event_id: str
    type: str
    status_before: str
    status: str
    attempts: int
    error: str | None
    changes: int


def _replay_reason(status: str, changes: int, error: str | None) -> str:
    if status == EVENT_FAILED:
        return f"Replayed by an admin; processing failed again: {(error or '')[:300]}"
    if status == EVENT_IGNORED:
        return "Replayed by an admin; Efoy does not act on this type of event."
    if changes == 0:
        return "Replayed by an admin; processed again and nothing changed."
    return f"Replayed by an admin; processed, {changes} change(s) recorded."


def _audit_replay(db: Session, row: WebhookEvent, before: str, actor: str, changes: int) -> None:
    audit.record(
        db,
        actor=actor,
        entity_type=REPLAY_ENTITY,
        entity_id=row.id or 0,
        action=REPLAY_ACTION,
        from_status=before,
        to_status=row.status,
        reason=_replay_reason(row.status, changes, row.error),
        details={"stripe_id": row.stripe_event_id},
    )


def _count_audit_rows(db: Session) -> list[int]:
    """A counter of the audit rows `db` writes from now on: every change of a booking, payment
    or refund writes one (`audit.change_status`, `audit.record`), so it counts the changes."""
    written = [0]

    @sa_event.listens_for(db, "before_flush")
    def _count(session: Session, _context: object, _instances: object) -> None:
        written[0] += sum(1 for obj in session.new if isinstance(obj, AuditLog))

    return written


def _replay_apply(event_id: int, apply: Apply | None, actor: str) -> ReplayResult:
    """`_apply_once` for a stored row, finished or not: the effects applied and the replay
    audited in one transaction. The event row is locked first, as a live processing locks it
    (before the payment's row lock), so a replay and a processing at once cannot deadlock; the
    payment's lock is what keeps the second of them from applying anything twice."""
    with Session(get_engine(), expire_on_commit=False) as db:
        row = db.exec(
            select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()
        ).one()
        before = row.status
        row.attempts = WebhookEvent.attempts + 1  # in SQL: two replays at once count two
        written = _count_audit_rows(db)
        refund_ids = apply(db) if apply else []
        db.flush()
        changes = written[0]
        audit.set_event_status(db, row, EVENT_PROCESSED if apply else EVENT_IGNORED)
        row.error = None
        row.processed_at = utcnow()
        _audit_replay(db, row, before, actor, changes)
        db.commit()
        refunds.submit_refunds_quietly(db, refund_ids)
        db.refresh(row)
        return ReplayResult(
            row.id or 0, row.stripe_event_id, row.type, before, row.status, row.attempts, None,
            changes,
        )  # fmt: skip


def replay_event(viewer: User, event_id: int) -> ReplayResult:
    """Run a stored event through its handler again, on an admin's request (NotFound for an id
    we never stored). Idempotent; a failure is recorded on the row and returned, not raised."""
    require_role(viewer, ROLE_ADMIN)
    actor = f"user:{viewer.id}"
    with Session(get_engine()) as db:
        row = db.get(WebhookEvent, event_id)
        if row is None:
            raise NotFound(f"There is no stored webhook event #{event_id}.")
        before, payload = row.status, row.payload
    try:
        event = json.loads(payload)
    except ValueError:
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise Conflict(f"Webhook event #{event_id} has no payload that can be replayed.")
    started = time.perf_counter()
    handler = HANDLERS.get(event.get("type", ""))
    try:
        result = _replay_apply(event_id, handler(event) if handler else None, actor)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        _record_failure(
            event,
            error,
            on_record=lambda db, row: _audit_replay(db, row, before, actor, 0),
        )
        with Session(get_engine()) as db:
            row = db.get(WebhookEvent, event_id)
            assert row is not None
            result = ReplayResult(
                event_id, row.stripe_event_id, row.type, before, row.status, row.attempts,
                row.error, 0,
            )  # fmt: skip
    log_kv(
        log,
        "webhook.replay",
        event_id=result.stripe_event_id,
        type=result.type,
        actor=actor,
        before=before,
        outcome=result.status,
        changes=result.changes,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return result


# An event stored but still `received` this long after has lost the process that was to apply
# it (killed, restarted): reconciliation applies it. Past a burst's backlog, well short of
# what a patient waiting for a confirmation would notice.
STALE_RECEIVED_SECONDS = 30


def retry_pending_events(
    max_attempts: int = 10, limit: int = 50, stale_seconds: float = STALE_RECEIVED_SECONDS
) -> dict[str, int]:
    """Reconciliation: apply events whose processing failed, or never ran (`received` for
    longer than `stale_seconds`). Safe on every worker at once: processing is idempotent."""
    stale_before = utcnow() - timedelta(seconds=stale_seconds)
    with Session(get_engine()) as db:
        rows = db.exec(
            select(WebhookEvent)
            .where(
                or_(
                    and_(WebhookEvent.status == EVENT_FAILED, WebhookEvent.attempts < max_attempts),
                    and_(
                        WebhookEvent.status == EVENT_RECEIVED,
                        WebhookEvent.received_at < stale_before,
                    ),
                )
            )
            .order_by(WebhookEvent.id)
            .limit(limit)
        ).all()
        payloads = [r.payload for r in rows]
    done = failed = 0
    for payload in payloads:
        try:
            process_event(json.loads(payload))
            done += 1
        except WebhookProcessingError:
            failed += 1
    return {"retried": done, "still_failing": failed}
