"""Failures the tests ask for: failing API calls, misbehaving webhooks, refunds that fail later."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class ApiFault:
    """Fail the next `count` API calls whose path starts with `path_prefix`.

    With `after`, the request is carried out first (and its idempotency key remembered), and only
    the answer is lost: Stripe's "the request may have succeeded" case, which a client can only
    settle by retrying with the same idempotency key.
    """

    count: int
    status: int = 500
    hang_seconds: float = 0.0
    path_prefix: str = "/v1"
    after: bool = False
    method: str | None = None  # only requests with this method (e.g. POST), else any


@dataclass
class WebhookFault:
    """Apply `mode` (drop | duplicate | delay) to the next `count` deliveries."""

    mode: str
    count: int
    delay_seconds: float = 0.0


@dataclass
class RefundFailure:
    """Make the next refund fail `after_seconds` after it was created, as a bank can."""

    failure_reason: str = "expired_or_canceled_card"
    after_seconds: float = 0.5
    initial_status: str = "succeeded"


class Faults:
    def __init__(self) -> None:
        self.api: list[ApiFault] = []
        self.webhooks: list[WebhookFault] = []
        self.refund: RefundFailure | None = None

    def take_api(self, path: str, method: str = "POST") -> ApiFault | None:
        for fault in self.api:
            if path.startswith(fault.path_prefix) and fault.method in (None, method):
                fault.count -= 1
                if fault.count <= 0:
                    self.api.remove(fault)
                return fault
        return None

    def take_webhook(self) -> WebhookFault | None:
        if not self.webhooks:
            return None
        fault = self.webhooks[0]
        fault.count -= 1
        if fault.count <= 0:
            self.webhooks.pop(0)
        return fault

    def take_refund(self) -> RefundFailure | None:
        fault, self.refund = self.refund, None
        return fault

    def clear(self) -> None:
        self.api.clear()
        self.webhooks.clear()
        self.refund = None

    def describe(self) -> dict[str, Any]:
        return {
            "api": [asdict(f) for f in self.api],
            "webhooks": [asdict(f) for f in self.webhooks],
            "refund": asdict(self.refund) if self.refund else None,
        }
