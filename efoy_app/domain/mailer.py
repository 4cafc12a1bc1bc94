"""Email leaves Efoy through the outbox table, so nothing is lost when SMTP is down and a
developer can read every message (the admin outbox page, or the table itself).

TEMPORARY version (main's, until helper-mail's lands)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from efoy_app.models import EMAIL_NOTICE, OutboxAttachment, OutboxEmail, utcnow


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


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
    """Adds the message in the caller's transaction; sending happens after commit."""
    if (
        dedupe_key is not None
        and db.exec(select(OutboxEmail.id).where(OutboxEmail.dedupe_key == dedupe_key)).first()
    ):
        return None
    now = now or utcnow()
    email = OutboxEmail(
        kind=kind,
        to_address=to_address,
        subject=subject,
        body=body,
        html_body=html_body,
        message_id=make_msgid(domain="efoy.example"),
        dedupe_key=dedupe_key,
        booking_id=booking_id,
        payment_id=payment_id,
        next_attempt_at=now,
        created_at=now,
    )
    try:
        with db.begin_nested():
            db.add(email)
            db.flush()
    except IntegrityError:
        return None
    for item in attachments:
        db.add(
            OutboxAttachment(
                email_id=email.id,
                filename=item.filename,
                content_type=item.content_type,
                data=item.data,
            )
        )
    return email
