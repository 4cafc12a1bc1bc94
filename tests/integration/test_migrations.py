"""`alembic upgrade head` from an empty database, on SQLite and PostgreSQL, matches the models
(autogenerate's `compare_metadata` finds nothing to add, drop or alter); the login-throttle
revision moves the lock off `users` and redacts secrets already stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import efoy_app.models  # noqa: F401  (registers every table on SQLModel.metadata)
from efoy_app.launcher import ROOT
from tests.integration.support import BACKENDS, postgres_database, postgres_url

THROTTLE_REVISION, INITIAL_REVISION = "e35b3d1ff986", "51a2be42a93c"


def alembic(db_url: str, *args: str) -> str:
    env = {**os.environ, "REFLEX_DB_URL": db_url}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture(params=BACKENDS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    with postgres_database(postgres_url()) as url:
        yield url


def model_differences(db_url: str) -> list[Any]:
    """What `alembic revision --autogenerate` would write to make the database match the models
    (types compared too, as alembic/env.py's autogenerate does)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()


def test_upgrade_from_empty_matches_the_models(empty_db: str) -> None:
    alembic(empty_db, "upgrade", "head")
    assert model_differences(empty_db) == []
    engine = sa.create_engine(empty_db)
    try:
        inspector = sa.inspect(engine)
        assert "login_throttles" in inspector.get_table_names()
        user_columns = {c["name"] for c in inspector.get_columns("users")}
        assert not user_columns & {"failed_login_count", "locked_until"}
        constraints = inspector.get_unique_constraints("login_throttles")
        unique = {tuple(u["column_names"]) for u in constraints}
        assert ("scope", "account", "address") in unique
    finally:
        engine.dispose()
    # Down and up again: the revision is reversible.
    alembic(empty_db, "downgrade", INITIAL_REVISION)
    alembic(empty_db, "upgrade", "head")


def test_the_revision_redacts_client_secrets_already_stored(empty_db: str) -> None:
    alembic(empty_db, "upgrade", INITIAL_REVISION)
    secret = "pi_3Old_secret_AbC123"
    event = {
        "id": "evt_old",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_3Old", "client_secret": secret, "amount": 4500}},
    }
    engine = sa.create_engine(empty_db)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_events (stripe_event_id, type, payload, status, attempts,"
                    " received_at) VALUES ('evt_old', 'payment_intent.succeeded', :p, 'processed',"
                    " 1, CURRENT_TIMESTAMP)"
                ),
                {"p": json.dumps(event)},
            )
        alembic(empty_db, "upgrade", THROTTLE_REVISION)
        with engine.connect() as conn:
            payload = conn.execute(sa.text("SELECT payload FROM webhook_events")).scalar_one()
    finally:
        engine.dispose()
    assert secret not in payload
    event["data"]["object"]["client_secret"] = "[redacted]"
    assert json.loads(payload) == event
