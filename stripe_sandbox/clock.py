"""The sandbox clock: real time plus an offset that tests may move forward."""

from __future__ import annotations

import time


class Clock:
    """Tests cannot wait 30 minutes for a Checkout Session to expire, so they shift this clock."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> int:
        """Unix seconds, as Stripe's `created` and `expires_at` are."""
        return int(self.time())

    def advance(self, seconds: float) -> None:
        self.offset += seconds
