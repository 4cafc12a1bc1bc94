"""Helpers for integration tests: uvicorn in a thread, a throwaway PostgreSQL schema or database,
and Alembic run in-process."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from alembic.config import Config
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel

from alembic import command
from efoy_app.api.app import create_api
from efoy_app.api.deps import get_session
from efoy_app.db import make_engine
from efoy_app.launcher import ROOT
from efoy_app.seed import load_demo_data
from efoy_app.settings import get_settings
from tests.log_scan import run_log_path

PG_URL_ENV = "TEST_DATABASE_URL"


def file_log_config(path: Path) -> dict:
    """uvicorn's own loggers, access log included, to one file only (not the console)."""
    handler = {"class": "logging.FileHandler", "filename": str(path), "mode": "a"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"file": {**handler, "formatter": "plain"}},
        "loggers": {
            name: {"handlers": ["file"], "level": "INFO", "propagate": False}
            for name in ("uvicorn", "uvicorn.access")
        },
    }


class UvicornThread:
    """uvicorn serving an ASGI app from a daemon thread, stopped cleanly at the end."""

    def __init__(self, app: object, port: int) -> None:
        log_path = run_log_path(f"uvicorn-{port}.log")
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            # Like production's granian: the client address is the socket's, never a header.
            proxy_headers=False,
            log_level="warning" if log_path is None else "info",
            lifespan="off",
            **({} if log_path is None else {"log_config": file_log_config(log_path)}),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def postgres_url() -> str:
    """TEST_DATABASE_URL, or skip (CI sets it; a laptop may have no PostgreSQL)."""
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(f"{PG_URL_ENV} is not set: PostgreSQL variant not run")
    return url


@contextmanager
def postgres_schema_engine(url: str) -> Iterator[Engine]:
    """An engine (built by our own `make_engine`) confined to a fresh schema, dropped after."""
    schema = f"efoy_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    engine = make_engine(f"{url}{separator}options=-csearch_path%3D{schema}")
    try:
        SQLModel.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


DATABASE_PREFIX = "efoy_t_"


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """A fresh, empty database on the server of `url` (its URL), dropped after with whatever
    still holds a connection to it: a whole app server (several processes) can use it as its own."""
    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def alembic_upgrade(db_url: str, revision: str = "head") -> None:
    """`alembic upgrade` in this process (alembic/env.py reads REFLEX_DB_URL through the settings),
    without alembic.ini's logging set-up, which would replace pytest's own."""
    config = Config()
    config.set_main_option("script_location", str(ROOT / "alembic"))
    saved = os.environ.get("REFLEX_DB_URL")
    os.environ["REFLEX_DB_URL"] = db_url
    get_settings.cache_clear()
    try:
        command.upgrade(config, revision)
    finally:
        if saved is None:
            os.environ.pop("REFLEX_DB_URL", None)
        else:
            os.environ["REFLEX_DB_URL"] = saved
        get_settings.cache_clear()


# Parametrise a fixture with these to run a test on both databases (in the SQLite pass: the
# PostgreSQL pass, `--db=postgresql`, leaves out what `both_databases` marks).
BACKENDS = [
    pytest.param("sqlite", marks=pytest.mark.both_databases),
    pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.both_databases]),
]


@contextmanager
def seeded_engine(backend: str, tmp_dir: Path) -> Iterator[Engine]:
    """A fresh database of the given kind with the demo data, built with the app's `make_engine`."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_dir / 'seeded.db'}")
        SQLModel.metadata.create_all(engine)
        with Session(engine) as s:
            load_demo_data(s)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    with postgres_schema_engine(postgres_url()) as engine:
        with Session(engine) as s:
            load_demo_data(s)
        yield engine


@contextmanager
def api_on_engine(engine: Engine, port: int) -> Iterator[UvicornThread]:
    """The real API on `port`, every request served from `engine`'s database."""
    app = create_api()

    def session_on_engine() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session:
            yield session

    app.dependency_overrides[get_session] = session_on_engine
    server = UvicornThread(app, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
