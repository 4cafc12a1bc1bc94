"""`python -m efoy_app.mail_sender` sends the due outbox messages once (until none is due), or
keeps doing so with `--loop`; the Reflex app runs the same loop as a lifespan task on every
worker (see `efoy_app/efoy_app.py`). Their claims never overlap (`domain/mail_delivery.py`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from efoy_app.domain.mail_delivery import SendReport, queue_reminders, send_due
from efoy_app.logs import get_logger, log_kv
from efoy_app.settings import get_settings

log = get_logger("mail")
BATCH = 20


def drain(limit: int = BATCH) -> SendReport:
    """Passes until one claims less than a full batch; the sum of what they did."""
    total = SendReport()
    while True:
        report = send_due(limit=limit)
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if report.claimed < limit or report.released:
            return total


async def send_mail_forever(interval_seconds: float | None = None, limit: int = BATCH) -> None:
    """Lifespan task: drain the outbox every interval, in a worker thread; without SMTP_HOST
    there is nowhere to send, and the messages wait (reminders are still queued when due, so
    the outbox shows them). Errors are logged, never fatal."""
    interval = interval_seconds or get_settings().mail_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            if not get_settings().smtp_host:
                await asyncio.to_thread(queue_reminders)
                continue
            await asyncio.to_thread(drain, limit)
        except Exception as exc:  # keep the loop alive; the next pass retries
            log_kv(log, "mail.error", level=logging.ERROR, error=type(exc).__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", action="store_true", help="keep running every --interval s")
    parser.add_argument("--interval", type=float, default=None)
    parser.add_argument("--limit", type=int, default=BATCH, help="messages claimed per pass")
    args = parser.parse_args(argv)
    if not get_settings().smtp_host:
        print("efoy-mail: SMTP_HOST is not set; nothing sent", file=sys.stderr)
        return 2
    if args.loop:
        asyncio.run(send_mail_forever(args.interval, max(1, args.limit)))
        return 0
    report = drain(max(1, args.limit))
    print(
        f"efoy-mail: sent={report.sent} retried={report.retried} failed={report.failed} "
        f"released={report.released}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
