"""The audit tab: every change of bookings, payments and refunds (and replays of webhook events),
newest first, a page at a time, filtered by who acted, on what, and when.

Read model only; the viewer's admin role is checked here. Filters are pushed into SQL so a page of
50 out of 300 000 rows walks an index ending in the list's order (alembic d7e8f9a0b1c2): by time
(`ix_audit_at`), by object type (`ix_audit_type_at`), by actor (`ix_audit_actor_at`), by kind of
actor (`ix_audit_kind_at`, alembic f9a0b1c2d3e4); one object uses `ix_audit_entity`.
Days are the clinic's, as on the payments list.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from efoy_app.domain.admin_views import FIRST_DAY, LAST_DAY, _day_start
from efoy_app.domain.auth import require_role
from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.paging import page_of_ids
from efoy_app.models import (
    ROLE_ADMIN,
    AuditLog,
    Booking,
    Doctor,
    Payment,
    Refund,
    User,
)
from efoy_app.routes import MAX_ID

ACTOR_ADMIN, ACTOR_PATIENT, ACTOR_SYSTEM, ACTOR_STRIPE = "admin", "patient", "system", "stripe"
ACTOR_KINDS = (ACTOR_ADMIN, ACTOR_PATIENT, ACTOR_SYSTEM, ACTOR_STRIPE)
OBJECT_TYPES = ("booking", "payment", "refund", "webhook_event", "outbox_email", "doctor")
PAGE_SIZE = 50
MAX_PAGE = 200
OBJECT_MAX = 60  # characters of an object typed in the filter ("booking 12")
_OBJECT = re.compile(r"^\s*(?:([a-z_ ]+?)\s*)?(?:#?\s*(\d+))?\s*$")
_USER_ACTOR = re.compile(r"^user:\d{1,16}$")


@dataclass(frozen=True)
class AuditFilter:
    """What the audit list is narrowed to; every field optional, all ANDed.

    `actor` is a kind (admin, patient, system, stripe) or one user ("user:12"); `object_type`
    one of OBJECT_TYPES, `object_id` its id; `date_from`/`date_to` whole days in `tz`, both
    included.
    """

    actor: str | None = None
    object_type: str | None = None
    object_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    tz: str = "UTC"


@dataclass(frozen=True)
class AuditRow:
    """One audit row with the acting user's name (when a user acted) and the money's currency."""

    id: int
    at: datetime
    actor: str
    actor_name: str | None
    actor_email: str | None
    entity_type: str
    entity_id: int
    action: str
    from_status: str | None
    to_status: str | None
    reason: str | None
    details: dict[str, Any] | None
    currency: str  # of the payment, booking or refund ("" otherwise), for amounts in details


@dataclass(frozen=True)
class AuditList:
    data: list[AuditRow]
    count: int


def parse_object(text: str | None) -> tuple[str | None, int | None]:
    """ "booking 12", "Payment #3", "#12", "12", "refund" → (type or None, id or None)."""
    typed = (text or "").strip().lower()
    if not typed:
        return None, None
    if len(typed) > OBJECT_MAX:
        raise ValidationFailed(f"An object has at most {OBJECT_MAX} characters.")
    found = _OBJECT.match(typed)
    kind = found.group(1).strip().replace(" ", "_") if found and found.group(1) else None
    if found is None or (kind is not None and kind not in OBJECT_TYPES):
        raise ValidationFailed(
            f'Write an object as "booking 12", "payment #3" or "#12" (types: '
            f"{', '.join(OBJECT_TYPES)})."
        )
    raw = found.group(2)
    return kind, (_bounded_id(int(raw)) if raw else None)


def _bounded_id(value: int) -> int:
    """Ids past MAX_ID match nothing (-1), rather than overflowing the database's integer."""
    return value if 1 <= value <= MAX_ID else -1


