"""A cap on request bodies under /api: 413 before a large body is read, not after.

FastAPI reads a JSON body whole before validating it, so without a cap a client can make every
worker buffer megabytes that a 320-character field then refuses. The cap is checked on
`Content-Length` up front and counted on the stream too (a chunked body has no length).
The webhook has its own, larger cap: Stripe's events can be bigger than our own requests.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from efoy_app.api.errors import send_error
from efoy_app.domain import doctor_photo, webhooks
from efoy_app.routes import API_ADMIN, API_AREA, API_WEBHOOK

API_BODY_LIMIT = 64 * 1024
# A doctor's photo upload (PUT /api/v1/admin/doctors/{id}/photo): the 5 MB picture and its
# multipart envelope; a picture over 5 MB that still fits is refused with a sentence (422).
PHOTO_BODY_LIMIT = doctor_photo.MAX_PHOTO_BYTES + 64 * 1024
_PHOTO_UPLOAD = re.compile(rf"^{re.escape(API_ADMIN)}/doctors/[^/]+/photo/?$")
_TOO_LARGE = "Request body too large: at most {limit} bytes."


def body_limit_for(path: str) -> int | None:
    """The byte cap for a path; None outside the API (Reflex has its own limits)."""
    if path == API_WEBHOOK:
        return webhooks.MAX_BODY_BYTES
    if _PHOTO_UPLOAD.match(path):
        return PHOTO_BODY_LIMIT
    if path.startswith(API_AREA):
        return API_BODY_LIMIT
    return None


class BodyLimitMiddleware:
    """Answers 413 `payload_too_large` for an API request whose body is over its cap."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = body_limit_for(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > limit:
            await _send_413(send, limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's body read: FastAPI passes an HTTPException on
                    # to the app's handler, which answers with the JSON error.
                    raise HTTPException(413, _TOO_LARGE.format(limit=limit))
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # A length that is not a number is refused by the server before us; be safe anyway.
            return int(text) if text.isdigit() and len(text) < 19 else 2**63
    return None


async def _send_413(send: Send, limit: int) -> None:
    message = _TOO_LARGE.format(limit=limit)
    await send_error(send, 413, "payload_too_large", message, [(b"connection", b"close")])
