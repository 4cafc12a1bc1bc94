"""Accounts over REST: register a patient, exchange credentials for a JWT, and "who am I"."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request

from efoy_app.api.deps import CurrentUser, DbSession, finish
from efoy_app.api.schemas import (
    COMMON_ERRORS,
    RegisterIn,
    TokenIn,
    TokenOut,
    UserOut,
    error_responses,
)
from efoy_app.domain import auth
from efoy_app.routes import API_AUTH

router = APIRouter(prefix=API_AUTH, tags=["auth"], responses=COMMON_ERRORS)

# Reflex's own setting (rxconfig `trusted_proxy_hops`), read the way Reflex reads it for /_event:
# with 0, the default, X-Forwarded-For is the client's to write and is ignored.
TRUSTED_PROXY_HOPS_ENV = "REFLEX_TRUSTED_PROXY_HOPS"


def client_address(request: Request) -> str:
    """The address login throttling counts against: the TCP peer, unless trusted proxies say
    who their client was (the entry `hops` places from the right of X-Forwarded-For)."""
    peer = request.client.host if request.client else ""
    try:
        hops = max(0, int(os.environ.get(TRUSTED_PROXY_HOPS_ENV, "0") or 0))
    except ValueError:
        hops = 0
    if hops:
        forwarded = [
            ip.strip() for ip in request.headers.get("x-forwarded-for", "").split(",") if ip.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return peer


@router.post(
    "/register",
    response_model=UserOut,
    status_code=201,
    responses=error_responses(409, s409="email_taken"),
)
def register(body: RegisterIn, db: DbSession) -> UserOut:
    """Public. Creates a patient account (never another role)."""
    user = auth.register_patient(
        db,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        phone=body.phone,
        timezone=body.timezone or "UTC",
    )
    return finish(db, UserOut.model_validate(user))


@router.post(
    "/token",
    response_model=TokenOut,
    responses=error_responses(401, 429),
)
def token(body: TokenIn, request: Request, db: DbSession) -> TokenOut:
    """Public. Email and password for a bearer token. Repeated failures slow down the client
    that made them (per account and per address; 429 with Retry-After), never the account."""
    user = auth.authenticate(
        db, email=body.email, password=body.password, client_address=client_address(request)
    )
    access_token, expires_in = auth.issue_token(user)
    return finish(
        db, TokenOut(access_token=access_token, token_type="bearer", expires_in=expires_in)
    )


@router.get("/me", response_model=UserOut, responses=error_responses(401))
def me(user: CurrentUser) -> UserOut:
    """The account the bearer token belongs to."""
    return UserOut.model_validate(user)