def audit_conditions(f: AuditFilter) -> list[Any]:
    """The WHERE terms of `f` (ValidationFailed for a value the list does not know). A kind of
    actor is the row's stored `actor_kind` (the role of a user when the row was written)."""
    terms: list[Any] = []
    actor = (f.actor or "").strip()
    if actor in ACTOR_KINDS:
        terms.append(col(AuditLog.actor_kind) == actor)
    elif _USER_ACTOR.match(actor):
        terms.append(AuditLog.actor == actor)
    elif actor:
        raise ValidationFailed(
            f"Unknown actor {actor!r}; use one of {', '.join(ACTOR_KINDS)} or user:<id>."
        )
    if f.object_type:
        if f.object_type not in OBJECT_TYPES:
            raise ValidationFailed(
                f"Unknown object type {f.object_type!r}; use one of {', '.join(OBJECT_TYPES)}."
            )
        terms.append(AuditLog.entity_type == f.object_type)
    if f.object_id is not None:
        terms.append(AuditLog.entity_id == _bounded_id(f.object_id))
    for day in (f.date_from, f.date_to):
        if day and not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationFailed(f"Dates run from {FIRST_DAY} to {LAST_DAY}; {day} is outside.")
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise ValidationFailed("The date range ends before it starts.")
    if f.date_from:
        terms.append(col(AuditLog.at) >= _day_start(f.date_from, f.tz))
    if f.date_to:
        terms.append(col(AuditLog.at) < _day_start(f.date_to + timedelta(days=1), f.tz))
    return terms


def _currencies(session: Session, rows: list[AuditLog]) -> dict[tuple[str, int], str]:
    """The currency of each payment, booking, refund and doctor the page names (small lookups)."""
    found: dict[tuple[str, int], str] = {}
    kinds = (("payment", Payment), ("booking", Booking), ("refund", Refund), ("doctor", Doctor))
    for kind, table in kinds:
        ids = {r.entity_id for r in rows if r.entity_type == kind}
        if ids:
            pairs = session.exec(
                select(table.id, table.currency).where(col(table.id).in_(ids))  # type: ignore[attr-defined]
            ).all()
            found.update(((kind, i), c) for i, c in pairs)
    return found


def _users(session: Session, rows: list[AuditLog]) -> dict[str, User]:
    ids = set()
    for r in rows:
        kind, _, rest = r.actor.partition(":")
        if kind == "user" and rest.isdigit() and len(rest) <= 16:
            ids.add(int(rest))
    if not ids:
        return {}
    return {f"user:{u.id}": u for u in session.exec(select(User).where(col(User.id).in_(ids)))}


def _details(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return {"details": raw}
    return value if isinstance(value, dict) else {"details": value}


def audit_list(
    session: Session, viewer: User, f: AuditFilter, *, limit: int = PAGE_SIZE, offset: int = 0
) -> AuditList:
    """A page of audit rows, newest first, and how many match `f` in all."""
    require_role(viewer, ROLE_ADMIN)
    if not 1 <= limit <= MAX_PAGE or not 0 <= offset <= MAX_ID:
        raise ValidationFailed(f"A page has 1 to {MAX_PAGE} rows and a non-negative offset.")
    terms = audit_conditions(f)
    count = session.exec(select(func.count()).select_from(AuditLog).where(*terms)).one()
    # The page's ids first, from an index alone (a deep page from its other end), then only
    # those rows.
    ids = page_of_ids(
        session,
        select(AuditLog.id).where(*terms),
        newest_first=(col(AuditLog.at).desc(), col(AuditLog.id).desc()),
        oldest_first=(col(AuditLog.at).asc(), col(AuditLog.id).asc()),
        offset=offset,
        limit=limit,
        count=int(count),
    )
    found = session.exec(select(AuditLog).where(col(AuditLog.id).in_(ids))).all() if ids else []
    by_id = {r.id: r for r in found}
    rows = [by_id[i] for i in ids if i in by_id]
    users = _users(session, rows)
    currencies = _currencies(session, rows)
    data = []
    for r in rows:
        user = users.get(r.actor)
        data.append(
            AuditRow(
                id=r.id or 0,
                at=r.at,
                actor=r.actor,
                actor_name=user.full_name if user else None,
                actor_email=user.email if user else None,
                entity_type=r.entity_type,
                entity_id=r.entity_id,
                action=r.action,
                from_status=r.from_status,
                to_status=r.to_status,
                reason=r.reason,
                details=_details(r.details),
                currency=currencies.get((r.entity_type, r.entity_id), ""),
            )
        )
    return AuditList(data=data, count=int(count))
