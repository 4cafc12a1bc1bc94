"""The one place that builds the Stripe client and turns Stripe's failures into ours.

Every call goes through `call()`, which logs one line (operation, ids, outcome, duration) and
maps connection trouble, rate limits and Stripe 5xx to `PaymentProviderUnavailable`, so pages and
the API can say "try again" without knowing Stripe's exception classes.

`get_stripe()` is also the seam the unit tests use: `with use_client(double):` makes every domain
module's `get_stripe()` return the double, so the rules run without a network and without
patching each module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

import stripe

from efoy_app.domain.errors import DomainError, PaymentFailed, PaymentProviderUnavailable
from efoy_app.logs import get_logger, log_kv
from efoy_app.settings import get_settings

T = TypeVar("T")
log = get_logger("stripe")

# A hanging Stripe must not hang a patient's click: short timeouts (EFOY_STRIPE_TIMEOUT_SECONDS,
# 10 s by default), two retries.
STRIPE_RETRIES = 2


class StripeNotConfigured(PaymentProviderUnavailable):
    code = "payments_not_configured"


class PaymentProviderRejected(DomainError):
    """Stripe refused a request we built: our bug or configuration, never the patient's."""

    http_status = 502
    code = "payment_provider_error"


class ProviderIdempotencyConflict(PaymentProviderUnavailable):
    """Stripe is still busy with a request under the same idempotency key (or refuses the key):
    the work may or may not be done, so it is retried, never replaced by a new request."""

    code = "idempotency_conflict"


# Calls that start a payment: when they fail, the patient can truthfully be told nothing was
# charged. Every other call (refunds, reads) says what happened instead.
CHARGING_OPS = frozenset({"checkout.sessions.create", "payment_intents.create"})
NOT_ANSWERING_CHARGE = (
    "The payment provider is not answering right now. Nothing was charged; please try again in a "
    "moment."
)
REFUSED_CHARGE = (
    "The payment provider refused this payment. Nothing was charged; our team has been told. "
    "Please try again later."
)


# The client `use_client` supplied, if any; None means the configured one.
_client_override: Any = None


@lru_cache
def _configured_client() -> stripe.StripeClient:
    """The process-wide client; `STRIPE_API_BASE` points it at the sandbox."""
    settings = get_settings()
    if settings.stripe_secret_key is None:
        raise StripeNotConfigured("Payments are not configured: STRIPE_SECRET_KEY is not set.")
    kwargs: dict[str, Any] = {}
    if settings.stripe_api_base:
        kwargs["base_addresses"] = {"api": settings.stripe_api_base.rstrip("/")}
    return stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        max_network_retries=STRIPE_RETRIES,
        http_client=stripe.HTTPXClient(
            timeout=settings.stripe_timeout_seconds, allow_sync_methods=True
        ),
        **kwargs,
    )


def get_stripe() -> stripe.StripeClient:
    """The client every call goes through: the one `use_client` supplied, else the configured
    one (built once; `get_stripe.cache_clear()` rebuilds it after the settings change)."""
    if _client_override is not None:
        return _client_override
    return _configured_client()


get_stripe.cache_clear = _configured_client.cache_clear  # type: ignore[attr-defined]


@contextmanager
def use_client(client: Any) -> Iterator[Any]:
    """Make `get_stripe()` return `client` (a test's Stripe double) until the block ends, in every
    thread; blocks nest, and the previous client comes back on exit."""
    global _client_override
    previous, _client_override = _client_override, client
    try:
        yield client
    finally:
        _client_override = previous


def call(op: str, fn: Callable[[], T], *, passthrough_invalid: bool = False, **ids: Any) -> T:
    """Run one Stripe call, log it, and translate the errors a caller can act on."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        return fn()
    except stripe.CardError as exc:
        outcome = f"card_error:{exc.code}"
        raise PaymentFailed(exc.user_message or "Your card was declined.") from exc
    except stripe.IdempotencyError as exc:
        outcome = "unavailable:IdempotencyError"
        raise ProviderIdempotencyConflict(
            f"Stripe has not settled an earlier attempt of {op} yet: {exc.user_message}"
        ) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        outcome = f"unavailable:{type(exc).__name__}"
        raise PaymentProviderUnavailable(
            NOT_ANSWERING_CHARGE
            if op in CHARGING_OPS
            else f"Stripe did not answer {op} ({type(exc).__name__})."
        ) from exc
    except stripe.InvalidRequestError as exc:
        outcome = f"rejected:{exc.code}"
        if passthrough_invalid:
            raise
        raise PaymentProviderRejected(
            REFUSED_CHARGE
            if op in CHARGING_OPS
            else f"Stripe refused {op}: {exc.user_message} ({exc.code})."
        ) from exc
    except stripe.StripeError as exc:
        outcome = f"error:{type(exc).__name__}:{getattr(exc, 'code', None)}"
        raise
    finally:
        log_kv(
            log,
            "stripe.call",
            op=op,
            outcome=outcome,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            **ids,
        )


def to_dict(obj: Any) -> dict[str, Any]:
    """A plain dict of a Stripe object (16.x objects are not dicts)."""
    if isinstance(obj, dict):
        return obj
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
