"""My appointments' sections: upcoming soonest first, then past, then cancelled and expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from efoy_app.domain.appointment_list import split_appointments
from efoy_app.domain.bookings import BookingView

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def view(booking_id: int, hours: float, status: str) -> BookingView:
    start = NOW + timedelta(hours=hours)
    return BookingView(
        id=booking_id, doctor_id=1, doctor_name="Dr. A", speciality="GP", starts_at=start,
        ends_at=start + timedelta(minutes=30), status=status, reason="", price_minor=100,
        currency="EUR", hold_expires_at=None, created_at=NOW,
    )  # fmt: skip


def ids(views: list[BookingView]) -> list[int]:
    return [v.id for v in views]


def test_sections_and_their_order() -> None:
    views = [
        view(1, 72, "confirmed"),
        view(2, 2, "held"),
        view(3, 24, "confirmed"),
        view(4, -48, "completed"),
        view(5, -1, "confirmed"),  # started an hour ago: past, not upcoming
        view(6, 5, "cancelled"),
        view(7, -3, "expired"),
        view(8, 30, "expired"),
    ]
    sections = split_appointments(views, now=NOW)
    assert ids(sections.upcoming) == [2, 3, 1]
    assert ids(sections.past) == [5, 4]
    assert ids(sections.closed) == [8, 6, 7]


def test_nothing_is_lost_or_shown_twice() -> None:
    statuses = ["held", "confirmed", "completed", "cancelled", "expired"]
    views = [view(i, h, s) for i, (h, s) in enumerate((h, s) for h in (-5, 5) for s in statuses)]
    sections = split_appointments(views, now=NOW)
    shown = ids(sections.upcoming) + ids(sections.past) + ids(sections.closed)
    assert sorted(shown) == list(range(len(views)))
