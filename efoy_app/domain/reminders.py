"""Appointment reminders, queued into the outbox by the mail sender's pass.

stub: issue 11 fills this in."""

from __future__ import annotations

from datetime import datetime


def queue_due_reminders(now: datetime) -> int:
    """Queues the reminders due at `now`; returns how many were queued."""
    return 0
