"""Stripe's error shapes, so the `stripe` library raises the exception classes it raises
against Stripe."""

from __future__ import annotations

from typing import Any

DOCS = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """An error answered as Stripe does: `{"error": {...}}` with Stripe's HTTP status."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """Stripe omits the keys that do not apply, and links a doc page for every code."""
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOCS + self.code.replace("_", "-")
        if self.decline_code:
            error["decline_code"] = self.decline_code
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> StripeError:
    """400 invalid_request_error: the library raises InvalidRequestError."""
    return StripeError(status, "invalid_request_error", message, code=code, param=param)


def missing_param(param: str) -> StripeError:
    return invalid_request(
        f"Missing required param: {param}.", param=param, code="parameter_missing"
    )


def no_such(kind: str, object_id: str, *, param: str | None = None) -> StripeError:
    """404 resource_missing, worded as Stripe words it ("No such payment_intent: 'pi_x'")."""
    return invalid_request(
        f"No such {kind}: '{object_id}'", param=param, code="resource_missing", status=404
    )


def unexpected_state(message: str, *, param: str | None = None) -> StripeError:
    return invalid_request(message, param=param, code="payment_intent_unexpected_state")


def authentication(message: str) -> StripeError:
    """401: the library raises AuthenticationError (Stripe types it invalid_request_error)."""
    return StripeError(401, "invalid_request_error", message)


def idempotency(message: str) -> StripeError:
    """400 idempotency_error: the library raises IdempotencyError (it would retry a 409)."""
    return StripeError(400, "idempotency_error", message)


def api_error(status: int, message: str) -> StripeError:
    """A server-side failure; 429 is a rate limit (RateLimitError), 5xx an APIError."""
    if status == 429:
        return StripeError(429, "invalid_request_error", message, code="rate_limit")
    return StripeError(status, "api_error", message)
