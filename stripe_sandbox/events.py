"""Events: every state change is recorded as a Stripe Event and handed to the webhook dispatcher."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import API_VERSION, objects
from .views import present

if TYPE_CHECKING:
    from .runtime import Sandbox


@dataclass(frozen=True)
class RequestInfo:
    """The API request being served; an event it causes names it (`request.id`), as Stripe's do."""

    id: str
    idempotency_key: str | None
    stripe_version: str | None


current_request: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "current_request", default=None
)


def emit(
    sb: Sandbox, type_: str, obj: dict[str, Any], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Record `type_` with a snapshot of `obj` now, and queue its deliveries (never sent inline)."""
    request = current_request.get()
    endpoints = sb.webhooks.endpoints_for(type_)
    event = objects.event(
        type_=type_,
        snapshot=present(sb, obj),
        created=sb.clock.now(),
        api_version=(request.stripe_version if request and request.stripe_version else API_VERSION),
        pending_webhooks=len(endpoints),
        request_id=request.id if request else None,
        idempotency_key=request.idempotency_key if request else None,
        previous_attributes=previous,
    )
    sb.store.put(event)
    sb.webhooks.enqueue(event, endpoints)
    return event


def type_matches(pattern: str, type_: str) -> bool:
    """`*` matches everything and `charge.*` every charge event, as in Stripe's filters."""
    if pattern == "*" or pattern == type_:
        return True
    return pattern.endswith(".*") and type_.startswith(pattern[:-1])
