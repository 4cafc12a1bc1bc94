"""Accounts: passwords (argon2id), registration, throttled login, and JWT bearer tokens.

Tokens are HS256 only: the algorithm is pinned on decode, so a token signed with another
algorithm, or with "none", is refused however its header is dressed up. Roles are read from the
database on every request (`user_from_token`), so demoting a user takes effect at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import available_timezones

import jwt
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from efoy_app.domain import login_throttle
from efoy_app.domain.errors import (
    EmailTaken,
    Forbidden,
    InvalidCredentials,
    InvalidToken,
    ValidationFailed,
)
from efoy_app.domain.text import clean_text
from efoy_app.models import ROLE_ADMIN, ROLE_PATIENT, ROLES, User, utcnow
from efoy_app.settings import get_settings

JWT_ALGORITHM = "HS256"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
# Doctors do not log in in this version: their hash is not an argon2 hash, so nothing matches it.
NO_LOGIN_HASH = "!no-login"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# OWASP's argon2id baseline (19 MiB, 2 passes): sound, and cheap enough that fifty concurrent
# registrations do not exhaust memory the way the 64 MiB default would.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    role: str


def hash_password(password: str) -> str:
    """An argon2id hash with its own salt and parameters."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches; a malformed hash is a mismatch, never an error."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("efoy-timing-equaliser")


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def validate_timezone(timezone: str) -> str:
    """An IANA name such as "Europe/Berlin"; ValidationFailed otherwise."""
    tz = (timezone or "").strip()
    if tz not in _timezones():
        raise ValidationFailed(f"Unknown timezone: {timezone!r}.")
    return tz


def register_patient(
    session: Session,
    *,
    email: str,
    password: str,
    full_name: str,
    phone: str | None = None,
    timezone: str = "UTC",
) -> User:
    """Create a patient account (commits); EmailTaken when the email already has one."""
    return _new_account(session, email, password, full_name, phone, timezone, ROLE_PATIENT)


def create_admin(
    session: Session, *, email: str, password: str, full_name: str, timezone: str = "UTC"
) -> User:
    """An admin account (commits), for the first admin of a new clinic (no demo data in
    production) and for the ones after: the same checks as a patient's sign-up."""
    return _new_account(session, email, password, full_name, None, timezone, ROLE_ADMIN)


def _new_account(
    session: Session,
    email: str,
    password: str,
    full_name: str,
    phone: str | None,
    timezone: str,
    role: str,
) -> User:
    email = normalize_email(email)
    # An address with bidi controls would display as another one: refused, not rewritten
    # (removing them would name a different mailbox).
    if len(email) > 320 or not EMAIL_RE.match(email) or clean_text(email) != email:
        raise ValidationFailed("Enter a valid email address.")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.")
    full_name = clean_text(full_name)
    if not full_name or len(full_name) > 200:
        raise ValidationFailed("Full name must be 1 to 200 characters.")
    phone = clean_text(phone) or None
    if phone is not None and len(phone) > 40:
        raise ValidationFailed("Phone must be at most 40 characters.")
    tz = validate_timezone(timezone or "UTC")
    password_hash = hash_password(password)  # before touching the database (see authenticate)
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        session.rollback()
        raise EmailTaken()
    user = User(
        email=email,
        password_hash=password_hash,
        role=role,
        full_name=full_name,
        phone=phone,
        timezone=tz,
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise EmailTaken() from None
    session.refresh(user)
    return user


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    client_address: str,
    now: datetime | None = None,
) -> User:
    """The user for these credentials; failures count against this client only (commits).

    `client_address` is the peer the request came from (see `login_throttle`): a stranger's
    wrong guesses slow down the stranger, never the account's owner elsewhere. A locked pair or
    address is refused without looking at the password, so guessing during a lock learns
    nothing. The read transaction ends before the (deliberately slow) hash check, so SQLite's
    write lock is never held while argon2 runs.
    """
    now = now or utcnow()
    account = normalize_email(email)
    login_throttle.check(session, account=account, client_address=client_address, now=now)
    row = session.exec(select(User.id, User.password_hash).where(User.email == account)).first()
    session.rollback()
    if row is None:
        verify_password(_dummy_hash(), password or "")  # same time as a wrong password
    elif verify_password(row[1], password or ""):
        user_id, password_hash = row
        # Only a login still unlocked at this instant succeeds: a concurrent wrong guess may
        # have locked the pair or the address while the hash was being checked.
        if not login_throttle.record_success(
            session, account=account, client_address=client_address, now=now
        ):
            raise InvalidCredentials()
        if _hasher.check_needs_rehash(password_hash):
            session.execute(
                sa.update(User)
                .where(User.id == user_id)
                .values(password_hash=hash_password(password))
            )
            session.commit()
        user = session.get(User, user_id, populate_existing=True)
        if user is None:
            raise InvalidCredentials()
        return user
    login_throttle.record_failure(session, account=account, client_address=client_address, now=now)
    raise InvalidCredentials()


def _secret() -> str:
    """The signing key; Settings already refused a missing, short or published one in production."""
    return get_settings().jwt_key()


def issue_token(user: User) -> tuple[str, int]:
    """A signed HS256 bearer token for this user and its lifetime in seconds."""
    ttl = get_settings().jwt_ttl_seconds
    now = datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "role": user.role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }
    return jwt.encode(claims, _secret(), algorithm=JWT_ALGORITHM), ttl


def decode_token(token: str) -> TokenClaims:
    """Verified claims; InvalidToken for a bad signature, another algorithm, expiry, or junk."""
    if not token:
        raise InvalidToken()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != JWT_ALGORITHM:
            raise InvalidToken()
        claims = jwt.decode(
            token,
            _secret(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.PyJWTError:
        raise InvalidToken() from None
    sub, role = claims.get("sub"), claims.get("role")
    if not isinstance(sub, str) or not sub.isdigit() or role not in ROLES:
        raise InvalidToken()
    return TokenClaims(user_id=int(sub), role=role)


def user_from_token(session: Session, token: str) -> User:
    """The user behind a valid token; InvalidToken when the account no longer exists."""
    claims = decode_token(token)
    user = session.get(User, claims.user_id)
    if user is None:
        raise InvalidToken()
    return user


def require_role(user: User, *roles: str) -> None:
    """Forbidden unless the user has one of these roles."""
    if user.role not in roles:
        raise Forbidden()
