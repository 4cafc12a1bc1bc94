"""Login back-off per (account, client address) and per client address, never per account alone.

A lock on the account itself would let anyone lock out anyone (the admin included) by typing
wrong passwords. Here failures only slow down the address that made them:

- (account, address): 5 free failures; the 5th locks that pair for 60 s, every further failure
  after a lock doubles it (capped at 1 h); the right password from that address forgets them.
  A person who mistypes their own password is the only one slowed down.
- address (any accounts, unknown emails included): 20 free failures per 15 minute window, then the
  same doubling lock. This is what stops one client spraying guesses over many accounts; 20 leaves
  room for a few people behind one NAT (a clinic, a family) to mistype at once, and is 4x what one
  account allows, while a sprayer drops from several guesses a second to about 20 a quarter hour.
  A success does not clear it: otherwise an attacker with one real account could reset it.

The rows live in the database and change by single atomic upserts (INSERT .. ON CONFLICT DO
UPDATE .. RETURNING on SQLite and PostgreSQL alike), so several workers share one count and
parallel failures never lose one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from efoy_app.domain.errors import LoginThrottled
from efoy_app.models import THROTTLE_ACCOUNT_ADDRESS, THROTTLE_ADDRESS, LoginThrottle, UTCDateTime

MAX_ADDRESS_LENGTH = 64
MAX_ACCOUNT_LENGTH = 320
UNKNOWN_ADDRESS = "unknown"


@dataclass(frozen=True)
class Limit:
    """`free_failures` within `window_seconds`, then locks of base * 2**n seconds (capped)."""

    scope: str
    free_failures: int
    base_lock_seconds: int
    max_lock_seconds: int
    window_seconds: int

    def lock_seconds(self, failures: int) -> int:
        """The lock that the `failures`-th failure earns (0 while failures remain free)."""
        if failures < self.free_failures:
            return 0
        doublings = min(failures - self.free_failures, 16)
        return min(self.max_lock_seconds, self.base_lock_seconds * 2**doublings)


PER_ACCOUNT_ADDRESS = Limit(THROTTLE_ACCOUNT_ADDRESS, 5, 60, 3600, 24 * 3600)
PER_ADDRESS = Limit(THROTTLE_ADDRESS, 20, 60, 3600, 15 * 60)
LIMITS = (PER_ACCOUNT_ADDRESS, PER_ADDRESS)


def _address(client_address: str) -> str:
    return (client_address or "").strip()[:MAX_ADDRESS_LENGTH] or UNKNOWN_ADDRESS


def _buckets(account: str, client_address: str) -> list[tuple[Limit, str, str]]:
    address = _address(client_address)
    return [
        (PER_ACCOUNT_ADDRESS, account[:MAX_ACCOUNT_LENGTH], address),
        (PER_ADDRESS, "", address),
    ]


def _where(account: str, client_address: str) -> sa.ColumnElement[bool]:
    return sa.or_(
        *(
            sa.and_(
                LoginThrottle.scope == limit.scope,
                LoginThrottle.account == acct,
                LoginThrottle.address == address,
            )
            for limit, acct, address in _buckets(account, client_address)
        )
    )


def _retry_after(locked_until: datetime, now: datetime) -> int:
    return max(1, int((locked_until - now).total_seconds() + 0.999))


def _locked(session: Session, account: str, client_address: str, now: datetime) -> int | None:
    """Seconds until every bucket of this attempt is open again, or None when none is locked."""
    rows = session.exec(
        select(LoginThrottle.locked_until).where(
            _where(account, client_address), LoginThrottle.locked_until > now
        )
    ).all()
    if not rows:
        return None
    return max(_retry_after(until, now) for until in rows if until is not None)


def check(session: Session, *, account: str, client_address: str, now: datetime) -> None:
    """LoginThrottled while this pair or this address is locked; ends the read transaction."""
    retry_after = _locked(session, account, client_address, now)
    session.rollback()
    if retry_after is not None:
        raise LoginThrottled(retry_after_seconds=retry_after)


def _upsert_failure(
    session: Session, limit: Limit, account: str, address: str, now: datetime
) -> int:
    """Count one failure in one statement; a window that ended with no lock running restarts."""
    table = LoginThrottle.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(
        scope=limit.scope,
        account=account,
        address=address,
        failures=1,
        window_started_at=now,
        locked_until=None,
    )
    current = table.c
    at = sa.literal(now, UTCDateTime())
    restart = sa.and_(
        current.window_started_at <= now - timedelta(seconds=limit.window_seconds),
        sa.or_(current.locked_until.is_(None), current.locked_until <= now),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[current.scope, current.account, current.address],
        set_={
            "failures": sa.case((restart, 1), else_=current.failures + 1),
            "window_started_at": sa.case((restart, at), else_=current.window_started_at),
            "locked_until": sa.case((restart, None), else_=current.locked_until),
        },
    ).returning(current.failures)
    return int(session.execute(stmt).scalar_one())


def record_failure(session: Session, *, account: str, client_address: str, now: datetime) -> None:
    """Count a failed login in both buckets and lock those that ran out (commits)."""
    for limit, acct, address in _buckets(account, client_address):
        failures = _upsert_failure(session, limit, acct, address, now)
        seconds = limit.lock_seconds(failures)
        if seconds:
            # The upsert holds the row (PostgreSQL row lock, SQLite write lock) until commit.
            session.execute(
                sa.update(LoginThrottle)
                .where(
                    LoginThrottle.scope == limit.scope,
                    LoginThrottle.account == acct,
                    LoginThrottle.address == address,
                )
                .values(locked_until=now + timedelta(seconds=seconds))
            )
    _forget_stale(session, now)
    session.commit()


def record_success(session: Session, *, account: str, client_address: str, now: datetime) -> bool:
    """Forget this pair's failures (commits); False when a bucket was locked meanwhile.

    A wrong guess running in parallel may have locked the pair or the address while the
    password hash was checked: then this login does not count as a success.
    """
    rows = session.exec(
        select(LoginThrottle).where(_where(account, client_address)).with_for_update()
    ).all()
    if any(r.locked_until is not None and r.locked_until > now for r in rows):
        session.rollback()
        return False
    for row in rows:
        if row.scope == THROTTLE_ACCOUNT_ADDRESS:
            session.delete(row)
    session.commit()
    return True


def _forget_stale(session: Session, now: datetime) -> None:
    """Rows whose window is over and hold no lock say nothing any more: drop them."""
    longest = max(limit.window_seconds for limit in LIMITS)
    session.execute(
        sa.delete(LoginThrottle).where(
            LoginThrottle.window_started_at <= now - timedelta(seconds=longest),
            sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
        )
    )
