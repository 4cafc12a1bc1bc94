"""Payments benchmark: prints figures, asserts nothing.

Runs the real API (uvicorn, one worker, in a subprocess) over a fresh SQLite file, and the Stripe
sandbox as its own process with its webhook pointed at the API, then measures:

- signature check alone: `WebhookSignature.verify_header` + json vs `Webhook.construct_event`;
- webhook ingestion over HTTP (signed event of an unknown type: verify, store, answer), serial
  and with 8 concurrent senders: throughput and latency percentiles;
- `create-checkout-session` latency (booking already held; includes the sandbox call);
- pay -> confirmed: from the sandbox accepting the card to the booking row reading "confirmed"
  (the webhook path, as in production).

    .venv/bin/python -m bench.bench_payments [--events 400] [--bookings 40]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import stripe
from sqlmodel import Session, SQLModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from efoy_app.db import make_engine  # noqa: E402
from efoy_app.models import Booking  # noqa: E402
from stripe_sandbox.testing import SandboxProcess  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.integration.payments.helpers import (  # noqa: E402
    book_slot,
    pay_session,
    sign,
    start_checkout,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def line(name: str, ms: list[float], extra: str = "") -> None:
    print(
        f"{name:<38} n={len(ms):<5} p50={pct(ms, 50):7.2f} ms  p95={pct(ms, 95):7.2f} ms  "
        f"p99={pct(ms, 99):7.2f} ms {extra}"
    )


def bench_signature(n: int) -> None:
    secret = "whsec_" + secrets.token_hex(16)
    body = json.dumps(
        {"id": "evt_1", "object": "event", "type": "checkout.session.completed",
         "data": {"object": {"id": "cs_1", "object": "checkout.session", "amount_total": 4500,
                             "metadata": {"booking_id": "1"}, "payment_status": "paid"}}}
    ).encode()  # fmt: skip
    header = sign(body, secret)
    t = time.perf_counter()
    for _ in range(n):
        stripe.WebhookSignature.verify_header(body, header, secret, tolerance=300)
        json.loads(body)
    fast = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for _ in range(n):
        stripe.Webhook.construct_event(body, header, secret)
    slow = (time.perf_counter() - t) / n * 1e6
    print(f"{'verify_header + json.loads':<38} {fast:8.1f} µs/event")
    print(f"{'Webhook.construct_event':<38} {slow:8.1f} µs/event")


def start_api(env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "efoy_app.api:api", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("API did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--bookings", type=int, default=40)
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cpus, "
          f"Python {platform.python_version()}, SQLite")  # fmt: skip
    bench_signature(2000)

    tmp = Path(tempfile.mkdtemp(prefix="efoy-bench-"))
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(db_url)
    SQLModel.metadata.create_all(engine)
    env = {**os.environ, "REFLEX_DB_URL": db_url, "EFOY_ENV": "demo", "EFOY_LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "efoy_app.seed"], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip
    port = free_port()
    secret = "whsec_" + secrets.token_hex(24)
    with SandboxProcess.start(
        webhook_url=f"http://127.0.0.1:{port}/api/v1/payment/webhook", webhook_secret=secret
    ) as sandbox:
        env.update(
            STRIPE_SECRET_KEY=sandbox.api_key, STRIPE_API_BASE=sandbox.url,
            STRIPE_WEBHOOK_SECRET=secret, FRONTEND_URL=f"http://127.0.0.1:{port}",
        )  # fmt: skip
        api = start_api(env, port)
        url = f"http://127.0.0.1:{port}"
        try:
            client = httpx.Client(timeout=30)

            def send(i: int) -> float:
                body = json.dumps(
                    {"id": f"evt_bench_{i}_{secrets.token_hex(4)}", "object": "event",
                     "type": "customer.updated", "created": int(time.time()),
                     "data": {"object": {"id": "cus_1", "object": "customer"}}}
                ).encode()  # fmt: skip
                t = time.perf_counter()
                r = client.post(
                    url + "/api/v1/payment/webhook",
                    content=body,
                    headers={"Stripe-Signature": sign(body, secret)},
                )
                assert r.status_code == 200, r.text
                return (time.perf_counter() - t) * 1000

            t0 = time.perf_counter()
            serial = [send(i) for i in range(args.events)]
            rate = args.events / (time.perf_counter() - t0)
            line("webhook ingest, 1 sender", serial, f"{rate:6.0f} events/s")
            t0 = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                conc = list(pool.map(send, range(args.events, 2 * args.events)))
            rate = args.events / (time.perf_counter() - t0)
            line("webhook ingest, 8 senders", conc, f"{rate:6.0f} events/s")

            token_resp = client.post(url + "/api/v1/auth/register", json={
                "email": f"bench-{secrets.token_hex(4)}@example.com",
                "password": "bench-password-1", "fullName": "Bench Patient"})  # fmt: skip
            assert token_resp.status_code == 201, token_resp.text
            token = client.post(url + "/api/v1/auth/token", json={
                "email": token_resp.json()["email"], "password": "bench-password-1"
            }).json()["accessToken"]  # fmt: skip
            create_ms, confirm_ms = [], []
            for i in range(args.bookings):
                booking = book_slot(url, token, doctor_index=i % 6)
                t = time.perf_counter()
                checkout = start_checkout(url, token, booking["id"])
                create_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
                while True:
                    with Session(engine) as db:
                        if db.get(Booking, booking["id"]).status == "confirmed":
                            break
                    if time.perf_counter() - t > 30:
                        raise RuntimeError("not confirmed within 30 s")
                    time.sleep(0.005)
                confirm_ms.append((time.perf_counter() - t) * 1000)
            line("create-checkout-session", create_ms)
            line("pay -> booking confirmed (webhook)", confirm_ms)
            print(
                f"{'SQLite file after run':<38} {os.path.getsize(tmp / 'bench.db') / 1024:8.0f} KiB"
            )
            print(f"{'mean confirm':<38} {statistics.mean(confirm_ms):8.1f} ms")
        finally:
            api.terminate()
            api.wait(10)


if __name__ == "__main__":
    main()
