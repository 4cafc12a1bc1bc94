"""The payment tests' world: the Stripe sandbox as a real process, its webhook pointed at the
API server that `tests/integration/conftest.py` runs, and a `stripe` client for acting as Stripe.js
or the Dashboard would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import stripe


class Sandbox:
    """Test-side handle on the sandbox: its URL and the `/_sandbox` controls."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.url: str = process.url
        self.api_key: str = process.api_key

    def control(self, path: str, json: dict | None = None) -> dict:
        r = httpx.post(f"{self.url}/_sandbox{path}", json=json or {}, timeout=30)
        # A refused payment answers 4xx with the outcome in the body, as a card form would show.
        assert r.status_code < 500 and r.status_code != 404, r.text
        return r.json()

    @contextmanager
    def webhooks_paused(self, order: str = "fifo") -> Iterator[None]:
        """Hold every delivery, then release them in the given order."""
        self.control("/webhooks/pause")
        try:
            yield
        finally:
            self.control("/webhooks/resume", {"order": order})

    def find_event(self, event_type: str, object_id: str) -> dict:
        r = httpx.get(
            f"{self.url}/v1/events",
            params={"type": event_type, "limit": 100},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=30,
        )
        r.raise_for_status()
        for event in r.json()["data"]:
            if event["data"]["object"]["id"] == object_id:
                return event
        raise AssertionError(f"no {event_type} event for {object_id}")

    def session_payment_intent(self, session_id: str) -> str:
        r = httpx.get(
            f"{self.url}/v1/checkout/sessions/{session_id}",
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=30,
        )
        r.raise_for_status()
        pi = r.json()["payment_intent"]
        assert pi, "the session has no PaymentIntent yet"
        return pi if isinstance(pi, str) else pi["id"]


@pytest.fixture(scope="session")
def sandbox(stripe_world) -> Sandbox:
    return Sandbox(stripe_world.sandbox)


@pytest.fixture(scope="session")
def webhook_secret(stripe_world) -> str:
    return stripe_world.webhook_secret


@pytest.fixture(scope="session")
def stripe_client(sandbox: Sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(
        sandbox.api_key,
        base_addresses={"api": sandbox.url},
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
    )
