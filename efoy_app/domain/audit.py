"""The audit trail: who or what changed a booking, payment or refund, when, and why.

`record` only adds the row to the caller's session so it commits (or rolls back) together with
the change it describes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from efoy_app.models import AuditLog, OutboxEmail, WebhookEvent, utcnow

MAX_REASON = 500


def record(
    session: Session,
    *,
    actor: str,
    entity_type: str,
    entity_id: int,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Add one audit row, uncommitted; actor like "user:12", "system:reconcile", "stripe:evt_1".
    The row's `actor_kind` (what the audit tab filters on) is derived from `actor` when it is
    inserted (`models._actor_kind`), so rows written any other way get it too."""
    row = AuditLog(
        at=utcnow(),
        actor=actor[:200],
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        reason=reason[:MAX_REASON] if reason else reason,
        details=json.dumps(details, sort_keys=True, default=str) if details else None,
    )
    session.add(row)
    return row


def change_status(
    session: Session,
    row: Any,
    status: str,
    *,
    actor: str,
    entity_type: str,
    reason: str | None = None,
    action: str = "status_changed",
    at: datetime | None = None,
) -> bool:
    """Move a booking, payment or refund to `status` and audit the move; False if already there.

    The one way our status columns change outside their creation, so every change is audited
    (`tests/unit/test_house_rules.py` fails on a status assigned anywhere else). `action` names
    the move where the trail has a word for it ("hold_expired", "cancelled"); `at` is the time
    the caller decided it, for a caller that works to a given `now`.
    """
    if row.status == status:
        return False
    record(
        session,
        actor=actor,
        entity_type=entity_type,
        entity_id=row.id,
        action=action,
        from_status=row.status,
        to_status=status,
        reason=reason,
    )
    row.status = status
    row.updated_at = at or utcnow()
    session.add(row)
    return True


def set_event_status(session: Session, event: WebhookEvent, status: str) -> None:
    """A webhook event's processing state. The event row is its own trail (attempts, error,
    processed_at), so no audit row is written; it lives here so that every status assignment
    does."""
    event.status = status
    session.add(event)


def set_email_status(session: Session, email: OutboxEmail, status: str) -> None:
    """An outbox email's delivery state. The row is its own trail (attempts, error, sent_at);
    an admin's retry writes its audit row beside it (`outbox_views.retry`)."""
    email.status = status
    session.add(email)
