"""Stripe webhooks: verify, store by Stripe's event id, apply, answer.

- The signature is checked on the raw body with `WebhookSignature.verify_header` (300 s
  tolerance) and the JSON parsed here: `construct_event` would build Stripe objects we do not use.
- Each handler first reads the current truth from Stripe (network, no transaction open), then the
  event row and its effects are written in ONE transaction. The unique index on the event id makes
  a duplicate (or the same event arriving on two workers) a no-op.
- Effects are computed from Stripe's current state, not the event's snapshot, so any arrival order
  ends in the same rows.
- A processing error is recorded on the event row (status failed, error, attempts) and re-raised
  so the route answers 5xx and Stripe retries; reconciliation retries too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import stripe
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from efoy_app.db import get_engine
from efoy_app.domain import audit, refunds
from efoy_app.domain.errors import DomainError, NotFound
from efoy_app.domain.payment_fulfil import (
    apply_checkout_async_failure,
    apply_checkout_session,
    apply_paid,
    apply_payment_intent,
    payment_for_intent,
    retrieve_checkout_session,
    retrieve_payment_intent,
)
from efoy_app.domain.redaction import redact_secrets
from efoy_app.domain.refund_sync import sync_refunds
from efoy_app.domain.stripe_gateway import call, get_stripe, to_dict
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import (
    EVENT_FAILED,
    EVENT_IGNORED,
    EVENT_PROCESSED,
    EVENT_RECEIVED,
    WebhookEvent,
    utcnow,
)
from efoy_app.settings import get_settings

log = get_logger("webhook")
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024

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
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event.get("type"):
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


def _stored_payload(event: dict[str, Any]) -> str:
    """What the event row keeps: the event as Stripe sent it, minus client secrets."""
    return json.dumps(redact_secrets(event))


def _existing(db: Session, event_id: str) -> WebhookEvent | None:
    return db.exec(select(WebhookEvent).where(WebhookEvent.stripe_event_id == event_id)).first()


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


def _record_failure(event: dict[str, Any], error: str) -> None:
    with Session(get_engine()) as db:
        row = _existing(db, event["id"])
        if row is None:
            row = WebhookEvent(
                stripe_event_id=event["id"], type=event["type"], payload=_stored_payload(event)
            )
        audit.set_event_status(db, row, EVENT_FAILED)
        row.attempts += 1
        row.error = error[:4000]
        _stored(db, commit=True)


def _apply_once(event: dict[str, Any], apply: Apply | None) -> str:
    """Store the event row and its effects in ONE transaction, then submit the refunds they
    reserved; returns processed | ignored | duplicate."""
    with Session(get_engine(), expire_on_commit=False) as db:
        row = _existing(db, event["id"])
        if _finished(row):
            return DUPLICATE
        if row is None:
            row = WebhookEvent(
                stripe_event_id=event["id"],
                type=event["type"],
                payload=_stored_payload(event),
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


def retry_failed_events(max_attempts: int = 10, limit: int = 50) -> dict[str, int]:
    """Reconciliation: reprocess events whose processing failed."""
    with Session(get_engine()) as db:
        rows = db.exec(
            select(WebhookEvent)
            .where(WebhookEvent.status == EVENT_FAILED, WebhookEvent.attempts < max_attempts)
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
