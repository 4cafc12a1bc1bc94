"""/admin/webhooks: the Stripe events we stored, newest first, filtered by what became of them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import reflex as rx
from reflex.event import EventSpec

from efoy_app.db import session_scope
from efoy_app.domain import admin_views, webhooks
from efoy_app.domain.errors import DomainError, Forbidden
from efoy_app.state import statuses
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.display import clinic_timezone, when_exact_label
from efoy_app.state.page_status import PageStatus
from efoy_app.state.rows import StatusBadge, row_from
from efoy_app.state.statuses import look

ALL = "all"
FILTERS = (ALL, *admin_views.EVENT_STATUSES)


@dataclasses.dataclass
class WebhookEntry(StatusBadge):
    id: int = 0
    stripe_event_id: str = ""
    type: str = ""
    attempts: int = 0
    error: str = ""
    received_at: str = ""
    received_exact: str = ""  # with seconds, for the tooltip
    processed_at: str = ""
    processed_exact: str = ""


@dataclasses.dataclass(frozen=True)
class Loaded:
    events: list[WebhookEntry]
    counts: dict[str, int]


def _load(user: SessionUser, status: str) -> Loaded:
    with session_scope() as session:
        admin = db_user(session, user)
        rows = admin_views.list_webhook_events(
            session, admin, status=None if status == ALL else status
        )
        counts = admin_views.webhook_status_counts(session, admin)
        tz = clinic_timezone()
        return Loaded([_entry(e, tz) for e in rows], counts)


def _entry(e: admin_views.WebhookEventRow, tz: str) -> WebhookEntry:
    status = look(statuses.EVENT, e.status)
    return row_from(
        WebhookEntry,
        e,
        tz=tz,
        status_label=status.label,
        status_color=status.color,
        received_exact=when_exact_label(e.received_at, tz),
        processed_exact=when_exact_label(e.processed_at, tz),
    )


def _replay(user: SessionUser, event_id: int) -> webhooks.ReplayResult:
    with session_scope() as session:
        admin = db_user(session, user)
        session.expunge(admin)
    return webhooks.replay_event(admin, event_id)


def replay_outcome(r: webhooks.ReplayResult) -> str:
    """What the admin reads after pressing Replay."""
    head = f"Replayed {r.type} ({r.stripe_event_id}): "
    if r.status == "failed":
        return head + f"processing failed. {r.error or ''}".rstrip()
    if r.status == "ignored":
        return head + "ignored; Efoy does not act on this type of event."
    if r.changes == 0:
        return head + "processed; nothing changed (it had been applied already)."
    changes = "1 change" if r.changes == 1 else f"{r.changes} changes"
    return head + f"processed; {changes} recorded."


class AdminWebhooksState(AuthState, PageStatus):
    """State of /admin/webhooks; the role is checked against the database on every load."""

    events: list[WebhookEntry] = []
    counts: dict[str, int] = {}
    status_filter: str = ALL

    @rx.var
    def filter_choices(self) -> list[list[str]]:
        """[value, label] pairs, each label with its count."""
        total = sum(self.counts.values())
        choices = [[ALL, f"All ({total})"]]
        for status in admin_views.EVENT_STATUSES:
            label = look(statuses.EVENT, status).label
            choices.append([status, f"{label} ({self.counts.get(status, 0)})"])
        return choices

    async def _reload(self) -> EventSpec | None:
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        try:
            loaded = await asyncio.to_thread(_load, user, self.status_filter)
        except Forbidden:
            self.events, self.counts, self.forbidden = [], {}, True
        else:
            self.events, self.counts, self.forbidden = loaded.events, loaded.counts, False
        self.loaded = True
        return None

    @rx.event
    async def load_page(self) -> EventSpec | None:
        self.loaded = False
        self.error = self.notice = ""
        status = str(self.router.url.query_parameters.get("status", ALL))
        self.status_filter = status if status in FILTERS else ALL
        return await self._reload()

    @rx.event
    async def set_status_filter(self, status: str) -> EventSpec | None:
        self.status_filter = status if status in FILTERS else ALL
        return await self._reload()

    @rx.event
    async def replay(self, event_id: int) -> AsyncIterator[EventSpec | None]:
        """`Replay`: the stored event through its handler again (the role checked again)."""
        user = await self.current_user()
        if user is None:
            yield self.login_redirect()
            return
        if self.busy:
            return
        self.busy, self.error, self.notice = True, "", ""
        yield
        try:
            result = await asyncio.to_thread(_replay, user, int(event_id))
        except Forbidden:
            self.forbidden = True
        except DomainError as exc:
            self.error = exc.message
        else:
            if result.status == "failed":
                self.error = replay_outcome(result)
            else:
                self.notice = replay_outcome(result)
        finally:
            self.busy = False
        await self._reload()
