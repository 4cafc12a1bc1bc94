"""Every page of the admin lists (payments, bookings, audit), the older half read from the other
end of the index, equals the newest-first order sliced (ties in the time broken by id)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from efoy_app.domain import admin_views, audit_views
from efoy_app.domain.audit_views import AuditFilter
from efoy_app.models import AuditLog, Booking, Payment, User, utcnow


def test_each_page_is_the_newest_first_order_sliced(
    session: Session, make_doctor, patient: User, admin: User
) -> None:
    doctor = make_doctor()
    base = utcnow() - timedelta(days=1)
    for n in range(11):
        starts = base + timedelta(days=3, minutes=30 * n)
        booking = Booking(patient_id=patient.id, doctor_id=doctor.id, starts_at=starts,
                          ends_at=starts + timedelta(minutes=30), status="confirmed",
                          price_minor=1000, currency="EUR")  # fmt: skip
        session.add(booking)
        session.flush()
        # Pairs of payments share a created_at: the id decides between them.
        session.add(Payment(booking_id=booking.id, kind="checkout", status="paid",
                            amount_minor=1000, currency="EUR",
                            created_at=base + timedelta(minutes=n // 2)))  # fmt: skip
    session.commit()
    everything = admin_views.payment_list(session, admin, limit=200).data
    assert len(everything) == 11
    order = [p.id for p in everything]
    for limit in (1, 3, 4):
        for offset in range(0, 13):
            page = admin_views.payment_list(session, admin, limit=limit, offset=offset)
            assert [p.id for p in page.data] == order[offset : offset + limit], (limit, offset)
            assert page.count == 11


def test_bookings_and_audit_pages_too(
    session: Session, make_doctor, patient: User, admin: User
) -> None:
    doctor = make_doctor()
    base = utcnow() - timedelta(days=1)
    for n in range(9):
        starts = base + timedelta(days=3, minutes=30 * n)
        session.add(Booking(patient_id=patient.id, doctor_id=doctor.id, starts_at=starts,
                            ends_at=starts + timedelta(minutes=30), status="confirmed",
                            price_minor=1000, currency="EUR",
                            created_at=base + timedelta(minutes=n // 3)))  # fmt: skip
        session.add(AuditLog(at=base + timedelta(minutes=n // 2), actor="system:test",
                             entity_type="booking", entity_id=n + 1, action="held"))  # fmt: skip
    session.commit()
    bookings = [b.booking.id for b in admin_views.booking_list(session, admin, limit=200).data]
    audit = [a.id for a in audit_views.audit_list(session, admin, AuditFilter(), limit=200).data]
    assert len(bookings) == len(audit) == 9
    for limit in (1, 2, 4):
        for offset in range(0, 11):
            page = admin_views.booking_list(session, admin, limit=limit, offset=offset)
            assert [b.booking.id for b in page.data] == bookings[offset : offset + limit]
            rows = audit_views.audit_list(session, admin, AuditFilter(), limit=limit, offset=offset)
            assert [a.id for a in rows.data] == audit[offset : offset + limit]
