"""Passwords, registration, throttled login and JWTs."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest
from sqlmodel import Session, select

from efoy_app.domain import auth
from efoy_app.domain.errors import (
    EmailTaken,
    Forbidden,
    InvalidCredentials,
    InvalidToken,
    LoginThrottled,
    ValidationFailed,
)
from efoy_app.models import ROLE_ADMIN, ROLE_PATIENT, User, utcnow
from efoy_app.settings import get_settings

PASSWORD = "correct horse"


def register(session: Session, email: str = "Ada@Example.com", **kw: str) -> User:
    return auth.register_patient(
        session, email=email, password=kw.pop("password", PASSWORD), full_name="Ada", **kw
    )


def test_password_hashing() -> None:
    first, second = auth.hash_password(PASSWORD), auth.hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and first != second  # salted
    assert auth.verify_password(first, PASSWORD) is True
    assert auth.verify_password(first, PASSWORD + "!") is False
    assert auth.verify_password("not-a-hash", PASSWORD) is False


def test_register_normalises_and_stores_a_hash(session: Session) -> None:
    user = register(session, timezone="Europe/Berlin", phone=" +49 30 1234 ")
    assert (user.email, user.role, user.timezone, user.phone) == (
        "ada@example.com", ROLE_PATIENT, "Europe/Berlin", "+49 30 1234",
    )  # fmt: skip
    assert user.password_hash != PASSWORD and auth.verify_password(user.password_hash, PASSWORD)
    assert "password_hash" not in user.model_dump()


def test_register_refuses_duplicates_and_bad_input(session: Session) -> None:
    register(session)
    with pytest.raises(EmailTaken):
        register(session, email="  ADA@example.COM ")
    for kw in ({"password": "short"}, {"timezone": "Mars/Olympus"}, {"email": "not-an-email"}):
        with pytest.raises(ValidationFailed):
            register(session, **{"email": "new@example.com", **kw})
    assert len(session.exec(select(User)).all()) == 1


def test_authenticate(session: Session) -> None:
    user = register(session)
    assert auth.authenticate(session, email="ADA@example.com", password=PASSWORD).id == user.id
    with pytest.raises(InvalidCredentials) as wrong:
        auth.authenticate(session, email="ada@example.com", password="nope nope")
    assert wrong.value.message == "Wrong email or password."
    with pytest.raises(InvalidCredentials):
        auth.authenticate(session, email="nobody@example.com", password=PASSWORD)


def test_login_is_throttled_after_five_failures(session: Session) -> None:
    user = register(session)
    now = utcnow()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            auth.authenticate(session, email=user.email, password="wrong pass", now=now)
    # Locked: even the right password is refused, without being checked.
    with pytest.raises(LoginThrottled) as locked:
        auth.authenticate(session, email=user.email, password=PASSWORD, now=now)
    assert locked.value.retry_after_seconds == 60
    assert locked.value.http_status == 429 and locked.value.code == "too_many_attempts"
    with pytest.raises(LoginThrottled) as later:
        auth.authenticate(
            session, email=user.email, password=PASSWORD, now=now + timedelta(seconds=50)
        )
    assert later.value.retry_after_seconds == 10
    # After the lock another failure locks again, for twice as long.
    after = now + timedelta(seconds=61)
    with pytest.raises(InvalidCredentials):
        auth.authenticate(session, email=user.email, password="wrong pass", now=after)
    with pytest.raises(LoginThrottled) as longer:
        auth.authenticate(session, email=user.email, password=PASSWORD, now=after)
    assert longer.value.retry_after_seconds == 120
    # Success after the lock resets the counter.
    ok = auth.authenticate(
        session, email=user.email, password=PASSWORD, now=after + timedelta(seconds=121)
    )
    assert (ok.failed_login_count, ok.locked_until) == (0, None)
    with pytest.raises(InvalidCredentials):
        auth.authenticate(
            session, email=user.email, password="wrong pass", now=after + timedelta(seconds=122)
        )
    stored = session.get(User, user.id, populate_existing=True)
    assert (stored.failed_login_count, stored.locked_until) == (1, None)


def test_token_round_trip(session: Session) -> None:
    user = register(session)
    token, expires_in = auth.issue_token(user)
    assert expires_in == get_settings().jwt_ttl_seconds == 3600
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = auth.decode_token(token)
    assert (claims.user_id, claims.role) == (user.id, ROLE_PATIENT)
    assert auth.user_from_token(session, token).id == user.id


def _forge(payload: dict, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key or get_settings().jwt_key(), algorithm=algorithm)


def _claims(now: int, **override: object) -> dict:
    claims = {"sub": "1", "role": "admin", "iat": now, "exp": now + 60}
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


BAD_TOKENS = {
    "expired": lambda now: _forge(_claims(now, iat=now - 7200, exp=now - 10)),
    "hs512-same-secret": lambda now: _forge(_claims(now), algorithm="HS512"),
    "alg-none": lambda now: jwt.encode(_claims(now), None, algorithm="none"),
    "bad-signature": lambda now: _forge(_claims(now), key="x" * 40),
    "no-exp": lambda now: _forge(_claims(now, exp=None)),
    "sub-not-an-id": lambda now: _forge(_claims(now, sub="abc")),
    "unknown-role": lambda now: _forge(_claims(now, role="root")),
    "junk": lambda now: "not.a.token",
    "empty": lambda now: "",
}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("name", list(BAD_TOKENS))
def test_bad_tokens_are_refused(session: Session, name: str) -> None:
    register(session)  # user 1 exists: only the token itself is wrong
    token = BAD_TOKENS[name](int(time.time()))
    with pytest.raises(InvalidToken):
        auth.decode_token(token)
    with pytest.raises(InvalidToken):
        auth.user_from_token(session, token)


def test_tampered_payload_is_refused(session: Session) -> None:
    token, _ = auth.issue_token(register(session))
    header, _payload, signature = token.split(".")
    forged = _forge({"sub": "1", "role": ROLE_ADMIN, "iat": 1, "exp": 2**40}).split(".")[1]
    with pytest.raises(InvalidToken):
        auth.decode_token(f"{header}.{forged}.{signature}")


def test_token_of_a_deleted_user_is_refused(session: Session) -> None:
    user = register(session)
    token, _ = auth.issue_token(user)
    session.delete(user)
    session.commit()
    with pytest.raises(InvalidToken):
        auth.user_from_token(session, token)


def test_require_role(session: Session) -> None:
    user = register(session)
    auth.require_role(user, ROLE_PATIENT, ROLE_ADMIN)
    with pytest.raises(Forbidden):
        auth.require_role(user, ROLE_ADMIN)
