"""`python -m efoy_app.reconcile` runs one reconciliation pass (or `--loop`); the Reflex app runs
the same loop as a lifespan task on every worker (see `efoy_app/efoy_app.py`)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from efoy_app import metrics
from efoy_app.domain.reconcile import ReconcileReport, reconcile_once
from efoy_app.logs import get_logger, log_kv
from efoy_app.settings import get_settings

log = get_logger("reconcile")


def run_pass(grace_seconds: int) -> ReconcileReport:
    """One pass, counted for /api/v1/metrics (runs by outcome, and what it fixed)."""
    try:
        report = reconcile_once(grace_seconds=grace_seconds)
    except Exception:
        metrics.record_reconcile_error()
        raise
    metrics.record_reconcile(
        skipped=report.skipped,
        fulfilled=report.fulfilled,
        holds_released=report.holds_released,
        events_retried=report.events.get("retried", 0),
        refunds_submitted=report.refunds_submitted,
        problems=len(report.errors) + report.events.get("still_failing", 0),
    )
    return report


async def reconcile_forever(interval_seconds: float | None = None) -> None:
    """Lifespan task: a pass every interval, in a worker thread; errors are logged, never fatal."""
    interval = interval_seconds or get_settings().reconcile_interval_seconds
    while True:
        await asyncio.sleep(interval)
        if get_settings().stripe_secret_key is None:
            continue
        try:
            await asyncio.to_thread(run_pass, get_settings().reconcile_grace_seconds)
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
    report = run_pass(args.grace)
    print(report)


if __name__ == "__main__":
    main()
