"""Clinic set-up over HTTP, on SQLite and PostgreSQL: `/api/v1/admin/doctors` (list, create, one
with its plan and preview, edit), weekly hours, days off and extra hours; what a change does to
bookings already sold (listed with 409, then kept, or cancelled with a refund through the ledger);
401/403 on every route; bad input a 4xx JSON answer, never a 5xx.

Each database gets the real API under uvicorn and a Stripe sandbox of its own whose webhook
points at that API, so a booking is paid as a patient pays one (hosted Checkout, webhook).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from efoy_app.db import get_engine
from efoy_app.domain.stripe_gateway import get_stripe
from efoy_app.models import (
    AuditLog,
    Booking,
    Cancellation,
    DayOff,
    OutboxEmail,
    Payment,
    Refund,
    User,
)
from efoy_app.routes import MAX_ID
from efoy_app.settings import get_settings
from stripe_sandbox.testing import SandboxProcess
from tests.conftest import free_port
from tests.integration.conftest import ADMIN, PatientToken, login, register_patient
from tests.integration.payments.helpers import (
    WEBHOOK_PATH,
    book_from_day,
    pay_and_confirm,
    wait_for,
)
from tests.integration.support import BACKENDS, api_on_engine, seeded_engine
from tests.integration.test_api_rest import assert_error, bearer

TIMEOUT = 30
TAG = uuid.uuid4().hex[:8]
BASE = "/api/v1/admin/doctors"
TZ = "Europe/Berlin"
NINE_TO_FIVE = [{"start": "09:00", "end": "17:00"}]


@dataclass
class World:
    url: str
    engine: Engine
    sandbox: SandboxProcess
    admin: dict[str, str]
    patient: PatientToken
    backend: str


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("admin-doctors")
    port = free_port()
    secret = "whsec_" + secrets.token_hex(24)
    try:
        with (
            seeded_engine(request.param, tmp) as engine,
            SandboxProcess.start(
                webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
                webhook_secret=secret,
                retry_base=0.2,
                extra_args=["--max-attempts", "8", "--retry-cap", "30"],
            ) as sandbox,
            pytest.MonkeyPatch.context() as mp,
        ):
            mp.setenv("STRIPE_SECRET_KEY", sandbox.api_key)
            mp.setenv("STRIPE_API_BASE", sandbox.url)
            mp.setenv("STRIPE_WEBHOOK_SECRET", secret)
            mp.setenv("EFOY_ENV", "demo")
            # The webhook and reconciliation open sessions of their own on `get_engine()`.
            mp.setenv("REFLEX_DB_URL", engine.url.render_as_string(hide_password=False))
            _clear_caches()
            with api_on_engine(engine, port) as srv:
                yield World(
                    url=srv.url,
                    engine=engine,
                    sandbox=sandbox,
                    admin=bearer(login(srv.url, *ADMIN)),
                    patient=register_patient(srv.url),
                    backend=request.param,
                )
    finally:
        _clear_caches()


def _clear_caches() -> None:
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_stripe.cache_clear()  # type: ignore[attr-defined]


def call(w: World, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any):
    return httpx.request(
        method, f"{w.url}{BASE}{path}", headers=w.admin if headers is None else headers,
        timeout=TIMEOUT, **kw,
    )  # fmt: skip


def ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return r.json()


_numbers = iter(range(1, 10_000))


def new_doctor(w: World, week: list[list[dict[str, str]]] | None = None, **fields: Any) -> dict:
    """A doctor created over the API (unique email), with `week` as their hours if given."""
    n = next(_numbers)
    body = {
        "fullName": f"Dr. Test {TAG} {n}",
        "email": f"dr{n}.{TAG}@clinic.example",
        "speciality": "Dermatology",
        "bio": "Skin.",
        "feeMinor": 5000,
        "currency": "eur",
        "slotMinutes": 30,
        "timezone": TZ,
        **fields,
    }
    doctor = ok(call(w, "POST", "", json=body), 201)
    if week is not None:
        ok(call(w, "PUT", f"/{doctor['id']}/hours", json={"week": week}))
    return doctor


def local_day(starts_at: str, timezone: str = TZ) -> date:
    return datetime.fromisoformat(starts_at).astimezone(ZoneInfo(timezone)).date()


def label(day: date) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}"


def patient_name(w: World) -> str:
    with Session(w.engine) as s:
        return s.get(User, w.patient.user_id).full_name


def booking_of(w: World, booking_id: int) -> Booking:
    with Session(w.engine) as s:
        return s.get(Booking, booking_id, populate_existing=True)


# --- who may call ----------------------------------------------------------------------------


def test_every_route_is_401_anonymous_and_403_for_a_patient_and_changes_nothing(
    world: World,
) -> None:
    doctor = new_doctor(world, [NINE_TO_FIVE] * 7)
    i = doctor["id"]
    # Real targets, so a route that forgot its guard would change something visible below.
    soon = (datetime.now(ZoneInfo(TZ)).date() + timedelta(days=5)).isoformat()
    later = (datetime.now(ZoneInfo(TZ)).date() + timedelta(days=6)).isoformat()
    extra = {"date": later, "start": "18:00", "end": "19:00"}
    [made] = ok(call(world, "POST", f"/{i}/extra-hours", json=extra), 201)["plan"]["extraHours"]
    week = {"week": [[{"start": "08:00", "end": "09:00"}]] * 7}
    routes = [
        ("GET", "", {}),
        ("GET", "?search=Test&active=true&limit=5&offset=0", {}),
        ("POST", "", {"json": {"fullName": "X", "email": "x@example.com", "speciality": "Y",
                               "feeMinor": 100, "currency": "EUR"}}),
        ("GET", f"/{i}", {}),
        ("PATCH", f"/{i}", {"json": {"feeMinor": 1}}),
        ("PUT", f"/{i}/hours", {"json": week}),
        ("POST", f"/{i}/days-off", {"json": {"date": soon}}),
        ("DELETE", f"/{i}/days-off?date={soon}", {}),
        ("POST", f"/{i}/extra-hours", {"json": {**extra, "date": soon}}),
        ("DELETE", f"/{i}/extra-hours/{made['id']}?onBookings=cancel", {}),
    ]  # fmt: skip
    for headers, status, code in (({}, 401, "unauthorized"), (bearer(world.patient), 403,
                                                               "forbidden")):  # fmt: skip
        for method, path, kw in routes:
            assert_error(call(world, method, path, headers, **kw), status, code)
    # A bad token is a 401 too, before the body is looked at.
    r = call(world, "PATCH", f"/{i}", {"Authorization": "Bearer nope"}, json={"feeMinor": 1})
    assert_error(r, 401, "invalid_token")
    got = ok(call(world, "GET", f"/{i}"))
    assert (got["feeMinor"], got["plan"]) == (
        5000, {"week": [NINE_TO_FIVE] * 7, "daysOff": [], "extraHours": [made]}
    )  # fmt: skip
    with Session(world.engine) as s:
        assert s.exec(select(User).where(User.email == "x@example.com")).first() is None


# --- doctors ---------------------------------------------------------------------------------


def test_create_get_list_and_patch_a_doctor(world: World) -> None:
    created = new_doctor(world, bio="Skin and hair.", currency="jpy", feeMinor=8000)
    n = created["fullName"].rsplit(" ", 1)[1]
    assert created == {
        "id": created["id"],
        "userId": created["userId"],
        "fullName": f"Dr. Test {TAG} {n}",
        "email": f"dr{n}.{TAG}@clinic.example",
        "speciality": "Dermatology",
        "bio": "Skin and hair.",
        "feeMinor": 8000,
        "currency": "JPY",
        "fee": "¥8,000",
        "slotMinutes": 30,
        "timezone": TZ,
        "active": True,
        "photoUpdatedAt": None,
        "upcomingBookings": 0,
        "message": f"Dr. Test {TAG} {n} added; give them working hours so patients can book.",
    }
    i = created["id"]
    got = ok(call(world, "GET", f"/{i}"))
    assert {k: got[k] for k in created if k != "message"} == {
        k: v for k, v in created.items() if k != "message"
    }
    assert got["plan"] == {"week": [[]] * 7, "daysOff": [], "extraHours": []}
    today = datetime.now(ZoneInfo(TZ)).date()
    assert [d["date"] for d in got["preview"]] == [
        (today + timedelta(days=k)).isoformat() for k in range(14)
    ]
    assert {(tuple(d["slots"]), d["closed"]) for d in got["preview"]} == {((), "Not a working day")}

    listed = ok(call(world, "GET", "", params={"search": f"{TAG} {n}"}))
    assert (listed["count"], [d["id"] for d in listed["data"]]) == (1, [i])
    assert ok(call(world, "GET", "", params={"search": f"DR{n}.{TAG.upper()}@"}))["count"] == 1
    inactive = ok(call(world, "GET", "", params={"active": "false", "search": TAG}))
    assert inactive == {"data": [], "count": 0}

    r = call(world, "PATCH", f"/{i}", json={"speciality": "  Dermatology & allergy ",
                                            "slotMinutes": 20, "bio": ""})  # fmt: skip
    saved = ok(r)
    assert (saved["speciality"], saved["slotMinutes"], saved["bio"]) == (
        "Dermatology & allergy", 20, ""
    )  # fmt: skip
    assert saved["message"] == (
        "Saved. New slots are laid out in the new length; booked ones keep theirs."
    )
    assert (saved["kept"], saved["cancelled"]) == ([], [])
    assert ok(call(world, "PATCH", f"/{i}", json={}))["message"] == "Nothing changed."
    with Session(world.engine) as s:
        admin = s.exec(select(User).where(User.email == ADMIN[0])).one()
        trail = s.exec(
            select(AuditLog)
            .where(AuditLog.entity_type == "doctor", AuditLog.entity_id == i)
            .order_by(col(AuditLog.id))
        ).all()
        assert [(a.actor, a.action) for a in trail] == [
            (f"user:{admin.id}", "doctor_created"),
            (f"user:{admin.id}", "doctor_updated"),
        ]
        assert '"slot_minutes": {"from": 30, "to": 20}' in trail[1].details

    taken = call(world, "POST", "", json={
        "fullName": "Someone", "email": created["email"].upper(), "speciality": "X",
        "feeMinor": 100, "currency": "EUR",
    })  # fmt: skip
    assert assert_error(taken, 409, "email_taken")["message"] == (
        f"{created['email']} is another doctor's already."
    )


def test_a_fee_change_leaves_booked_prices_and_says_so_then_deactivation_lists_them(
    world: World,
) -> None:
    doctor = new_doctor(world, [NINE_TO_FIVE] * 7)
    i = doctor["id"]
    first = book_from_day(world, world.patient, i, 2)
    assert first["priceMinor"] == 5000

    saved = ok(call(world, "PATCH", f"/{i}", json={"feeMinor": 7000}))
    assert (saved["feeMinor"], saved["fee"], saved["upcomingBookings"]) == (7000, "€70.00", 1)
    assert saved["message"] == (
        "Saved. New bookings cost €70.00; the booked appointment keeps the price it was booked at."
    )
    r = httpx.get(f"{world.url}/api/v1/bookings/{first['id']}", headers=bearer(world.patient),
                  timeout=TIMEOUT)  # fmt: skip
    assert (ok(r)["priceMinor"], ok(r)["price"]) == (5000, "€50.00")
    assert booking_of(world, first["id"]).price_minor == 5000
    second = book_from_day(world, world.patient, i, 3)
    assert (second["priceMinor"], booking_of(world, second["id"]).price_minor) == (7000, 7000)
    again = ok(call(world, "PATCH", f"/{i}", json={"feeMinor": 6000, "currency": "GBP"}))
    assert again["message"] == (
        "Saved. New bookings cost £60.00; the 2 booked appointments keep the prices they were "
        "booked at."
    )
    assert [booking_of(world, b["id"]).price_minor for b in (first, second)] == [5000, 7000]

    # Deactivating strands both holds: listed first, nothing saved; then kept.
    r = call(world, "PATCH", f"/{i}", json={"active": False})
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["error"] == {
        "code": "bookings_affected",
        "message": "2 bookings fall outside the new hours. Nothing was saved: choose to keep "
        "them or to cancel them with a full refund.",
    }
    assert [(b["bookingId"], b["status"], b["paid"], b["price"]) for b in body["bookings"]] == [
        (first["id"], "held", False, "€50.00"),
        (second["id"], "held", False, "€70.00"),
    ]
    assert ok(call(world, "GET", f"/{i}"))["active"] is True
    kept = ok(call(world, "PATCH", f"/{i}", json={"active": False, "onBookings": "keep"}))
    assert kept["active"] is False
    assert kept["message"] == (
        "Saved. Patients no longer see this doctor and no new slots are offered. 2 bookings "
        "outside the new hours kept as booked."
    )
    assert [b["bookingId"] for b in kept["kept"]] == [first["id"], second["id"]]
    assert [booking_of(world, b["id"]).status for b in (first, second)] == ["held", "held"]
    public = httpx.get(f"{world.url}/api/v1/doctors/{i}", timeout=TIMEOUT)
    assert_error(public, 404, "not_found")
    hidden = ok(call(world, "GET", "", params={"active": "false", "search": doctor["email"]}))
    assert [d["id"] for d in hidden["data"]] == [i]


# --- weekly hours ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("monday", "message"),
    [
        ([{"start": "09:00", "end": "12:00"}, {"start": "11:30", "end": "14:00"}],
         "Monday: 09:00–12:00 and 11:30–14:00 overlap."),
        ([{"start": "17:00", "end": "09:00"}],
         "Monday: 17:00–09:00 crosses midnight. Enter it as two ranges, 17:00–24:00 and "
         "00:00–09:00 of the next day."),
        ([{"start": "22:00", "end": "02:00"}],
         "Monday: 22:00–02:00 crosses midnight. Enter it as two ranges, 22:00–24:00 and "
         "00:00–02:00 of the next day."),
        ([{"start": "12:00", "end": "12:00"}],
         "Monday: 12:00–12:00 is empty; a range needs a start and a later end."),
        ([{"start": "09:00", "end": "09:15"}],
         "Monday: 09:00–09:15 is shorter than one 30-minute appointment."),
        ([{"start": "24:00", "end": "24:00"}], "Monday: “24:00” is not a time of day."),
        ([{"start": "9am", "end": "17:00"}], "Monday: “9am” is not a time like 09:30."),
        ([{"start": "09:00", "end": "17:60"}], "Monday: “17:60” is not a time of day."),
    ],
)  # fmt: skip
def test_bad_weekly_hours_are_a_422_naming_the_day_and_save_nothing(
    world: World, monday: list[dict[str, str]], message: str
) -> None:
    doctor = new_doctor(world, [[{"start": "08:00", "end": "10:00"}]] * 7)
    r = call(world, "PUT", f"/{doctor['id']}/hours", json={"week": [monday] + [[]] * 6})
    assert assert_error(r, 422, "validation_error")["message"] == message
    week = ok(call(world, "GET", f"/{doctor['id']}"))["plan"]["week"]
    assert week == [[{"start": "08:00", "end": "10:00"}]] * 7


def test_hours_with_two_ranges_and_midnight_show_in_the_preview(world: World) -> None:
    doctor = new_doctor(world, slotMinutes=60)
    week = [[{"start": "13:00", "end": "15:00"}, {"start": "9", "end": "10.00"}],
            [{"start": "22:00", "end": "24:00"}], [], [], [], [], []]  # fmt: skip
    saved = ok(call(world, "PUT", f"/{doctor['id']}/hours", json={"week": week}))
    assert saved["message"] == "Weekly hours saved."
    assert saved["plan"]["week"] == [
        [{"start": "09:00", "end": "10:00"}, {"start": "13:00", "end": "15:00"}],
        [{"start": "22:00", "end": "24:00"}], [], [], [], [], [],
    ]  # fmt: skip
    again = ok(call(world, "PUT", f"/{doctor['id']}/hours", json={"week": week}))
    assert again["message"] == "The weekly hours were already so."
    preview = ok(call(world, "GET", f"/{doctor['id']}"))["preview"]
    now = datetime.now(ZoneInfo(TZ))
    for day in preview[1:]:  # today's slots depend on the hour the test runs
        weekday = date.fromisoformat(day["date"]).weekday()
        expected = {0: ["09:00", "13:00", "14:00"], 1: ["22:00", "23:00"]}.get(weekday, [])
        assert day["slots"] == expected, day
        assert day["closed"] == ("" if expected else "Not a working day")
        assert day["label"] == date.fromisoformat(day["date"]).strftime("%a %-d %b")
    assert preview[0]["date"] == now.date().isoformat()


# --- days off, extra hours and the bookings they strand --------------------------------------


def test_a_day_off_over_a_paid_booking_lists_it_then_keeps_it_then_cancels_it_with_a_refund(
    world: World,
) -> None:
    doctor = new_doctor(world, [NINE_TO_FIVE] * 7)
    i = doctor["id"]
    booking = book_from_day(world, world.patient, i, 2)
    session_id = pay_and_confirm(world, world.sandbox, world.patient, booking)
    day = local_day(booking["startsAt"])
    body = {"date": day.isoformat(), "reason": "Conference"}

    r = call(world, "POST", f"/{i}/days-off", json=body)
    assert r.status_code == 409, r.text
    listed = r.json()
    assert listed["error"] == {
        "code": "bookings_affected",
        "message": "1 booking falls outside the new hours. Nothing was saved: choose to keep "
        "them or to cancel them with a full refund.",
    }
    [row] = listed["bookings"]
    assert {k: v for k, v in row.items() if k not in ("startsAt", "endsAt")} == {
        "bookingId": booking["id"],
        "status": "confirmed",
        "patientName": patient_name(world),
        "patientEmail": world.patient.email,
        "price": "€50.00",
        "paid": True,
    }
    assert datetime.fromisoformat(row["startsAt"]) == datetime.fromisoformat(booking["startsAt"])
    assert datetime.fromisoformat(row["endsAt"]) == datetime.fromisoformat(booking["endsAt"])
    with Session(world.engine) as s:
        assert s.exec(select(DayOff).where(DayOff.doctor_id == i)).all() == []

    kept = ok(call(world, "POST", f"/{i}/days-off", json={**body, "onBookings": "keep"}), 201)
    assert kept["message"] == (
        f"{label(day)} is a day off. 1 booking outside the new hours kept as booked."
    )
    assert ([b["bookingId"] for b in kept["kept"]], kept["cancelled"]) == ([booking["id"]], [])
    assert kept["plan"]["daysOff"] == [{"date": day.isoformat(), "reason": "Conference"}]
    assert booking_of(world, booking["id"]).status == "confirmed"
    preview = {d["date"]: d for d in ok(call(world, "GET", f"/{i}"))["preview"]}
    assert (preview[day.isoformat()]["slots"], preview[day.isoformat()]["closed"]) == (
        [], "Day off: Conference"
    )  # fmt: skip
    r = call(world, "POST", f"/{i}/days-off", json={**body, "onBookings": "keep"})
    exists = assert_error(r, 409, "day_off_exists")
    assert exists["message"] == f"{label(day)} is a day off already."

    opened = ok(call(world, "DELETE", f"/{i}/days-off", params={"date": day.isoformat()}))
    assert (opened["message"], opened["plan"]["daysOff"]) == (
        f"{label(day)} is a working day again.", []
    )  # fmt: skip
    r = call(world, "DELETE", f"/{i}/days-off", params={"date": day.isoformat()})
    assert assert_error(r, 404, "not_found")["message"] == f"{label(day)} is not a day off."

    cancel = {**body, "onBookings": "cancel", "cancelReason": "The doctor is ill."}
    done = ok(call(world, "POST", f"/{i}/days-off", json=cancel), 201)
    assert done["message"] == f"{label(day)} is a day off. 1 booking cancelled, paid ones refunded."
    assert (done["kept"], done["cancelled"]) == (
        [], [{"bookingId": booking["id"], "cancelled": True,
              "message": "The appointment is cancelled and the time is free again. €50.00 is "
                         "on its way back to the patient's card."}]
    )  # fmt: skip
    assert booking_of(world, booking["id"]).status == "cancelled"
    with Session(world.engine) as s:
        payment = s.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
        assert payment.stripe_checkout_session_id == session_id
        cancellation = s.exec(
            select(Cancellation).where(Cancellation.booking_id == booking["id"])
        ).one()
        assert (cancellation.by, cancellation.amount_minor, cancellation.percent,
                cancellation.reason) == ("clinic", 5000, 100, "The doctor is ill.")  # fmt: skip
        [refund] = s.exec(select(Refund).where(Refund.payment_id == payment.id)).all()
        assert (refund.amount_minor, refund.currency, refund.id) == (
            5000, "EUR", cancellation.refund_id
        )  # fmt: skip
        told = s.exec(
            select(OutboxEmail).where(
                OutboxEmail.to_address == world.patient.email, OutboxEmail.kind == "cancellation"
            )
        ).all()
        assert len(told) == 1 and "The doctor is ill." in told[0].body
        actions = s.exec(
            select(AuditLog.action).where(AuditLog.entity_type == "doctor", AuditLog.entity_id == i)
        ).all()
        assert sorted(actions) == sorted(
            ["doctor_created", "hours_changed", "day_off_added", "day_off_removed",
             "day_off_added"]
        )  # fmt: skip

    def refunded() -> bool:
        with Session(world.engine) as s:
            return s.get(Refund, refund.id, populate_existing=True).status == "succeeded"

    wait_for(refunded)
    with Session(world.engine) as s:
        assert s.get(Payment, payment.id, populate_existing=True).status == "refunded"
    r = httpx.get(f"{world.url}/api/v1/bookings/{booking['id']}", headers=bearer(world.patient),
                  timeout=TIMEOUT)  # fmt: skip
    assert ok(r)["status"] == "cancelled"


def test_extra_hours_are_added_and_removed_with_their_held_booking_cancelled(
    world: World,
) -> None:
    doctor = new_doctor(world)  # no weekly hours: only the extra ones
    i = doctor["id"]
    day = datetime.now(ZoneInfo(TZ)).date() + timedelta(days=3)
    body = {"date": day.isoformat(), "start": "10:00", "end": "12:00", "reason": "Catch-up"}
    added = ok(call(world, "POST", f"/{i}/extra-hours", json=body), 201)
    assert added["message"] == f"Extra hours 10:00–12:00 on {label(day)} added."
    [extra] = added["plan"]["extraHours"]
    assert extra == {"id": extra["id"], "date": day.isoformat(), "start": "10:00",
                     "end": "12:00", "reason": "Catch-up"}  # fmt: skip
    r = call(world, "POST", f"/{i}/extra-hours", json={**body, "start": "11:00", "end": "13:00"})
    assert assert_error(r, 422, "validation_error")["message"] == (
        f"{label(day)}: 11:00–13:00 overlaps 10:00–12:00."
    )
    preview = {d["date"]: d["slots"] for d in ok(call(world, "GET", f"/{i}"))["preview"]}
    assert preview[day.isoformat()] == ["10:00", "10:30", "11:00", "11:30"]

    held = book_from_day(world, world.patient, i, 1)
    assert local_day(held["startsAt"]) == day
    r = call(world, "DELETE", f"/{i}/extra-hours/{extra['id']}")
    assert r.status_code == 409, r.text
    assert [(b["bookingId"], b["status"], b["paid"]) for b in r.json()["bookings"]] == [
        (held["id"], "held", False)
    ]
    r = call(world, "DELETE", f"/{i}/extra-hours/{extra['id']}",
             params={"onBookings": "cancel", "cancelReason": "Hours withdrawn."})  # fmt: skip
    done = ok(r)
    assert done["message"] == (
        f"Extra hours 10:00–12:00 on {label(day)} removed. 1 booking cancelled, paid ones refunded."
    )
    assert done["cancelled"] == [{"bookingId": held["id"], "cancelled": True,
                                  "message": "The appointment is cancelled and the time is free "
                                             "again; nothing had been paid."}]  # fmt: skip
    assert done["plan"]["extraHours"] == []
    assert booking_of(world, held["id"]).status == "cancelled"
    with Session(world.engine) as s:
        assert s.exec(select(Payment).where(Payment.booking_id == held["id"])).all() == []
    r = call(world, "DELETE", f"/{i}/extra-hours/{extra['id']}")
    assert assert_error(r, 404, "not_found")["message"] == "Those extra hours are not found."


# --- bad input -------------------------------------------------------------------------------

RAW = {"headers": {"Content-Type": "application/json"}}


@pytest.mark.parametrize(
    ("method", "path", "kw", "status", "message"),
    [
        ("POST", "/{i}/days-off", {"json": {"date": "2027-02-30"}}, 422,
         "date: 2027-02-30 is not a valid calendar date."),
        ("POST", "/{i}/days-off", {"json": {"date": "2027-13-01"}}, 422,
         "date: 2027-13-01 is not a valid calendar date."),
        ("POST", "/{i}/days-off", {"json": {"date": "01/02/2027"}}, 422, None),
        ("POST", "/{i}/days-off", {"json": {"date": 20270101}}, 422, None),
        ("POST", "/{i}/days-off", {"json": {"date": "2001-01-01"}}, 422, "That day is over."),
        ("POST", "/{i}/days-off", {"json": {"date": "2999-01-01"}}, 422,
         "Choose a day within 2 years."),
        ("POST", "/{i}/days-off", {"json": {"date": "{soon}", "onBookings": "maybe"}}, 422, None),
        ("POST", "/{i}/days-off", {"json": {"date": "{soon}", "reason": "x" * 201}}, 422,
         "The reason must be at most 200 characters."),
        ("DELETE", "/{i}/days-off?date=2027-02-30", {}, 422,
         "date: 2027-02-30 is not a valid calendar date."),
        ("DELETE", "/{i}/days-off", {}, 422, "date: Field required"),
        ("DELETE", "/{i}/days-off?date=%FF%FE", {}, 422, None),
        ("POST", "/{i}/extra-hours", {"json": {"date": "{soon}", "start": "14:00",
                                               "end": "25:00"}}, 422,
         "end: “25:00” is not a time of day."),
        ("POST", "/{i}/extra-hours", {"json": {"date": "{soon}", "start": "noon",
                                               "end": "13:00"}}, 422,
         "start: “noon” is not a time like 09:30."),
        ("DELETE", "/{i}/extra-hours/1?onBookings=both", {}, 422, None),
        ("GET", f"/{2**63}", {}, 422, None),
        ("GET", f"/{2**64 + 5}", {}, 422, None),
        ("GET", f"/{MAX_ID + 1}", {}, 422, None),
        ("GET", f"/{MAX_ID}", {}, 404, "Doctor not found."),
        ("GET", "/0", {}, 422, None),
        ("GET", "/-1", {}, 422, None),
        ("GET", "/%FF", {}, 422, None),
        ("PATCH", f"/{2**63}", {"json": {"feeMinor": 100}}, 422, None),
        ("PUT", f"/{MAX_ID}/hours", {"json": {"week": [[]] * 7}}, 404, "Doctor not found."),
        ("PUT", f"/{2**63}/hours", {"json": {"week": [[]] * 7}}, 422, None),
        ("POST", f"/{2**63}/days-off", {"json": {"date": "{soon}"}}, 422, None),
        ("DELETE", f"/{{i}}/extra-hours/{2**63}", {}, 422, None),
        ("DELETE", f"/{{i}}/extra-hours/{MAX_ID}", {}, 404, "Those extra hours are not found."),
        ("GET", f"?offset={2**63}", {}, 422, None),
        ("GET", "?limit=0", {}, 422, None),
        ("GET", "?active=perhaps", {}, 422, None),
        ("PATCH", "/{i}", {"json": {"feeMinor": True}}, 422, None),
        ("PATCH", "/{i}", {"json": {"feeMinor": 0}}, 422, "The fee must be more than zero."),
        ("PATCH", "/{i}", {"json": {"feeMinor": 10**30}}, 422, None),
        ("PATCH", "/{i}", {"json": {"feeMinor": 100_000_000}}, 422,
         "The fee is larger than a card payment can be."),
        ("PATCH", "/{i}", {"json": {"currency": "XXX"}}, 422,
         "Efoy does not take payments in XXX; choose one from the list."),
        ("PATCH", "/{i}", {"json": {"slotMinutes": 7}}, 422,
         "An appointment lasts 10, 15, 20, 30, 45, 60, 90, 120 minutes."),
        ("PATCH", "/{i}", {"json": {"timezone": "Mars/Olympus"}}, 422,
         "Unknown timezone: 'Mars/Olympus'."),
        ("PATCH", "/{i}", {"json": {"active": "no"}}, 422, None),
        ("PATCH", "/{i}", {"json": {"fullName": " \u202e "}}, 422, "Full name is required."),
        ("PATCH", "/{i}", {"json": {"email": "not-an-email"}}, 422,
         "Enter a valid email address."),
        ("PATCH", "/{i}", {"json": {"role": "admin"}}, 422, None),
        ("PATCH", "/{i}", {"json": [1, 2]}, 422, None),
        ("PUT", "/{i}/hours", {"json": {"week": [[]] * 6}}, 422, None),
        ("PUT", "/{i}/hours", {"json": {"week": {"0": []}}}, 422, None),
        ("PUT", "/{i}/hours", {"json": {"week": [[{"start": "09:00"}]] + [[]] * 6}}, 422, None),
        ("POST", "", {"json": {"fullName": "X", "email": "y@example.com"}}, 422, None),
        ("POST", "", {"json": {"fullName": "X", "email": "y@example.com", "speciality": "Z",
                               "feeMinor": 100, "currency": "EUR", "timezone": "Nowhere"}},
         422, "Unknown timezone: 'Nowhere'."),
        ("POST", "", {**RAW, "content": b'{"fullName": "\xff\xfe"}'}, 400, None),
        ("PATCH", "/{i}", {**RAW, "content": b'{"bio": "\xc3\x28"}'}, 400, None),
        ("PUT", "/{i}/hours", {**RAW, "content": b'{"week": "\xff"}'}, 400, None),
        ("POST", "/{i}/days-off", {**RAW, "content": b"\xfe\xff\x00{"}, 422, None),
        ("POST", "/{i}/extra-hours", {**RAW, "content": b"{not json"}, 422, None),
    ],
)  # fmt: skip
def test_bad_input_is_a_4xx_json_error_never_a_5xx(
    world: World, method: str, path: str, kw: dict, status: int, message: str | None
) -> None:
    doctor = _bad_input_doctor(world)
    soon = datetime.now(ZoneInfo(TZ)).date() + timedelta(days=5)
    fill = {"i": doctor["id"], "soon": soon.isoformat()}

    def filled(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{i}", str(fill["i"])).replace("{soon}", fill["soon"])
        if isinstance(value, dict):
            return {k: filled(v) for k, v in value.items()}
        return value

    kw = {k: (filled(v) if k == "json" else v) for k, v in kw.items()}
    r = call(world, method, filled(path), **kw)
    code = {400: "bad_request", 404: "not_found", 422: "validation_error"}[status]
    error = assert_error(r, status, code)
    if message is not None:
        assert error["message"] == message
    after = ok(call(world, "GET", f"/{doctor['id']}"))
    assert (after["feeMinor"], after["active"], after["plan"]["daysOff"]) == (5000, True, [])


_made: dict[str, dict] = {}


def _bad_input_doctor(w: World) -> dict:
    """One doctor per database for the bad-input cases (none of which may change them)."""
    if w.backend not in _made:
        _made[w.backend] = new_doctor(w, [NINE_TO_FIVE] * 7)
    return _made[w.backend]


def test_a_query_that_is_not_utf8_finds_nothing_and_breaks_nothing(world: World) -> None:
    r = call(world, "GET", "?search=%FF%FE%00")
    assert ok(r) == {"data": [], "count": 0}
    r = call(world, "GET", "?search=" + "x" * 101)
    assert_error(r, 422, "validation_error")


def test_the_audit_trail_of_one_doctor_is_asked_for_as_doctor_and_its_id(world: World) -> None:
    doc = new_doctor(world)
    ok(call(world, "PATCH", f"/{doc['id']}", json={"slotMinutes": 20}))
    r = httpx.get(f"{world.url}/api/v1/admin/audit", params={"object": f"Doctor #{doc['id']}"},
                  headers=world.admin, timeout=TIMEOUT)  # fmt: skip
    rows = ok(r)["data"]
    assert {row["entityType"] for row in rows} == {"doctor"}
    assert {row["entityId"] for row in rows} == {doc["id"]}
    assert "doctor_updated" in [row["action"] for row in rows]
    r = httpx.get(f"{world.url}/api/v1/admin/audit", params={"object": "outbox email"},
                  headers=world.admin, timeout=TIMEOUT)  # fmt: skip
    assert r.status_code == 200, r.text


def test_a_cancel_sent_with_the_listed_ids_refuses_a_booking_made_since(world: World) -> None:
    doctor = new_doctor(world, [NINE_TO_FIVE] * 7)
    i = doctor["id"]
    first = book_from_day(world, world.patient, i, 3)
    day = local_day(first["startsAt"])
    r = call(world, "POST", f"/{i}/days-off", json={"date": day.isoformat()})
    assert r.status_code == 409 and r.json()["error"]["code"] == "bookings_affected", r.text
    shown = [b["bookingId"] for b in r.json()["bookings"]]
    second = book_from_day(world, world.patient, i, 3)  # booked while the admin read the list
    assert local_day(second["startsAt"]) == day
    cancel = {"date": day.isoformat(), "onBookings": "cancel", "bookingIds": shown}
    r = call(world, "POST", f"/{i}/days-off", json=cancel)
    assert r.status_code == 409, r.text
    again = r.json()["error"]
    assert again["message"].startswith("The bookings changed since they were listed: 2 bookings")
    assert {b["bookingId"] for b in r.json()["bookings"]} == {first["id"], second["id"]}
    assert booking_of(world, second["id"]).status == "held"
    cancel["bookingIds"] = [first["id"], second["id"]]
    done = ok(call(world, "POST", f"/{i}/days-off", json=cancel), 201)
    assert [c["bookingId"] for c in done["cancelled"]] == [first["id"], second["id"]]
