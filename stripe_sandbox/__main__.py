"""`python -m stripe_sandbox`: serve the sandbox with uvicorn and say where, once it listens."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
from pathlib import Path

import uvicorn

from .app import add_cli_webhook, build
from .ids import webhook_secret
from .runtime import WEBHOOK_SECRET_ENV as SECRET_ENV
from .runtime import Config

PARENT_POLL_SECONDS = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stripe_sandbox",
        description="A Stripe-compatible HTTP server for demos and tests (test mode only).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=12111, help="port; 0 picks a free one")
    parser.add_argument(
        "--public-url", help="base URL browsers use for hosted pages (default http://HOST:PORT)"
    )
    parser.add_argument(
        "--state",
        type=Path,
        help="SQLite file keeping objects across restarts (default: in memory)",
    )
    parser.add_argument("--webhook", metavar="URL", help="send every event to this URL")
    parser.add_argument(
        "--webhook-secret-file",
        type=Path,
        metavar="PATH",
        help=f"file holding the signing secret for --webhook (default: ${SECRET_ENV}, "
        "else one is generated and printed)",
    )
    parser.add_argument(
        "--webhook-secret",
        metavar="WHSEC",
        help=f"signing secret on the command line: visible in `ps`, prefer ${SECRET_ENV}",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        metavar="PID",
        help="exit as soon as this process (our parent) is gone, however it ended",
    )
    parser.add_argument(
        "--retry-base",
        type=float,
        default=0.5,
        help="first webhook retry delay in seconds, doubled each time (0.5)",
    )
    parser.add_argument(
        "--retry-cap",
        type=float,
        default=10.0,
        help="longest delay between webhook retries in seconds (10)",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=365,
        help="webhook delivery attempts before giving up (365: an hour with the defaults)",
    )
    parser.add_argument(
        "--webhook-timeout",
        type=float,
        default=10.0,
        help="seconds to wait for a webhook answer (10)",
    )
    parser.add_argument(
        "--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"]
    )
    args = parser.parse_args(argv)
    given = [bool(args.webhook_secret), args.webhook_secret_file is not None]
    if all(given):
        parser.error("give --webhook-secret or --webhook-secret-file, not both")
    if args.webhook_secret_file is not None:
        try:
            args.webhook_secret = args.webhook_secret_file.read_text().strip()
        except OSError as exc:
            parser.error(f"cannot read --webhook-secret-file: {exc}")
    elif not args.webhook_secret:
        args.webhook_secret = os.environ.get(SECRET_ENV, "").strip() or None
    if args.webhook_secret and not args.webhook_secret.startswith("whsec_"):
        parser.error("the webhook secret must start with whsec_")
    if any(given) and not args.webhook:
        parser.error("a webhook secret needs --webhook")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says TCP; without it Nagle + delayed ACK add ~40 ms to every answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"stripe-sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    shown_host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(args.host, args.host)
    if ":" in shown_host and not shown_host.startswith("["):
        shown_host = f"[{shown_host}]"
    public_url = (args.public_url or f"http://{shown_host}:{port}").rstrip("/")
    config = Config(
        public_url=public_url,
        retry_base=args.retry_base,
        retry_cap=args.retry_cap,
        max_attempts=args.max_attempts,
        webhook_timeout=args.webhook_timeout,
    )
    app, sb = build(config, args.state)
    if args.webhook:
        secret = args.webhook_secret or webhook_secret()
        add_cli_webhook(sb, args.webhook, secret)
        if not args.webhook_secret:
            # Shown to a person at a terminal; a log file gets only its tail (pass your own
            # secret by $STRIPE_SANDBOX_WEBHOOK_SECRET to know it there).
            shown = secret if sys.stdout.isatty() else f"whsec_…{secret[-4:]} (generated)"
            print(f"stripe-sandbox webhook signing secret: {shown}", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level=args.log_level,
            access_log=args.log_level in ("info", "debug"),
            timeout_graceful_shutdown=2,
        )
    )
    announce = f"stripe-sandbox listening on http://{shown_host}:{port}"
    asyncio.run(serve(server, sock, announce, args.parent_pid))
    return 0


async def exit_with_parent(server: uvicorn.Server, parent_pid: int) -> None:
    """Stop the server once `parent_pid` is no longer our parent (it died, even by SIGKILL).

    Polling getppid() rather than signalling the pid: the kernel re-parents an orphan at once,
    and a recycled pid can never pass for the old parent."""
    while os.getppid() == parent_pid:  # noqa: ASYNC110 (no event exists for "parent died")
        await asyncio.sleep(PARENT_POLL_SECONDS)
    server.should_exit = True
    with contextlib.suppress(OSError):  # our stdout may have been the parent's pipe
        print(f"stripe-sandbox: parent {parent_pid} is gone; stopping", flush=True)


async def serve(
    server: uvicorn.Server, sock: socket.socket, announce: str, parent_pid: int | None = None
) -> None:
    """Announce only once uvicorn accepts connections: test harnesses wait for this line."""
    watch = None
    if parent_pid is not None:
        watch = asyncio.create_task(exit_with_parent(server, parent_pid))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.01)
        print(announce, flush=True)
        await task
    finally:
        if watch is not None:
            watch.cancel()


if __name__ == "__main__":
    sys.exit(main())
