"""What an admin must look at now: webhook events that failed in the last 24 hours, and pending
payments still pending longer than the reconciliation grace after their hold ended (by then the
payment should be paid or closed: its webhook may never have come, and reconciliation has not
settled it). A patient still on Stripe's page within the hold is not an alert.

One rule for the banner on every admin page, `GET /api/v1/admin/alerts` and the log: each
failed event or stale payment is logged as a warning once, the first time anyone (a worker
processing the event, a page, the endpoint) sees it. That fact is kept in `alert_warnings`, so
it holds across page loads, restarts and workers (the unique key settles a race between two).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, or_, select

from efoy_app.domain.auth import require_role
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import (
    ALERT_FAILED_EVENT,
    ALERT_STALE_PAYMENT,
    EVENT_FAILED,
    PAYMENT_PENDING,
    ROLE_ADMIN,
    AlertWarning,
    Booking,
    Payment,
    User,
    WebhookEvent,
    utcnow,
)

log = get_logger("alerts")
FAILED_EVENT_WINDOW = timedelta(hours=24)
MAX_IDS = 100  # ids listed per kind; the counts are exact


@dataclass(frozen=True)
class Alerts:
    """How many events failed lately and payments are stale, with (some of) their ids, newest
    first."""

    failed_events: int
    failed_event_ids: list[int]
    stale_payments: int
    stale_payment_ids: list[int]

    @property
    def any(self) -> bool:
        return bool(self.failed_events or self.stale_payments)


def failed_event_terms(now: datetime) -> list:
    """Events whose processing failed and that arrived within the last 24 hours."""
    return [
        WebhookEvent.status == EVENT_FAILED,
        WebhookEvent.received_at >= now - FAILED_EVENT_WINDOW,
    ]


def stale_payment_terms(now: datetime, grace_seconds: int) -> list:
    """Payments still pending past the grace after their booking's hold ended (or, for a booking
    with no hold, after they were created)."""
    cutoff = now - timedelta(seconds=grace_seconds)
    due = select(Booking.id).where(
        or_(
            col(Booking.hold_expires_at) <= cutoff,
            col(Booking.hold_expires_at).is_(None),
        )
    )
    return [
        Payment.status == PAYMENT_PENDING,
        Payment.created_at <= cutoff,
        col(Payment.booking_id).in_(due),
    ]


def find_alerts(session: Session, *, now: datetime, grace_seconds: int) -> Alerts:
    """The current alerts (no role check: for workers; admins read them through `alerts_for`)."""
    event_terms = failed_event_terms(now)
    payment_terms = stale_payment_terms(now, grace_seconds)
    events = session.exec(select(func.count()).select_from(WebhookEvent).where(*event_terms)).one()
    payments = session.exec(select(func.count()).select_from(Payment).where(*payment_terms)).one()
    event_ids = session.exec(
        select(WebhookEvent.id)
        .where(*event_terms)
        .order_by(col(WebhookEvent.received_at).desc(), col(WebhookEvent.id).desc())
        .limit(MAX_IDS)
    ).all()
    payment_ids = session.exec(
        select(Payment.id)
        .where(*payment_terms)
        .order_by(col(Payment.created_at).desc(), col(Payment.id).desc())
        .limit(MAX_IDS)
    ).all()
    return Alerts(int(events), list(event_ids), int(payments), list(payment_ids))


def warn_once(session: Session, kind: str, object_id: int, **fields: object) -> bool:
    """Log a warning for this event or payment unless one was logged before; commits. True if
    this call logged it."""
    exists = session.exec(
        select(AlertWarning.id).where(
            AlertWarning.kind == kind, AlertWarning.object_id == object_id
        )
    ).first()
    if exists is not None:
        session.rollback()
        return False
    session.add(AlertWarning(kind=kind, object_id=object_id, warned_at=utcnow()))
    try:
        session.commit()
    except IntegrityError:  # another worker warned first
        session.rollback()
        return False
    log_kv(log, f"alert.{kind}", level=logging.WARNING, id=object_id, **fields)
    return True


def warn_new(session: Session, alerts: Alerts) -> int:
    """Warn once for each listed event and payment not warned about yet; how many were new."""
    new = 0
    for kind, ids in (
        (ALERT_FAILED_EVENT, alerts.failed_event_ids),
        (ALERT_STALE_PAYMENT, alerts.stale_payment_ids),
    ):
        if not ids:
            continue
        seen = set(
            session.exec(
                select(AlertWarning.object_id).where(
                    AlertWarning.kind == kind, col(AlertWarning.object_id).in_(ids)
                )
            ).all()
        )
        session.rollback()
        for object_id in ids:
            if object_id not in seen and warn_once(session, kind, object_id):
                new += 1
    return new


def alerts_for(
    session: Session, viewer: User, *, grace_seconds: int, now: datetime | None = None
) -> Alerts:
    """The alerts an admin sees (banner, endpoint); logs the new ones once."""
    require_role(viewer, ROLE_ADMIN)
    found = find_alerts(session, now=now or utcnow(), grace_seconds=grace_seconds)
    session.rollback()  # end the read before the small writes of `warn_new`
    warn_new(session, found)
    return found
