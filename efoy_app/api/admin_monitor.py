"""The webhook monitor and the audit trail over REST under /api/v1/admin (admins only):
replay a stored Stripe event, read the alerts the admin banner shows, and page through the audit
trail with the audit tab's filters.

Thin: `domain.webhooks.replay_event`, `domain.alerts.alerts_for` and `domain.audit_views` do the
work and check the admin role again. Bad ids and filters are a 4xx JSON error before any query.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Path, Query
from pydantic import Field

from efoy_app.api.admin import ADMIN_ERRORS, Day, Offset
from efoy_app.api.deps import AdminUser, DbSession, finish
from efoy_app.api.doctors import parse_day
from efoy_app.api.schemas import (
    AUTH_ERRORS,
    MAX_ID,
    CamelModel,
    IsoDateTime,
    error_responses,
    one_of,
    shown_in,
)
from efoy_app.domain import alerts, audit_views, webhooks
from efoy_app.routes import API_ADMIN
from efoy_app.settings import get_settings

router = APIRouter(prefix=API_ADMIN, tags=["admin"], responses=AUTH_ERRORS)

ObjectType = Literal[*audit_views.OBJECT_TYPES]  # type: ignore[valid-type]


def _type_pattern(kind: str) -> str:
    """ "webhook_event" → "[Ww]ebhook[ _][Ee]vent" (JSON Schema patterns have no flags)."""
    return "[ _]".join(f"[{w[0].upper()}{w[0]}]{w[1:]}" for w in kind.split("_"))


# What `audit_views.parse_object` reads, so clients know before they ask: a type, an id, or
# both; built from the same list of types.
OBJECT_PATTERN = (
    r"^ *((" + "|".join(map(_type_pattern, audit_views.OBJECT_TYPES)) + r") *)?"
    r"(#? *[0-9]{1,30})? *$"
)


class ReplayOut(CamelModel):
    """`webhooks.ReplayResult`: what replaying the event did."""

    id: int
    stripe_event_id: str
    type: str
    status_before: str
    status: str = Field(description="After the replay: processed | ignored | failed")
    attempts: int
    error: str | None = Field(description="Why processing failed, when it did")
    changes: int = Field(
        description="Changes of bookings, payments and refunds the replay wrote (0 when the "
        "event had been applied already)"
    )


class AlertGroupOut(CamelModel):
    count: int
    ids: list[int] = Field(description=f"Newest first, at most {alerts.MAX_IDS}")


class AlertsOut(CamelModel):
    """What the banner on every admin page says, for monitoring."""

    failed_events: AlertGroupOut = Field(description="Webhook events failed in the last 24 hours")
    stale_payments: AlertGroupOut = Field(
        description="Payments pending for longer than the reconciliation grace"
    )
    grace_seconds: int = Field(
        description="The reconciliation grace (EFOY_RECONCILE_GRACE_SECONDS)"
    )


class AuditRowOut(CamelModel):
    """`audit_views.AuditRow` on the wire."""

    id: int
    at: IsoDateTime
    actor: str = Field(description='"user:12", "stripe:evt_...", "system:..."')
    actor_name: str | None = Field(description="The user's full name when a user acted")
    actor_email: str | None
    entity_type: str = Field(description=one_of(*audit_views.OBJECT_TYPES))
    entity_id: int
    action: str = Field(description='e.g. "status_changed", "refund_requested"')
    from_status: str | None
    to_status: str | None
    reason: str | None
    details: dict[str, Any] | None = Field(description="What else was recorded, as JSON")
    currency: str = Field(description="Of the payment, booking or refund; empty otherwise")


class AuditListOut(CamelModel):
    data: list[AuditRowOut] = Field(description="This page, newest first")
    count: int = Field(description="Rows matching the filters, over all pages")


@router.post(
    "/webhooks/{event_id}/replay",
    response_model=ReplayOut,
    responses={**ADMIN_ERRORS, **error_responses(404, s404="No such stored event")},
)
async def replay_webhook(
    event_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The stored event's id")],
    admin: AdminUser,
    db: DbSession,
) -> ReplayOut:
    """Run a stored Stripe event through its handler again. Idempotent: an event already applied
    changes nothing; a failed one is retried and its new outcome recorded. Audited."""
    db.close()  # the replay reads Stripe: hold no transaction meanwhile
    result = await anyio.to_thread.run_sync(webhooks.replay_event, admin, event_id)
    return ReplayOut.model_validate(result)


@router.get("/alerts", response_model=AlertsOut, responses=ADMIN_ERRORS)
def get_alerts(admin: AdminUser, db: DbSession) -> AlertsOut:
    """Failed webhook events (last 24 h) and stale pending payments: counts and ids."""
    grace = get_settings().reconcile_grace_seconds
    found = alerts.alerts_for(db, admin, grace_seconds=grace)
    out = AlertsOut(
        failed_events=AlertGroupOut(count=found.failed_events, ids=found.failed_event_ids),
        stale_payments=AlertGroupOut(count=found.stale_payments, ids=found.stale_payment_ids),
        grace_seconds=grace,
    )
    return finish(db, out)


@router.get("/audit", response_model=AuditListOut, responses=ADMIN_ERRORS)
def list_audit(
    admin: AdminUser,
    db: DbSession,
    actor: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=r"^(admin|patient|system|stripe|user:[0-9]{1,16})$",
            description=f"{one_of(*audit_views.ACTOR_KINDS)}, or one user as user:<id>",
        ),
    ] = None,
    object_type: Annotated[ObjectType | None, Query(description="Only rows of this type")] = None,
    object_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only rows of the object with this id")
    ] = None,
    typed_object: Annotated[
        str | None,
        Query(
            alias="object",
            max_length=audit_views.OBJECT_MAX,
            pattern=OBJECT_PATTERN,
            description='Type and id in one, as typed on the page: "booking 12", "#12"',
        ),
    ] = None,
    date_from: Day = None,
    date_to: Day = None,
    limit: Annotated[
        int, Query(ge=1, le=audit_views.MAX_PAGE, description="At most this many rows")
    ] = audit_views.PAGE_SIZE,
    offset: Offset = 0,
) -> AuditListOut:
    """The audit trail, newest first, with how many rows match the filters."""
    typed_type, typed_id = audit_views.parse_object(typed_object)
    filters = audit_views.AuditFilter(
        actor=actor,
        object_type=object_type or typed_type,
        object_id=object_id if object_id is not None else typed_id,
        date_from=parse_day(date_from) if date_from else None,
        date_to=parse_day(date_to) if date_to else None,
        tz=get_settings().clinic_timezone,
    )
    page = audit_views.audit_list(db, admin, filters, limit=limit, offset=offset)
    return finish(db, AuditListOut.model_validate(page, context=shown_in(admin.timezone)))
