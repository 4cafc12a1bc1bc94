"""Login throttling over HTTP, with clients bound to other loopback addresses playing strangers.

The real app under uvicorn (`api_server`), real sockets: the server sees 127.0.0.2 as a different
client from 127.0.0.1 exactly as it would see two machines. Each test uses loopback addresses of
its own and forgets their throttle rows afterwards, so the session-wide server stays usable.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.domain import login_throttle
from efoy_app.models import LoginThrottle, utcnow
from tests.conftest import free_port
from tests.integration.conftest import ADMIN, ApiServer
from tests.integration.support import BACKENDS, api_on_engine, seeded_engine

TIMEOUT = 30
TOKEN = "/api/v1/auth/token"
LOCAL = "127.0.0.1"


def client_at(url: str, address: str) -> httpx.Client:
    """An HTTP client whose connections leave from `address` (another person, to the server)."""
    return httpx.Client(
        base_url=url, timeout=TIMEOUT, transport=httpx.HTTPTransport(local_address=address)
    )


def attempt(client: httpx.Client, email: str, password: str, **headers: str) -> httpx.Response:
    return client.post(TOKEN, json={"email": email, "password": password}, headers=headers)


def codes(responses: list[httpx.Response]) -> Counter[tuple[int, str]]:
    return Counter(
        (r.status_code, r.json().get("error", {}).get("code", "") if r.status_code != 200 else "")
        for r in responses
    )


def buckets(engine: Engine, address: str) -> dict[tuple[str, str], int]:
    with Session(engine) as s:
        rows = s.exec(select(LoginThrottle).where(LoginThrottle.address == address)).all()
        return {(r.scope, r.account): r.failures for r in rows}


@pytest.fixture
def addresses(api_server: ApiServer) -> Iterator[Callable[[str], str]]:
    """`use("127.0.0.2")` claims a loopback address for this test; its rows go afterwards."""
    used: list[str] = []

    def use(address: str) -> str:
        used.append(address)
        return address

    yield use
    with Session(api_server.engine) as s:
        s.execute(sa.delete(LoginThrottle).where(LoginThrottle.address.in_(used)))
        s.commit()


def test_a_stranger_failing_50_times_does_not_lock_the_admin_out(api_server, addresses) -> None:
    attacker = addresses("127.0.0.2")
    admin_email, admin_password = ADMIN
    with client_at(api_server.url, attacker) as stranger:
        answers = [attempt(stranger, admin_email, f"guess-{n}") for n in range(50)]
        assert codes(answers) == {(401, "invalid_credentials"): 5, (429, "too_many_attempts"): 45}
        assert all(55 <= int(r.headers["retry-after"]) <= 60 for r in answers[5:])
        # The stranger stays locked out, even with the right password.
        assert attempt(stranger, admin_email, admin_password).status_code == 429
    # The admin, from an address that did nothing wrong, logs in at once.
    with client_at(api_server.url, LOCAL) as admin:
        r = attempt(admin, admin_email, admin_password)
        assert r.status_code == 200, r.text
        assert (
            admin.get(
                "/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['accessToken']}"}
            ).json()["role"]
            == "admin"
        )
    assert buckets(api_server.engine, attacker) == {
        ("account_address", admin_email): 5,
        ("address", ""): 5,
    }
    assert buckets(api_server.engine, LOCAL).get(("account_address", admin_email)) is None


def test_one_address_cannot_guess_across_30_accounts(api_server, make_patient, addresses) -> None:
    sprayer = addresses("127.0.0.3")
    victims = [make_patient() for _ in range(3)]
    emails = [v.email for v in victims] + [f"nobody{n}@example.com" for n in range(27)]
    started = time.monotonic()
    with client_at(api_server.url, sprayer) as client:
        answers = [attempt(client, email, "Winter2026!") for email in emails]
        # 20 guesses in the window, then the whole address waits, known accounts or not.
        assert codes(answers) == {(401, "invalid_credentials"): 20, (429, "too_many_attempts"): 10}
        assert [r.status_code for r in answers[:20]] == [401] * 20
        assert all(55 <= int(r.headers["retry-after"]) <= 60 for r in answers[20:])
        # Even a real patient's right password is refused from that address ...
        assert attempt(client, victims[0].email, victims[0].password).status_code == 429
    assert time.monotonic() - started < 60  # all of it happened inside the first lock
    # ... and accepted from anywhere else.
    with client_at(api_server.url, "127.0.0.33") as elsewhere:
        addresses("127.0.0.33")
        assert attempt(elsewhere, victims[0].email, victims[0].password).status_code == 200
    assert buckets(api_server.engine, sprayer)[("address", "")] == 20


def test_the_back_off_doubles_after_each_lock(api_server, make_patient, addresses) -> None:
    """Each lock is ended by moving its end into the past, as if the minutes had gone by."""
    address = addresses("127.0.0.4")
    patient = make_patient()

    def end_the_lock() -> None:
        with Session(api_server.engine) as s:
            s.execute(
                sa.update(LoginThrottle)
                .where(LoginThrottle.address == address)
                .values(locked_until=utcnow() - timedelta(seconds=1))
            )
            s.commit()

    with client_at(api_server.url, address) as client:
        for _ in range(5):
            assert attempt(client, patient.email, "wrong-password").status_code == 401
        waits = []
        for _ in range(4):
            r = attempt(client, patient.email, patient.password)
            assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
            waits.append(int(r.headers["retry-after"]))
            end_the_lock()
            assert attempt(client, patient.email, "wrong-password").status_code == 401
        doubling = zip(waits, (60, 120, 240, 480), strict=True)
        assert all(0 <= lock - wait <= 5 for wait, lock in doubling), waits
        end_the_lock()
        # The right password after the lock ends works, and forgets the pair's failures.
        assert attempt(client, patient.email, patient.password).status_code == 200
    assert buckets(api_server.engine, address) == {("address", ""): 9}


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(
    api_server, make_patient, addresses
) -> None:
    patient = make_patient()
    peer = addresses("127.0.0.5")
    with client_at(api_server.url, peer) as client:
        # Without the setting, a forged header buys no fresh address.
        for n in range(5):
            r = attempt(client, patient.email, "wrong", **{"X-Forwarded-For": f"10.0.0.{n}"})
            assert r.status_code == 401
        r = attempt(client, patient.email, patient.password, **{"X-Forwarded-For": "10.0.0.99"})
        assert r.status_code == 429
        assert buckets(api_server.engine, peer)[("account_address", patient.email)] == 5
        # Behind one trusted proxy, the client the proxy names is the one counted.
        api_server.set_env(REFLEX_TRUSTED_PROXY_HOPS="1")
        try:
            proxied = addresses("10.1.2.3")
            forwarded = {"X-Forwarded-For": f"198.51.100.1, {proxied}"}
            for _ in range(5):
                assert attempt(client, patient.email, "wrong", **forwarded).status_code == 401
            assert attempt(client, patient.email, patient.password, **forwarded).status_code == 429
            other = {"X-Forwarded-For": addresses("10.1.2.4")}
            # Not the peer, and not another forwarded client: both are locked separately.
            assert attempt(client, patient.email, patient.password, **other).status_code == 200
        finally:
            api_server.set_env(REFLEX_TRUSTED_PROXY_HOPS=None)
    assert buckets(api_server.engine, proxied)[("account_address", patient.email)] == 5


# --- concurrency: no count is lost, on SQLite and on PostgreSQL ---

RACERS = 30


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with seeded_engine(request.param, tmp_path) as eng:
        yield eng


def test_parallel_failures_are_all_counted_in_the_domain(engine: Engine) -> None:
    barrier = threading.Barrier(RACERS, timeout=60)
    now = utcnow()
    errors: list[BaseException] = []

    def guess(n: int) -> None:
        with Session(engine) as s:
            barrier.wait()
            try:
                login_throttle.record_failure(
                    s, account="admin@example.com", client_address="192.0.2.1", now=now
                )
            except BaseException as exc:  # noqa: BLE001 - reported by the assert below
                errors.append(exc)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with Session(engine) as s:
        rows = {(r.scope, r.account): r for r in s.exec(select(LoginThrottle)).all()}
    assert {key: row.failures for key, row in rows.items()} == {
        ("account_address", "admin@example.com"): RACERS,
        ("address", ""): RACERS,
    }
    # The lock is the one the last counted failure earns (capped at an hour).
    assert {key: row.locked_until - now for key, row in rows.items()} == {
        ("account_address", "admin@example.com"): timedelta(hours=1),
        ("address", ""): timedelta(hours=1),
    }


def test_parallel_wrong_guesses_over_http_lose_no_count(engine: Engine) -> None:
    with api_on_engine(engine, free_port()) as server:
        _race_wrong_guesses(server.url, engine)


def _race_wrong_guesses(url: str, engine: Engine) -> None:
    barrier = threading.Barrier(RACERS, timeout=60)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def guess(n: int) -> None:
        with client_at(url, "127.0.0.6") as client:
            client.get("/api/v1/health")  # connect before the start line
            barrier.wait()
            r = attempt(client, ADMIN[0], f"parallel-guess-{n}")
            with lock:
                answers.append(r)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    counted = codes(answers)
    assert sum(counted.values()) == RACERS
    assert set(counted) <= {(401, "invalid_credentials"), (429, "too_many_attempts")}
    wrong = counted[(401, "invalid_credentials")]
    assert wrong >= 5  # at least the free ones were checked
    # Every answered "wrong password" is one stored failure, in both buckets.
    assert buckets(engine, "127.0.0.6") == {
        ("account_address", ADMIN[0]): wrong,
        ("address", ""): wrong,
    }
    with client_at(url, LOCAL) as admin:
        assert attempt(admin, *ADMIN).status_code == 200
