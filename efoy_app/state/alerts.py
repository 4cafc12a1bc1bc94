"""The alert banner of every admin page: failed webhook events and stale pending payments.

Its own substate, loaded when the banner mounts (`components.admin.admin_page` puts it on every
admin page), so no page state has to carry or load it. The role is checked against the database
on every load; `domain.alerts` logs each new alert once.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import alerts
from efoy_app.domain.errors import Forbidden
from efoy_app.settings import get_settings
from efoy_app.state.auth import AuthState, SessionUser, db_user


def _load(user: SessionUser) -> tuple[int, int, int]:
    grace = get_settings().reconcile_grace_seconds
    with session_scope() as session:
        found = alerts.alerts_for(session, db_user(session, user), grace_seconds=grace)
        return found.failed_events, found.stale_payments, grace


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _duration(seconds: int) -> str:
    if seconds % 60 == 0 and seconds >= 60:
        return _plural(seconds // 60, "minute", "minutes")
    return _plural(seconds, "second", "seconds")


class AlertsState(AuthState):
    """How many webhook events failed in the last 24 hours and payments are stale."""

    failed_events: int = 0
    stale_payments: int = 0
    grace_label: str = ""

    @rx.var
    def has_alerts(self) -> bool:
        return self.failed_events > 0 or self.stale_payments > 0

    @rx.var
    def failed_events_text(self) -> str:
        n = self.failed_events
        verb = "has" if n == 1 else "have"
        return (
            f"{_plural(n, 'webhook event', 'webhook events')} {verb} failed in the last 24 hours."
        )

    @rx.var
    def stale_payments_text(self) -> str:
        n = self.stale_payments
        verb = "has" if n == 1 else "have"
        return (
            f"{_plural(n, 'payment', 'payments')} {verb} been pending for more than "
            f"{self.grace_label} (the reconciliation grace)."
        )

    @rx.var
    def failed_events_href(self) -> str:
        return routes.admin_webhooks("failed")

    @rx.var
    def stale_payments_href(self) -> str:
        return routes.ADMIN_PENDING_PAYMENTS

    @rx.event
    async def load(self) -> None:
        """On the banner's mount: the current alerts, for admins only."""
        user = await self.current_user()
        if user is None:
            self.failed_events = self.stale_payments = 0
            return
        try:
            failed, stale, grace = await asyncio.to_thread(_load, user)
        except Forbidden:
            failed, stale, grace = 0, 0, 0
        self.failed_events, self.stale_payments = failed, stale
        self.grace_label = _duration(grace)
