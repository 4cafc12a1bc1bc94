"""Webhook ingestion under load, beside its two references, in one run: prints figures, and the
count of lost and duplicated effects after the run.

For each configuration (SQLite with 1 worker; PostgreSQL with 3 workers, when TEST_DATABASE_URL
is set) it starts the Stripe sandbox and the real API under uvicorn, books and pays real sandbox
sessions with the sandbox's own deliveries held back, refunds some of them at the sandbox, then
loads the app's real route with wrk (another process: `apt-get install wrk`), 32 connections,
with signed events of distinct ids: `checkout.session.completed` for those sessions and
`charge.refunded` for those charges. The two references (`bench/webhook_refs.py`) run on the
same server and worker count with the same events. After the load it waits for the app to apply
every stored event, then counts: events answered 2xx but not stored (lost), events stored twice,
bookings confirmed more than once, ledger refunds against the sandbox's.

    .venv/bin/python -m bench.bench_webhook_ingest [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from efoy_app.db import make_engine  # noqa: E402
from efoy_app.models import AuditLog, Booking, Payment, Refund, WebhookEvent  # noqa: E402
from stripe_sandbox.testing import SandboxProcess  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.integration.payments.helpers import (  # noqa: E402
    book_slot,
    pay_session,
    sign,
    start_checkout,
)

WRK_SCRIPT = ROOT / "bench" / "wrk_events.lua"
WRK_THREADS = 2


@dataclass
class Load:
    """What wrk measured."""

    rate: float
    requests: int
    p50: float
    p90: float
    p99: float
    p999: float
    errors: int  # non-2xx, connect, read, write, timeout
    sent: list[int]  # per wrk thread: how many of its share of the events it sent

    def row(self, name: str) -> str:
        return (
            f"{name:<44} {self.rate:8.0f} events/s  p50 {self.p50:7.2f}  p90 {self.p90:7.2f}  "
            f"p99 {self.p99:7.2f}  p99.9 {self.p999:7.2f} ms  errors {self.errors}"
        )


def run_wrk(url: str, events_file: Path, seconds: int, connections: int) -> Load:
    out = subprocess.run(
        ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(WRK_SCRIPT), url, "--", str(events_file), str(WRK_THREADS)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    lat = {m[0]: float(m[1]) for m in re.findall(r"latency p([\d.]+) ([\d.]+) ms", out)}
    summary = re.search(r"summary requests (\d+) duration_us (\d+) (.*)", out)
    assert summary is not None, out
    errors = sum(int(n) for n in re.findall(r"\w+ (\d+)", summary.group(3)))
    requests, duration = int(summary.group(1)), int(summary.group(2)) / 1e6
    sent = [int(n) for n in re.findall(r"thread \d+ sent (\d+)", out)]
    return Load(requests / duration, requests, lat["50"], lat["90"], lat["99"], lat["99.9"],
                errors, sent)  # fmt: skip


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


SERVER = "granian"  # what `reflex run --env prod` serves with; `--server uvicorn` to compare


@contextmanager
def served(app: str, port: int, workers: int, env: dict[str, str]) -> Iterator[str]:
    """`<server> <app>` with N workers on `port`, as the benchmark serves every contender."""
    if SERVER == "granian":
        command = [str(Path(sys.executable).parent / "granian"), "--interface", "asgi",
                   "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                   "--log-level", "warning", app]  # fmt: skip
    else:
        command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--workers",
                   str(workers), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/", proc)
        time.sleep(1.0 if workers > 1 else 0.2)  # every worker up
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh database URL of the given kind, dropped after (PostgreSQL)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    base = os.environ["TEST_DATABASE_URL"]
    name = f"efoy_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class World:
    sessions: list[str]  # paid Checkout Sessions the app has not heard of yet
    charges: list[tuple[str, str]]  # (charge, payment intent) refunded at the sandbox
    bookings: list[int]
    sandbox_refunds: int


def prepare(url: str, sandbox: SandboxProcess, n_sessions: int, n_refunds: int) -> World:
    """Real sandbox sessions, paid, their deliveries held back; some refunded at the sandbox."""
    client = httpx.Client(timeout=60)
    stripe = sandbox.stripe_client()
    sessions, bookings, charges = [], [], []
    token = ""
    for i in range(n_sessions):
        if i % 8 == 0:  # a few bookings per patient
            email = f"bench-{secrets.token_hex(4)}@example.com"
            r = client.post(
                url + "/api/v1/auth/register",
                json={"email": email, "password": "bench-password-1", "fullName": "Bench Patient"},
            )
            assert r.status_code == 201, r.text
            token = client.post(
                url + "/api/v1/auth/token", json={"email": email, "password": "bench-password-1"}
            ).json()["accessToken"]
        # fmt: skip
        booking = book_slot(url, token, doctor_index=i % 6)
        checkout = start_checkout(url, token, booking["id"])
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
        sessions.append(checkout["sessionId"])
        bookings.append(booking["id"])
        if len(charges) < n_refunds:
            pi = stripe.v1.payment_intents.retrieve(
                stripe.v1.checkout.sessions.retrieve(checkout["sessionId"]).payment_intent
            )
            stripe.v1.refunds.create(
                {"payment_intent": pi.id, "amount": booking["priceMinor"] // 2}
            )
            charges.append((pi.latest_charge, pi.id))
    return World(sessions, charges, bookings, len(charges))


def stripe_events(sandbox: SandboxProcess, world: World) -> list[dict]:
    """The sandbox's own `checkout.session.completed` and `charge.refunded` events for the
    world's sessions and charges, whole, as Stripe would send them (held back, never sent)."""
    found: dict[str, list[dict]] = {}
    for etype in ("checkout.session.completed", "charge.refunded"):
        r = httpx.get(
            f"{sandbox.url}/v1/events",
            params={"type": etype, "limit": 100},
            headers={"Authorization": f"Bearer {sandbox.api_key}"},
            timeout=30,
        )
        r.raise_for_status()
        found[etype] = r.json()["data"]
    sessions = set(world.sessions)
    charges = {c for c, _pi in world.charges}
    completed = [
        e for e in found["checkout.session.completed"] if e["data"]["object"]["id"] in sessions
    ]
    refunded = [e for e in found["charge.refunded"] if e["data"]["object"]["id"] in charges]
    assert len(completed) == len(sessions) and len(refunded) == len(charges), (
        len(completed),
        len(refunded),
    )
    # Completions and refunds in turn.
    return [
        completed[i // 2 % len(completed)] if i % 2 == 0 else refunded[i // 2 % len(refunded)]
        for i in range(2 * max(len(completed), len(refunded)))
    ]


def write_events(
    templates: list[dict], secret: str, count: int, path: Path, run: str, store_only: bool = False
) -> None:
    """`count` events with distinct ids, the real ones in turn (completions and refunds by
    halves), each signed now; `store_only`: of a type Efoy stores and ignores, to see the
    route without the work."""
    with path.open("w") as f:
        for i in range(count):
            event = dict(templates[i % len(templates)], id=f"evt_bench_{run}_{i}")
            if store_only:
                event["type"] = "customer.updated"
            body = json.dumps(event, separators=(",", ":"))
            f.write(f"{sign(body.encode(), secret)}\t{body}\n")


def sent_ids(load: Load, count: int, run: str) -> set[str]:
    """The ids wrk sent: thread t sends lines t, t+T, t+2T, ... in order."""
    ids = set()
    for t, n in enumerate(load.sent):
        share = list(range(t, count, WRK_THREADS))
        ids.update(f"evt_bench_{run}_{i}" for i in share[:n])
    return ids


def drain(engine: sa.Engine, timeout: float = 600) -> float:
    """Seconds until no stored event is left unapplied."""
    t = time.monotonic()
    while True:
        with Session(engine) as db:
            left = db.exec(
                select(func.count())
                .select_from(WebhookEvent)
                .where(WebhookEvent.status == "received")
            ).one()
        if left == 0:
            return time.monotonic() - t
        if time.monotonic() - t > timeout:
            raise RuntimeError(f"{left} events still unapplied after {timeout} s")
        time.sleep(0.2)


def count_effects(engine: sa.Engine, world: World, load: Load, sent: set[str], run: str) -> str:
    with Session(engine) as db:
        stored = set(db.exec(select(WebhookEvent.stripe_event_id).where(
            WebhookEvent.stripe_event_id.like(f"evt_bench_{run}_%"))).all())  # fmt: skip
        statuses = dict(db.exec(select(WebhookEvent.status, func.count()).where(
            WebhookEvent.stripe_event_id.like(f"evt_bench_{run}_%")).group_by(
            WebhookEvent.status)).all())  # fmt: skip
        confirmations = db.exec(select(AuditLog.entity_id, func.count()).where(
            AuditLog.entity_type == "booking", AuditLog.to_status == "confirmed").group_by(
            AuditLog.entity_id)).all()  # fmt: skip
        confirmed = {b: n for b, n in confirmations if b in set(world.bookings)}
        bookings_ok = sum(1 for b in world.bookings if db.get(Booking, b).status == "confirmed")
        ledger = db.exec(select(Refund.stripe_refund_id)).all()
        payments_refunded = db.exec(
            select(func.count()).select_from(Payment).where(Payment.amount_refunded_minor > 0)
        ).one()
    answered = load.requests - load.errors
    lost = max(0, answered - len(stored & sent))
    extra = len(stored - sent)
    twice = sum(1 for n in confirmed.values() if n > 1)
    return (
        f"  after the run: {len(stored)} events stored of {len(sent)} sent "
        f"({answered} answered 2xx), lost {lost}, stored but never sent {extra}; "
        f"statuses {statuses}\n"
        f"  bookings confirmed {bookings_ok}/{len(world.bookings)}, confirmed more than once "
        f"{twice}; ledger refunds {len(ledger)} (distinct {len(set(ledger))}) against the "
        f"sandbox's {world.sandbox_refunds}; payments with a refund {payments_refunded}"
    )


def bench_config(kind: str, workers: int, args: argparse.Namespace) -> list[str]:
    tmp = Path(tempfile.mkdtemp(prefix="efoy-bench-wh-"))
    lines = [f"{kind}, {workers} worker(s), {args.connections} connections, {args.seconds} s each:"]
    try:
        with database(kind, tmp) as db_url:
            engine = make_engine(db_url)
            SQLModel.metadata.create_all(engine)
            env = {**os.environ, "REFLEX_DB_URL": db_url, "EFOY_ENV": "demo",
                   "EFOY_LOG_LEVEL": "WARNING"}  # fmt: skip
            subprocess.run([sys.executable, "-m", "efoy_app.seed"], cwd=ROOT, env=env,
                           check=True, capture_output=True)  # fmt: skip
            port = free_port()
            secret = "whsec_" + secrets.token_hex(24)
            with SandboxProcess.start(
                webhook_url=f"http://127.0.0.1:{port}/api/v1/payment/webhook",
                webhook_secret=secret,
            ) as sandbox:
                sandbox.control("/webhooks/pause")  # the load delivers these events, not it
                env.update(STRIPE_SECRET_KEY=sandbox.api_key, STRIPE_API_BASE=sandbox.url,
                           STRIPE_WEBHOOK_SECRET=secret,
                           FRONTEND_URL=f"http://127.0.0.1:{port}")  # fmt: skip
                with served("efoy_app.api:api", port, workers, env) as url:
                    world = prepare(url, sandbox, args.sessions, args.refunds)
                templates = stripe_events(sandbox, world)
                size = sum(len(json.dumps(t)) for t in templates) / len(templates)
                lines.append(f"  events: real sandbox events, {size:.0f} bytes on average")
                events = tmp / "events.tsv"
                for name, app in (("floor: verify_header + json.loads", "bench.webhook_refs:floor"),
                                  ("sample: Webhook.construct_event", "bench.webhook_refs:construct")):  # fmt: skip  # noqa: E501
                    write_events(templates, secret, args.events, events, "ref")
                    with served(app, free_port(), workers, env) as url:
                        lines.append(run_wrk(url, events, args.seconds, args.connections).row(name))
                run = secrets.token_hex(3)
                write_events(templates, secret, args.events, events, run)
                with served("efoy_app.api:api", port, workers, env) as url:
                    started = time.monotonic()
                    load = run_wrk(url, events, args.seconds, args.connections)
                    lines.append(load.row("Efoy's route (verify, store durably, answer)"))
                    if sum(load.sent) >= args.events:
                        lines.append("  WARNING: wrk ran out of distinct events; raise --events")
                    waited = drain(engine)
                    total = time.monotonic() - started
                    lines.append(
                        f"  applying them: backlog gone {waited:.1f} s after the load ended; "
                        f"{load.requests / total:.0f} events/s applied end to end"
                    )
                    lines.append(
                        count_effects(engine, world, load, sent_ids(load, args.events, run), run)
                    )
                    run = secrets.token_hex(3)
                    write_events(templates, secret, args.events, events, run, store_only=True)
                    load = run_wrk(url, events, args.seconds, args.connections)
                    lines.append(load.row("Efoy's route, events it only stores"))
                    lines.append(f"  backlog gone {drain(engine):.1f} s after the load ended")
            engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return lines


def main() -> None:
    global SERVER
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--sessions", type=int, default=48)
    parser.add_argument("--refunds", type=int, default=16)
    parser.add_argument("--events", type=int, default=40000, help="distinct events per run")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--server", choices=["granian", "uvicorn"], default=SERVER)
    args = parser.parse_args()
    SERVER = args.server
    if shutil.which("wrk") is None:
        sys.exit("bench_webhook_ingest needs wrk: apt-get install wrk")
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cpus, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}, "
          f"server {SERVER}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")  # fmt: skip
    configs = [("sqlite", 1)]
    if os.environ.get("TEST_DATABASE_URL"):
        configs.append(("postgresql", 3))
    for kind, workers in configs:
        if args.only in (None, kind):
            print("\n".join(bench_config(kind, workers, args)), flush=True)


if __name__ == "__main__":
    main()
