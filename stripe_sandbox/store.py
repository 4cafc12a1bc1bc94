"""Where the sandbox keeps its objects: in memory, written through to SQLite with `--state`.

Every object is a JSON dict keyed by its id. Keys starting with "_" are the sandbox's own
bookkeeping (e.g. which Checkout Session a PaymentIntent belongs to) and never leave it.
All access happens on the server's single event loop, so no locking is needed.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (id TEXT PRIMARY KEY, kind TEXT NOT NULL, seq INTEGER NOT NULL,
                                    body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, created REAL NOT NULL,
                                        body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    """Objects by id and by kind (insertion order = creation order), plus small key/value state."""

    def __init__(self, path: Path | None = None) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.by_kind: dict[str, dict[str, dict[str, Any]]] = {}
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.meta: dict[str, Any] = {}
        self.seq = 0
        self.db: sqlite3.Connection | None = None
        if path is not None:
            # Owner-only (its -wal/-shm files inherit the mode): it holds webhook secrets.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(path, 0o600)
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            self._load()

    def _load(self) -> None:
        assert self.db is not None
        for kind, seq, body in self.db.execute("SELECT kind, seq, body FROM objects ORDER BY seq"):
            obj = json.loads(body)
            self.by_id[obj["id"]] = obj
            self.by_kind.setdefault(kind, {})[obj["id"]] = obj
            self.seq = max(self.seq, seq)
        for key, body in self.db.execute("SELECT key, body FROM idempotency"):
            self.idempotency[key] = json.loads(body)
        for name, value in self.db.execute("SELECT name, value FROM meta"):
            self.meta[name] = json.loads(value)

    def get(self, object_id: str, kind: str | None = None) -> dict[str, Any] | None:
        obj = self.by_id.get(object_id)
        if obj is None or (kind is not None and obj["object"] != kind):
            return None
        return obj

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Insert or save after a change; new objects get the next sequence number."""
        if "_seq" not in obj:
            self.seq += 1
            obj["_seq"] = self.seq
        self.by_id[obj["id"]] = obj
        self.by_kind.setdefault(obj["object"], {})[obj["id"]] = obj
        if self.db is not None:
            self.db.execute(
                "INSERT OR REPLACE INTO objects (id, kind, seq, body) VALUES (?, ?, ?, ?)",
                (obj["id"], obj["object"], obj["_seq"], json.dumps(obj)),
            )
        return obj

    def delete(self, object_id: str) -> None:
        obj = self.by_id.pop(object_id, None)
        if obj is not None:
            self.by_kind.get(obj["object"], {}).pop(object_id, None)
        if self.db is not None:
            self.db.execute("DELETE FROM objects WHERE id = ?", (object_id,))

    def newest_first(self, kind: str) -> Iterator[dict[str, Any]]:
        """Stripe lists newest first."""
        return reversed(list(self.by_kind.get(kind, {}).values()))

    def all(self, kind: str) -> list[dict[str, Any]]:
        return list(self.by_kind.get(kind, {}).values())

    def remember(self, key: str, record: dict[str, Any]) -> None:
        self.idempotency[key] = record
        if self.db is not None:
            self.db.execute(
                "INSERT OR REPLACE INTO idempotency (key, created, body) VALUES (?, ?, ?)",
                (key, record["created"], json.dumps(record)),
            )

    def forget_before(self, cutoff: float) -> None:
        """Stripe keeps idempotency keys for 24 hours."""
        for key in [k for k, r in self.idempotency.items() if r["created"] < cutoff]:
            del self.idempotency[key]
        if self.db is not None:
            self.db.execute("DELETE FROM idempotency WHERE created < ?", (cutoff,))

    def set_meta(self, name: str, value: Any) -> None:
        self.meta[name] = value
        if self.db is not None:
            self.db.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, json.dumps(value))
            )

    def reset(self, keep: Callable[[dict[str, Any]], bool]) -> None:
        """Drop everything except the objects `keep` names (the `--webhook` endpoint)."""
        kept = [obj for obj in self.by_id.values() if keep(obj)]
        self.by_id.clear()
        self.by_kind.clear()
        self.idempotency.clear()
        self.meta.clear()
        if self.db is not None:
            self.db.executescript("DELETE FROM objects; DELETE FROM idempotency; DELETE FROM meta;")
        for obj in kept:
            self.put(obj)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
