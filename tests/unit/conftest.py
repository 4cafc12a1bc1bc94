"""Unit tests run the domain against a throwaway SQLite file: no Reflex, no network."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from efoy_app.db import get_engine, make_engine
from efoy_app.domain.stripe_gateway import use_client
from efoy_app.models import ROLE_ADMIN, ROLE_DOCTOR, ROLE_PATIENT, Doctor, User, WorkingHours
from efoy_app.settings import get_settings
from tests.unit.stripe_double import StripeDouble

WEEKDAY_HOURS = [(d, time(9), time(12)) for d in range(5)] + [
    (d, time(13), time(17)) for d in range(5)
]


@pytest.fixture(autouse=True)
def demo_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Known settings for every test (demo env, 30 min holds, 14 day horizon)."""
    monkeypatch.setenv("EFOY_ENV", "demo")
    for name in (
        "EFOY_HOLD_MINUTES",
        "EFOY_BOOKING_HORIZON_DAYS",
        "EFOY_JWT_TTL_SECONDS",
        "EFOY_CANCELLATION_POLICY",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    SQLModel.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


def add_user(session: Session, *, email: str, role: str = ROLE_PATIENT, tz: str = "UTC") -> User:
    name = email.split("@")[0]
    user = User(email=email, password_hash="!", role=role, full_name=name, timezone=tz)
    session.add(user)
    session.commit()
    return user


@pytest.fixture
def make_doctor(session: Session) -> Callable[..., Doctor]:
    """A doctor with weekly hours [(weekday, start, end)] (default Mon-Fri 9-12, 13-17)."""
    counter = iter(range(1, 1000))

    def make(
        *,
        tz: str = "UTC",
        hours: list[tuple[int, time, time]] | None = None,
        slot_minutes: int = 30,
        fee_minor: int = 4500,
        currency: str = "USD",
        name: str | None = None,
        speciality: str = "General practice",
        active: bool = True,
    ) -> Doctor:
        n = next(counter)
        user = add_user(session, email=f"doctor{n}@example.com", role=ROLE_DOCTOR, tz=tz)
        if name:
            user.full_name = name
            session.add(user)
        doctor = Doctor(
            user_id=user.id,
            speciality=speciality,
            fee_minor=fee_minor,
            currency=currency,
            slot_minutes=slot_minutes,
            timezone=tz,
            active=active,
        )
        session.add(doctor)
        session.flush()
        for weekday, start, end in WEEKDAY_HOURS if hours is None else hours:
            session.add(
                WorkingHours(doctor_id=doctor.id, weekday=weekday, start_time=start, end_time=end)
            )
        session.commit()
        return doctor

    return make


@pytest.fixture
def patient(session: Session) -> User:
    return add_user(session, email="alice@example.com", tz="Africa/Addis_Ababa")


@pytest.fixture
def other_patient(session: Session) -> User:
    return add_user(session, email="bob@example.com")


@pytest.fixture
def admin(session: Session) -> User:
    return add_user(session, email="root@example.com", role=ROLE_ADMIN)


@pytest.fixture
def stripe_double() -> Iterator[StripeDouble]:
    """An in-memory Stripe behind `get_stripe()` for every domain module, for this test only."""
    double = StripeDouble()
    with use_client(double):
        yield double


@pytest.fixture
def app_engine(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """`get_engine()` on this test's database, for the code that opens its own sessions
    (webhook processing, reconciliation). The test's own `session` must have no transaction
    open while that code runs: SQLite's BEGIN IMMEDIATE would make it wait."""
    monkeypatch.setenv("REFLEX_DB_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield get_engine()
    get_engine().dispose()
    get_engine.cache_clear()
