"""One running sandbox: its settings, objects, clock, faults, webhook dispatcher and tasks."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .faults import Faults
from .store import Store
from .webhooks import Dispatcher

# Where `python -m stripe_sandbox` takes the `--webhook` signing secret from: every local user can
# read a process's arguments (`ps`), only its owner can read its environment.
WEBHOOK_SECRET_ENV = "STRIPE_SANDBOX_WEBHOOK_SECRET"


@dataclass
class Config:
    """What the command line sets; see `python -m stripe_sandbox --help`."""

    public_url: str
    retry_base: float = 0.5
    retry_cap: float = 10.0
    max_attempts: int = 365
    webhook_timeout: float = 10.0
    expiry_interval: float = 1.0


class Sandbox:
    """Passed to every operation, so nothing lives in module globals (tests run many at once)."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.clock = Clock(store.meta.get("clock_offset", 0.0))
        self.faults = Faults()
        self.webhooks = Dispatcher(self)
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Background work, in a fresh context so it is not mistaken for the API request."""
        task = asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.store.set_meta("clock_offset", self.clock.offset)

    def reset(self) -> None:
        """Drop all data, faults, pending deliveries and clock shifts; keep `--webhook`."""
        for task in list(self.tasks):
            task.cancel()
        self.tasks.clear()
        self.store.reset(keep=lambda obj: bool(obj.get("_cli")))
        self.clock = Clock()
        self.faults.clear()
        self.webhooks.reset()
