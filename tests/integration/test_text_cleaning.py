"""Over HTTP: names and reasons with bidi controls are stored and shown without them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from efoy_app.models import Booking, User
from tests.conftest import free_port
from tests.integration.support import BACKENDS, api_on_engine, seeded_engine
from tests.integration.test_api_rest import bearer, book, doctor_named, free_slot_start

TIMEOUT = 30
RLO, LRI, PDI = "\u202e", "\u2066", "\u2069"


def test_a_name_with_an_override_is_stored_as_it_displays(api_server) -> None:
    email = f"eve-{time.monotonic_ns()}@example.com"
    r = httpx.post(
        f"{api_server.url}/api/v1/auth/register",
        json={"email": email, "password": "eve-password", "fullName": f"Eve {RLO}evil"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 201, r.text
    assert r.json()["fullName"] == "Eve evil"
    token = httpx.post(
        f"{api_server.url}/api/v1/auth/token",
        json={"email": email, "password": "eve-password"},
        timeout=TIMEOUT,
    ).json()["accessToken"]
    me = httpx.get(f"{api_server.url}/api/v1/auth/me", headers=bearer(token), timeout=TIMEOUT)
    assert me.json()["fullName"] == "Eve evil"
    with Session(api_server.engine) as s:
        assert s.get(User, r.json()["id"]).full_name == "Eve evil"
    # An address carrying a control is refused, not silently turned into another mailbox.
    r = httpx.post(
        f"{api_server.url}/api/v1/auth/register",
        json={"email": f"x{RLO}{email}", "password": "eve-password", "fullName": "Eve"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_booking_and_cancel_reasons_lose_their_controls(api_server, make_patient) -> None:
    patient = make_patient()
    doctor = doctor_named(api_server.url, "schmidt")
    starts_at = free_slot_start(api_server.url, doctor["id"], first_offset=10, index=5)
    r = book(api_server.url, patient, doctor["id"], starts_at, reason=f"{RLO}hguoc{LRI} x{PDI}")
    assert r.status_code == 201, r.text
    assert r.json()["reason"] == "hguoc x"
    booking_id = r.json()["id"]
    r = httpx.post(
        f"{api_server.url}/api/v1/bookings/{booking_id}/cancel",
        json={"reason": f"{LRI}changed my mind{PDI} "},
        headers=bearer(patient),
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reason"]) == ("cancelled", "hguoc x")
    with Session(api_server.engine) as s:
        stored = s.get(Booking, booking_id)
        assert (stored.reason, stored.cancelled_reason) == ("hguoc x", "changed my mind")


@pytest.fixture(params=BACKENDS)
def api_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """The app on its own port over a fresh database of each kind (PostgreSQL refuses NUL in
    text: a reason carrying one must be cleaned before it reaches the row, not be a 500)."""
    with seeded_engine(request.param, tmp_path) as engine, api_on_engine(engine, free_port()) as s:
        yield s.url, engine


def test_nul_and_other_controls_never_reach_the_database(api_url) -> None:
    url, engine = api_url
    email = f"nul-{time.monotonic_ns()}@example.com"
    account = {"email": email, "password": "nul-password"}
    r = httpx.post(
        f"{url}/api/v1/auth/register", json={**account, "fullName": "Nu\x00l\x07"}, timeout=TIMEOUT
    )
    assert r.status_code == 201, r.text
    assert r.json()["fullName"] == "Nul"
    token = httpx.post(f"{url}/api/v1/auth/token", json=account, timeout=TIMEOUT).json()
    token = token["accessToken"]
    doctor = doctor_named(url, "schmidt")
    starts_at = free_slot_start(url, doctor["id"], first_offset=9, index=3)
    r = book(url, token, doctor["id"], starts_at, reason="\x00check-up\x1b")
    assert r.status_code == 201, r.text
    assert r.json()["reason"] == "check-up"
    r = httpx.post(f"{url}/api/v1/bookings/{r.json()['id']}/cancel", headers=bearer(token),
                   json={"reason": "\x00\x01"}, timeout=TIMEOUT)  # fmt: skip
    assert r.status_code == 200, r.text
    with Session(engine) as s:
        stored = s.get(Booking, r.json()["id"])
        assert (stored.reason, stored.cancelled_reason) == ("check-up", None)


def test_nul_in_a_search_or_an_email_is_a_clear_422_on_both_databases(api_url) -> None:
    """Values free text cleaning does not reach (searches, emails) are checked on their way to
    the database: PostgreSQL would refuse them with an error that answers 500."""
    url, _engine = api_url
    demo = {"email": "admin@example.com", "password": "admin-demo-pass"}
    admin = httpx.post(f"{url}/api/v1/auth/token", json=demo, timeout=TIMEOUT)
    headers = bearer(admin.json()["accessToken"])
    r = httpx.get(f"{url}/api/v1/doctors?speciality=%00", headers=headers, timeout=TIMEOUT)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "nul_in_text"), r.text
    # The admin search states its rule in its schema, so it answers before the database does.
    r = httpx.get(f"{url}/api/v1/admin/payments?q=a%00b@", headers=headers, timeout=TIMEOUT)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error"), r.text
    nul = {**demo, "email": "admin@example.com\x00"}
    r = httpx.post(f"{url}/api/v1/auth/token", json=nul, timeout=TIMEOUT)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "nul_in_text"), r.text
