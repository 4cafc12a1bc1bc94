"""The admin's view of the outbox: every email Efoy queued, what became of it, and a retry.

Read model plus one action. The viewer's admin role is checked here (the page and the REST API
both call these). The list is newest first, a page at a time (`paging.page_of_ids`), filtered by
status, kind and part of the recipient's address. `retry` puts a message that the sender gave up
on back in the queue, due now, keeping its attempts and last error for the record; it is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from efoy_app.domain import audit
from efoy_app.domain.admin_query import SEARCH_PATTERN
from efoy_app.domain.auth import require_role
from efoy_app.domain.errors import Conflict, NotFound, ValidationFailed
from efoy_app.domain.paging import page_of_ids
from efoy_app.domain.text import escape_like
from efoy_app.models import (
    EMAIL_CANCELLATION,
    EMAIL_CONFIRMATION,
    EMAIL_FAILED,
    EMAIL_LATE_PAYMENT,
    EMAIL_NOTICE,
    EMAIL_QUEUED,
    EMAIL_RECEIPT,
    EMAIL_REFUND_NOTE,
    EMAIL_REMINDER,
    EMAIL_STATUSES,
    ROLE_ADMIN,
    OutboxAttachment,
    OutboxEmail,
    User,
    utcnow,
)
from efoy_app.routes import MAX_ID

KINDS = (
    EMAIL_CONFIRMATION,
    EMAIL_RECEIPT,
    EMAIL_REFUND_NOTE,
    EMAIL_REMINDER,
    EMAIL_CANCELLATION,
    EMAIL_LATE_PAYMENT,
    EMAIL_NOTICE,
)
STATUSES = EMAIL_STATUSES
PAGE_SIZE = 50
MAX_PAGE = 200
TO_MAX = 100  # characters of the recipient filter; an address part longer is a paste error
ENTITY_TYPE = "outbox_email"  # what the audit trail calls a message
ACTION_RETRIED = "email_retried"
_SEARCH = re.compile(SEARCH_PATTERN)
# Ids are INTEGER columns (32 bits on PostgreSQL, which refuses a larger number in a query):
# an id past `MAX_ID` is simply not found.


@dataclass(frozen=True)
class OutboxFilter:
    """What the outbox list is narrowed to; every field optional, all ANDed. `to` is part of
    the recipient's address, any case."""

    status: str | None = None
    kind: str | None = None
    to: str | None = None


@dataclass(frozen=True)
class OutboxRow:
    """One message as the list shows it (no bodies)."""

    id: int
    created_at: datetime
    kind: str
    to_address: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    error: str | None
    attachments: int


@dataclass(frozen=True)
class OutboxList:
    data: list[OutboxRow]
    count: int


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    filename: str
    content_type: str
    size: int  # bytes


@dataclass(frozen=True)
class OutboxDetail:
    """One message with everything about its delivery, its bodies and its files (not their
    bytes: `attachment_file` gives those)."""

    id: int
    kind: str
    to_address: str
    subject: str
    body: str
    html_body: str | None
    message_id: str
    dedupe_key: str | None
    booking_id: int | None
    payment_id: int | None
    status: str
    attempts: int
    next_attempt_at: datetime
    claimed_until: datetime | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    attachments: list[AttachmentInfo]
    can_retry: bool


@dataclass(frozen=True)
class AttachmentFile:
    filename: str
    content_type: str
    data: bytes


def outbox_conditions(f: OutboxFilter) -> list[Any]:
    """The WHERE terms of `f` (ValidationFailed for a value the list does not know)."""
    terms: list[Any] = []
    if f.status:
        if f.status not in STATUSES:
            raise ValidationFailed(
                f"Unknown status {f.status!r}; use one of {', '.join(STATUSES)}."
            )
        terms.append(OutboxEmail.status == f.status)
    if f.kind:
        if f.kind not in KINDS:
            raise ValidationFailed(f"Unknown kind {f.kind!r}; use one of {', '.join(KINDS)}.")
        terms.append(OutboxEmail.kind == f.kind)
    to = (f.to or "").strip()
    if len(to) > TO_MAX:
        raise ValidationFailed(f"A recipient filter has at most {TO_MAX} characters.")
    if not _SEARCH.fullmatch(to):
        raise ValidationFailed("A recipient filter cannot contain control characters.")
    if to:
        pattern = f"%{escape_like(to.lower())}%"
        terms.append(func.lower(OutboxEmail.to_address).like(pattern, escape="\\"))
    return terms


