"""The REST list of bookings a page at a time (`GET /api/v1/bookings`): a patient's own, an
admin's everyone's, latest appointment first, never more than `MAX_PAGE` rows in one answer.

`bookings.list_bookings_for` is one person's list whole (My appointments, an admin's included);
this one takes the page's ids first on the (starts_at, id) order and joins only those rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from efoy_app.domain.bookings import BookingView, booking_view_of
from efoy_app.models import ROLE_ADMIN, Booking, Doctor, User, utcnow

DEFAULT_PAGE = 50
MAX_PAGE = 200


def bookings_page_for(
    session: Session, user: User, *, limit: int = DEFAULT_PAGE, offset: int = 0
) -> list[BookingView]:
    """Up to `limit` of the user's bookings (an admin: everyone's) after skipping `offset`."""
    ids = select(Booking.id).order_by(col(Booking.starts_at).desc(), col(Booking.id).desc())
    if user.role != ROLE_ADMIN:
        ids = ids.where(Booking.patient_id == user.id)
    page = list(session.exec(ids.offset(offset).limit(min(limit, MAX_PAGE))).all())
    if not page:
        return []
    doctor_user = sa.orm.aliased(User)
    rows = session.exec(
        select(Booking, Doctor, doctor_user)
        .join(Doctor, col(Doctor.id) == col(Booking.doctor_id))
        .join(doctor_user, doctor_user.id == Doctor.user_id)
        .where(col(Booking.id).in_(page))
    ).all()
    by_id = {b.id: (b, d, u) for b, d, u in rows}
    now = utcnow()
    return [booking_view_of(*by_id[i], now) for i in page if i in by_id]
