"""Idempotency-Key, as Stripe honours it on POST.

The same key with the same method, path and parameters replays the first answer (status and
body) with `Idempotent-Replayed: true`; with anything else it is an `idempotency_error` (400,
IdempotencyError in the library). As at Stripe, an answer is kept only when the request ran:
validation errors (400/404), authentication errors, rate limits and 5xx are not kept, so a
retry after them runs again. Keys are kept 24 hours.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import idempotency

if TYPE_CHECKING:
    from .runtime import Sandbox

KEEP_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


def fingerprint(method: str, path: str, pairs: list[tuple[str, str]]) -> str:
    """Parameters compared as Stripe compares them: same pairs, whatever their order."""
    text = "\n".join([method, path] + [f"{k}={v}" for k, v in sorted(pairs)])
    return hashlib.sha256(text.encode()).hexdigest()


def lookup(sb: Sandbox, key: str, print_: str) -> Replay | None:
    record = sb.store.idempotency.get(key)
    if record is None or record["created"] < sb.clock.time() - KEEP_SECONDS:
        return None
    if record["fingerprint"] != print_:
        raise idempotency(
            f"Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            f"different request."
        )
    return Replay(record["status"], record["body"])


def should_keep(status: int) -> bool:
    return 200 <= status < 300 or status == 402


def remember(sb: Sandbox, key: str, print_: str, status: int, body: dict[str, Any]) -> None:
    if len(sb.store.idempotency) > 10_000:
        sb.store.forget_before(sb.clock.time() - KEEP_SECONDS)
    sb.store.remember(
        key, {"created": sb.clock.time(), "fingerprint": print_, "status": status, "body": body}
    )
