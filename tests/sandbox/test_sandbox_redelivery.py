"""Redelivery as Stripe does it: a receiver that was down gets its events once it is back.

Stripe retries a failed delivery (refused connection, timeout or non-2xx alike) with back-off
for three days; the sandbox does the same for about an hour and, with `--state`, carries on
after its own restart, so an app killed in a burst of webhooks is caught up without a resend.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import stripe
from sandbox_support import WEBHOOK_SECRET, Receiver, wait_for

from stripe_sandbox.__main__ import parse_args
from stripe_sandbox.testing import PROJECT_ROOT, SandboxProcess
from tests.conftest import free_port


def deliveries(
    sandbox: SandboxProcess, event_id: str, endpoint: str | None = None
) -> list[dict[str, Any]]:
    query = f"event_id={event_id}" + (f"&endpoint={endpoint}" if endpoint else "")
    return sandbox.control(f"deliveries?{query}", method="GET")["data"]


def test_a_receiver_that_was_down_gets_the_event_when_it_comes_up(
    sandbox: SandboxProcess, client: stripe.StripeClient
) -> None:
    port = free_port()  # nobody listens: every attempt is a refused connection
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": f"http://127.0.0.1:{port}/hook", "enabled_events": ["payment_intent.*"]}
    )
    intent = client.v1.payment_intents.create(params={"amount": 2000, "currency": "usd"})
    event = client.v1.events.list(params={"type": "payment_intent.created"}).data[0]
    assert event.data.object["id"] == intent.id
    wait_for(lambda: len(deliveries(sandbox, event.id, endpoint.id)) >= 2, timeout=3)
    receiver = Receiver(port)
    try:
        receiver.secrets["/hook"] = endpoint.secret
        got = wait_for(lambda: receiver.records(object_id=intent.id), timeout=5)
        assert [(r["type"], r["valid"]) for r in got] == [("payment_intent.created", True)]
        # The sandbox writes the delivery down once the receiver's answer is back: wait for it.
        log = wait_for(
            lambda: (
                (found := deliveries(sandbox, event.id, endpoint.id))[-1]["delivered"] and found
            ),
            timeout=5,
        )
        assert [d["delivered"] for d in log] == [False] * (len(log) - 1) + [True]
        assert all(d["error"].startswith("ConnectError") for d in log[:-1])
        assert [d["attempt"] for d in log] == list(range(1, len(log) + 1))
    finally:
        receiver.stop()


def test_deliveries_owed_survive_a_restart_of_the_sandbox(tmp_path: Path) -> None:
    """The app and the sandbox went down together; the sandbox comes back first, then the app."""
    state, port = tmp_path / "sandbox.db", free_port()
    start: dict[str, Any] = {
        "webhook_url": f"http://127.0.0.1:{port}/hook",
        "webhook_secret": WEBHOOK_SECRET,
        "state": state,
        "retry_base": 0.05,
        "extra_args": ["--retry-cap", "0.2"],
    }
    with SandboxProcess.start(**start) as first:
        client = first.stripe_client()
        intent = client.v1.payment_intents.create(params={"amount": 2000, "currency": "usd"})
        event = client.v1.events.list().data[0]
        wait_for(lambda: len(deliveries(first, event.id)) >= 2, timeout=3)
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    receiver = Receiver(port)
    try:
        with SandboxProcess.start(**start) as second:
            got = wait_for(lambda: receiver.records(object_id=intent.id), timeout=5)
            assert [(r["id"], r["valid"]) for r in got] == [(event.id, True)]
            log = wait_for(lambda: deliveries(second, event.id))
            assert (log[0]["attempt"] > 2, log[0]["delivered"]) == (True, True)
            assert second.stripe_client().v1.events.retrieve(event.id).pending_webhooks == 0
            time.sleep(0.5)  # nothing more is owed: no second copy arrives
            assert len(receiver.records(object_id=intent.id)) == 1
    finally:
        receiver.stop()


def test_the_default_schedule_keeps_trying_for_about_an_hour() -> None:
    args = parse_args([])
    waits = [
        min(args.retry_base * 2 ** (attempt - 2), args.retry_cap)
        for attempt in range(2, args.max_attempts + 1)
    ]
    assert 3600 <= sum(waits) <= 2 * 3600
    assert max(waits) == args.retry_cap == 10.0


def test_the_webhook_secret_is_not_on_the_command_line(sandbox: SandboxProcess) -> None:
    """`ps` shows every user a process's arguments; only its owner can read its environment."""
    pid = sandbox.process.pid
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert b"stripe_sandbox" in cmdline and WEBHOOK_SECRET.encode() not in cmdline
    assert f"STRIPE_SANDBOX_WEBHOOK_SECRET={WEBHOOK_SECRET}".encode() in Path(
        f"/proc/{pid}/environ"
    ).read_bytes().split(b"\0")


PARENT = """
import subprocess, sys
args = ["--port", "0", "--parent-pid", str(__import__("os").getpid())]
child = subprocess.Popen(
    [sys.executable, "-m", "stripe_sandbox", *args], stdout=subprocess.PIPE, text=True
)
print(child.pid, flush=True)
print(child.stdout.readline().strip(), flush=True)
__import__("time").sleep(600)
"""


def test_parent_pid_makes_the_sandbox_exit_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert parent.stdout is not None
    try:
        child_pid = int(parent.stdout.readline())
        assert parent.stdout.readline().startswith("stripe-sandbox listening on ")
    finally:
        os.kill(parent.pid, signal.SIGKILL)  # no clean-up of its own can run
        parent.wait()

    def gone() -> bool:
        try:
            state = Path(f"/proc/{child_pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        return state == "Z"  # exited, waiting for init to reap it

    wait_for(gone, timeout=5, interval=0.05)
