"""Passwords, registration, throttled login and JWTs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlmodel import Session, select

from efoy_app.domain import auth, login_throttle
from efoy_app.domain.errors import (
    EmailTaken,
    Forbidden,
    InvalidCredentials,
    InvalidToken,
    LoginThrottled,
    ValidationFailed,
)
from efoy_app.models import ROLE_ADMIN, ROLE_PATIENT, LoginThrottle, User
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


HOME, ELSEWHERE, ATTACKER = "198.51.100.7", "203.0.113.9", "192.0.2.66"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def login(session: Session, email: str, password: str, address: str, now: datetime) -> User:
    return auth.authenticate(
        session, email=email, password=password, client_address=address, now=now
    )


def fail(session: Session, email: str, address: str, now: datetime, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(InvalidCredentials):
            login(session, email, "wrong pass", address, now)


def throttled(session: Session, email: str, password: str, address: str, now: datetime) -> int:
    with pytest.raises(LoginThrottled) as locked:
        login(session, email, password, address, now)
    assert locked.value.http_status == 429 and locked.value.code == "too_many_attempts"
    return locked.value.retry_after_seconds


def buckets(session: Session) -> dict[tuple[str, str, str], tuple[int, datetime | None]]:
    session.rollback()
    return {
        (r.scope, r.account, r.address): (r.failures, r.locked_until)
        for r in session.exec(select(LoginThrottle)).all()
    }


def test_authenticate(session: Session) -> None:
    user = register(session)
    assert login(session, "ADA@example.com", PASSWORD, HOME, NOW).id == user.id
    with pytest.raises(InvalidCredentials) as wrong:
        login(session, "ada@example.com", "nope nope", HOME, NOW)
    assert wrong.value.message == "Wrong email or password."
    with pytest.raises(InvalidCredentials):
        login(session, "nobody@example.com", PASSWORD, HOME, NOW)


def test_lock_lengths_double_and_are_capped() -> None:
    pair, address = login_throttle.PER_ACCOUNT_ADDRESS, login_throttle.PER_ADDRESS
    assert [pair.lock_seconds(n) for n in range(1, 13)] == [
        0, 0, 0, 0, 60, 120, 240, 480, 960, 1920, 3600, 3600,
    ]  # fmt: skip
    assert [address.lock_seconds(n) for n in (19, 20, 21, 22)] == [0, 60, 120, 240]
    assert pair.lock_seconds(10**6) == address.lock_seconds(10**6) == 3600


def test_failures_lock_the_pair_with_doubling_back_off(session: Session) -> None:
    user = register(session)
    fail(session, user.email, HOME, NOW, times=5)
    # Locked for this address: even the right password is refused, without being checked.
    assert throttled(session, user.email, PASSWORD, HOME, NOW) == 60
    assert throttled(session, user.email, PASSWORD, HOME, NOW + timedelta(seconds=50)) == 10
    # After the lock another failure locks again, for twice as long.
    after = NOW + timedelta(seconds=61)
    fail(session, user.email, HOME, after)
    assert throttled(session, user.email, PASSWORD, HOME, after) == 120
    after += timedelta(seconds=121)
    fail(session, user.email, HOME, after)
    assert throttled(session, user.email, PASSWORD, HOME, after) == 240
    assert buckets(session)[("account_address", user.email, HOME)] == (
        7, after + timedelta(seconds=240),
    )  # fmt: skip
    # Success after the lock forgets the pair's failures (not the address's).
    ok_at = after + timedelta(seconds=241)
    assert login(session, user.email, PASSWORD, HOME, ok_at).id == user.id
    assert buckets(session) == {("address", "", HOME): (7, None)}
    fail(session, user.email, HOME, ok_at)
    assert buckets(session)[("account_address", user.email, HOME)] == (1, None)


def test_a_stranger_cannot_lock_the_owner_out(session: Session) -> None:
    user = register(session)
    fail(session, user.email, ATTACKER, NOW, times=5)
    for attempt in range(45):
        throttled(
            session, user.email, "wrong pass", ATTACKER, NOW + timedelta(milliseconds=attempt)
        )
    # The owner, from anywhere else, logs in at once; the account row is untouched.
    assert login(session, user.email, PASSWORD, HOME, NOW + timedelta(seconds=1)).id == user.id
    # ... and the attacker stays locked, the right password included.
    assert throttled(session, user.email, PASSWORD, ATTACKER, NOW + timedelta(seconds=2)) == 58
    assert buckets(session) == {
        ("account_address", user.email, ATTACKER): (5, NOW + timedelta(seconds=60)),
        ("address", "", ATTACKER): (5, None),
    }


def test_an_address_is_throttled_across_accounts(session: Session) -> None:
    user = register(session)
    # Spraying: 20 accounts (known or not, it makes no difference) from one address.
    fail(session, user.email, ATTACKER, NOW)
    for n in range(19):
        fail(session, f"guess{n}@example.com", ATTACKER, NOW + timedelta(seconds=n))
    later = NOW + timedelta(seconds=20)
    assert throttled(session, "guess99@example.com", "whatever", ATTACKER, later) == 58
    # The whole address is refused, even the right password of a real account ...
    assert throttled(session, user.email, PASSWORD, ATTACKER, later) == 58
    # ... while nobody else is slowed down.
    assert login(session, user.email, PASSWORD, HOME, later).id == user.id
    # The address's back-off doubles too.
    after = NOW + timedelta(seconds=80)
    fail(session, "guess20@example.com", ATTACKER, after)
    assert throttled(session, user.email, PASSWORD, ATTACKER, after) == 120
    assert buckets(session)[("address", "", ATTACKER)] == (21, after + timedelta(seconds=120))


def test_an_address_window_restarts_after_a_quiet_quarter_hour(session: Session) -> None:
    user = register(session)
    for n in range(19):
        fail(session, f"typo{n}@example.com", HOME, NOW + timedelta(minutes=n // 4))
    assert buckets(session)[("address", "", HOME)] == (19, None)
    # The window opened at NOW; 15 minutes on, with no lock running, counting starts again.
    fail(session, "typo@example.com", HOME, NOW + timedelta(minutes=15))
    assert buckets(session)[("address", "", HOME)] == (1, None)
    assert login(session, user.email, PASSWORD, HOME, NOW + timedelta(minutes=16)).id == user.id


def test_a_right_password_racing_a_lock_is_not_a_success(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong guess in parallel locks the pair while the hash is checked: no token then."""
    user = register(session)
    fail(session, user.email, ATTACKER, NOW, times=4)
    real_verify = auth.verify_password

    def verify_while_a_guess_lands(password_hash: str, password: str) -> bool:
        login_throttle.record_failure(session, account=user.email, client_address=ATTACKER, now=NOW)
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", verify_while_a_guess_lands)
    with pytest.raises(InvalidCredentials):
        login(session, user.email, PASSWORD, ATTACKER, NOW)
    assert buckets(session)[("account_address", user.email, ATTACKER)] == (
        5, NOW + timedelta(seconds=60),
    )  # fmt: skip


def test_stale_buckets_are_forgotten(session: Session) -> None:
    register(session)
    fail(session, "old@example.com", ELSEWHERE, NOW)
    fail(session, "new@example.com", HOME, NOW + timedelta(days=1, seconds=1))
    assert set(buckets(session)) == {
        ("account_address", "new@example.com", HOME),
        ("address", "", HOME),
    }


def test_client_addresses_are_bounded(session: Session) -> None:
    register(session)
    fail(session, "x@example.com", "", NOW)
    fail(session, "x@example.com", "f" * 100, NOW)
    assert set(buckets(session)) == {
        ("account_address", "x@example.com", "unknown"),
        ("address", "", "unknown"),
        ("account_address", "x@example.com", "f" * 64),
        ("address", "", "f" * 64),
    }


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
