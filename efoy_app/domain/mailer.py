"""Email leaves Efoy through the outbox table, so nothing is lost when SMTP is down and a
developer can read every message (the admin outbox page, or the table itself)."""

from __future__ import annotations

from sqlmodel import Session

from efoy_app.models import OutboxEmail


def queue_email(db: Session, *, to_address: str, subject: str, body: str) -> OutboxEmail:
    """Adds the message in the caller's transaction; sending happens after commit."""
    email = OutboxEmail(to_address=to_address, subject=subject, body=body)
    db.add(email)
    return email
