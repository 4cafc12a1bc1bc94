"""The ASGI application: `/v1` API, `/_sandbox` controls, hosted pages, background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette

from . import api, checkout, control, pages
from .objects import webhook_endpoint
from .runtime import Config, Sandbox
from .store import Store

log = logging.getLogger("stripe_sandbox")


def build(config: Config, state: Path | None = None) -> tuple[Starlette, Sandbox]:
    """An app and the Sandbox behind it (tests and `__main__` both use this)."""
    sb = Sandbox(config, Store(state))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        expiry = asyncio.create_task(expire_forever(sb))
        sb.webhooks.resume_pending()
        try:
            yield
        finally:
            expiry.cancel()
            for task in list(sb.tasks):
                task.cancel()
            await sb.webhooks.close()
            sb.store.close()

    app = Starlette(
        routes=api.routes(sb) + control.routes(sb) + pages.routes(sb), lifespan=lifespan
    )
    return app, sb


async def expire_forever(sb: Sandbox) -> None:
    """Sessions expire by themselves once `expires_at` passes, checked every second."""
    while True:
        await asyncio.sleep(sb.config.expiry_interval)
        try:
            checkout.expire_due(sb)
        except Exception:  # keep the loop alive; the traceback is in the log
            log.exception("expiring Checkout Sessions failed")


def add_cli_webhook(sb: Sandbox, url: str, secret: str) -> dict[str, object]:
    """The `--webhook` endpoint: receives every event; kept across `/_sandbox/reset`.

    A restart with `--state` keeps the endpoint's id (with this run's URL and secret), so the
    deliveries it still owed are resumed rather than orphaned."""
    previous = [e for e in sb.store.all("webhook_endpoint") if e.get("_cli")]
    for endpoint in previous[1:]:
        sb.store.delete(endpoint["id"])
    endpoint = webhook_endpoint(
        endpoint_id=previous[0]["id"] if previous else None,
        url=url,
        enabled_events=["*"],
        created=previous[0]["created"] if previous else sb.clock.now(),
        secret=secret,
        description="--webhook (command line)",
        metadata={},
        api_version=None,
    )
    endpoint["_cli"] = True
    return sb.store.put(endpoint)
