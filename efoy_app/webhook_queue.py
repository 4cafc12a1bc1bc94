"""Applies stored webhook events right after the route has answered Stripe, in one thread per
process (started on first use, so the API under plain uvicorn and every Reflex worker get one).

The queue is memory only, on purpose: the event is already committed (`domain/webhook_inbox`),
so a process that dies with events queued loses nothing; reconciliation applies whatever stayed
`received` (`webhooks.retry_pending_events`). One thread keeps a burst from taking every core
away from the route, and SQLite has one writer anyway.

The route comes first: in a burst (events waiting, and one arrived in the last
`BURST_GAP_SECONDS`), the thread applies at most one event per `BURST_PACE_SECONDS`, and the
rest once the burst is over. Applying an event calls Stripe back and writes several rows;
answering the next delivery in time is what keeps Stripe from retrying it, or from disabling
the endpoint.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any

from efoy_app.domain import webhooks
from efoy_app.logs import get_logger, log_kv

log = get_logger("webhook")

_lock = threading.Lock()
_queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
_owner_pid: int | None = None  # the process whose thread reads `_queue` (a fork has none)
_last_arrival = 0.0  # time.monotonic() of the last event submitted
BURST_GAP_SECONDS = 0.05
BURST_PACE_SECONDS = 0.05


def submit(event: dict[str, Any]) -> None:
    """Queue a verified, stored event to be applied in this process."""
    global _last_arrival
    _ensure_thread()
    _last_arrival = time.monotonic()
    _queue.put(event)


def _ensure_thread() -> None:
    global _owner_pid, _queue
    if _owner_pid == os.getpid():
        return
    with _lock:
        if _owner_pid == os.getpid():
            return
        _queue = queue.SimpleQueue()  # a forked child must not read its parent's copy
        threading.Thread(target=_run, name="efoy-webhooks", daemon=True).start()
        _owner_pid = os.getpid()


def _run() -> None:
    while True:
        event = _queue.get()
        if not _queue.empty() and time.monotonic() - _last_arrival < BURST_GAP_SECONDS:
            time.sleep(BURST_PACE_SECONDS)  # a burst: more are waiting and still arriving
        try:
            webhooks.process_event(event)
        except webhooks.WebhookProcessingError:
            pass  # recorded on the event row and alerted once; reconciliation retries it
        except Exception as exc:  # keep the thread alive; the row stays for reconciliation
            log_kv(log, "webhook.error", level=logging.ERROR, error=type(exc).__name__)
