"""Who is signed in: the JWT in the browser's localStorage, checked again on every event.

The token is the one the REST API hands out (`domain.auth.issue_token`); each handler decodes it
and loads the user from the database before doing anything, so a page decorator is never the only
guard. Only harmless facts about the user (name, role, timezone) become state vars: never the
password hash, never a secret.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from functools import partial
from zoneinfo import available_timezones

import reflex as rx
from reflex.event import EventSpec
from sqlmodel import Session

from efoy_app import routes
from efoy_app.db import session_scope
from efoy_app.domain.auth import authenticate, issue_token, register_patient, user_from_token
from efoy_app.domain.errors import DomainError, InvalidToken, LoginThrottled
from efoy_app.models import ROLE_ADMIN, User

# Offered first in the registration form; any IANA name the browser reports is added to them.
COMMON_TIMEZONES = (
    "UTC",
    "Africa/Addis_Ababa",
    "Africa/Cairo",
    "Africa/Lagos",
    "Africa/Nairobi",
    "America/Chicago",
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Paris",
)


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


def safe_next(target: str | None, default: str = routes.DOCTORS) -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return default


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
    detected_timezone: str = ""
    auth_busy: bool = False

    @rx.var
    def is_authenticated(self) -> bool:
        return self.user_id > 0

    @rx.var
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @rx.var
    def timezone_choices(self) -> list[str]:
        zones = set(COMMON_TIMEZONES)
        if self.detected_timezone:
            zones.add(self.detected_timezone)
        return sorted(zones)

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
        """Decode the token and load the user again; clears a token that no longer holds."""
        user = await asyncio.to_thread(load_session_user, self.auth_token)
        self._apply_user(user)
        return user

    def login_redirect(self) -> EventSpec:
        """Send a signed-out visitor to the login page, coming back here afterwards."""
        here = self.router.url.path.rstrip("/") or routes.HOME
        return rx.redirect(routes.login(next_path=here))

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
        if await self.current_user() is not None:
            return rx.redirect(safe_next(self.router.url.query_parameters.get("next")))

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
        return rx.redirect(safe_next(self.router.url.query_parameters.get("next")))

    @rx.event
    async def open_register(self) -> EventSpec | None:
        """on_load of /register: ask the browser for its timezone to preselect it."""
        self.register_error = ""
        if await self.current_user() is not None:
            return rx.redirect(routes.DOCTORS)
        return rx.call_script(
            "Intl.DateTimeFormat().resolvedOptions().timeZone",
            callback=AuthState.set_detected_timezone,
        )

    @rx.event
    def set_detected_timezone(self, zone: str) -> None:
        if isinstance(zone, str) and zone in available_timezones():
            self.detected_timezone = zone

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
        return rx.redirect(routes.DOCTORS)

    @rx.event
    def logout(self) -> EventSpec | None:
        self._apply_user(None)
        self.auth_token = ""
        return rx.redirect(routes.HOME)
