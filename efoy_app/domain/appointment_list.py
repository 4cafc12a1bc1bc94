"""My appointments in the order a patient reads them: what is coming first, soonest first; then
what has happened; then what was cancelled or lapsed.

Read-side only: the statuses come from domain.bookings (a lapsed hold already reads "expired").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from efoy_app.domain.bookings import BookingView
from efoy_app.models import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_EXPIRED,
    BOOKING_HELD,
    utcnow,
)

_ACTIVE = (BOOKING_HELD, BOOKING_CONFIRMED)
_CLOSED = (BOOKING_CANCELLED, BOOKING_EXPIRED)


@dataclass(frozen=True)
class AppointmentSections:
    upcoming: list[BookingView] = field(default_factory=list)
    past: list[BookingView] = field(default_factory=list)
    closed: list[BookingView] = field(default_factory=list)  # cancelled and expired


def split_appointments(
    views: list[BookingView], now: datetime | None = None
) -> AppointmentSections:
    """Upcoming (held or confirmed, not started yet) by appointment time, soonest first; past
    (completed, or confirmed and started) and closed (cancelled, expired), latest first."""
    now = now or utcnow()
    upcoming = [v for v in views if v.status in _ACTIVE and v.starts_at > now]
    closed = [v for v in views if v.status in _CLOSED]
    taken = {v.id for v in upcoming} | {v.id for v in closed}
    past = [v for v in views if v.id not in taken]
    latest_first = lambda v: (v.starts_at, v.id)  # noqa: E731
    return AppointmentSections(
        upcoming=sorted(upcoming, key=lambda v: (v.starts_at, v.id)),
        past=sorted(past, key=latest_first, reverse=True),
        closed=sorted(closed, key=latest_first, reverse=True),
    )
