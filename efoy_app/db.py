"""The SQLAlchemy engine and sessions shared by domain/, api/, state/ and the webhook route.

The engine is built from `Settings.db_url` (the same `REFLEX_DB_URL` that `reflex db migrate`
uses), so the app, the REST API and the migrations always talk to one database.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from efoy_app.domain.errors import ValidationFailed
from efoy_app.settings import get_settings


def private_sqlite_file(url: str) -> Path | None:
    """Create the SQLite file of `url` readable by its owner only (0600), or tighten it.

    It holds password hashes and payment records. SQLite gives its -wal and -shm files the
    database file's mode, so they follow. Returns the path (None for other databases/memory)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except FileNotFoundError:  # no such folder: let SQLite report it as it always has
        return None
    path.chmod(0o600)
    return path


class TextWithNul(ValidationFailed):
    """A value bound for the database carries a NUL character."""

    code = "nul_in_text"


def _has_nul(params: Any) -> bool:
    if isinstance(params, str):
        return "\x00" in params
    if isinstance(params, dict):
        return any(_has_nul(v) for v in params.values())
    if isinstance(params, list | tuple):
        return any(_has_nul(v) for v in params)
    return False


def _refuse_nul(engine: Engine) -> None:
    """PostgreSQL refuses NUL in text (a DataError, which would answer 500): every statement's
    values are checked first, on both databases alike, and one carrying NUL (a search, an email,
    anything free text cleaning does not reach) is a clear 422 instead."""

    @event.listens_for(engine, "before_cursor_execute")
    def _check(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
        if _has_nul(parameters):
            raise TextWithNul("Text may not contain NUL characters (\\x00).")


def make_engine(url: str) -> Engine:
    """SQLite gets WAL and a busy timeout so concurrent writers wait instead of failing; both
    refuse NUL in values (`_refuse_nul`)."""
    engine = _make_engine(url)
    _refuse_nul(engine)
    return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        # As many connections as FastAPI's threadpool has threads, so none waits for the pool.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=10,
            max_overflow=40,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # Let SQLAlchemy emit BEGIN so BEGIN IMMEDIATE can be used for write transactions.
            dbapi_conn.isolation_level = None

        _writers_take_turns(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


# How long a transaction waits for this process's other writers before it asks SQLite anyway
# (whose own busy timeout, 30 s, then applies).
WRITER_WAIT_SECONDS = 30.0


def _writers_take_turns(engine: Engine) -> None:
    """Every SQLite transaction is a write transaction (BEGIN IMMEDIATE), and SQLite makes a
    waiting writer poll, sleeping 1, 2, 5 ... 100 ms between tries: under load, threads that
    just missed the lock sleep while it is free, and tails reach seconds. The threads of one
    process queue on a Python lock instead, taken before BEGIN and given back once COMMIT or
    ROLLBACK has returned, so the next writer starts the moment the last one ends. Other
    processes on the same file still wait through SQLite's busy timeout."""
    turn = threading.Lock()
    holder: list[int | None] = [None]  # id() of the DBAPI connection that has the turn
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def _raw_id(conn: Any) -> int:
        """The sqlite3 connection under a pool's proxy (SQLAlchemy passes either)."""
        return id(getattr(conn, "dbapi_connection", None) or conn)

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
        raw = _raw_id(conn.connection)
        if holder[0] != raw and turn.acquire(timeout=WRITER_WAIT_SECONDS):
            holder[0] = raw
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _end_turn(conn.connection)
            raise

    def _end_turn(conn: Any) -> None:
        if holder[0] is not None and holder[0] == _raw_id(conn):
            holder[0] = None
            turn.release()

    # A connection thrown away mid-transaction gives its turn back too.
    event.listen(engine, "invalidate", lambda conn, _record, _exc: _end_turn(conn))
    event.listen(engine, "close", lambda conn, _record: _end_turn(conn))

    def do_commit(dbapi_conn: Any) -> None:
        try:
            commit(dbapi_conn)
        finally:
            _end_turn(dbapi_conn)

    def do_rollback(dbapi_conn: Any) -> None:
        try:
            rollback(dbapi_conn)
        finally:
            _end_turn(dbapi_conn)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().db_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
