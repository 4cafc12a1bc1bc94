"""/admin/outbox and /admin/outbox/[email_id]: every email Efoy queued, what became of it, one
message to read, its attachments to save, and `Retry` for one the sender gave up on.

Thin: `domain.outbox_views` reads, retries and checks the admin role again on every load and
action. The list's filters and page live in the URL (a change navigates; on_load reloads). An
attachment reaches the browser through the admin's Reflex session (`rx.download`), never through
a public URL or a token in the address.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import reflex as rx
from reflex.event import EventSpec

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import outbox_views
from efoy_app.domain.errors import DomainError, Forbidden, NotFound
from efoy_app.domain.text import clean_text
from efoy_app.models import (
    EMAIL_FAILED,
    EMAIL_QUEUED,
    EMAIL_SENDING,
    EMAIL_SENT,
    EMAIL_WITHDRAWN,
)
from efoy_app.state import statuses
from efoy_app.state.auth import AuthState, SessionUser, db_user
from efoy_app.state.display import clinic_timezone, when_exact_label, when_label
from efoy_app.state.page_status import PageStatus
from efoy_app.state.rows import StatusBadge, row_from
from efoy_app.state.statuses import Look, look

# The look of each delivery state (statuses.py's pattern, kept beside the one page that shows it).
EMAIL = {
    EMAIL_QUEUED: Look("Queued", "amber"),
    EMAIL_SENDING: Look("Sending", "blue"),
    EMAIL_SENT: Look("Sent", "green"),
    EMAIL_FAILED: Look("Failed", "red"),
    EMAIL_WITHDRAWN: Look("Withdrawn", "gray"),
}
ALL = "all"
STATUS_CHOICES = [[ALL, "Any status"]] + [[s, look(EMAIL, s).label] for s in EMAIL]
KIND_CHOICES = [[ALL, "Any kind"]] + [[k, statuses.humanize(k)] for k in outbox_views.KINDS]
PAGE_MAX = 10**6  # pages a URL may ask for; past the last one shows an empty page
NAME_MAX = 150


@dataclasses.dataclass
class OutboxEntry(StatusBadge):
    """One message as a row of the list."""

    id: int = 0
    created_at: str = ""
    created_exact: str = ""
    kind: str = ""
    to_address: str = ""
    subject: str = ""
    attempts: int = 0
    next_or_sent: str = ""  # "Sent …", "Due …", "Claimed until …", or "" once given up
    error: str = ""
    href: str = ""


@dataclasses.dataclass
class AttachmentEntry:
    id: int = 0
    filename: str = ""
    content_type: str = ""
    size: str = ""


@dataclasses.dataclass
class EmailFacts(StatusBadge):
    """One message as its page shows it."""

    id: int = 0
    kind: str = ""
    to_address: str = ""
    subject: str = ""
    body: str = ""
    html_body: str = ""
    message_id: str = ""
    dedupe_key: str = ""
    booking: str = ""
    payment_id: int = 0
    payment_href: str = ""
    attempts: int = 0
    next_attempt_at: str = ""
    claimed_until: str = ""
    error: str = ""
    created_at: str = ""
    sent_at: str = ""
    can_retry: bool = False


def size_label(size: int) -> str:
    """ "812 bytes", "14.2 KB", "1.3 MB"."""
    if size < 1024:
        return "1 byte" if size == 1 else f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def download_name(filename: str) -> str:
    """The name a file is saved under: no folders, quotes or control characters, not hidden."""
    cleaned = clean_text(filename)
    for bad in '/\\"<>:|?*':
        cleaned = cleaned.replace(bad, "_")
    return cleaned.lstrip(". ")[:NAME_MAX] or "attachment"


def _next_or_sent(row: outbox_views.OutboxRow, tz: str) -> str:
    if row.status == EMAIL_SENT and row.sent_at:
        return f"Sent {when_label(row.sent_at, tz)}"
    if row.status == EMAIL_QUEUED:
        return f"Due {when_label(row.next_attempt_at, tz)}"
    if row.status == EMAIL_SENDING:
        return "Being sent now"
    return ""


def _entry(row: outbox_views.OutboxRow, tz: str) -> OutboxEntry:
    shown = look(EMAIL, row.status)
    return row_from(
        OutboxEntry,
        row,
        tz=tz,
        status_label=shown.label,
        status_color=shown.color,
        created_exact=when_exact_label(row.created_at, tz),
        kind=statuses.humanize(row.kind),
        next_or_sent=_next_or_sent(row, tz),
        href=routes.admin_outbox_email(row.id),
    )


@dataclasses.dataclass(frozen=True)
class Query:
    """The list's filters and page as the URL gives them."""

    status: str = ALL
    kind: str = ALL
    to: str = ""
    page: int = 1

    def url(self, page: int | None = None) -> str:
        page = page or self.page
        params = {
            "status": "" if self.status == ALL else self.status,
            "kind": "" if self.kind == ALL else self.kind,
            "to": self.to.strip(),
            "page": str(page) if page > 1 else "",
        }
        kept = {k: v for k, v in params.items() if v}
        return f"{routes.ADMIN_OUTBOX}?{urlencode(kept)}" if kept else routes.ADMIN_OUTBOX


