"""Patients hold slots on a day while an admin closes it: no slot is sold in hours just removed.

Twenty threads hold twenty different slots of one doctor's day as an admin makes it a day off
and cancels what it strands. Each hold either lands before the day off (and is then listed and
cancelled) or after it (and is refused: the time is no longer a slot); none is left standing on
the closed day. On PostgreSQL this is the doctor row's lock (a hold takes it for share, the
change for update); without it a hold committed between the change's listing and its commit
would survive unlisted. On SQLite writes are serialised anyway.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.domain import sold_bookings, working_plan
from efoy_app.domain.bookings import hold_slot
from efoy_app.domain.errors import DomainError
from efoy_app.domain.scheduling import busy_clause, to_local, upcoming_free_slots
from efoy_app.models import BOOKING_CANCELLED, ROLE_ADMIN, Booking, Doctor, User, utcnow
from tests.integration.support import BACKENDS, seeded_engine

RACERS = 20


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with seeded_engine(request.param, tmp_path) as eng:
        yield eng


def test_a_day_closed_while_patients_hold_its_slots_keeps_none_of_them(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        doctor = s.exec(select(Doctor).order_by(Doctor.id)).all()[1]
        slots = upcoming_free_slots(s, doctor.id)
        days = Counter(to_local(x.starts_at, doctor.timezone).date() for x in slots)
        day = max(days, key=lambda d: (days[d], d))
        starts = [
            x.starts_at for x in slots if to_local(x.starts_at, doctor.timezone).date() == day
        ]
        starts = starts[:RACERS]
        patients = [
            User(email=f"closer{i}@example.com", password_hash="!", full_name=f"Closer {i}")
            for i in range(len(starts))
        ]
        s.add_all(patients)
        s.commit()
        admin = s.exec(select(User).where(User.role == ROLE_ADMIN)).first()
    barrier = threading.Barrier(len(starts) + 1, timeout=60)
    outcomes: Counter[str] = Counter()
    said: list[str] = []

    def patient_holds(patient: User, starts_at: object) -> None:
        with Session(engine, expire_on_commit=False) as db:
            barrier.wait()
            try:
                hold_slot(db, patient=patient, doctor_id=doctor.id, starts_at=starts_at)
                outcomes["held"] += 1
            except DomainError as exc:
                outcomes[exc.code] += 1

    def admin_closes() -> None:
        with Session(engine, expire_on_commit=False) as db:
            barrier.wait()
            saved = working_plan.add_day_off(
                db, doctor.id, day, admin, reason="Flood", on_bookings=sold_bookings.CANCEL
            )
            said.append(saved.sentence)

    threads = [threading.Thread(target=admin_closes)] + [
        threading.Thread(target=patient_holds, args=(p, t))
        for p, t in zip(patients, starts, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert said and "is a day off" in said[0]
    assert sum(outcomes.values()) == len(starts)
    assert set(outcomes) <= {"held", "validation_error"}, outcomes
    now = utcnow()
    with Session(engine) as db:
        standing = db.exec(
            select(Booking).where(Booking.doctor_id == doctor.id, busy_clause(now))
        ).all()
        on_the_day = [b for b in standing if to_local(b.starts_at, doctor.timezone).date() == day]
        assert on_the_day == []
        cancelled = db.exec(
            select(Booking).where(
                Booking.doctor_id == doctor.id, Booking.status == BOOKING_CANCELLED
            )
        ).all()
        assert len(cancelled) == outcomes["held"]
