"""The webhook, the success page and reconciliation fulfil the same payment at the same moment:
one confirmation, one paid payment, one audit row — on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.domain.auth import register_patient
from efoy_app.domain.bookings import hold_slot
from efoy_app.domain.payment_fulfil import fulfill_checkout
from efoy_app.domain.payment_start import start_checkout
from efoy_app.domain.scheduling import upcoming_free_slots
from efoy_app.models import AuditLog, Booking, Doctor, Payment
from tests.integration.payments.helpers import pay_session
from tests.integration.support import BACKENDS, seeded_engine

CALLERS = 10


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, seeded database of each kind."""
    with seeded_engine(request.param, tmp_path) as eng:
        yield eng


def test_ten_simultaneous_fulfilments_confirm_once(engine: Engine, sandbox) -> None:
    with Session(engine, expire_on_commit=False) as db:
        patient = register_patient(
            db, email="racer@example.com", password="racer-password", full_name="Racer"
        )
        doctor_id = db.exec(select(Doctor.id).order_by(Doctor.id)).first()
        slot = upcoming_free_slots(db, doctor_id)[3]
        booking = hold_slot(db, patient=patient, doctor_id=doctor_id, starts_at=slot.starts_at)
        start = start_checkout(db, booking_id=booking.id, user=patient)
    assert pay_session(sandbox, start.session_id)["outcome"] == "succeeded"

    barrier = threading.Barrier(CALLERS)
    errors: list[BaseException] = []

    def fulfil() -> None:
        try:
            with Session(engine, expire_on_commit=False) as db:
                barrier.wait()
                fulfill_checkout(db, start.session_id, actor="test:racer")
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=fulfil) for _ in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with Session(engine) as db:
        assert db.get(Booking, booking.id).status == "confirmed"
        [payment] = db.exec(select(Payment).where(Payment.booking_id == booking.id)).all()
        assert (payment.status, payment.card_last4) == ("paid", "4242")
        booking_audit = db.exec(
            select(AuditLog).where(
                AuditLog.entity_type == "booking",
                AuditLog.entity_id == booking.id,
                AuditLog.to_status == "confirmed",
            )
        ).all()
        payment_audit = db.exec(
            select(AuditLog).where(
                AuditLog.entity_type == "payment",
                AuditLog.entity_id == payment.id,
                AuditLog.to_status == "paid",
            )
        ).all()
        assert (len(booking_audit), len(payment_audit)) == (1, 1)