def _load_list(user: SessionUser, q: Query) -> tuple[list[OutboxEntry], int]:
    with session_scope() as session:
        admin = db_user(session, user)
        page = outbox_views.outbox_list(
            session,
            admin,
            outbox_views.OutboxFilter(
                status=None if q.status == ALL else q.status,
                kind=None if q.kind == ALL else q.kind,
                to=q.to,
            ),
            limit=outbox_views.PAGE_SIZE,
            offset=(q.page - 1) * outbox_views.PAGE_SIZE,
        )
        tz = clinic_timezone()
        return [_entry(r, tz) for r in page.data], page.count


def _param(params: object, name: str, limit: int = 100) -> str:
    value = params.get(name, "")  # type: ignore[attr-defined]
    return str(value)[:limit] if isinstance(value, str) else ""


class AdminOutboxState(AuthState, PageStatus):
    """State of /admin/outbox; the role is checked against the database on every load."""

    emails: list[OutboxEntry] = []
    count: int = 0
    page: int = 1
    status_filter: str = ALL
    kind: str = ALL
    to: str = ""

    def _query(self, page: int | None = None) -> Query:
        return Query(self.status_filter, self.kind, self.to, page or self.page)

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.count // outbox_views.PAGE_SIZE))

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
        emails = "1 email" if n == 1 else f"{n:,} emails"
        return f"{emails} · page {self.page} of {self.pages}"

    @rx.var
    def status_choices(self) -> list[list[str]]:
        return STATUS_CHOICES

    @rx.var
    def kind_choices(self) -> list[list[str]]:
        return KIND_CHOICES

    @rx.event
    async def load_page(self) -> EventSpec | None:
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        params = self.router.url.query_parameters
        status, kind = _param(params, "status") or ALL, _param(params, "kind") or ALL
        self.status_filter = status if status in dict(STATUS_CHOICES) else ALL
        self.kind = kind if kind in dict(KIND_CHOICES) else ALL
        self.to = _param(params, "to", outbox_views.TO_MAX + 1)
        raw_page = _param(params, "page")
        self.page = int(raw_page) if raw_page.isdigit() and 1 <= int(raw_page) <= PAGE_MAX else 1
        self.error = ""
        try:
            self.emails, self.count = await asyncio.to_thread(_load_list, user, self._query())
            self.forbidden = False
        except Forbidden:
            self.emails, self.count, self.forbidden = [], 0, True
        except DomainError as exc:
            self.emails, self.count, self.error = [], 0, exc.message
        self.loaded = True
        return None

    @rx.event
    def set_status(self, value: str) -> None:
        self.status_filter = value if value in dict(STATUS_CHOICES) else ALL

    @rx.event
    def set_kind(self, value: str) -> None:
        self.kind = value if value in dict(KIND_CHOICES) else ALL

    @rx.event
    def set_to(self, value: str) -> None:
        self.to = str(value)[: outbox_views.TO_MAX + 1]

    @rx.event
    def apply_filters(self, _form: dict | None = None) -> EventSpec:
        """Show the first page of the new filters (their URL; its on_load reloads)."""
        return rx.redirect(self._query(1).url())

    @rx.event
    def clear_filters(self) -> EventSpec:
        return rx.redirect(routes.ADMIN_OUTBOX)


