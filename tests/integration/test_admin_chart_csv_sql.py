"""The chart's days and the CSV's batches, in SQL on SQLite and PostgreSQL, against brute force.

Payments and refunds are generated around a daylight-saving change of the clinic's zone
(New York, 9 March 2031: that day has 23 hours), so a day cut at a fixed offset would put the
evening's money on the wrong day. The chart must equal a plain Python sum per local day; the CSV
(one row per batch, many created at the same instant) must list exactly `payment_list`'s rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, delete, select

from efoy_app.domain import admin_chart, admin_csv, admin_views
from efoy_app.models import (
    PAID_STATUSES,
    ROLE_ADMIN,
    Booking,
    Doctor,
    Payment,
    Refund,
    User,
)
from tests.integration.support import BACKENDS, seeded_engine

TZ = "America/New_York"
T0 = datetime(2031, 3, 7, 0, 0, tzinfo=UTC)  # two days before the change
TODAY = date(2031, 3, 12)
STATUSES = ("pending", "paid", "partially_refunded", "refunded", "failed")
REFUND_STATUSES = ("succeeded", "failed", "pending")


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with seeded_engine(request.param, tmp_path) as eng:
        yield eng


def _ids(engine: Engine) -> tuple[User, list[int], int]:
    with Session(engine, expire_on_commit=False) as db:
        admin = db.exec(select(User).where(User.role == ROLE_ADMIN)).first()
        patient = db.exec(select(User).where(User.email == "patient@example.com")).one()
        doctors = list(db.exec(select(Doctor.id).order_by(Doctor.id).limit(2)).all())
        assert admin is not None
        return admin, doctors, patient.id


def _write(engine: Engine, rows: list[dict]) -> None:
    """Replace every payment, refund and booking by `rows` (a fresh database per test)."""
    _admin, doctors, patient = _ids(engine)
    with Session(engine) as db:
        db.exec(delete(Refund))
        db.exec(delete(Payment))
        db.exec(delete(Booking))
        for i, r in enumerate(rows):
            starts = T0 + timedelta(days=30, minutes=30 * i)
            b = Booking(patient_id=patient, doctor_id=doctors[r["doctor"]], starts_at=starts,
                        ends_at=starts + timedelta(minutes=30), status="cancelled",
                        price_minor=r["amount"], currency=r["currency"])  # fmt: skip
            db.add(b)
            db.flush()
            created = T0 + timedelta(minutes=r["minutes"])
            paid = r["status"] in PAID_STATUSES
            p = Payment(booking_id=b.id, kind="checkout", status=r["status"],
                        amount_minor=r["amount"], currency=r["currency"], created_at=created,
                        paid_at=created + timedelta(minutes=r["paid_after"]) if paid else None,
                        flagged=r["flagged"])  # fmt: skip
            db.add(p)
            db.flush()
            for amount, status, after in r["refunds"] if paid else []:
                at = created + timedelta(minutes=after)
                db.add(Refund(payment_id=p.id, amount_minor=amount, currency=r["currency"],
                              status=status, created_at=at, updated_at=at))  # fmt: skip
        db.commit()


payment = st.fixed_dictionaries(
    {
        "status": st.sampled_from(STATUSES),
        "currency": st.sampled_from(("USD", "EUR")),
        "amount": st.integers(1, 10_000),
        # Created within 5 days of T0 to the minute, many at the very same instant, some at the
        # edges of the 23-hour day (9 March 00:00 EST, 23:59 EDT, 10 March 00:00 EDT).
        "minutes": st.integers(0, 5 * 24 * 60)
        | st.sampled_from((0, 60 * 53, 60 * 75 + 59, 60 * 76)),
        "paid_after": st.integers(0, 600),
        "flagged": st.booleans(),
        "doctor": st.integers(0, 1),
        "refunds": st.lists(
            st.tuples(
                st.integers(1, 500), st.sampled_from(REFUND_STATUSES), st.integers(0, 3 * 24 * 60)
            ),
            max_size=2,
        ),  # fmt: skip
    }
)
filters = st.builds(
    admin_views.PaymentFilter,
    status=st.none() | st.sampled_from(STATUSES),
    currency=st.none() | st.sampled_from(("USD", "eur")),
    flagged=st.booleans(),
    date_field=st.sampled_from(("created_at", "paid_at")),
    date_from=st.none() | st.sampled_from((date(2031, 3, 8), date(2031, 3, 9), date(2030, 1, 1))),
    date_to=st.none() | st.sampled_from((date(2031, 3, 9), date(2031, 3, 10), date(2031, 3, 12))),
    tz=st.just(TZ),
)


def _local_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(TZ)).date()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(payment, max_size=20), f=filters)
def test_the_chart_sums_money_per_local_day_like_brute_force(engine, rows, f):
    if f.date_from and f.date_to and f.date_from > f.date_to:
        return
    _write(engine, rows)
    admin, _doctors, _patient = _ids(engine)
    with Session(engine) as db:
        found = admin_views.payment_list(db, admin, f, limit=1000)
        chart = admin_chart.payment_chart(db, admin, f, found.totals, TODAY)
        ids = {p.id for p in found.data}
        payments = [p for p in db.exec(select(Payment)).all() if p.id in ids]
        refunds = [r for r in db.exec(select(Refund)).all() if r.payment_id in ids]
    first, last, clipped = admin_chart.chart_window(f, TODAY)
    assert (chart.first, chart.last, chart.clipped) == (first, last, clipped)
    assert len(chart.days) == (last - first).days + 1 <= admin_chart.MAX_DAYS
    if not payments:
        assert chart.currency == (f.currency.upper() if f.currency else None)
        assert all(d.paid_count == d.refunded_count == 0 for d in chart.days)
        return
    counts = {t.currency: t.count for t in found.totals}
    if f.currency:
        assert chart.currency == f.currency.upper()
    else:
        assert counts[chart.currency] == max(counts.values())
    want = {}
    for d in chart.days:
        taken = [p for p in payments if p.currency == chart.currency and p.paid_at
                 and p.status in PAID_STATUSES and _local_day(p.paid_at) == d.day]  # fmt: skip
        back = [r for r in refunds if r.status == "succeeded" and r.currency == chart.currency
                and _local_day(r.created_at) == d.day]  # fmt: skip
        want[d.day] = (len(taken), sum(p.amount_minor for p in taken), len(back),
                       sum(r.amount_minor for r in back))  # fmt: skip
    got = {d.day: (d.paid_count, d.paid_minor, d.refunded_count, d.refunded_minor)
           for d in chart.days}  # fmt: skip
    assert got == want


def test_a_long_range_shows_its_last_92_days_and_an_empty_filter_the_92_to_today():
    f = admin_views.PaymentFilter(date_from=date(2030, 1, 1), date_to=date(2031, 3, 12))
    assert admin_chart.chart_window(f, TODAY) == (date(2030, 12, 11), date(2031, 3, 12), True)
    assert admin_chart.chart_window(admin_views.PaymentFilter(), TODAY) == (
        date(2030, 12, 11), TODAY, False,
    )  # fmt: skip
    later = admin_views.PaymentFilter(date_from=date(2031, 4, 1))
    assert admin_chart.chart_window(later, TODAY) == (date(2031, 4, 1), date(2031, 4, 1), False)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(payment, max_size=15), f=filters, batch=st.integers(1, 4))
def test_the_csv_lists_the_rows_of_payment_list_batch_by_batch(engine, rows, f, batch):
    if f.date_from and f.date_to and f.date_from > f.date_to:
        return
    _write(engine, rows)
    admin, _doctors, _patient = _ids(engine)
    with Session(engine) as db:
        want = [p.id for p in admin_views.payment_list(db, admin, f, limit=1000).data]
    with Session(engine) as db:
        text = "".join(admin_csv.payment_csv(db, admin, f, TZ, batch=batch))
        assert not db.in_transaction()  # every batch ended its transaction
    got = [int(r["payment_id"]) for r in csv.DictReader(io.StringIO(text))]
    assert got == want


def test_a_one_day_window_is_one_bar(engine):
    """The DST day itself (23 hours in New York): one CASE-less bucket, the whole day's money."""
    base = {"currency": "USD", "flagged": False, "doctor": 0, "refunds": [], "paid_after": 0}
    _write(engine, [
        {**base, "status": "paid", "amount": 700, "minutes": 60 * 53},  # 9 Mar 00:00 EST
        {**base, "status": "paid", "amount": 300, "minutes": 60 * 75 + 59},  # 23:59 EDT
        {**base, "status": "paid", "amount": 5, "minutes": 60 * 76},  # 10 Mar 00:00 EDT
    ])  # fmt: skip
    admin, _doctors, _patient = _ids(engine)
    day = date(2031, 3, 9)
    f = admin_views.PaymentFilter(date_field="paid_at", date_from=day, date_to=day, tz=TZ)
    with Session(engine) as db:
        _count, totals = admin_views.payment_totals(db, admin, f)
        chart = admin_chart.payment_chart(db, admin, f, totals, TODAY)
    assert [(d.day, d.paid_count, d.paid_minor) for d in chart.days] == [(day, 2, 1000)]
