"""Fifty patients race for one slot: exactly one hold, 49 clear "slot just taken" answers.

Run through the domain layer (a thread and a Session each) and over HTTP (a thread and an
httpx client each, 50 different patients), on SQLite and, when TEST_DATABASE_URL is set, on
PostgreSQL, where the partial unique index, not the pre-check, decides the race.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.domain import auth
from efoy_app.domain.bookings import hold_slot
from efoy_app.domain.errors import SlotTaken
from efoy_app.domain.scheduling import upcoming_free_slots
from efoy_app.models import AuditLog, Booking, Doctor, User
from tests.conftest import free_port
from tests.integration.support import BACKENDS, api_on_engine, seeded_engine

RACERS = 50


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, seeded database of each kind."""
    with seeded_engine(request.param, tmp_path) as eng:
        yield eng


def make_patients(engine: Engine, n: int) -> list[int]:
    with Session(engine) as s:
        users = [
            User(email=f"racer{i}@example.com", password_hash="!", full_name=f"Racer {i}")
            for i in range(n)
        ]
        s.add_all(users)
        s.commit()
        return [u.id for u in users]


def contested_slot(engine: Engine, doctor_index: int) -> tuple[int, datetime]:
    """A slot several days out, so nothing else in the run touches it."""
    with Session(engine) as s:
        doctor_id = s.exec(select(Doctor.id).order_by(Doctor.id)).all()[doctor_index]
        free = upcoming_free_slots(s, doctor_id)
        return doctor_id, free[len(free) // 2].starts_at


def assert_one_hold(engine: Engine, doctor_id: int, starts_at: datetime) -> int:
    with Session(engine) as s:
        rows = s.exec(select(Booking).where(Booking.doctor_id == doctor_id)).all()
        assert [(b.starts_at, b.status) for b in rows] == [(starts_at, "held")]
        audits = s.exec(select(AuditLog).where(AuditLog.entity_type == "booking")).all()
        assert [(a.entity_id, a.action) for a in audits] == [(rows[0].id, "held")]
        return rows[0].patient_id


def test_fifty_threads_through_the_domain(engine: Engine) -> None:
    patient_ids = make_patients(engine, RACERS)
    doctor_id, starts_at = contested_slot(engine, doctor_index=2)
    barrier = threading.Barrier(RACERS, timeout=60)
    outcomes: dict[int, str] = {}

    def race(patient_id: int) -> None:
        with Session(engine, expire_on_commit=False) as s:
            patient = s.get(User, patient_id)
            s.rollback()
            barrier.wait()
            try:
                hold_slot(s, patient=patient, doctor_id=doctor_id, starts_at=starts_at)
                outcomes[patient_id] = "held"
            except SlotTaken:
                outcomes[patient_id] = "slot_taken"
            except Exception as exc:  # noqa: BLE001 - any other outcome fails the test below
                outcomes[patient_id] = repr(exc)

    threads = [threading.Thread(target=race, args=(pid,)) for pid in patient_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert Counter(outcomes.values()) == {"held": 1, "slot_taken": RACERS - 1}
    winner = assert_one_hold(engine, doctor_id, starts_at)
    assert outcomes[winner] == "held"


@dataclass
class Target:
    url: str
    engine: Engine


@pytest.fixture
def target(engine: Engine) -> Iterator[Target]:
    """The real app on its own port, its requests served from `engine`'s database."""
    with api_on_engine(engine, free_port()) as server:
        yield Target(server.url, engine)


def test_fifty_patients_over_http(target: Target) -> None:
    patient_ids = make_patients(target.engine, RACERS)
    with Session(target.engine) as s:
        tokens = [auth.issue_token(s.get(User, pid))[0] for pid in patient_ids]
    doctor_id, starts_at = contested_slot(target.engine, doctor_index=3)
    barrier = threading.Barrier(RACERS, timeout=60)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def race(token: str) -> None:
        with httpx.Client(base_url=target.url, timeout=120) as client:
            client.get("/api/v1/health")  # connect before the start line
            barrier.wait()
            r = client.post(
                "/api/v1/bookings",
                json={"doctorId": doctor_id, "startsAt": starts_at.isoformat()},
                headers={"Authorization": f"Bearer {token}"},
            )
            code = r.json().get("error", {}).get("code", "") if r.status_code != 201 else ""
            with lock:
                answers.append((r.status_code, code))

    threads = [threading.Thread(target=race, args=(token,)) for token in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert Counter(answers) == {(201, ""): 1, (409, "slot_taken"): RACERS - 1}
    assert_one_hold(target.engine, doctor_id, starts_at)
    day = starts_at.date().isoformat()
    r = httpx.get(f"{target.url}/api/v1/doctors/{doctor_id}/slots", params={"date": day})
    assert starts_at not in [datetime.fromisoformat(s["startsAt"]) for s in r.json()["slots"]]
