"""`python -m efoy_app.reconcile` runs one reconciliation pass (or `--loop`); the Reflex app runs
the same loop as a lifespan task on every worker (see `efoy_app/efoy_app.py`)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from efoy_app.domain.reconcile import reconcile_once
from efoy_app.logs import get_logger, log_kv
from efoy_app.settings import get_settings

log = get_logger("reconcile")


async def reconcile_forever(interval_seconds: float | None = None) -> None:
    """Lifespan task: a pass every interval, in a worker thread; errors are logged, never fatal."""
    interval = interval_seconds or get_settings().reconcile_interval_seconds
    while True:
        await asyncio.sleep(interval)
        if get_settings().stripe_secret_key is None:
            continue
        try:
            await asyncio.to_thread(
                reconcile_once, grace_seconds=get_settings().reconcile_grace_seconds
            )
        except Exception as exc:  # keep the loop alive; the next pass retries
            log_kv(log, "reconcile.error", level=logging.ERROR, error=type(exc).__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loop", action="store_true", help="keep running every --interval s")
    parser.add_argument("--interval", type=float, default=None)
    parser.add_argument("--grace", type=int, default=120, help="seconds before a payment is stale")
    args = parser.parse_args()
    if args.loop:
        asyncio.run(reconcile_forever(args.interval))
        return
    report = reconcile_once(grace_seconds=args.grace)
    print(report)


if __name__ == "__main__":
    main()
