"""The command line: listening line, `--state` across a restart, `--public-url`, `--webhook`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import stripe

from stripe_sandbox.testing import PROJECT_ROOT, SandboxProcess


def test_health_and_listening_line(sandbox: SandboxProcess) -> None:
    assert sandbox.url.startswith("http://127.0.0.1:")
    assert httpx.get(sandbox.url + "/_sandbox/health").json() == {"ok": True}
    assert any(line.startswith("stripe-sandbox listening on ") for line in sandbox.output)


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.db"
    with SandboxProcess.start(state=state) as first:
        client = first.stripe_client()
        intent = client.v1.payment_intents.create(
            params={"amount": 2000, "currency": "usd"}, options={"idempotency_key": "keep-me"}
        )
        endpoint = client.v1.webhook_endpoints.create(
            params={"url": "https://efoy.example/hook", "enabled_events": ["*"]}
        )
        first.control("clock/advance", {"seconds": 3600})
    with SandboxProcess.start(state=state) as second:
        client = second.stripe_client()
        assert client.v1.payment_intents.retrieve(intent.id).amount == 2000
        replay = client.v1.payment_intents.create(
            params={"amount": 2000, "currency": "usd"}, options={"idempotency_key": "keep-me"}
        )
        assert replay.id == intent.id
        assert [e.id for e in client.v1.webhook_endpoints.list().data] == [endpoint.id]
        assert second.control("clock", method="GET")["offset"] == 3600
        assert len(client.v1.events.list().data) == 1


def test_public_url_is_used_for_hosted_pages() -> None:
    with SandboxProcess.start(extra_args=["--public-url", "http://sandbox.test:8080/"]) as sb:
        session = sb.stripe_client().v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 1000,
                            "product_data": {"name": "X"},
                        },
                    }
                ],
            }
        )
        assert session.url == f"http://sandbox.test:8080/checkout/{session.id}"


def test_webhook_without_secret_generates_one_and_logs_only_its_tail() -> None:
    with SandboxProcess.start(webhook_url="http://127.0.0.1:9/hook") as sb:
        printed = [line for line in sb.output if "webhook signing secret" in line]
        assert len(printed) == 1
        assert re.fullmatch(r"whsec_…[0-9a-zA-Z]{4} \(generated\)", printed[0].split(": ")[1])
        endpoints = sb.stripe_client().v1.webhook_endpoints.list().data
        assert [(e.url, e.enabled_events) for e in endpoints] == [
            ("http://127.0.0.1:9/hook", ["*"])
        ]
        sb.control("reset")  # the command-line endpoint is configuration, not data
        assert len(sb.stripe_client().v1.webhook_endpoints.list().data) == 1


def test_bad_arguments_exit_with_a_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stripe_sandbox", "--webhook", "http://127.0.0.1:9/hook"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "STRIPE_SANDBOX_WEBHOOK_SECRET": "nope"},
        timeout=20,
    )
    assert result.returncode == 2
    assert "the webhook secret must start with whsec_" in result.stderr


def test_any_sk_test_key_is_accepted(sandbox: SandboxProcess) -> None:
    client = stripe.StripeClient("sk_test_ok", base_addresses={"api": sandbox.url})
    assert client.v1.events.list().data == []
