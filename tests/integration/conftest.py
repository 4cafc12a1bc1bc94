"""The real FastAPI app under uvicorn on a free port, over a fresh database with the demo data: a
SQLite file, or with `--db=postgresql` a PostgreSQL database of its own brought up by Alembic.

Fixtures other folders reuse (payments): `api_server` (`.url`, `.engine`, `.set_env(...)`),
`patient_token`, `admin_token`, `make_patient()` (a fresh patient registered over HTTP; returns
its bearer token, a `str` that also carries `.email`, `.password` and `.user_id`).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from efoy_app.db import get_engine
from efoy_app.settings import get_settings
from tests.conftest import StripeWorld
from tests.integration.support import (
    UvicornThread,
    alembic_upgrade,
    postgres_database,
    postgres_url,
)

PATIENT = ("patient@example.com", "patient-demo-pass")
ADMIN = ("admin@example.com", "admin-demo-pass")


@dataclass
class ApiServer:
    url: str
    engine: Engine
    app: FastAPI

    def set_env(self, **values: str | None) -> None:
        """Change settings the running app reads per request (e.g. STRIPE_API_BASE)."""
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@pytest.fixture(scope="session")
def api_server(
    tmp_path_factory: pytest.TempPathFactory, stripe_world: StripeWorld, db_backend: str
) -> Iterator[ApiServer]:
    """The API with payments wired to the sandbox (whose webhook already points at this port)."""
    from efoy_app.api.app import create_api
    from efoy_app.seed import load_demo_data

    with ExitStack() as stack:
        mp = stack.enter_context(pytest.MonkeyPatch.context())
        if db_backend == "postgresql":
            db_url = stack.enter_context(postgres_database(postgres_url()))
            alembic_upgrade(db_url)  # the migrations, not create_all: they are what production runs
        else:
            db_url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'efoy-test.db'}"
        mp.setenv("REFLEX_DB_URL", db_url)
        mp.setenv("EFOY_ENV", "demo")
        get_settings.cache_clear()
        get_engine.cache_clear()
        engine = get_engine()
        if db_backend == "sqlite":
            SQLModel.metadata.create_all(engine)
        with Session(engine) as session:
            load_demo_data(session)
        app = create_api()
        server = UvicornThread(app, stripe_world.api_port)
        server.start()
        try:
            yield ApiServer(url=server.url, engine=engine, app=app)
        finally:
            server.stop()
            engine.dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def login(url: str, email: str, password: str) -> str:
    r = httpx.post(
        f"{url}/api/v1/auth/token", json={"email": email, "password": password}, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()["accessToken"]


@pytest.fixture(scope="session")
def patient_token(api_server: ApiServer) -> str:
    """The demo patient's bearer token."""
    return login(api_server.url, *PATIENT)


@pytest.fixture(scope="session")
def admin_token(api_server: ApiServer) -> str:
    """The demo admin's bearer token."""
    return login(api_server.url, *ADMIN)


class PatientToken(str):
    """A bearer token that remembers whose it is."""

    email: str
    password: str
    user_id: int


_patient_numbers = itertools.count(1)


def register_patient(url: str, timezone: str = "Africa/Addis_Ababa") -> PatientToken:
    n = next(_patient_numbers)
    email = f"patient{n}-{os.getpid()}-{time.monotonic_ns()}@example.com"
    password = f"patient-{n}-password"
    r = httpx.post(
        f"{url}/api/v1/auth/register",
        json={
            "email": email,
            "password": password,
            "fullName": f"Patient {n}",
            "timezone": timezone,
        },
        timeout=30,
    )
    assert r.status_code == 201, r.text
    token = PatientToken(login(url, email, password))
    token.email, token.password, token.user_id = email, password, r.json()["id"]
    return token


@pytest.fixture
def make_patient(api_server: ApiServer) -> Callable[..., PatientToken]:
    """`make_patient(timezone=...)` registers a fresh patient over HTTP and returns its token."""

    def make(timezone: str = "Africa/Addis_Ababa") -> PatientToken:
        return register_patient(api_server.url, timezone)

    return make