@dataclasses.dataclass(frozen=True)
class LoadedEmail:
    facts: EmailFacts
    attachments: list[AttachmentEntry]


def _facts(d: outbox_views.OutboxDetail, tz: str) -> EmailFacts:
    shown = look(EMAIL, d.status)
    return row_from(
        EmailFacts,
        d,
        tz=tz,
        status_label=shown.label,
        status_color=shown.color,
        kind=statuses.humanize(d.kind),
        html_body=d.html_body or "",
        booking=f"#{d.booking_id}" if d.booking_id else "",
        payment_id=d.payment_id or 0,
        payment_href=routes.admin_payment(d.payment_id) if d.payment_id else "",
        claimed_until=when_exact_label(d.claimed_until, tz),
        next_attempt_at=when_label(d.next_attempt_at, tz) if d.status == EMAIL_QUEUED else "",
    )


def _loaded(d: outbox_views.OutboxDetail) -> LoadedEmail:
    files = [
        AttachmentEntry(a.id, a.filename, a.content_type, size_label(a.size)) for a in d.attachments
    ]
    return LoadedEmail(_facts(d, clinic_timezone()), files)


def _load_email(user: SessionUser, email_id: int) -> LoadedEmail:
    with session_scope() as session:
        return _loaded(outbox_views.outbox_detail(session, db_user(session, user), email_id))


def _retry(user: SessionUser, email_id: int) -> LoadedEmail:
    with session_scope() as session:
        return _loaded(outbox_views.retry(session, email_id, db_user(session, user)))


def _file(user: SessionUser, email_id: int, attachment_id: int) -> outbox_views.AttachmentFile:
    with session_scope() as session:
        admin = db_user(session, user)
        return outbox_views.attachment_file(session, admin, email_id, attachment_id)


class AdminOutboxEmailState(AuthState, PageStatus):
    """State of /admin/outbox/[email_id]."""

    facts: EmailFacts = EmailFacts()
    attachments: list[AttachmentEntry] = []

    def _requested_id(self) -> int | None:
        return routes.path_id(self.router.url.path, routes.ADMIN_OUTBOX)

    def _show(self, loaded: LoadedEmail) -> None:
        self.facts, self.attachments = loaded.facts, loaded.attachments
        self.forbidden = self.not_found = False

    def _clear(self) -> None:
        self.facts, self.attachments = EmailFacts(), []

    @rx.event
    async def load_page(self) -> EventSpec | None:
        self.loaded, self.busy, self.error, self.notice = False, False, "", ""
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        email_id = self._requested_id()
        try:
            if email_id is None:
                raise NotFound("There is no such email.")
            self._show(await asyncio.to_thread(_load_email, user, email_id))
        except Forbidden:
            self._clear()
            self.forbidden = True
        except NotFound:
            self._clear()
            self.not_found = True
        self.loaded = True
        return None

    @rx.event
    async def retry(self) -> AsyncIterator[EventSpec | None]:
        """`Retry`: the failed message queued again, due now (the role checked again)."""
        user = await self.current_user()
        if user is None:
            yield self.login_redirect()
            return
        email_id = self._requested_id()
        if self.busy or email_id is None:
            return
        self.busy, self.error, self.notice = True, "", ""
        yield
        try:
            self._show(await asyncio.to_thread(_retry, user, email_id))
        except Forbidden:
            self.forbidden = True
        except DomainError as exc:
            self.error = exc.message
            with contextlib.suppress(DomainError):  # show its state now, if it still exists
                self._show(await asyncio.to_thread(_load_email, user, email_id))
        else:
            self.notice = "Queued again: the sender tries it now. Its attempts so far are kept."
        finally:
            self.busy = False

    @rx.event
    async def download(self, attachment_id: int) -> EventSpec | None:
        """Save one attachment: its bytes come through this session, checked again here."""
        user = await self.current_user()
        if user is None:
            return self.login_redirect()
        email_id = self._requested_id()
        self.error = ""
        try:
            if email_id is None:
                raise NotFound("There is no such email.")
            found = await asyncio.to_thread(_file, user, email_id, int(attachment_id))
        except Forbidden:
            self.forbidden = True
            return None
        except DomainError as exc:
            self.error = exc.message
            return None
        return rx.download(
            data=found.data,
            filename=download_name(found.filename),
            mime_type="application/octet-stream",
        )
