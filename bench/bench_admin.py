"""Figures for the admin lists at scale (prints numbers; not a pass/fail test).

Seeds 100 000 payments (each on its own booking, patients across six doctors in four currencies)
and 300 000 audit rows with bulk inserts, then times each admin query as the page and the API
call it: a page of 50 and the totals for its filter (`admin_views.payment_list`, two queries).

    .venv/bin/python -m bench.bench_admin      # SQLite (temp file)
    TEST_DATABASE_URL=postgresql+psycopg://root@127.0.0.1:5432/test \
        .venv/bin/python -m bench.bench_admin

PostgreSQL runs in a throwaway schema that is dropped afterwards. The target is p95 <= 50 ms.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bench.bench_booking import on_both_databases, pct, report
from efoy_app.domain import admin_chart, admin_csv, admin_views
from efoy_app.domain.admin_views import BookingFilter, PaymentFilter
from efoy_app.domain.errors import ValidationFailed
from efoy_app.models import AuditLog, Booking, Doctor, Payment, User

PAYMENTS = 100_000
AUDIT = 300_000
PATIENTS = 5_000
DOCTORS = [
    ("USD", 4500),
    ("USD", 6000),
    ("EUR", 4000),
    ("EUR", 5500),
    ("JPY", 5000),
    ("ETB", 150000),
]
STATUSES = [("paid", 60), ("pending", 8), ("partially_refunded", 6), ("refunded", 6),
            ("failed", 10), ("expired", 10)]  # fmt: skip
REPEAT = 40
PAGE = 50
START = datetime(2025, 1, 1, tzinfo=UTC)
CHUNK = 10_000
TODAY = date(2026, 12, 1)  # the seed's "now"


def _chunks(rows: list[dict], size: int = CHUNK):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def seed(engine: Engine) -> dict:
    """Bulk rows straight into the tables (the domain would take minutes for 100 000)."""
    rnd = random.Random(10)
    t0 = time.perf_counter()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(User),
            [{"email": "admin@bench.test", "password_hash": "!", "full_name": "Bench Admin",
              "role": "admin", "timezone": "UTC", "created_at": now}]
            + [{"email": f"dr{i}@bench.test", "password_hash": "!", "full_name": f"Dr {i}",
                "role": "doctor", "timezone": "UTC", "created_at": now}
               for i in range(len(DOCTORS))]
            + [{"email": f"patient{i:05d}@example.com", "password_hash": "!",
                "full_name": f"Patient {i}", "role": "patient", "timezone": "UTC",
                "created_at": now} for i in range(PATIENTS)],
        )  # fmt: skip
        users = dict(conn.execute(sa.select(User.email, User.id)).all())
        conn.execute(
            sa.insert(Doctor),
            [{"user_id": users[f"dr{i}@bench.test"], "speciality": "General practice",
              "bio": "", "timezone": "UTC", "slot_minutes": 30, "fee_minor": fee,
              "currency": cur, "active": True} for i, (cur, fee) in enumerate(DOCTORS)],
        )  # fmt: skip
        doctor_ids = [d for (d,) in conn.execute(sa.select(Doctor.id).order_by(Doctor.id))]
        patient_ids = [users[f"patient{i:05d}@example.com"] for i in range(PATIENTS)]
        # Spread over ~23 months, oldest first, so ids and created_at rise together.
        span = (now - START).total_seconds()
        created = sorted(START + timedelta(seconds=rnd.random() * span) for _ in range(PAYMENTS))
        picks = [rnd.randrange(len(DOCTORS)) for _ in range(PAYMENTS)]
        bookings = []
        for i, (at, d) in enumerate(zip(created, picks, strict=True)):
            starts = START + timedelta(minutes=30 * i)  # unique per doctor, so no slot clash
            bookings.append({"patient_id": patient_ids[rnd.randrange(PATIENTS)],
                             "doctor_id": doctor_ids[d], "starts_at": starts,
                             "ends_at": starts + timedelta(minutes=30), "status": "cancelled",
                             "reason": "", "price_minor": DOCTORS[d][1],
                             "currency": DOCTORS[d][0], "created_at": at,
                             "updated_at": at})  # fmt: skip
        for part in _chunks(bookings):
            conn.execute(sa.insert(Booking), part)
        booking_ids = [b for (b,) in conn.execute(sa.select(Booking.id).order_by(Booking.id))]
        names = [s for s, _ in STATUSES]
        weights = [w for _, w in STATUSES]
        payments = []
        for i, (at, d) in enumerate(zip(created, picks, strict=True)):
            status = rnd.choices(names, weights)[0]
            amount = DOCTORS[d][1]
            refunded = {"refunded": amount, "partially_refunded": amount // 2}.get(status, 0)
            paid = status in ("paid", "partially_refunded", "refunded")
            payments.append({"booking_id": booking_ids[i], "doctor_id": doctor_ids[d],
                             "kind": "checkout", "status": status,
                             "amount_minor": amount, "currency": DOCTORS[d][0],
                             "amount_refunded_minor": refunded,
                             "stripe_checkout_session_id": f"cs_test_{i:08d}",
                             "stripe_payment_intent_id": f"pi_test_{i:08d}",
                             "flagged": rnd.random() < 0.01, "created_at": at, "updated_at": at,
                             "paid_at": at + timedelta(minutes=2) if paid else None})  # fmt: skip
        for part in _chunks(payments):
            conn.execute(sa.insert(Payment), part)
        audit = [{"at": created[i % PAYMENTS], "actor": "stripe:evt_bench", "entity_type": kind,
                  "entity_id": i % PAYMENTS + 1, "action": "status_changed",
                  "from_status": "pending", "to_status": "paid"}
                 for i, kind in ((i, ("payment", "booking", "refund")[i % 3])
                                 for i in range(AUDIT))]  # fmt: skip
        for part in _chunks(audit):
            conn.execute(sa.insert(AuditLog), part)
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    print(f"  seeded {PAYMENTS} payments, {PAYMENTS} bookings, {AUDIT} audit rows "
          f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    return {"doctors": doctor_ids, "mid": created[PAYMENTS // 2]}


def timed(engine: Engine, name: str, call: Callable[[Session, User], object]) -> float:
    with Session(engine) as s:
        admin = s.exec(select(User).where(User.email == "admin@bench.test")).one()
        call(s, admin)  # warm the caches once
        seconds = []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            call(s, admin)
            seconds.append(time.perf_counter() - t0)
    report(name, seconds)
    return pct([x * 1000 for x in seconds], 95)


def page(f: PaymentFilter | None = None, offset: int = 0) -> Callable[[Session, User], object]:
    def call(s: Session, admin: User) -> object:
        got = admin_views.payment_list(s, admin, f or PaymentFilter(), limit=PAGE, offset=offset)
        assert offset >= got.count or got.data, "an empty page where rows were expected"
        return got

    return call


def refused(f: PaymentFilter) -> Callable[[Session, User], object]:
    """A search the list refuses as too vague: how long the refusal takes."""

    def call(s: Session, admin: User) -> object:
        try:
            admin_views.payment_list(s, admin, f, limit=PAGE)
        except ValidationFailed as exc:
            return exc
        raise AssertionError("the vague search was not refused")

    return call


def chart(f: PaymentFilter) -> Callable[[Session, User], object]:
    """The chart as the page draws it: the filter's totals pick its currency, then two grouped
    queries (payments taken, refunds) over the 92 clinic days up to the seed's today."""

    def call(s: Session, admin: User) -> object:
        _count, totals = admin_views.payment_totals(s, admin, f)
        return admin_chart.payment_chart(s, admin, f, totals, TODAY)

    return call


