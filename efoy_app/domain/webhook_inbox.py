"""The webhook's durable inbox: a verified event is committed by Stripe's id in one statement,
and only then answered; its effects are applied after the answer (`efoy_app.webhook_queue`).

Why: Stripe asks for a 2xx before any complex logic, and retries (or disables the endpoint)
when answers are slow. Our handlers call Stripe back and write several rows; storing the event
first keeps the answer to Stripe at one indexed INSERT, whatever Stripe's own latency is. Nothing
acknowledged is lost: the row is committed before the 2xx, and an event whose process died
before applying it stays `received` until reconciliation applies it
(`webhooks.retry_pending_events`).

One statement (`INSERT ... ON CONFLICT DO NOTHING RETURNING id`, Core, no ORM object) both stores
the event and tells whether it was new, on SQLite and PostgreSQL alike: the same event arriving
twice, on two workers at the same moment, is stored once. Deliveries arriving together share
one commit (`_GroupCommit`): the commit's disk flush is most of what a store costs.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from efoy_app.db import get_engine
from efoy_app.domain.redaction import redact_secrets
from efoy_app.models import EVENT_IGNORED, EVENT_PROCESSED, EVENT_RECEIVED, WebhookEvent, utcnow

EVENTS: Table = WebhookEvent.__table__  # type: ignore[attr-defined]
FINISHED = (EVENT_PROCESSED, EVENT_IGNORED)


@dataclass(frozen=True)
class Stored:
    """What the inbox did with one delivery: `new` when this delivery stored it; `to_process`
    when its effects are still to be applied (new, or stored earlier and not finished)."""

    new: bool
    to_process: bool

    @property
    def outcome(self) -> str:
        """The word the route answers Stripe with."""
        return "stored" if self.new else "duplicate"


def stored_payload(event: dict[str, Any]) -> str:
    """What the event row keeps: the event as Stripe sent it, minus client secrets."""
    return json.dumps(redact_secrets(event))


def _write(conn: Connection, dialect: Any, event: dict[str, Any]) -> Stored:
    statement = (
        dialect.insert(EVENTS)
        .values(
            stripe_event_id=event["id"],
            type=event["type"],
            payload=stored_payload(event),
            status=EVENT_RECEIVED,
            attempts=0,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[EVENTS.c.stripe_event_id])
        .returning(EVENTS.c.id)
    )
    if conn.execute(statement).scalar_one_or_none() is not None:
        return Stored(new=True, to_process=True)
    status = conn.execute(
        select(EVENTS.c.status).where(EVENTS.c.stripe_event_id == event["id"])
    ).scalar_one()
    return Stored(new=False, to_process=status not in FINISHED)


def _write_batch(events: list[dict[str, Any]]) -> list[Stored]:
    engine = get_engine()
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as conn:
        return [_write(conn, dialect, event) for event in events]


@dataclass(eq=False)
class _Delivery:
    """One caller of `store`, waiting for the commit that carries its event."""

    event: dict[str, Any]
    wake: threading.Event = field(default_factory=threading.Event)
    leads: bool = False  # this caller writes the next batch
    result: Stored | None = None
    error: BaseException | None = None


class _GroupCommit:
    """Deliveries arriving together share one transaction: the first caller writes every event
    waiting at that moment and commits once, then hands the lead to the first of those that
    came meanwhile. The commit (a disk flush) is most of a store's cost, so a burst costs
    one flush per batch instead of one per event, and no caller waits longer than the batch
    it is in and the one before it. Nothing is answered before its own commit returns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[_Delivery] = []
        self._leading = False

    def store(self, event: dict[str, Any]) -> Stored:
        me = _Delivery(event)
        with self._lock:
            self._waiting.append(me)
            if not self._leading:
                self._leading = me.leads = True
        if not me.leads:
            me.wake.wait()  # until a leader wrote my event, or handed me the lead
        if me.result is None and me.error is None:
            self._lead()
        if me.error is not None:
            raise me.error
        assert me.result is not None
        return me.result

    def _lead(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            self._write(batch)
        finally:  # whatever happened, the next leader is named and every caller woken
            with self._lock:
                if self._waiting:
                    self._waiting[0].leads = True
                    self._waiting[0].wake.set()
                else:
                    self._leading = False
            for delivery in batch:
                if delivery.result is None and delivery.error is None:
                    delivery.error = RuntimeError("The event was not stored.")
                delivery.wake.set()

    @staticmethod
    def _write(batch: list[_Delivery]) -> None:
        try:
            results = _write_batch([d.event for d in batch])
        except Exception:
            results = None
        if results is None:  # one bad event must not fail the others: each on its own
            for delivery in batch:
                try:
                    delivery.result = _write_batch([delivery.event])[0]
                except Exception as exc:
                    delivery.error = exc
        else:
            for delivery, result in zip(batch, results, strict=True):
                delivery.result = result


_group = _GroupCommit()


def store(event: dict[str, Any]) -> Stored:
    """Commit a verified event (status received) unless its id is already stored; returns
    once the commit that carries it has returned."""
    return _group.store(event)
