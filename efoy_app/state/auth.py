"""Who is signed in: the JWT in the browser's localStorage, checked again on every event.

The token is the one the REST API hands out (`domain.auth.issue_token`); each handler decodes it
and loads the user from the database before doing anything, so a page decorator is never the only
guard. Only harmless facts about the user (name, role, timezone) become state vars: never the
password hash, never a secret.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache, partial

import reflex as rx
from reflex.event import EventSpec
from sqlmodel import Session

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain import timezones
from efoy_app.domain.auth import authenticate, issue_token, register_patient, user_from_token
from efoy_app.domain.errors import DomainError, InvalidToken, LoginThrottled
from efoy_app.models import ROLE_ADMIN, User


@dataclasses.dataclass(frozen=True)
class ZoneOption:
    """One entry of the register page's timezone list."""

    zone: str
    label: str


@dataclasses.dataclass(frozen=True)
class ZoneGroup:
    """The entries of one region (an <optgroup>)."""

    region: str
    zones: list[ZoneOption]


@lru_cache(maxsize=2)
def _all_zone_groups(hour: int) -> list[tuple[str, list[timezones.ZoneChoice]]]:
    """Every zone, labelled with its offset in this hour (offsets move with daylight saving)."""
    return timezones.zone_groups(datetime.fromtimestamp(hour * 3600, UTC))


