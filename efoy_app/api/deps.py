"""FastAPI dependencies: a database session per request, and the bearer-token user.

Routes take them as `Annotated` aliases (`db: DbSession`, `user: CurrentUser`,
`admin: AdminUser`, `user: OptionalUser`), never as `= Depends(...)` defaults.

`current_user` ends its read transaction before the route runs, and routes end theirs with
`finish()` before FastAPI serializes the answer: with SQLite every transaction begins IMMEDIATE,
i.e. takes the write lock, and must never be held while waiting for something else (a Stripe
call, a PDF, a free threadpool worker).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, TypeVar

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from efoy_app.db import get_engine
from efoy_app.domain.auth import require_role, user_from_token
from efoy_app.domain.errors import Unauthorized
from efoy_app.models import ROLE_ADMIN, User

T = TypeVar("T")

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="The accessToken from POST /api/v1/auth/token",
)


def get_session() -> Iterator[Session]:
    """One Session per request; domain functions commit their own unit of work."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


def finish(session: Session, value: T) -> T:
    """End the request's transaction, then hand back the response body.

    A sync route's return value is validated in FastAPI's threadpool. With SQLite every
    transaction holds the write lock (BEGIN IMMEDIATE), so a route that returned with a read
    transaction open would keep the lock while waiting for a pool thread — and under load every
    pool thread may be waiting for that lock. Routes call this on their way out.
    """
    session.close()
    return value


def _user_for(session: Session, credentials: HTTPAuthorizationCredentials) -> User:
    try:
        return user_from_token(session, credentials.credentials)
    finally:
        session.commit()  # end the read transaction (releases SQLite's lock)


DbSession = Annotated[Session, Depends(get_session)]
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def current_user(credentials: BearerCredentials, session: DbSession) -> User:
    """The user of the `Authorization: Bearer <jwt>` header; 401 otherwise."""
    if credentials is None:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token>.")
    return _user_for(session, credentials)


def optional_user(credentials: BearerCredentials, session: DbSession) -> User | None:
    """For public routes that personalise when a token is sent; a bad token is still a 401."""
    if credentials is None:
        return None
    return _user_for(session, credentials)


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]


def require_admin(user: CurrentUser) -> User:
    """The current user if an admin; 403 otherwise."""
    require_role(user, ROLE_ADMIN)
    return user


AdminUser = Annotated[User, Depends(require_admin)]
