"""One sandbox process and one webhook receiver for the whole sandbox suite; reset per test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe
from sandbox_support import WEBHOOK_SECRET, Receiver, line_item, wait_for

from stripe_sandbox.testing import SandboxProcess


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox(receiver: Receiver) -> Iterator[SandboxProcess]:
    """Short webhook back-offs (0.05 s, 0.1 s...) and timeout (1 s) keep the suite fast."""
    with SandboxProcess.start(
        webhook_url=receiver.url + "/hook",
        webhook_secret=WEBHOOK_SECRET,
        retry_base=0.05,
        extra_args=["--webhook-timeout", "1", "--max-attempts", "5"],
    ) as process:
        yield process


@pytest.fixture(autouse=True)
def clean(sandbox: SandboxProcess, receiver: Receiver) -> None:
    """Every test starts from an empty sandbox (the `--webhook` endpoint stays).

    Reset cancels pending deliveries; one already on the wire may still land, so wait until
    nothing is in flight before clearing what the receiver saw."""
    sandbox.control("reset")
    wait_for(lambda: sandbox.control("webhooks", method="GET")["in_flight"] == 0)
    time.sleep(0.02)
    receiver.clear()


@pytest.fixture
def client(sandbox: SandboxProcess) -> stripe.StripeClient:
    return stripe.StripeClient(sandbox.api_key, base_addresses={"api": sandbox.url})


@pytest.fixture
def make_session(client: stripe.StripeClient, sandbox: SandboxProcess) -> Callable[..., Any]:
    """A Checkout Session for one 50.00 USD consultation unless told otherwise."""

    def make(**params: Any) -> Any:
        defaults: dict[str, Any] = {
            "mode": "payment",
            "line_items": [line_item()],
            "success_url": sandbox.url + "/?paid={CHECKOUT_SESSION_ID}",
            "cancel_url": sandbox.url + "/?cancelled=1",
            "metadata": {"booking_id": "42"},
            "client_reference_id": "booking-42",
            "expires_at": int(time.time()) + 31 * 60,
            "payment_intent_data": {"metadata": {"booking_id": "42"}},
        }
        defaults.update(params)
        return client.v1.checkout.sessions.create(params=defaults)

    return make