def zone_groups_for(query: str, keep: str) -> list[ZoneGroup]:
    """The timezone list narrowed by what was typed in its search box (`keep` always stays)."""
    groups = _all_zone_groups(int(time.time() // 3600))
    return [
        ZoneGroup(region, [ZoneOption(c.zone, c.label) for c in choices])
        for region, choices in timezones.filter_zone_groups(groups, query, keep)
    ]


@dataclasses.dataclass(frozen=True)
class SessionUser:
    """What the browser may know about the signed-in user."""

    id: int
    email: str
    full_name: str
    role: str
    timezone: str

    @classmethod
    def of(cls, user: User) -> SessionUser:
        assert user.id is not None
        return cls(user.id, user.email, user.full_name, user.role, user.timezone)


def load_session_user(token: str) -> SessionUser | None:
    """The user behind a token, or None when it is missing, expired, forged or the user is gone."""
    if not token:
        return None
    try:
        with session_scope() as session:
            return SessionUser.of(user_from_token(session, token))
    except InvalidToken:
        return None


def db_user(session: Session, user: SessionUser) -> User:
    """The signed-in user as a row of `session`, for domain calls that take a `User`."""
    row = session.get(User, user.id)
    if row is None:
        raise InvalidToken("Your session has ended. Please log in again.")
    return row


def _login(email: str, password: str, client_address: str) -> tuple[str, SessionUser]:
    with session_scope() as session:
        user = authenticate(session, email=email, password=password, client_address=client_address)
        token, _expires_in = issue_token(user)
        return token, SessionUser.of(user)


def _register(email: str, password: str, full_name: str, timezone: str) -> tuple[str, SessionUser]:
    with session_scope() as session:
        user = register_patient(
            session, email=email, password=password, full_name=full_name, timezone=timezone
        )
        token, _expires_in = issue_token(user)
        return token, SessionUser.of(user)


class AuthState(rx.State):
    """Base of every page state: the token, the signed-in user, login/register/logout."""

    auth_token: str = rx.LocalStorage("", name="efoy_auth_token", sync=True)
    user_id: int = 0
    user_name: str = ""
    user_email: str = ""
    role: str = ""
    user_timezone: str = ""
    login_error: str = ""
    register_error: str = ""
    detected_timezone: str = ""  # the register page's choice (first: the browser's zone)
    timezone_query: str = ""
    # Filled by the register page's on_load only, so other pages do not carry 400 zones.
    timezone_groups: list[ZoneGroup] = []
    timezone_matches: str = ""  # "12 timezones listed.", read out as the list narrows
    auth_busy: bool = False
    # Where the login or registration goes on to (`?next=`), and the links that keep it.
    next_path: str = ""
    login_href: str = routes.LOGIN
    register_href: str = routes.REGISTER

    @rx.var
    def is_authenticated(self) -> bool:
        return self.user_id > 0

    @rx.var
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    def _apply_user(self, user: SessionUser | None) -> None:
        if user is None:
            if self.auth_token:
                self.auth_token = ""
            self.user_id, self.user_name, self.user_email = 0, "", ""
            self.role, self.user_timezone = "", ""
            return
        self.user_id, self.user_name, self.user_email = user.id, user.full_name, user.email
        self.role, self.user_timezone = user.role, user.timezone

    async def _sign_in(self, attempt: Callable[[], tuple[str, SessionUser]]) -> str:
        """Run a login or a registration with the form busy; "" once signed in, else the reason."""
        self.auth_busy = True
        try:
            token, user = await asyncio.to_thread(attempt)
        except LoginThrottled as exc:
            return f"{exc.message} Wait {exc.retry_after_seconds} seconds."
        except DomainError as exc:
            return exc.message
        finally:
            self.auth_busy = False
        self.auth_token = token
        self._apply_user(user)
        return ""

    async def current_user(self) -> SessionUser | None:
        """Decode the token and load the user again; clears a token that no longer holds.

        Also drops the register page's timezone list (its on_load fills it again): every other
        page would otherwise carry 400 zones in its state."""
        user = await asyncio.to_thread(load_session_user, self.auth_token)
        self._apply_user(user)
        if self.timezone_groups:
            self.timezone_groups = []
        return user

    def login_redirect(self) -> EventSpec:
        """Send a signed-out visitor to the login page, coming back here (path and query)."""
        url = self.router.url
        return rx.redirect(routes.login(next_path=routes.here(url.path, url.query)))

    def _read_next(self) -> str:
        """The page's `?next=` if it is a path of this site ("" if none): kept by both forms."""
        raw = self.router.url.query_parameters.get("next")
        self.next_path = routes.safe_next(raw, default="")
        self.login_href = routes.login(self.next_path)
        self.register_href = routes.register(self.next_path)
        return routes.safe_next(self.next_path)

    @rx.event
    async def sync_user(self) -> None:
        """on_load of public pages: show the navbar for whoever is signed in."""
        await self.current_user()

    @rx.event
    async def require_user(self) -> EventSpec | None:
        """on_load of pages that need a signed-in user."""
        if await self.current_user() is None:
            return self.login_redirect()

    @rx.event
    async def open_login(self) -> EventSpec | None:
        """on_load of /login: a signed-in user goes straight on."""
        self.login_error = ""
        target = self._read_next()
        if await self.current_user() is not None:
            return rx.redirect(target)

    @rx.event
    async def login(self, form: dict[str, str]) -> EventSpec | None:
        email = (form.get("email") or "").strip()
        password = form.get("password") or ""
        if not email or not password:
            self.login_error = "Enter your email and password."
            return None
        # Reflex's client_ip: the socket's peer, or X-Forwarded-For only through as many
        # proxies as rxconfig's trusted_proxy_hops (REFLEX_TRUSTED_PROXY_HOPS) says.
        client_ip = self.router.session.client_ip
        self.login_error = await self._sign_in(partial(_login, email, password, client_ip))
        if self.login_error:
            return None
        return rx.redirect(self._read_next())

    @rx.event
    async def open_register(self) -> EventSpec | None:
        """on_load of /register: ask the browser for its timezone to preselect it."""
        self.register_error = ""
        target = self._read_next()
        if await self.current_user() is not None:
            return rx.redirect(target)
        self.timezone_query = ""
        self.detected_timezone = self.detected_timezone or timezones.UTC_ZONE
        self._filter_timezones()
        return rx.call_script(
            "Intl.DateTimeFormat().resolvedOptions().timeZone",
            callback=AuthState.set_detected_timezone,
        )

    def _filter_timezones(self) -> None:
        self.timezone_groups = zone_groups_for(self.timezone_query, self.detected_timezone)
        count = sum(len(g.zones) for g in self.timezone_groups)
        self.timezone_matches = f"{count} timezone{'' if count == 1 else 's'} listed."

    @rx.event
    def set_detected_timezone(self, zone: str) -> None:
        """The zone the browser reports, or the one chosen in the list (legacy names mapped)."""
        canonical = timezones.canonical_zone(zone) if isinstance(zone, str) else None
        if canonical is not None:
            self.detected_timezone = canonical
            self._filter_timezones()

    @rx.event
    def set_timezone_query(self, query: str) -> None:
        """Narrow the list to what was typed; the first match becomes the choice if the current
        one does not match, so typing a city and going on is enough."""
        self.timezone_query = str(query)[:80]
        self.timezone_groups = zone_groups_for(self.timezone_query, "")
        matches = [z.zone for g in self.timezone_groups for z in g.zones]
        if matches and self.detected_timezone not in matches:
            self.detected_timezone = matches[0]
        self._filter_timezones()

    @rx.event
    async def register(self, form: dict[str, str]) -> EventSpec | None:
        full_name = (form.get("full_name") or "").strip()
        email = (form.get("email") or "").strip()
        password = form.get("password") or ""
        timezone = form.get("timezone") or self.detected_timezone or "UTC"
        if not full_name:
            self.register_error = "Enter your full name."
            return None
        self.register_error = await self._sign_in(
            partial(_register, email, password, full_name, timezone)
        )
        if self.register_error:
            return None
        self.timezone_groups, self.timezone_query = [], ""
        return rx.redirect(self._read_next())

    @rx.event
    def logout(self) -> EventSpec | None:
        self._apply_user(None)
        self.auth_token = ""
        return rx.redirect(routes.HOME)
