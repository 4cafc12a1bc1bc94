"""/admin/audit: every change of bookings, payments and refunds, newest first, 50 a page, in
sentences; the filters (actor, object, clinic days) and the page live in the URL.

Thin: `domain.audit_views` reads and checks the role again on every load; `audit_text` turns the
machine values into words. A filter change navigates to the new URL, whose on_load reloads.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from urllib.parse import urlencode

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import audit_views
from efoy_app.domain.errors import DomainError, Forbidden, ValidationFailed
from efoy_app.state import audit_text, statuses
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.display import clinic_timezone, when_exact_label, when_label
from efoy_app.state.page_status import PageStatus

ALL = "all"
ACTOR_CHOICES = [
    [ALL, "Anyone"],
    [audit_views.ACTOR_ADMIN, "Admins"],
    [audit_views.ACTOR_PATIENT, "Patients"],
    [audit_views.ACTOR_SYSTEM, "Efoy (system)"],
    [audit_views.ACTOR_STRIPE, "Stripe webhooks"],
]
TYPE_CHOICES = [[ALL, "Anything"]] + [
    [t, statuses.humanize(t) + "s"] for t in audit_views.OBJECT_TYPES
]
PAGE_MAX = 10**6  # pages a URL may ask for; past the last one shows an empty page


@dataclasses.dataclass
class AuditSentence:
    id: int = 0
    at: str = ""
    at_exact: str = ""
    sentence: str = ""  # who did what to which object
    why: str = ""
    actor_detail: str = ""  # the user's email or the Stripe event id, for the tooltip


def subject(entity_type: str, entity_id: int) -> str:
    """ "payment #12", "webhook event #3"."""
    return f"{statuses.humanize(entity_type).lower()} #{entity_id}"


def sentence_of(row: audit_views.AuditRow, tz: str) -> AuditSentence:
    """One audit row as a sentence, its reason as a second one."""
    who = audit_text.actor(row.actor, row.actor_name, row.actor_email)
    what = subject(row.entity_type, row.entity_id)
    table = statuses.BY_ENTITY.get(row.entity_type, statuses.EVENT)
    before = statuses.look(table, row.from_status).label if row.from_status else ""
    after = statuses.look(table, row.to_status).label if row.to_status else ""
    if row.action == "status_changed" and before and after:
        text = f"{who.name} moved {what} from {before} to {after}."
    else:
        text = f"{who.name}: {audit_text.action_label(row.action)}, {what}"
        if before and after and before != after:
            text += f", from {before} to {after}"
        elif after:
            text += f", now {after}"
        text += "."
    return AuditSentence(
        id=row.id,
        at=when_label(row.at, tz),
        at_exact=when_exact_label(row.at, tz),
        sentence=text,
        why=audit_text.why(row.action, row.reason, row.details, currency=row.currency),
        actor_detail=who.detail,
    )


@dataclasses.dataclass(frozen=True)
class Query:
    """The filters and page as the URL gives them (strings as typed)."""

    actor: str = ALL
    object_type: str = ALL
    object_text: str = ""
    date_from: str = ""
    date_to: str = ""
    page: int = 1

    def url(self, page: int | None = None) -> str:
        params = {
            "actor": "" if self.actor == ALL else self.actor,
            "object_type": "" if self.object_type == ALL else self.object_type,
            "object": self.object_text.strip(),
            "date_from": self.date_from,
            "date_to": self.date_to,
            "page": str(page or self.page) if (page or self.page) > 1 else "",
        }
        kept = {k: v for k, v in params.items() if v}
        return f"{routes.ADMIN_AUDIT}?{urlencode(kept)}" if kept else routes.ADMIN_AUDIT


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{name}: write the day as YYYY-MM-DD.") from None


def _filters(q: Query) -> audit_views.AuditFilter:
    typed_type, typed_id = audit_views.parse_object(q.object_text)
    chosen = None if q.object_type == ALL else q.object_type
    if chosen and typed_type and chosen != typed_type:
        raise ValidationFailed(
            f"The object '{q.object_text}' is not a {statuses.humanize(chosen)}."
        )
    return audit_views.AuditFilter(
        actor=None if q.actor == ALL else q.actor,
        object_type=chosen or typed_type,
        object_id=typed_id,
        date_from=_day(q.date_from, "From"),
        date_to=_day(q.date_to, "To"),
        tz=clinic_timezone(),
    )


def _load(user: SessionUser, q: Query) -> tuple[list[AuditSentence], int]:
    with session_scope() as session:
        admin = db_user(session, user)
        page = audit_views.audit_list(
            session,
            admin,
            _filters(q),
            limit=audit_views.PAGE_SIZE,
            offset=(q.page - 1) * audit_views.PAGE_SIZE,
        )
        tz = clinic_timezone()
        return [sentence_of(r, tz) for r in page.data], page.count


def _param(params: object, name: str) -> str:
    value = params.get(name, "")  # type: ignore[attr-defined]
    return str(value)[:100] if isinstance(value, str) else ""


class AdminAuditState(AuthState, PageStatus):
    """State of /admin/audit; the role is checked against the database on every load."""

    entries: list[AuditSentence] = []
    count: int = 0
    page: int = 1
    actor: str = ALL
    object_type: str = ALL
    object_text: str = ""
    date_from: str = ""
    date_to: str = ""

    def _query(self, page: int | None = None) -> Query:
        return Query(
            self.actor, self.object_type, self.object_text, self.date_from, self.date_to,
            page or self.page,
        )  # fmt: skip

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.count // audit_views.PAGE_SIZE))

    @rx.var
    def has_previous(self) -> bool:
        return self.page > 1

    @rx.var
    def has_next(self) -> bool:
        return self.page < self.pages

    @rx.var
    def previous_href(self) -> str:
        return self._query(max(1, self.page - 1)).url()

    @rx.var
    def next_href(self) -> str:
        return self._query(self.page + 1).url()

    @rx.var
    def summary(self) -> str:
        n = self.count
        changes = "1 change" if n == 1 else f"{n:,} changes"
        return f"{changes} · page {self.page} of {self.pages}"

    @rx.var
    def actor_choices(self) -> list[list[str]]:
        return ACTOR_CHOICES

    @rx.var
    def type_choices(self) -> list[list[str]]:
        return TYPE_CHOICES

    @rx.event
    async def load_page(self) -> EventSpec | None:
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        params = self.router.url.query_parameters
        actor = _param(params, "actor") or ALL
        kind = _param(params, "object_type") or ALL
        self.actor = actor if actor in dict(ACTOR_CHOICES) else ALL
        self.object_type = kind if kind in dict(TYPE_CHOICES) else ALL
        self.object_text = _param(params, "object")
        self.date_from, self.date_to = _param(params, "date_from"), _param(params, "date_to")
        raw_page = _param(params, "page")
        self.page = int(raw_page) if raw_page.isdigit() and 1 <= int(raw_page) <= PAGE_MAX else 1
        self.error = ""
        try:
            self.entries, self.count = await asyncio.to_thread(_load, user, self._query())
            self.forbidden = False
        except Forbidden:
            self.entries, self.count, self.forbidden = [], 0, True
        except DomainError as exc:
            self.entries, self.count, self.error = [], 0, exc.message
        self.loaded = True
        return None

    @rx.event
    def set_actor(self, value: str) -> None:
        self.actor = value if value in dict(ACTOR_CHOICES) else ALL

    @rx.event
    def set_object_type(self, value: str) -> None:
        self.object_type = value if value in dict(TYPE_CHOICES) else ALL

    @rx.event
    def set_object_text(self, value: str) -> None:
        self.object_text = str(value)[: audit_views.OBJECT_MAX]

    @rx.event
    def set_date_from(self, value: str) -> None:
        self.date_from = str(value)[:10]

    @rx.event
    def set_date_to(self, value: str) -> None:
        self.date_to = str(value)[:10]

    @rx.event
    def apply_filters(self, _form: dict | None = None) -> EventSpec:
        """Show the first page of the new filters (their URL; its on_load reloads)."""
        return rx.redirect(self._query(1).url())

    @rx.event
    def clear_filters(self) -> EventSpec:
        return rx.redirect(routes.ADMIN_AUDIT)