def run(name: str, engine_cm: Callable[[], AbstractContextManager[Engine]]) -> None:
    print(f"{name}:")
    with engine_cm() as engine:
        world = seed(engine)
        mid = world["mid"].date()
        week = {"date_from": mid, "date_to": mid + timedelta(days=6), "tz": "Africa/Addis_Ababa"}
        cases = [
            ("first page + totals", page()),
            ("page at offset 50 000 + totals", page(offset=50_000)),
            ("last page (offset 99 950) + totals", page(offset=PAYMENTS - PAGE)),
            ("status=paid", page(PaymentFilter(status="paid"))),
            ("status=pending, offset 5 000", page(PaymentFilter(status="pending"), 5_000)),
            ("doctor", page(PaymentFilter(doctor_id=world["doctors"][2]))),
            ("doctor, offset 10 000", page(PaymentFilter(doctor_id=world["doctors"][2]), 10_000)),
            ("currency=JPY", page(PaymentFilter(currency="JPY"))),
            ("flagged", page(PaymentFilter(flagged=True))),
            ("created in a week (clinic days)", page(PaymentFilter(**week))),
            ("paid in a week", page(PaymentFilter(date_field="paid_at", **week))),
            ("paid + EUR + a week", page(PaymentFilter(status="paid", currency="EUR", **week))),
            ("search email part 'patient0042'", page(PaymentFilter(q="PATIENT0042"))),
            ("search 'example.com' (all): refused", refused(PaymentFilter(q="example.com"))),
            ("search Checkout Session id", page(PaymentFilter(q="cs_test_00077777"))),
            ("search PaymentIntent id", page(PaymentFilter(q="pi_test_00012345"))),
            ("search booking id", page(PaymentFilter(q="#54321"))),
            ("totals only, no filter",
             lambda s, a: admin_views.payment_totals(s, a, PaymentFilter())),
            ("bookings: first page + count",
             lambda s, a: admin_views.booking_list(s, a, limit=PAGE)),
            ("bookings: offset 50 000 + count",
             lambda s, a: admin_views.booking_list(s, a, limit=PAGE, offset=50_000)),
            # What /admin adds (issue 10): the bookings tab's status filter and counts, the chart
            # of money per day (92 clinic days, one currency) and the CSV export.
            ("bookings: status=cancelled, page 100",
             lambda s, a: admin_views.booking_page(s, a, BookingFilter(status="cancelled"), 100)),
            ("bookings: counts per status (all rows)",
             lambda s, a: admin_views.booking_status_counts(s, a)),
            ("chart: 92 days to today, no filter", chart(PaymentFilter())),
            ("chart: EUR, a week", chart(PaymentFilter(currency="EUR", **week))),
            ("chart: doctor, 92 days", chart(PaymentFilter(doctor_id=world["doctors"][2]))),
            ("CSV: paid + EUR + a week (all rows)",
             lambda s, a: sum(1 for _ in admin_csv.payment_csv(
                 s, a, PaymentFilter(status="paid", currency="EUR", **week), "UTC"))),
        ]  # fmt: skip
        worst = max(timed(engine, label, call) for label, call in cases)
        print(f"  worst p95: {worst:.2f} ms (target 50 ms)")


def main() -> None:
    on_both_databases(run)


if __name__ == "__main__":
    main()
