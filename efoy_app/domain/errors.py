"""The errors the domain raises; pages show `.message`, the API answers code/message/status.

One hierarchy so every caller (Reflex state, REST routes, webhook) maps a failure the same way,
and no caller has to know HTTP to raise one.
"""

from __future__ import annotations


class DomainError(Exception):
    """A failure the user may be told about: stable `code`, readable `message`, HTTP status."""

    http_status: int = 400
    code: str = "bad_request"
    default_message: str = "The request could not be completed."

    def __init__(self, message: str | None = None, code: str | None = None) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        super().__init__(self.message)


class NotFound(DomainError):
    http_status = 404
    code = "not_found"
    default_message = "Not found."


class Unauthorized(DomainError):
    http_status = 401
    code = "unauthorized"
    default_message = "Authentication required."


class Forbidden(DomainError):
    http_status = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class ValidationFailed(DomainError):
    http_status = 422
    code = "validation_error"
    default_message = "Invalid input."


class Conflict(DomainError):
    http_status = 409
    code = "conflict"
    default_message = "This conflicts with the current state."


class SlotTaken(Conflict):
    code = "slot_taken"
    default_message = "This slot was just taken. Please choose another time."


class EmailTaken(Conflict):
    code = "email_taken"
    default_message = "An account with this email already exists."


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    default_message = "Wrong email or password."


class LoginThrottled(DomainError):
    """Too many failed logins; `retry_after_seconds` feeds the Retry-After header."""

    http_status = 429
    code = "too_many_attempts"
    default_message = "Too many failed attempts. Please try again later."

    def __init__(
        self, message: str | None = None, code: str | None = None, *, retry_after_seconds: int = 60
    ) -> None:
        super().__init__(message, code)
        self.retry_after_seconds = retry_after_seconds


class TooSoon(DomainError):
    """The same request again too soon (a receipt emailed twice a minute); try after a while."""

    http_status = 429
    code = "too_many_requests"
    default_message = "Please wait a moment before asking again."

    def __init__(self, message: str | None = None, *, retry_after_seconds: int = 60) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class InvalidToken(Unauthorized):
    code = "invalid_token"
    default_message = "Invalid or expired token."


class PaymentFailed(DomainError):
    http_status = 402
    code = "payment_failed"
    default_message = "The payment failed."


class PaymentProviderUnavailable(DomainError):
    http_status = 503
    code = "payment_provider_unavailable"
    default_message = "The payment provider is unavailable. Please try again shortly."
