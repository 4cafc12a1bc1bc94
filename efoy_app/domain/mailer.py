"""Email leaves Efoy through the outbox table, so nothing is lost when SMTP is down and a
developer can read every message (the admin outbox page, or the table itself).

`queue_email` only writes rows, in the caller's transaction: the message exists if and only if
what caused it committed. `domain/mail_delivery.py` sends them later.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid, parseaddr

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from efoy_app.models import EMAIL_NOTICE, OutboxAttachment, OutboxEmail, utcnow
from efoy_app.settings import get_settings

SUBJECT_MAX = 300  # outbox_emails.subject
FILENAME_MAX = 200  # outbox_attachments.filename
_LINE_BREAKS = re.compile(r"[\r\n]+")


@dataclass(frozen=True)
class Attachment:
    """A file to send with a message (a receipt's PDF); stored with the row, bytes and all."""

    filename: str
    content_type: str
    data: bytes


def sender_domain(from_address: str) -> str:
    """The domain of SMTP_FROM ("Efoy <no-reply@efoy.example>" → "efoy.example"): Message-IDs
    are made in it, so they are ours and not the machine's host name."""
    address = parseaddr(from_address)[1]
    _, at, domain = address.rpartition("@")
    return domain.strip() if at and domain.strip() else "efoy.invalid"


def one_line(text: str, limit: int) -> str:
    """A header value: no line breaks (they would let a value add headers), at most `limit`
    characters, so a long doctor's name never makes the caller's transaction fail."""
    flat = _LINE_BREAKS.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def queue_email(
    db: Session,
    *,
    to_address: str,
    subject: str,
    body: str,
    html_body: str | None = None,
    kind: str = EMAIL_NOTICE,
    attachments: Sequence[Attachment] = (),
    booking_id: int | None = None,
    payment_id: int | None = None,
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> OutboxEmail | None:
    """Adds the message (and its attachments) in the caller's transaction: flushed, not
    committed, so it is sent only if the caller commits.

    The Message-ID is made here, once, so every retry carries the same one. With a
    `dedupe_key` that is already in the outbox (committed, or being committed by a concurrent
    transaction, which the unique index makes this one wait for), nothing is added and None is
    returned; the caller's transaction stays usable (the insert ran in a savepoint)."""
    when = now or utcnow()
    email = OutboxEmail(
        kind=kind,
        to_address=one_line(to_address, 320),
        subject=one_line(subject, SUBJECT_MAX),
        body=body,
        html_body=html_body,
        message_id=make_msgid(domain=sender_domain(get_settings().smtp_from)),
        dedupe_key=dedupe_key,
        booking_id=booking_id,
        payment_id=payment_id,
        next_attempt_at=when,
        created_at=when,
    )
    if dedupe_key is None:
        _add(db, email, attachments)
        return email
    try:
        with db.begin_nested():
            _add(db, email, attachments)
    except IntegrityError:
        return None  # already queued once: the savepoint is rolled back, the caller goes on
    return email


def _add(db: Session, email: OutboxEmail, attachments: Sequence[Attachment]) -> None:
    db.add(email)
    db.flush()  # the row's id, for its attachments (and the unique key's verdict now)
    for item in attachments:
        db.add(
            OutboxAttachment(
                email_id=email.id,
                filename=one_line(item.filename, FILENAME_MAX),
                content_type=item.content_type,
                data=item.data,
            )
        )
    if attachments:
        db.flush()
