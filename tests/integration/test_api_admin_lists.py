"""The admin lists over HTTP: the payments CSV (same filter as the JSON list, streamed in
batches, formula cells escaped), `GET /api/v1/admin/bookings`, the paged `GET /api/v1/bookings`,
and 401/403 on each.

Rows are written straight into the server's database for patients made here, in 2032 so no other
test's rows share their days; they are removed afterwards.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlmodel import Session, col, delete, select

from efoy_app.domain import admin_csv
from efoy_app.models import Booking, Doctor, Payment, User

API = "/api/v1"
BASE = datetime(2032, 3, 3, 12, 0, tzinfo=UTC)
TAG = f"lst{uuid.uuid4().hex[:6]}"
EVIL_NAME = '=HYPERLINK("http://evil.example","x")'


def _get(server, path: str, token: str | None, **params: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{server.url}{API}{path}", params=params, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def world(api_server) -> Iterator[dict]:
    """Two patients (one named like a formula), 9 payments: 5 EUR (two at the same instant),
    4 USD, in several statuses; and 4 bookings of their own with no payment."""
    with Session(api_server.engine) as db:
        ada = User(email=f"{TAG}-ada@example.test", password_hash="!", full_name=EVIL_NAME)
        bo = User(email=f"{TAG}-bo@example.test", password_hash="!", full_name="+Bo -Cell")
        db.add_all([ada, bo])
        db.commit()
        doctors = list(db.exec(select(Doctor).order_by(Doctor.id).limit(2)).all())
        plan = [  # (patient, doctor, currency, amount, status, refunded, minutes after BASE)
            (ada, 0, "EUR", 4500, "paid", 0, 0),
            (ada, 0, "EUR", 4500, "partially_refunded", 1500, 10),
            (bo, 1, "EUR", 9999, "refunded", 9999, 20),
            (bo, 1, "EUR", 100, "pending", 0, 30),
            (ada, 1, "EUR", 250, "failed", 0, 30),  # the same created_at as the one before
            (ada, 0, "USD", 5000, "paid", 0, 40),
            (bo, 0, "USD", 5000, "paid", 0, 50),
            (bo, 1, "USD", 1, "expired", 0, 60),
            (ada, 0, "USD", 7000, "paid", 0, 70),
        ]
        payment_ids = []
        for i, (who, d, currency, amount, status, refunded, minutes) in enumerate(plan):
            starts = BASE + timedelta(days=10, hours=i)
            booking = Booking(patient_id=who.id, doctor_id=doctors[d].id, starts_at=starts,
                              ends_at=starts + timedelta(minutes=30), status="cancelled",
                              price_minor=amount, currency=currency)  # fmt: skip
            db.add(booking)
            db.flush()
            created = BASE + timedelta(minutes=minutes)
            p = Payment(
                booking_id=booking.id,
                kind="checkout",
                status=status,
                amount_minor=amount,
                currency=currency,
                amount_refunded_minor=refunded,
                stripe_checkout_session_id=f"cs_{TAG}_{i}",
                flagged=i == 2,
                flag_reason="@SUM(A1)" if i == 2 else None,
                created_at=created,
                paid_at=created + timedelta(minutes=1) if status != "pending" else None,
            )
            db.add(p)
            db.flush()
            payment_ids.append(p.id)
        held = []
        for i, (status, lapsed) in enumerate(
            [("held", False), ("held", True), ("expired", False), ("confirmed", False)]
        ):
            starts = BASE + timedelta(days=20, hours=i)
            b = Booking(patient_id=bo.id, doctor_id=doctors[0].id, starts_at=starts,
                        ends_at=starts + timedelta(minutes=30), status=status, price_minor=1,
                        currency="EUR", created_at=datetime.now(UTC) + timedelta(days=3000 + i),
                        hold_expires_at=(datetime.now(UTC) + timedelta(minutes=-5 if lapsed else 30)
                                         if status == "held" else None))  # fmt: skip
            db.add(b)
            db.flush()
            held.append(b.id)
        db.commit()
        found = {
            "patients": [ada.id, bo.id],
            "doctors": [d.id for d in doctors],
            "payments": payment_ids,
            "own_bookings": held,
        }
    yield found
    with Session(api_server.engine) as db:
        mine = select(Booking.id).where(col(Booking.patient_id).in_(found["patients"]))
        db.exec(delete(Payment).where(col(Payment.booking_id).in_(mine)))
        db.exec(delete(Booking).where(col(Booking.patient_id).in_(found["patients"])))
        db.exec(delete(User).where(col(User.id).in_(found["patients"])))
        db.commit()


def _csv(r: httpx.Response) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="payments-')
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    "params",
    [
        {"q": TAG},
        {"q": TAG, "currency": "eur"},
        {"q": TAG, "status": "paid"},
        {"q": TAG, "flagged": "true"},
        {"q": f"{TAG}-ada", "date_from": "2032-03-03", "date_to": "2032-03-03"},
        {"q": "cs_nobody"},
    ],
)
def test_csv_has_the_rows_of_the_json_list_in_its_order(
    api_server, admin_token, world, params, monkeypatch
):
    monkeypatch.setattr(admin_csv, "BATCH", 1)  # a batch per row: every boundary, ties too
    listed = _get(api_server, "/admin/payments", admin_token, limit=200, **params).json()
    rows = _csv(_get(api_server, "/admin/payments.csv", admin_token, **params))
    assert [int(r["payment_id"]) for r in rows] == [p["id"] for p in listed["data"]]
    assert len(rows) == listed["count"]
    for row, p in zip(rows, listed["data"], strict=True):
        assert (row["currency"], int(row["amount_minor"]), row["status"]) == (
            p["currency"], p["amountMinor"], p["status"],
        )  # fmt: skip
        assert Decimal(row["amount"]) == Decimal(p["amount"])
        assert int(row["refunded_minor"]) == p["amountRefundedMinor"]


@pytest.fixture
def clinic_in_addis(api_server):
    api_server.set_env(EFOY_CLINIC_TIMEZONE="Africa/Addis_Ababa")
    yield
    api_server.set_env(EFOY_CLINIC_TIMEZONE=None)


def test_csv_amounts_and_formula_cells(api_server, admin_token, world, clinic_in_addis):
    rows = _csv(_get(api_server, "/admin/payments.csv", admin_token, q=TAG))
    assert list(rows[0]) == list(admin_csv.COLUMNS)
    by_id = {int(r["payment_id"]): r for r in rows}
    part = by_id[world["payments"][1]]
    assert (part["amount"], part["refunded_amount"], part["net"], part["net_minor"]) == (
        "45.00", "15.00", "30.00", "3000",
    )  # fmt: skip
    assert part["patient_name"] == "'" + EVIL_NAME
    assert part["created_at"] == "2032-03-03T15:10:00+03:00"  # in the clinic's zone
    refunded = by_id[world["payments"][2]]
    assert (refunded["patient_name"], refunded["flag_reason"], refunded["flagged"]) == (
        "'+Bo -Cell", "'@SUM(A1)", "yes",
    )  # fmt: skip
    assert (refunded["amount"], refunded["net"]) == ("99.99", "0.00")
    pending = by_id[world["payments"][3]]
    assert (pending["paid_at"], pending["net_minor"]) == ("", "0")  # nothing was collected
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(admin_csv.FORMULA_STARTS), row


def test_csv_refuses_a_bad_filter_before_sending_anything(api_server, admin_token):
    for params in ({"status": "lost"}, {"date_from": "2032-13-01"}, {"q": "a\x00b"}):
        r = _get(api_server, "/admin/payments.csv", admin_token, **params)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error"), params
    r = _get(api_server, "/admin/payments", admin_token, q="a\x00b")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error")


@pytest.mark.parametrize("path", ["/admin/payments.csv", "/admin/bookings", "/admin/payments"])
def test_admin_lists_need_an_admin(api_server, patient_token, path):
    r = _get(api_server, path, None)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthorized")
    r = _get(api_server, path, patient_token)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")


def test_admin_bookings_filters_and_pages(api_server, admin_token, world):
    """The four bookings created "in the future" are the newest: the first page is theirs."""
    own = world["own_bookings"]
    body = _get(api_server, "/admin/bookings", admin_token, limit=4).json()
    assert [b["id"] for b in body["data"]] == own[::-1]
    assert body["data"][0]["patientEmail"] == f"{TAG}-bo@example.test"
    assert body["data"][0]["patientName"] == "+Bo -Cell"  # JSON: no escaping needed
    total = body["count"]
    assert total >= 13
    second = _get(api_server, "/admin/bookings", admin_token, limit=2, offset=2).json()
    assert [b["id"] for b in second["data"]] == own[1::-1] and second["count"] == total
    held = _get(api_server, "/admin/bookings", admin_token, status="held", limit=200).json()
    assert own[0] in [b["id"] for b in held["data"]]
    assert own[1] not in [b["id"] for b in held["data"]]  # its hold lapsed: shown as expired
    assert all(b["status"] == "held" for b in held["data"]) and held["count"] == len(held["data"])
    expired = _get(api_server, "/admin/bookings", admin_token, status="expired", limit=200).json()
    assert {own[1], own[2]} <= {b["id"] for b in expired["data"]}
    assert all(b["status"] == "expired" for b in expired["data"])
    doctor = world["doctors"][1]
    mine = _get(api_server, "/admin/bookings", admin_token, doctor_id=doctor, limit=200).json()
    with Session(api_server.engine) as db:
        want = len(db.exec(select(Booking.id).where(Booking.doctor_id == doctor)).all())
    assert mine["count"] == want and all(b["doctorId"] == doctor for b in mine["data"])


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"status": "lost"}, {"doctor_id": 0},
     {"doctor_id": "x"}],
)  # fmt: skip
def test_admin_bookings_bad_parameters_are_422(api_server, admin_token, params):
    r = _get(api_server, "/admin/bookings", admin_token, **params)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error")


def test_the_bookings_list_comes_a_page_at_a_time(api_server, admin_token, patient_token):
    first = _get(api_server, "/bookings", admin_token, limit=3).json()
    second = _get(api_server, "/bookings", admin_token, limit=3, offset=3).json()
    assert len(first) == 3 and len(second) == 3
    assert not {b["id"] for b in first} & {b["id"] for b in second}
    whole = _get(api_server, "/bookings", admin_token, limit=6).json()
    assert [b["id"] for b in whole] == [b["id"] for b in first + second]
    assert len(_get(api_server, "/bookings", admin_token).json()) <= 50  # the default page
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}):
        r = _get(api_server, "/bookings", patient_token, **params)
        assert r.status_code == 422, params


def test_csv_is_streamed_and_odd_bytes_in_a_query_are_no_error(api_server, admin_token, world):
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.stream("GET", f"{api_server.url}{API}/admin/payments.csv", params={"q": TAG},
                      headers=headers, timeout=30) as r:  # fmt: skip
        assert r.status_code == 200
        assert r.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in r.headers
        assert r.headers["cache-control"] == "no-store"
        body = b"".join(r.iter_bytes())
    assert body.startswith("\ufeffpayment_id,".encode())
    for path in ("/admin/payments", "/admin/payments.csv"):
        r = httpx.get(f"{api_server.url}{API}{path}?q=%FF%FE%C3", headers=headers, timeout=30)
        assert r.status_code == 200, r.text  # undecodable bytes read as U+FFFD: matches nothing
    assert httpx.get(f"{api_server.url}{API}/admin/payments?q=%FF", headers=headers,
                     timeout=30).json()["count"] == 0  # fmt: skip
