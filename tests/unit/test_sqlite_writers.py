"""On SQLite the writers of one process take turns on a lock (`db._writers_take_turns`): a
second transaction waits for the first to end, then starts at once, and every way a transaction
ends (commit, rollback, an error inside it, a connection thrown away) gives the turn back."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from efoy_app.db import make_engine

# Long enough that a turn never given back shows as a failed wait below, not as a slow test.
WAIT = 5.0


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield eng
    eng.dispose()


def second_writer(engine: Engine) -> threading.Event:
    """Start a second writer in a thread; the event it returns is set once it has begun."""
    begun = threading.Event()

    def second() -> None:
        with engine.begin() as conn:
            begun.set()
            conn.execute(text("INSERT INTO t VALUES (2)"))

    threading.Thread(target=second, daemon=True).start()
    return begun


def test_a_second_writer_waits_for_the_first_then_starts(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        begun = second_writer(engine)
        assert not begun.wait(0.3)  # the first still has the turn
    assert begun.wait(WAIT)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM t")).scalar() >= 1


@pytest.mark.parametrize("how", ["rollback", "error", "invalidate"])
def test_every_end_of_a_transaction_gives_the_turn_back(engine: Engine, how: str) -> None:
    conn = engine.connect()
    conn.begin()
    conn.execute(text("INSERT INTO t VALUES (1)"))
    if how == "rollback":
        conn.rollback()
    elif how == "error":
        with pytest.raises(Exception, match="no such table"):
            conn.execute(text("INSERT INTO missing VALUES (1)"))
        conn.rollback()
    else:
        conn.invalidate()
    # Still checked out, so the second writer works on a connection of its own.
    begun = second_writer(engine)
    assert begun.wait(WAIT), f"after {how}, the next writer still waits"
    conn.close()
