"""GET /api/v1/admin/payments filters over HTTP, checked against a brute-force filter in Python.

Payments are written straight into the server's database (on demo doctors, for patients made
here) in 2031, so the date filters have a quiet stretch; the oracle reads every payment back
and filters them by hand, so rows other tests left behind are counted on both sides alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, delete, select

from efoy_app.models import PAID_STATUSES, Booking, Doctor, Payment, User
from efoy_app.routes import MAX_ID

URL = "/api/v1/admin/payments"
CLINIC_TZ = "Pacific/Honolulu"  # UTC-10: a day there straddles two UTC days
BASE = datetime(2031, 5, 10, tzinfo=UTC)
STATUSES = ("pending", "paid", "partially_refunded", "refunded", "failed", "expired")
CURRENCIES = ("USD", "EUR", "JPY")
TAG = f"flt{uuid.uuid4().hex[:6]}"


def _get(api_server, token: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{api_server.url}{URL}", params=params, timeout=30,
                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip


@pytest.fixture(scope="module")
def people(api_server) -> Iterator[dict[str, list[int]]]:
    """Three patients (one email in capitals) and three of the demo doctors; their payments
    are removed afterwards, so other tests' "newest first" is theirs again."""
    with Session(api_server.engine) as db:
        users = [
            User(email=f"{TAG}-{name}@example.test", password_hash="!", full_name=name)
            for name in ("ada", "BEA", "cy")
        ]
        db.add_all(users)
        db.commit()
        doctors = list(db.exec(select(Doctor.id).order_by(Doctor.id).limit(3)))
        found = {"patients": [u.id for u in users], "doctors": doctors}
    yield found
    _write(api_server, found, [])


@pytest.fixture
def clinic_in_honolulu(api_server):
    api_server.set_env(EFOY_CLINIC_TIMEZONE=CLINIC_TZ)
    yield
    api_server.set_env(EFOY_CLINIC_TIMEZONE=None)


row = st.fixed_dictionaries(
    {
        "status": st.sampled_from(STATUSES),
        "currency": st.sampled_from(CURRENCIES),
        "amount": st.integers(0, 10_000),
        "refunded_part": st.floats(0, 1),
        "flagged": st.booleans(),
        "minutes": st.integers(0, 4 * 24 * 60),  # created within four days of BASE
        "paid_after": st.none() | st.integers(0, 3 * 24 * 60),
        "patient": st.integers(0, 2),
        "doctor": st.integers(0, 2),
    }
)
days = st.none() | st.integers(-1, 5).map(lambda d: BASE.date() + timedelta(days=d))
filters = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(STATUSES),
        "currency": st.sampled_from(("USD", "eur", "JPY", "GBP")),
        "flagged": st.sampled_from(("true", "false")),
        "doctor": st.integers(0, 2),
        "date_field": st.sampled_from(("created_at", "paid_at")),
        "date_from": days,
        "date_to": days,
        # What to search: a patient's email part, a booking, a session or an intent of a row.
        "q": st.tuples(st.sampled_from(("email", "booking", "cs", "pi")), st.integers(0, 40)),
    },
)


def _write(api_server, people, rows: list[dict]) -> None:
    """Replace this module's payments (and their bookings) by `rows`."""
    with Session(api_server.engine) as db:
        old = select(Booking.id).where(col(Booking.patient_id).in_(people["patients"]))
        db.exec(delete(Payment).where(col(Payment.booking_id).in_(old)))
        db.exec(delete(Booking).where(col(Booking.patient_id).in_(people["patients"])))
        for i, r in enumerate(rows):
            starts = BASE + timedelta(days=30, minutes=30 * i)
            booking = Booking(
                patient_id=people["patients"][r["patient"]],
                doctor_id=people["doctors"][r["doctor"]],
                starts_at=starts,
                ends_at=starts + timedelta(minutes=30),
                status="cancelled",
                price_minor=r["amount"],
                currency=r["currency"],
            )
            db.add(booking)
            db.flush()
            created = BASE + timedelta(minutes=r["minutes"])
            paid = r["status"] in PAID_STATUSES
            refunded = {"paid": 0, "refunded": r["amount"]}.get(
                r["status"], int(r["amount"] * r["refunded_part"])
            )
            db.add(
                Payment(
                    booking_id=booking.id,
                    kind="checkout",
                    status=r["status"],
                    amount_minor=r["amount"],
                    currency=r["currency"],
                    amount_refunded_minor=refunded if paid else 0,
                    stripe_checkout_session_id=f"cs_{TAG}_{uuid.uuid4().hex}",
                    stripe_payment_intent_id=f"pi_{TAG}_{uuid.uuid4().hex}",
                    flagged=r["flagged"],
                    created_at=created,
                    paid_at=(
                        created + timedelta(minutes=r["paid_after"])
                        if paid and r["paid_after"] is not None
                        else None
                    ),
                )
            )
        db.commit()


def _everything(api_server) -> list[tuple[Payment, Booking, User]]:
    with Session(api_server.engine) as db:
        return list(
            db.exec(
                select(Payment, Booking, User)
                .join(Booking, col(Booking.id) == col(Payment.booking_id))
                .join(User, col(User.id) == col(Booking.patient_id))
            ).all()
        )