def _attachment_counts(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.exec(
        select(OutboxAttachment.email_id, func.count())
        .where(col(OutboxAttachment.email_id).in_(ids))
        .group_by(OutboxAttachment.email_id)
    ).all()
    return {email_id: int(n) for email_id, n in rows}


def outbox_list(
    session: Session, viewer: User, f: OutboxFilter, *, limit: int = PAGE_SIZE, offset: int = 0
) -> OutboxList:
    """A page of messages, newest first, and how many match `f` in all."""
    require_role(viewer, ROLE_ADMIN)
    if not 1 <= limit <= MAX_PAGE or not 0 <= offset <= MAX_ID:
        raise ValidationFailed(f"A page has 1 to {MAX_PAGE} rows and a non-negative offset.")
    terms = outbox_conditions(f)
    count = int(session.exec(select(func.count()).select_from(OutboxEmail).where(*terms)).one())
    ids = page_of_ids(
        session,
        select(OutboxEmail.id).where(*terms),
        newest_first=(col(OutboxEmail.created_at).desc(), col(OutboxEmail.id).desc()),
        oldest_first=(col(OutboxEmail.created_at).asc(), col(OutboxEmail.id).asc()),
        offset=offset,
        limit=limit,
        count=count,
    )
    found = session.exec(select(OutboxEmail).where(col(OutboxEmail.id).in_(ids))).all()
    by_id = {e.id: e for e in found}
    files = _attachment_counts(session, ids)
    data = [
        OutboxRow(
            id=e.id or 0,
            created_at=e.created_at,
            kind=e.kind,
            to_address=e.to_address,
            subject=e.subject,
            status=e.status,
            attempts=e.attempts,
            next_attempt_at=e.next_attempt_at,
            sent_at=e.sent_at,
            error=e.error,
            attachments=files.get(e.id or 0, 0),
        )
        for e in (by_id[i] for i in ids if i in by_id)
    ]
    return OutboxList(data=data, count=count)


def _email(session: Session, email_id: int, *, for_update: bool = False) -> OutboxEmail:
    if not 1 <= email_id <= MAX_ID:
        raise NotFound("There is no such email.")
    query = select(OutboxEmail).where(OutboxEmail.id == email_id)
    email = session.exec(query.with_for_update() if for_update else query).first()
    if email is None:
        raise NotFound("There is no such email.")
    return email


def outbox_detail(session: Session, viewer: User, email_id: int) -> OutboxDetail:
    """One message, its bodies, its delivery fields and its attachments' names and sizes."""
    require_role(viewer, ROLE_ADMIN)
    e = _email(session, email_id)
    files = session.exec(
        select(
            OutboxAttachment.id,
            OutboxAttachment.filename,
            OutboxAttachment.content_type,
            func.length(OutboxAttachment.data),
        )
        .where(OutboxAttachment.email_id == email_id)
        .order_by(col(OutboxAttachment.id))
    ).all()
    return OutboxDetail(
        id=e.id or 0,
        kind=e.kind,
        to_address=e.to_address,
        subject=e.subject,
        body=e.body,
        html_body=e.html_body,
        message_id=e.message_id,
        dedupe_key=e.dedupe_key,
        booking_id=e.booking_id,
        payment_id=e.payment_id,
        status=e.status,
        attempts=e.attempts,
        next_attempt_at=e.next_attempt_at,
        claimed_until=e.claimed_until,
        error=e.error,
        created_at=e.created_at,
        sent_at=e.sent_at,
        attachments=[
            AttachmentInfo(id=i, filename=n, content_type=t, size=int(s or 0))
            for i, n, t, s in files
        ],
        can_retry=e.status == EMAIL_FAILED,
    )


def attachment_file(
    session: Session, viewer: User, email_id: int, attachment_id: int
) -> AttachmentFile:
    """The bytes of one attachment of one message (NotFound when it is another's)."""
    require_role(viewer, ROLE_ADMIN)
    if not (1 <= email_id <= MAX_ID and 1 <= attachment_id <= MAX_ID):
        raise NotFound("There is no such attachment.")
    found = session.exec(
        select(OutboxAttachment).where(
            OutboxAttachment.id == attachment_id, OutboxAttachment.email_id == email_id
        )
    ).first()
    if found is None:
        raise NotFound("There is no such attachment.")
    return AttachmentFile(found.filename, found.content_type, bytes(found.data))


def retry(session: Session, email_id: int, actor: User) -> OutboxDetail:
    """Queue a failed message again, due now; its attempts and last error stay as they were.

    Only a failed message: one queued or being sent will be tried anyway, and one sent must not
    go twice (Conflict). The row is locked while it is checked, so two admins pressing Retry at
    once queue it once; the audit row commits with the change.
    """
    require_role(actor, ROLE_ADMIN)
    email = _email(session, email_id, for_update=True)
    if email.status != EMAIL_FAILED:
        session.rollback()
        raise Conflict(f"Only a failed email can be retried; this one is {email.status}.")
    audit.record(
        session,
        actor=f"user:{actor.id}",
        entity_type=ENTITY_TYPE,
        entity_id=email_id,
        action=ACTION_RETRIED,
        from_status=EMAIL_FAILED,
        to_status=EMAIL_QUEUED,
        details={"attempts": email.attempts},
    )
    audit.set_email_status(session, email, EMAIL_QUEUED)
    email.next_attempt_at = utcnow()
    email.claimed_until = None
    session.add(email)
    session.commit()
    return outbox_detail(session, actor, email_id)
