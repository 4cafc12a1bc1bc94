"""Stripe objects we keep (webhook payloads) lose the secrets that only a browser should hold.

A PaymentIntent's `client_secret` (`pi_..._secret_...`, and its SetupIntent / Checkout Session
twins) lets whoever holds it confirm the payment from a browser; a stored event has no use for it,
and a database dump or the admin's webhook page must not hand it out. Redaction replaces the
value of every `client_secret` key at any depth, and any such secret embedded in another string
(a `next_action` redirect URL carries it as a query parameter); everything else is kept as is.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
SECRET_KEYS = frozenset({"client_secret"})
# Stripe's `{object id}_secret_{random}`; object ids may hold underscores (cs_test_...).
SECRET_PATTERN = re.compile(r"(?:pi|seti|cs|src)_[A-Za-z0-9_]+?_secret_[A-Za-z0-9]+")


def redact_secrets(value: Any) -> Any:
    """A copy of this JSON value with client secrets replaced by "[redacted]"."""
    if isinstance(value, dict):
        return {
            key: REDACTED
            if key in SECRET_KEYS and isinstance(item, str) and item
            else redact_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_secrets(item) for item in value]
    if isinstance(value, str):
        return SECRET_PATTERN.sub(REDACTED, value)
    return value
