"""The same Stripe event delivered to several workers at the same moment, on SQLite and on
PostgreSQL: stored once (the unique index decides, in one INSERT ... ON CONFLICT), and applied
once (the event row's lock makes every later processing find it finished)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.domain import webhook_inbox, webhooks
from efoy_app.models import WebhookEvent
from tests.integration.support import BACKENDS, seeded_engine

RACERS = 16


@pytest.fixture(params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """A fresh database of each kind, the one the inbox and the handlers write to."""
    with seeded_engine(request.param, tmp_path) as eng:
        monkeypatch.setattr(webhook_inbox, "get_engine", lambda: eng)
        monkeypatch.setattr(webhooks, "get_engine", lambda: eng)
        yield eng


def all_at_once(work: Callable[[], Any]) -> list[Any]:
    """Run `work` in RACERS threads released together; their results (or exceptions)."""
    start = threading.Barrier(RACERS)
    results: list[Any] = [None] * RACERS

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work()
        except Exception as exc:  # the test asserts there is none
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def event(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": "customer.created",
            "data": {"object": {"id": "cus_race", "object": "customer"}}}  # fmt: skip


def rows(engine: Engine, event_id: str) -> list[WebhookEvent]:
    with Session(engine) as db:
        query = select(WebhookEvent).where(WebhookEvent.stripe_event_id == event_id)
        return list(db.exec(query).all())


def test_deliveries_at_the_same_moment_store_the_event_once(engine: Engine) -> None:
    evt = event("evt_race_store")
    results = all_at_once(lambda: webhook_inbox.store(evt).outcome)
    assert Counter(results) == {"stored": 1, "duplicate": RACERS - 1}
    assert len(rows(engine, evt["id"])) == 1


def test_processings_at_the_same_moment_apply_the_event_once(engine: Engine) -> None:
    evt = event("evt_race_apply")
    assert webhook_inbox.store(evt).new
    results = all_at_once(lambda: webhooks.process_event(evt))
    assert Counter(results) == {"ignored": 1, webhooks.DUPLICATE: RACERS - 1}
    [row] = rows(engine, evt["id"])
    assert (row.status, row.attempts) == ("ignored", 1)
