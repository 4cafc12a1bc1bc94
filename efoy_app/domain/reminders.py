"""Reminders before appointments: queued by the mail sender's pass, once per booking.

A confirmed booking gets one reminder when its appointment is EFOY_REMINDER_HOURS away (24 by
default), not when it was booked inside that window (the confirmation has just said it all),
never once it is cancelled, and never twice: the reminder's once-only key makes the database
refuse a second, so several workers' passes at the same moment queue one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from efoy_app.db import get_engine
from efoy_app.domain import messages
from efoy_app.models import (
    BOOKING_CONFIRMED,
    EMAIL_REMINDER,
    PAID_STATUSES,
    Booking,
    OutboxEmail,
    Payment,
    utcnow,
)
from efoy_app.settings import get_settings


def due_bookings(db: Session, now: datetime, window: timedelta) -> list[Booking]:
    """Confirmed bookings starting within the window that have had no reminder, and were
    confirmed before their window opened."""
    reminded = select(OutboxEmail.id).where(
        OutboxEmail.booking_id == Booking.id, OutboxEmail.kind == EMAIL_REMINDER
    )
    rows = db.exec(
        select(Booking, Payment.paid_at)
        .join(Payment, col(Payment.booking_id) == col(Booking.id))
        .where(
            Booking.status == BOOKING_CONFIRMED,
            col(Booking.starts_at) > now,
            col(Booking.starts_at) <= now + window,
            col(Payment.status).in_(PAID_STATUSES),
            ~reminded.exists(),
        )
        .order_by(col(Booking.starts_at), col(Booking.id))
    ).all()
    due: dict[int, Booking] = {}
    for booking, paid_at in rows:
        if paid_at is not None and paid_at <= booking.starts_at - window:
            due.setdefault(booking.id, booking)
    return list(due.values())


def queue_due_reminders(now: datetime | None = None, engine: Engine | None = None) -> int:
    """Queue every reminder that is due (commits); returns how many were queued."""
    settings = get_settings()
    if not settings.email_reminder:
        return 0
    now = now or utcnow()
    window = timedelta(hours=settings.reminder_hours)
    queued = 0
    with Session(engine or get_engine(), expire_on_commit=False) as db:
        for booking in due_bookings(db, now, window):
            if messages.reminder(db, booking) is not None:
                queued += 1
        db.commit()
    return queued
