"""`Idempotency-Key` for Efoy's own money-moving endpoints, with Stripe's semantics.

The first request with a key runs and its answer (status and JSON body) is stored; the same key
with the same body replays that answer; the same key with another body is refused, and so is a
second request while the first is still running. A 5xx answer is not kept (nothing was done, a
retry runs again). A 202 answer (the work is reserved and waits on Stripe, e.g. a queued refund)
is kept, and a retry with the key resumes that same work instead of replaying a stale answer or
starting new work.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from efoy_app.domain.errors import Conflict, DomainError, ValidationFailed
from efoy_app.models import IdempotencyRecord, User

MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(DomainError):
    http_status = 422
    code = "idempotency_key_reused"


def _hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


# What a money-moving route answers: (HTTP status, JSON body); stored and replayed as it was.
Answer = tuple[int, dict[str, Any]]
Action = Callable[[], Answer]
Resume = Callable[[dict[str, Any]], Answer]  # given the first answer, when that was a 202


def run_idempotent(
    db: Session,
    *,
    user: User,
    endpoint: str,
    key: str | None,
    body: Any,
    action: Action,
    resume: Resume | None = None,
) -> JSONResponse:
    """Run `action` once per (user, endpoint, key); `action` returns (status, json body).

    `resume(first_answer)` continues work whose first answer was 202, on a retry with the key."""
    if key is None:
        status, payload = action()
        return JSONResponse(payload, status_code=status)
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed("Idempotency-Key must be 1 to 255 characters.")
    request_hash = _hash(body)
    record = IdempotencyRecord(
        user_id=user.id, endpoint=endpoint, key=key, request_hash=request_hash
    )
    db.add(record)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        first = db.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user.id,
                IdempotencyRecord.endpoint == endpoint,
                IdempotencyRecord.key == key,
            )
        ).one()
        if first.request_hash != request_hash:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with different parameters."
            ) from None
        if first.status_code is None:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed.",
                code="idempotency_key_in_use",
            ) from None
        answer = json.loads(first.response_json or "{}")
        if first.status_code == 202 and resume is not None:
            return _resume(db, first.id, answer, resume)
        response = JSONResponse(answer, status_code=first.status_code)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    record_id = record.id
    try:
        status, payload = action()
    except DomainError as exc:
        status, payload = exc.http_status, {"error": {"code": exc.code, "message": exc.message}}
        if status >= 500:
            # Retryable failure (e.g. Stripe outage): forget the key so a retry runs again.
            _forget(db, record_id)
            raise
    except Exception:
        _forget(db, record_id)
        raise
    _store(db, record_id, status, payload)
    return JSONResponse(payload, status_code=status)


def _store(db: Session, record_id: int, status: int, payload: dict[str, Any]) -> None:
    db.rollback()
    stored = db.get(IdempotencyRecord, record_id)
    stored.status_code = status
    stored.response_json = json.dumps(payload, default=str)
    db.add(stored)
    db.commit()


def _resume(
    db: Session,
    record_id: int,
    answer: dict[str, Any],
    resume: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]],
) -> JSONResponse:
    """The first answer said "accepted, waiting": carry on with that same work."""
    db.rollback()
    status, payload = resume(answer)
    _store(db, record_id, status, payload)
    return JSONResponse(payload, status_code=status)


def _forget(db: Session, record_id: int) -> None:
    db.rollback()
    row = db.get(IdempotencyRecord, record_id)
    if row is not None:
        db.delete(row)
        db.commit()
