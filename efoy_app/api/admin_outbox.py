"""The outbox over REST under /api/v1/admin/outbox (admins only): every email Efoy queued, one
message with its bodies, an attachment's bytes, and `retry` for a message the sender gave up on.

Thin: `domain.outbox_views` reads, retries and checks the admin role again. Bad ids and filters
are a 4xx JSON error before any query.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field

from efoy_app.api.admin import ADMIN_ERRORS, Offset
from efoy_app.api.deps import AdminUser, DbSession, finish
from efoy_app.api.schemas import (
    AUTH_ERRORS,
    MAX_ID,
    CamelModel,
    IsoDateTime,
    error_responses,
    one_of,
    shown_in,
)
from efoy_app.domain import outbox_views
from efoy_app.domain.admin_query import SEARCH_PATTERN
from efoy_app.routes import API_ADMIN

router = APIRouter(prefix=f"{API_ADMIN}/outbox", tags=["admin"], responses=AUTH_ERRORS)

EmailStatus = Literal[*outbox_views.STATUSES]  # type: ignore[valid-type]
EmailKind = Literal[*outbox_views.KINDS]  # type: ignore[valid-type]
EmailId = Annotated[int, Path(ge=1, le=MAX_ID, description="The outbox email's id")]
NOT_FOUND = error_responses(404, s404="No such email (or attachment of it)")
# A stored content type is sent as it is only when it looks like one; anything else is bytes.
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


class OutboxRowOut(CamelModel):
    """`outbox_views.OutboxRow` on the wire."""

    id: int
    created_at: IsoDateTime
    kind: str = Field(description=one_of(*outbox_views.KINDS))
    to_address: str
    subject: str
    status: str = Field(description=one_of(*outbox_views.STATUSES))
    attempts: int
    next_attempt_at: IsoDateTime = Field(description="When a queued message is tried next")
    sent_at: IsoDateTime | None
    error: str | None = Field(description="The last attempt's error (SMTP's answer)")
    attachments: int = Field(description="How many files go with it")


class OutboxListOut(CamelModel):
    data: list[OutboxRowOut] = Field(description="This page, newest first")
    count: int = Field(description="Messages matching the filters, over all pages")


class AttachmentOut(CamelModel):
    id: int
    filename: str
    content_type: str
    size: int = Field(description="Bytes")


class OutboxEmailOut(CamelModel):
    """`outbox_views.OutboxDetail` on the wire: the message and everything about its delivery."""

    id: int
    kind: str = Field(description=one_of(*outbox_views.KINDS))
    to_address: str
    subject: str
    body: str = Field(description="The plain-text body")
    html_body: str | None = Field(description="The HTML body, when the message has one")
    message_id: str = Field(description="The Message-ID header, the same on every attempt")
    dedupe_key: str | None
    booking_id: int | None
    payment_id: int | None
    status: str = Field(description=one_of(*outbox_views.STATUSES))
    attempts: int
    next_attempt_at: IsoDateTime
    claimed_until: IsoDateTime | None = Field(description="A sender's claim, while sending")
    error: str | None
    created_at: IsoDateTime
    sent_at: IsoDateTime | None
    attachments: list[AttachmentOut]
    can_retry: bool = Field(description="True when failed: POST .../retry queues it again")


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII name every client reads and the exact name (RFC 6266/5987);
    no quote, slash, backslash or control character reaches the header."""
    fallback = _UNSAFE_NAME.sub("_", filename).strip(" .") or "attachment"
    exact = quote(filename, safe="")
    return f"attachment; filename=\"{fallback[:150]}\"; filename*=UTF-8''{exact}"


@router.get("", response_model=OutboxListOut, responses=ADMIN_ERRORS)
def list_outbox(
    admin: AdminUser,
    db: DbSession,
    status: Annotated[EmailStatus | None, Query(description="Only messages in this state")] = None,
    kind: Annotated[EmailKind | None, Query(description="Only messages of this kind")] = None,
    to: Annotated[
        str | None,
        Query(
            max_length=outbox_views.TO_MAX,
            pattern=SEARCH_PATTERN,
            description="Part of the recipient's address, any case (no control characters)",
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=outbox_views.MAX_PAGE, description="At most this many rows")
    ] = outbox_views.PAGE_SIZE,
    offset: Offset = 0,
) -> OutboxListOut:
    """Every email Efoy queued, newest first, with how many match the filters."""
    filters = outbox_views.OutboxFilter(status=status, kind=kind, to=to)
    page = outbox_views.outbox_list(db, admin, filters, limit=limit, offset=offset)
    return finish(db, OutboxListOut.model_validate(page, context=shown_in(admin.timezone)))


@router.get("/{email_id}", response_model=OutboxEmailOut, responses={**ADMIN_ERRORS, **NOT_FOUND})
def get_outbox_email(email_id: EmailId, admin: AdminUser, db: DbSession) -> OutboxEmailOut:
    """One message: headers, both bodies, its attachments (names, types, sizes), delivery."""
    found = outbox_views.outbox_detail(db, admin, email_id)
    return finish(db, OutboxEmailOut.model_validate(found, context=shown_in(admin.timezone)))


@router.get(
    "/{email_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={
        **ADMIN_ERRORS,
        **NOT_FOUND,
        200: {"content": {"application/octet-stream": {}}, "description": "The file"},
    },
)
def get_outbox_attachment(
    email_id: EmailId,
    attachment_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The attachment's id")],
    admin: AdminUser,
    db: DbSession,
) -> Response:
    """The file as it was (or will be) sent, to save: never shown inline."""
    found = outbox_views.attachment_file(db, admin, email_id, attachment_id)
    kind = found.content_type.lower()
    media_type = kind if _CONTENT_TYPE.match(kind) else "application/octet-stream"
    headers = {"Content-Disposition": content_disposition(found.filename)}
    return finish(db, Response(content=found.data, media_type=media_type, headers=headers))


@router.post(
    "/{email_id}/retry",
    response_model=OutboxEmailOut,
    responses={
        **ADMIN_ERRORS,
        **NOT_FOUND,
        **error_responses(409, s409="conflict: only a failed message can be retried"),
    },
)
def retry_outbox_email(email_id: EmailId, admin: AdminUser, db: DbSession) -> OutboxEmailOut:
    """Queue a failed message again, due now (attempts and last error kept). Audited."""
    done = outbox_views.retry(db, email_id, admin)
    return finish(db, OutboxEmailOut.model_validate(done, context=shown_in(admin.timezone)))