def _params(f: dict, people, everything) -> dict[str, Any]:
    """The query string for filter `f` (a search picks one of the rows or patients)."""
    params = {k: v for k, v in f.items() if k not in ("doctor", "q") and v is not None}
    if "doctor" in f:
        params["doctor_id"] = people["doctors"][f["doctor"]]
    if "q" in f:
        kind, n = f["q"]
        mine = [e for e in everything if e[2].id in people["patients"]] or everything
        if mine:
            p, b, u = mine[n % len(mine)]
            params["q"] = {
                "email": u.email[n % 5 : n % 5 + 6].upper() or u.email,
                "booking": f"#{b.id}" if n % 2 else str(b.id),
                "cs": p.stripe_checkout_session_id,
                "pi": p.stripe_payment_intent_id,
            }[kind]
        else:
            params["q"] = "nobody"
    for key in ("date_from", "date_to"):
        if key in params:
            params[key] = params[key].isoformat()
    return {k: v for k, v in params.items() if v is not None}


def _matches(params: dict[str, Any], p: Payment, b: Booking, u: User) -> bool:
    """The filter, written out plainly over one row."""
    tz = ZoneInfo(CLINIC_TZ)
    if "status" in params and p.status != params["status"]:
        return False
    if "currency" in params and p.currency != params["currency"].upper():
        return False
    if params.get("flagged") == "true" and not p.flagged:
        return False
    if "doctor_id" in params and b.doctor_id != params["doctor_id"]:
        return False
    at = p.paid_at if params.get("date_field") == "paid_at" else p.created_at
    for key, ok in (("date_from", lambda d, x: d >= x), ("date_to", lambda d, x: d <= x)):
        if key in params and (
            at is None or not ok(at.astimezone(tz).date(), date.fromisoformat(params[key]))
        ):
            return False
    q = params.get("q")
    if q:
        if q.startswith("cs_"):
            return p.stripe_checkout_session_id == q
        if q.startswith("pi_"):
            return p.stripe_payment_intent_id == q
        if q.removeprefix("#").isdigit():
            return b.id == int(q.removeprefix("#"))
        return q.lower() in u.email.lower()
    return True


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(row, max_size=25),
    f=filters,
    limit=st.integers(1, 30),
    offset=st.integers(0, 30),
)
def test_filters_pages_and_totals_match_a_brute_force_filter(
    api_server, admin_token, people, clinic_in_honolulu, rows, f, limit, offset
):
    _write(api_server, people, rows)
    everything = _everything(api_server)
    params = _params(f, people, everything)
    if (
        params.get("date_from")
        and params.get("date_to")
        and (params["date_from"] > params["date_to"])
    ):
        r = _get(api_server, admin_token, **params)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error")
        return
    want = sorted(
        (e for e in everything if _matches(params, *e)),
        key=lambda e: (e[0].created_at, e[0].id),
        reverse=True,
    )
    r = _get(api_server, admin_token, limit=limit, offset=offset, **params)
    assert r.status_code == 200, (params, r.text)
    body = r.json()
    assert [p["id"] for p in body["data"]] == [e[0].id for e in want[offset : offset + limit]]
    assert body["count"] == len(want)
    expected = []
    for currency in sorted({e[0].currency for e in want}):
        of = [e[0] for e in want if e[0].currency == currency]
        paid = sum(p.amount_minor for p in of if p.status in PAID_STATUSES)
        refunded = sum(p.amount_refunded_minor for p in of)
        expected.append((currency, len(of), paid, refunded, paid - refunded))
    got = [
        (t["currency"], t["count"], t["paidMinor"], t["refundedMinor"], t["netMinor"])
        for t in body["totals"]
    ]
    assert got == expected


def test_a_search_finds_one_payment_by_session_intent_booking_or_email(
    api_server, admin_token, people
):
    _write(api_server, people, [{"status": "paid", "currency": "JPY", "amount": 5000,
                                 "refunded_part": 0, "flagged": False, "minutes": 0,
                                 "paid_after": 1, "patient": 1, "doctor": 0}])  # fmt: skip
    [(p, b, u)] = [e for e in _everything(api_server) if e[2].id in people["patients"]]
    for q in (p.stripe_checkout_session_id, p.stripe_payment_intent_id, f"#{b.id}", f"{TAG}-bea"):
        body = _get(api_server, admin_token, q=q).json()
        assert ([d["id"] for d in body["data"]], body["count"]) == ([p.id], 1), q
        assert body["totals"] == [
            {"currency": "JPY", "count": 1, "paidMinor": 5000, "paidDisplay": "¥5,000",
             "refundedMinor": 0, "refundedDisplay": "¥0", "netMinor": 5000,
             "netDisplay": "¥5,000"}
        ]  # fmt: skip
    assert _get(api_server, admin_token, q="cs_nope").json()["count"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 201},
        {"limit": 0},
        {"offset": -1},
        {"doctor_id": 0},
        {"doctor_id": MAX_ID + 1},
        {"doctor_id": "ten"},
        {"currency": "US"},
        {"currency": "€€€"},
        {"status": "lost"},
        {"flagged": "maybe"},
        {"date_field": "updated"},
        {"date_from": "2031-13-01"},
        {"date_from": "2031-02-30"},
        {"date_from": "31-05-2031"},
        {"date_to": "0001-01-01"},
        {"date_to": "9999-12-31"},
        {"date_from": "2031-05-12", "date_to": "2031-05-11"},
        {"q": "x" * 201},
    ],
)
def test_a_bad_filter_is_a_422_json_error(api_server, admin_token, params):
    r = _get(api_server, admin_token, **params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == "validation_error"


def test_the_largest_id_and_longest_search_are_answered(api_server, admin_token):
    for params in ({"doctor_id": MAX_ID}, {"q": str(MAX_ID)}, {"q": "9" * 200}, {"q": "%_\\"}):
        r = _get(api_server, admin_token, **params)
        assert (r.status_code, r.json()["count"]) == (200, 0), params
