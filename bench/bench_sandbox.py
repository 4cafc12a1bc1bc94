"""Print the Stripe sandbox's start-up time and PaymentIntent-create latency (not a test).

    .venv/bin/python bench/bench_sandbox.py [--requests 300] [--starts 5]

Start-up: from spawning `python -m stripe_sandbox --port 0` to the first 200 from
`/_sandbox/health`. Latency: `client.v1.payment_intents.create` through the real `stripe`
library over loopback HTTP, sequentially, with a webhook endpoint registered (so each call also
queues a delivery, as in the app).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stripe_sandbox.testing import SandboxProcess  # noqa: E402


def start_up_seconds() -> float:
    """Spawn on a fixed free port and poll health: what `make run` waits for."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_sandbox", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1).is_success:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if time.perf_counter() - started > 20:
                raise TimeoutError("sandbox did not answer within 20 s")
            time.sleep(0.005)
    finally:
        process.terminate()
        process.wait(timeout=10)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()

    starts = [start_up_seconds() for _ in range(args.starts)]
    print(
        f"start-up to health 200: median {statistics.median(starts) * 1000:.0f} ms "
        f"(min {min(starts) * 1000:.0f}, max {max(starts) * 1000:.0f}; {args.starts} starts)"
    )

    with SandboxProcess.start() as sandbox:
        client = sandbox.stripe_client()
        client.v1.webhook_endpoints.create(
            params={"url": "http://127.0.0.1:9/unreachable", "enabled_events": ["*"]}
        )
        for _ in range(20):  # warm up connections and code paths
            client.v1.payment_intents.create(params={"amount": 2000, "currency": "usd"})
        latencies = []
        for index in range(args.requests):
            began = time.perf_counter()
            client.v1.payment_intents.create(
                params={
                    "amount": 2000 + index,
                    "currency": "usd",
                    "metadata": {"booking_id": str(index)},
                }
            )
            latencies.append((time.perf_counter() - began) * 1000)
    print(
        f"PaymentIntent create over {args.requests} requests (stripe library, loopback): "
        f"p50 {percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms, "
        f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms"
    )


if __name__ == "__main__":
    main()
