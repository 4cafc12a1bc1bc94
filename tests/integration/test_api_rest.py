"""The REST API over HTTP: auth, doctors, slots, bookings, ownership, errors, OpenAPI."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
from sqlmodel import Session, select

from efoy_app.models import Booking
from efoy_app.settings import get_settings

TIMEOUT = 30


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert "Traceback" not in r.text
    return body["error"]


def doctors(url: str, **params: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/api/v1/doctors", params=params, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def doctor_named(url: str, part: str) -> dict[str, Any]:
    (found,) = doctors(url, search=part)
    return found


def slots(url: str, doctor_id: int, day: str, token: str | None = None, **params: str) -> dict:
    r = httpx.get(
        f"{url}/api/v1/doctors/{doctor_id}/slots",
        params={"date": day, **params},
        headers=bearer(token) if token else None,
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return r.json()


def full_day(url: str, doctor_id: int, first_offset: int = 3) -> str:
    """The first whole working day (14 free half hours, no day off) from `first_offset` on."""
    for offset in range(first_offset, 14):
        day = (date.today() + timedelta(days=offset)).isoformat()
        if len(slots(url, doctor_id, day)["slots"]) == 14:
            return day
    raise AssertionError("no full working day")


def free_slot_start(url: str, doctor_id: int, first_offset: int, index: int = 0) -> str:
    for offset in range(first_offset, 14):
        found = slots(url, doctor_id, (date.today() + timedelta(days=offset)).isoformat())["slots"]
        if len(found) > index:
            return found[index]["startsAt"]
    raise AssertionError("no free slot")


def book(url: str, token: str, doctor_id: int, starts_at: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/bookings",
        json={"doctorId": doctor_id, "startsAt": starts_at, **extra},
        headers=bearer(token),
        timeout=TIMEOUT,
    )


# --- auth ---


def test_protected_endpoints_need_a_bearer_token(api_server) -> None:
    for method, path in [
        ("GET", "/api/v1/auth/me"),
        ("GET", "/api/v1/bookings"),
        ("POST", "/api/v1/bookings"),
        ("GET", "/api/v1/bookings/1"),
        ("POST", "/api/v1/bookings/1/cancel"),
    ]:
        r = httpx.request(method, api_server.url + path, json={}, timeout=TIMEOUT)
        assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        r = httpx.request(
            method, api_server.url + path, headers={"Authorization": "Basic YTpi"}, timeout=TIMEOUT
        )
        assert_error(r, 401, "unauthorized")


def _forge(claims: dict[str, Any], key: str | None = None, algorithm: str = "HS256") -> str:
    secret = get_settings().jwt_secret.get_secret_value() if key is None else key
    return jwt.encode(claims, secret, algorithm=algorithm)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_bad_and_expired_tokens_are_refused(api_server, patient_token) -> None:
    now = int(time.time())
    claims = {"sub": "1", "role": "patient", "iat": now, "exp": now + 600}
    bad = {
        "expired": _forge({**claims, "iat": now - 7200, "exp": now - 1}),
        "alg-none": jwt.encode(claims, None, algorithm="none"),
        "hs512": _forge(claims, algorithm="HS512"),
        "other-secret": _forge(claims, key="not-the-secret-" * 4),
        "garbage": "abc.def.ghi",
        "truncated": patient_token[:-5],
    }
    for name, token in bad.items():
        r = httpx.get(f"{api_server.url}/api/v1/auth/me", headers=bearer(token), timeout=TIMEOUT)
        assert_error(r, 401, "invalid_token")
        assert r.headers["www-authenticate"] == "Bearer", name
    r = httpx.get(f"{api_server.url}/api/v1/auth/me", headers=bearer(patient_token))
    assert r.status_code == 200 and r.json()["email"] == "patient@example.com"


def test_register_login_me(api_server) -> None:
    url = api_server.url
    email = f"ada-{time.monotonic_ns()}@Example.com"
    body = {"email": email, "password": "a-long-password", "fullName": "Ada Lovelace",
            "phone": "+251 11 000", "timezone": "Asia/Tokyo"}  # fmt: skip
    r = httpx.post(f"{url}/api/v1/auth/register", json=body, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    user = r.json()
    assert set(user) == {"id", "email", "fullName", "phone", "timezone", "role", "createdAt"}
    assert (user["email"], user["role"]) == (email.lower(), "patient")
    assert user["timezone"] == "Asia/Tokyo"
    again = httpx.post(f"{url}/api/v1/auth/register", json=body, timeout=TIMEOUT)
    assert_error(again, 409, "email_taken")
    r = httpx.post(f"{url}/api/v1/auth/token", json={"email": email, "password": "a-long-password"})
    assert r.status_code == 200, r.text
    token = r.json()
    assert set(token) == {"accessToken", "tokenType", "expiresIn"}
    assert (token["tokenType"], token["expiresIn"]) == ("bearer", 3600)
    me = httpx.get(f"{url}/api/v1/auth/me", headers=bearer(token["accessToken"]), timeout=TIMEOUT)
    assert me.json() == user


def test_register_validation_names_the_field(api_server) -> None:
    url = f"{api_server.url}/api/v1/auth/register"
    email = f"v-{time.monotonic_ns()}@example.com"
    ok = {"email": email, "password": "long-enough", "fullName": "V"}
    cases = {
        "password": {**ok, "password": "short"},
        "fullName": {k: v for k, v in ok.items() if k != "fullName"},
        "role": {**ok, "role": "admin"},
        "timezone": {**ok, "timezone": "Nowhere/Land"},
        "email": {**ok, "email": "no-at-sign"},
    }
    for field, body in cases.items():
        error = assert_error(httpx.post(url, json=body, timeout=TIMEOUT), 422, "validation_error")
        assert field.lower() in error["message"].lower(), (field, error)
    r = httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(r, 422, "validation_error")


def test_login_failures_are_throttled(api_server, make_patient) -> None:
    patient = make_patient()
    url = f"{api_server.url}/api/v1/auth/token"
    wrong = {"email": patient.email, "password": "wrong-password"}
    for _ in range(5):
        assert_error(httpx.post(url, json=wrong, timeout=TIMEOUT), 401, "invalid_credentials")
    right = {"email": patient.email, "password": patient.password}
    r = httpx.post(url, json=right, timeout=TIMEOUT)
    assert_error(r, 429, "too_many_attempts")
    assert 55 <= int(r.headers["retry-after"]) <= 60
    # Another account is not affected.
    assert httpx.post(url, json={"email": "patient@example.com", "password": "patient-demo-pass"},
                      timeout=TIMEOUT).status_code == 200  # fmt: skip


# --- doctors and slots ---


def test_doctors_are_public_and_camel_case(api_server) -> None:
    listed = doctors(api_server.url)
    assert len(listed) == 6
    sato = doctor_named(api_server.url, "sato")
    assert sato == {
        "id": sato["id"], "fullName": "Dr. Haruto Sato", "speciality": "Dermatology",
        "bio": sato["bio"], "feeMinor": 5000, "currency": "JPY", "fee": "¥5,000",
        "slotMinutes": 30, "timezone": "Asia/Tokyo", "photoUrl": None,
    }  # fmt: skip
    assert [d["fullName"] for d in doctors(api_server.url, speciality="Cardiology")] == [
        "Dr. Anna Schmidt"
    ]
    r = httpx.get(f"{api_server.url}/api/v1/doctors/{sato['id']}", timeout=TIMEOUT)
    assert r.json() == sato
    assert_error(httpx.get(f"{api_server.url}/api/v1/doctors/99999"), 404, "not_found")
    assert_error(httpx.get(f"{api_server.url}/api/v1/doctors/abc"), 422, "validation_error")


def test_slots_are_in_the_doctors_day_and_shown_in_the_patients_zone(api_server, make_patient):
    schmidt = doctor_named(api_server.url, "schmidt")
    day = full_day(api_server.url, schmidt["id"])
    public = slots(api_server.url, schmidt["id"], day)
    assert (public["doctorId"], public["date"]) == (schmidt["id"], day)
    assert public["timezone"] == "Europe/Berlin"
    berlin_starts = [s["startsAt"] for s in public["slots"]]
    assert berlin_starts[0][:19] == f"{day}T09:00:00"
    assert berlin_starts[0][19:] in ("+01:00", "+02:00")
    assert len(berlin_starts) == 14
    tokyo = make_patient(timezone="Asia/Tokyo")
    personal = slots(api_server.url, schmidt["id"], day, token=tokyo)
    assert personal["timezone"] == "Asia/Tokyo"
    assert [s["startsAt"][19:] for s in personal["slots"]] == ["+09:00"] * 14
    assert [datetime.fromisoformat(s["startsAt"]) for s in personal["slots"]] == [
        datetime.fromisoformat(s) for s in berlin_starts
    ]
    explicit = slots(api_server.url, schmidt["id"], day, timezone="America/New_York")
    assert explicit["timezone"] == "America/New_York"


def test_slot_errors(api_server) -> None:
    doctor_id = doctor_named(api_server.url, "carter")["id"]
    base = f"{api_server.url}/api/v1/doctors"
    for bad in ("2026-13-45", "tomorrow", "2026-1-1", "2026-02-30"):
        r = httpx.get(f"{base}/{doctor_id}/slots", params={"date": bad}, timeout=TIMEOUT)
        assert "date" in assert_error(r, 422, "validation_error")["message"]
    for outside in (date.today() - timedelta(days=2), date.today() + timedelta(days=40)):
        r = httpx.get(f"{base}/{doctor_id}/slots", params={"date": outside.isoformat()})
        assert_error(r, 422, "validation_error")
    r = httpx.get(f"{base}/{doctor_id}/slots", params={"timezone": "Mars/Base"}, timeout=TIMEOUT)
    assert_error(r, 422, "validation_error")
    r = httpx.get(f"{base}/424242/slots", params={"date": date.today().isoformat()})
    assert_error(r, 404, "not_found")


# --- bookings ---


def test_booking_lifecycle_and_ownership(api_server, make_patient, admin_token) -> None:
    url = api_server.url
    alice, bob = make_patient(), make_patient(timezone="Europe/Berlin")
    sato = doctor_named(url, "sato")
    start = free_slot_start(url, sato["id"], first_offset=4, index=3)
    r = book(url, alice, sato["id"], start, reason="rash")
    assert r.status_code == 201, r.text
    booking = r.json()
    assert set(booking) == {
        "id", "patientId", "doctorId", "doctorName", "speciality", "startsAt", "endsAt",
        "status", "reason", "priceMinor", "currency", "price", "holdExpiresAt", "createdAt",
    }  # fmt: skip
    assert (booking["status"], booking["priceMinor"], booking["currency"], booking["price"]) == (
        "held", 5000, "JPY", "¥5,000",
    )  # fmt: skip
    assert (booking["doctorName"], booking["reason"], booking["patientId"]) == (
        "Dr. Haruto Sato", "rash", alice.user_id,
    )  # fmt: skip
    assert booking["startsAt"].endswith("+03:00")  # Alice lives in Addis Ababa
    assert datetime.fromisoformat(booking["startsAt"]) == datetime.fromisoformat(start)
    created = datetime.fromisoformat(booking["createdAt"])
    assert datetime.fromisoformat(booking["holdExpiresAt"]) - created == timedelta(minutes=30)
    day = datetime.fromisoformat(start).date().isoformat()
    assert start not in [s["startsAt"] for s in slots(url, sato["id"], day)["slots"]]

    # Bob cannot take it, see it, list it or cancel it.
    assert_error(book(url, bob, sato["id"], start), 409, "slot_taken")
    path = f"{url}/api/v1/bookings/{booking['id']}"
    assert_error(httpx.get(path, headers=bearer(bob), timeout=TIMEOUT), 404, "not_found")
    r = httpx.post(f"{path}/cancel", headers=bearer(bob), timeout=TIMEOUT)
    assert_error(r, 404, "not_found")
    assert httpx.get(f"{url}/api/v1/bookings", headers=bearer(bob), timeout=TIMEOUT).json() == []
    # Alice and the admin can.
    mine = httpx.get(path, headers=bearer(alice), timeout=TIMEOUT).json()
    assert mine == booking
    assert [b["id"] for b in httpx.get(f"{url}/api/v1/bookings", headers=bearer(alice)).json()] == [
        booking["id"]
    ]
    admin_list = httpx.get(f"{url}/api/v1/bookings", headers=bearer(admin_token), timeout=TIMEOUT)
    assert booking["id"] in [b["id"] for b in admin_list.json()]
    as_admin = httpx.get(path, headers=bearer(admin_token), timeout=TIMEOUT)
    assert as_admin.json()["id"] == booking["id"]

    r = httpx.post(f"{path}/cancel", json={"reason": "better"}, headers=bearer(alice))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = httpx.post(f"{path}/cancel", headers=bearer(alice), timeout=TIMEOUT)  # no body, again
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert start in [s["startsAt"] for s in slots(url, sato["id"], day)["slots"]]
    r = book(url, bob, sato["id"], start)
    assert r.status_code == 201, r.text
    shown = datetime.fromisoformat(r.json()["startsAt"])  # in Bob's Berlin time
    assert shown.utcoffset() == shown.astimezone(ZoneInfo("Europe/Berlin")).utcoffset()
    with Session(api_server.engine) as db:
        rows = db.exec(select(Booking).where(Booking.doctor_id == sato["id"])).all()
        at_start = sorted((b.patient_id, b.status) for b in rows
                          if b.starts_at == datetime.fromisoformat(start))  # fmt: skip
    assert at_start == sorted([(alice.user_id, "cancelled"), (bob.user_id, "held")])


def test_booking_refusals(api_server, make_patient) -> None:
    url = api_server.url
    token = make_patient()
    carter = doctor_named(url, "carter")
    start = free_slot_start(url, carter["id"], first_offset=5, index=2)
    moved = (datetime.fromisoformat(start) + timedelta(minutes=7)).isoformat()
    assert_error(book(url, token, carter["id"], moved), 422, "validation_error")
    past = (datetime.fromisoformat(start) - timedelta(days=30)).isoformat()
    assert_error(book(url, token, carter["id"], past), 422, "validation_error")
    naive = start[:19]
    error = assert_error(book(url, token, carter["id"], naive), 422, "validation_error")
    assert "startsAt" in error["message"]
    assert_error(book(url, token, 424242, start), 404, "not_found")
    assert_error(book(url, token, carter["id"], start, priceMinor=1), 422, "validation_error")
    r = httpx.post(f"{url}/api/v1/bookings", headers=bearer(token), timeout=TIMEOUT)
    assert_error(r, 422, "validation_error")
    r = httpx.get(f"{url}/api/v1/bookings/99999999", headers=bearer(token), timeout=TIMEOUT)
    assert_error(r, 404, "not_found")
    r = httpx.get(f"{url}/api/v1/bookings/{2**70}", headers=bearer(token), timeout=TIMEOUT)
    assert_error(r, 422, "validation_error")


# --- the API as a whole ---


def test_openapi_and_unknown_routes(api_server) -> None:
    r = httpx.get(f"{api_server.url}/api/v1/openapi.json", timeout=TIMEOUT)
    assert r.status_code == 200
    spec = r.json()
    paths = spec["paths"]
    for path in (
        "/api/v1/auth/register",
        "/api/v1/auth/token",
        "/api/v1/doctors",
        "/api/v1/doctors/{doctor_id}/slots",
        "/api/v1/bookings",
        "/api/v1/bookings/{booking_id}",
        "/api/v1/bookings/{booking_id}/cancel",
    ):
        assert path in paths, path
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "security" not in paths["/api/v1/doctors"]["get"]
    assert "security" not in paths["/api/v1/auth/token"]["post"]
    assert paths["/api/v1/bookings"]["post"]["security"] == [{"bearer": []}]
    assert paths["/api/v1/doctors/{doctor_id}/slots"]["get"]["security"] == [{"bearer": []}, {}]
    assert_error(httpx.get(f"{api_server.url}/api/v1/no-such-thing"), 404, "not_found")
    assert_error(httpx.delete(f"{api_server.url}/api/v1/doctors"), 405, "method_not_allowed")
    assert httpx.get(f"{api_server.url}/api/v1/docs", timeout=TIMEOUT).status_code == 200
