"""The admin lists' shortcuts at scale equal a direct SQL count, on SQLite and PostgreSQL.

`payment_totals` (kept by triggers on `payments`) must equal `GROUP BY` over the payments after
any mix of inserts, status moves, refunds, flags and deletes, also when many transactions change
payments at once; the list's totals read from it must equal the totals computed from the rows;
the bookings tab's counts must equal the shown status counted row by row; audit rows carry the
kind of their actor; and an email search that names every patient is refused.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, func, select

from efoy_app.domain import admin_views, audit, refund_sync
from efoy_app.domain.errors import ValidationFailed
from efoy_app.models import (
    PAID_STATUSES,
    ROLE_ADMIN,
    AuditLog,
    Booking,
    Cancellation,
    Doctor,
    Payment,
    PaymentTotal,
    Refund,
    User,
    utcnow,
)
from tests.integration.support import BACKENDS, seeded_engine

STATUSES = admin_views.PAYMENT_STATUSES
T0 = datetime(2031, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with seeded_engine(request.param, tmp_path) as eng:
        yield eng


def _world(engine: Engine) -> tuple[User, list[int], int]:
    with Session(engine, expire_on_commit=False) as db:
        admin = db.exec(select(User).where(User.role == ROLE_ADMIN)).first()
        patient = db.exec(select(User).where(User.email == "patient@example.com")).one()
        doctors = list(db.exec(select(Doctor.id).order_by(Doctor.id).limit(3)).all())
        assert admin is not None and len(doctors) >= 2
        return admin, doctors, patient.id


def _clear(db: Session) -> None:
    for table in (Cancellation, Refund, Payment, Booking):
        db.exec(delete(table))


def _direct(db: Session) -> dict[tuple, tuple[int, int, int]]:
    """The payments grouped straight from their table (the truth `payment_totals` mirrors)."""
    doctor = func.coalesce(Payment.doctor_id, sa.literal_column("0"))
    rows = db.exec(
        select(
            Payment.currency,
            Payment.status,
            Payment.flagged,
            doctor,
            func.count(),
            func.sum(Payment.amount_minor),
            func.sum(Payment.amount_refunded_minor),
        ).group_by(Payment.currency, Payment.status, Payment.flagged, doctor)
    ).all()
    return {(c, s, bool(f), d): (n, int(a), int(r)) for c, s, f, d, n, a, r in rows}


def _kept(db: Session) -> dict[tuple, tuple[int, int, int]]:
    rows = db.exec(select(PaymentTotal).where(col(PaymentTotal.n) != 0)).all()
    return {
        (t.currency, t.status, bool(t.flagged), t.doctor_id): (
            t.n,
            int(t.amount_minor),
            int(t.refunded_minor),
        )
        for t in rows
    }


def _brute_totals(db: Session, f: admin_views.PaymentFilter) -> dict[str, tuple[int, int, int]]:
    """Per currency: count, money taken, refunded, from the payment rows themselves."""
    out: dict[str, list[int]] = {}
    for p in db.exec(select(Payment)).all():
        if f.status and p.status != f.status:
            continue
        if f.currency and p.currency != f.currency.upper():
            continue
        if f.flagged and not p.flagged:
            continue
        booking = db.get(Booking, p.booking_id)
        if f.doctor_id is not None and (booking is None or booking.doctor_id != f.doctor_id):
            continue
        got = out.setdefault(p.currency, [0, 0, 0])
        got[0] += 1
        got[1] += p.amount_minor if p.status in PAID_STATUSES else 0
        got[2] += p.amount_refunded_minor
    return {c: (n, paid, back) for c, (n, paid, back) in out.items()}


new_payment = st.fixed_dictionaries(
    {
        "status": st.sampled_from(STATUSES),
        "currency": st.sampled_from(("USD", "EUR", "JPY")),
        "amount": st.integers(1, 100_000),
        "refunded": st.integers(0, 100_000),
        "flagged": st.booleans(),
        "doctor": st.integers(0, 1),
        "explicit_doctor": st.booleans(),  # payment_start sets it; other writers leave it out
    }
)
change = st.tuples(
    st.sampled_from(("status", "refund", "flag", "delete", "currency", "core_status")),
    st.integers(0, 30),
    st.sampled_from(STATUSES),
    st.integers(0, 100_000),
)
summary_filters = st.builds(
    admin_views.PaymentFilter,
    status=st.none() | st.sampled_from(STATUSES),
    currency=st.none() | st.sampled_from(("USD", "eur", "JPY")),
    flagged=st.booleans(),
    doctor_id=st.none() | st.integers(0, 1),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(new_payment, max_size=25),
    changes=st.lists(change, max_size=25),
    filters=st.lists(summary_filters, min_size=1, max_size=4),
)
def test_kept_totals_equal_a_direct_count_after_any_changes(engine, rows, changes, filters):
    admin, doctors, patient = _world(engine)
    with Session(engine) as db:
        _clear(db)
        ids = []
        for i, r in enumerate(rows):
            starts = T0 + timedelta(days=3, minutes=30 * i)
            b = Booking(patient_id=patient, doctor_id=doctors[r["doctor"]], starts_at=starts,
                        ends_at=starts + timedelta(minutes=30), status="cancelled",
                        price_minor=r["amount"], currency=r["currency"])  # fmt: skip
            db.add(b)
            db.flush()
            p = Payment(booking_id=b.id, kind="checkout", status=r["status"],
                        amount_minor=r["amount"], currency=r["currency"], flagged=r["flagged"],
                        amount_refunded_minor=r["refunded"],
                        doctor_id=b.doctor_id if r["explicit_doctor"] else None)  # fmt: skip
            db.add(p)
            db.flush()
            assert p.doctor_id == b.doctor_id  # set by the writer or by the column's default
            ids.append(p.id)
        db.commit()
        for what, pick, status, amount in changes:
            if not ids:
                break
            p = db.get(Payment, ids[pick % len(ids)])
            if p is None:
                continue
            if what == "status":
                audit.change_status(db, p, status, actor="system:test", entity_type="payment")
            elif what == "refund":
                p.amount_refunded_minor = amount
                db.add(p)
            elif what == "flag":
                p.flagged = not p.flagged
                db.add(p)
            elif what == "currency":
                p.currency = "EUR" if p.currency != "EUR" else "USD"
                db.add(p)
            elif what == "core_status":  # SQL that bypasses the ORM is kept too
                db.exec(sa.update(Payment).where(Payment.id == p.id).values(status=status))
            else:
                db.delete(p)
            db.commit()
            db.expire_all()
        assert _kept(db) == _direct(db)
        for f in filters:
            f = admin_views.PaymentFilter(
                status=f.status,
                currency=f.currency,
                flagged=f.flagged,
                doctor_id=None if f.doctor_id is None else doctors[f.doctor_id],
            )
            count, totals = admin_views.payment_totals(db, admin, f)
            got = {t.currency: (t.count, t.paid_minor, t.refunded_minor) for t in totals}
            want = _brute_totals(db, f)
            assert got == want
            assert count == sum(n for n, _, _ in want.values())
            for t in totals:
                assert t.net_minor == t.paid_minor - t.refunded_minor
            page = admin_views.list_payments(db, admin, f, limit=1000)
            assert len(page) == count


def test_a_refund_synced_from_stripe_moves_the_totals(engine):
    """`refund_sync.recompute_payment` (the refunded total and its status) is kept like any
    other change."""
    admin, doctors, patient = _world(engine)
    with Session(engine) as db:
        _clear(db)
        b = Booking(patient_id=patient, doctor_id=doctors[0], starts_at=T0,
                    ends_at=T0 + timedelta(minutes=30), status="confirmed", price_minor=5000,
                    currency="USD")  # fmt: skip
        db.add(b)
        db.flush()
        p = Payment(booking_id=b.id, kind="checkout", status="paid", amount_minor=5000,
                    currency="USD", paid_at=T0)  # fmt: skip
        db.add(p)
        db.commit()
        refund_sync.sync_refunds(
            db, p, [{"id": "re_totals_1", "amount": 2000, "currency": "usd",
                     "status": "succeeded"}], "stripe:evt_totals"
        )  # fmt: skip
        db.commit()
        _, totals = admin_views.payment_totals(db, admin, admin_views.PaymentFilter())
        assert [(t.currency, t.count, t.paid_minor, t.refunded_minor) for t in totals] == [
            ("USD", 1, 5000, 2000)
        ]
        _, partly = admin_views.payment_totals(
            db, admin, admin_views.PaymentFilter(status="partially_refunded")
        )
        assert [t.count for t in partly] == [1]
        assert _kept(db) == _direct(db)


def test_concurrent_transactions_keep_the_totals_exact(engine):
    """Eight sessions move payments of the same currency and doctor (so the same few total
    rows) back and forth at once: no change is lost (PostgreSQL: `n = n + 1` under the row's
    lock; the rows are taken in key order, so opposite moves do not deadlock)."""
    _admin, doctors, patient = _world(engine)
    with Session(engine) as db:
        _clear(db)
        ids = []
        for i in range(40):
            starts = T0 + timedelta(days=10, minutes=30 * i)
            b = Booking(patient_id=patient, doctor_id=doctors[0], starts_at=starts,
                        ends_at=starts + timedelta(minutes=30), status="cancelled",
                        price_minor=1000 + i, currency="USD")  # fmt: skip
            db.add(b)
            db.flush()
            p = Payment(booking_id=b.id, kind="checkout", status=STATUSES[i % 2],
                        amount_minor=1000 + i, currency="USD")  # fmt: skip
            db.add(p)
            db.flush()
            ids.append(p.id)
        db.commit()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            barrier.wait(timeout=30)
            with Session(engine) as db:
                for step in range(15):
                    payment_id = ids[(worker * 5 + step) % len(ids)]
                    p = db.exec(
                        select(Payment).where(Payment.id == payment_id).with_for_update()
                    ).one()
                    to = STATUSES[(STATUSES.index(p.status) + 1 + worker) % len(STATUSES)]
                    audit.change_status(db, p, to, actor="system:test", entity_type="payment")
                    p.amount_refunded_minor = (step * 37) % 500
                    db.add(p)
                    db.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with Session(engine) as db:
        assert _kept(db) == _direct(db)
        assert sum(n for n, _, _ in _kept(db).values()) == 40


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(("held", "confirmed", "completed", "cancelled", "expired")),
            st.none() | st.integers(-120, 120),  # the hold's end, minutes from now
        ),
        max_size=25,
    )
)
def test_booking_counts_per_status_equal_the_shown_status_row_by_row(engine, rows):
    admin, doctors, patient = _world(engine)
    now = utcnow()
    with Session(engine) as db:
        _clear(db)
        for i, (status, hold) in enumerate(rows):
            starts = now + timedelta(days=40, minutes=30 * i)
            db.add(Booking(patient_id=patient, doctor_id=doctors[i % 2], starts_at=starts,
                           ends_at=starts + timedelta(minutes=30), status=status,
                           price_minor=100, currency="USD",
                           hold_expires_at=None if hold is None
                           else now + timedelta(minutes=hold)))  # fmt: skip
        db.commit()
        got = admin_views.booking_status_counts(db, admin)
        shown = Counter()
        for b in db.exec(select(Booking)).all():
            lapsed = b.status == "held" and b.hold_expires_at and b.hold_expires_at <= utcnow()
            shown["expired" if lapsed else b.status] += 1
        assert got == dict(shown)
        for status in ("held", "expired", "confirmed"):
            f = admin_views.BookingFilter(status=status)
            assert admin_views.booking_count(db, admin, f) == shown.get(status, 0)


def test_audit_rows_carry_the_kind_of_their_actor(engine):
    admin, doctors, patient = _world(engine)
    with Session(engine) as db:
        doctor_user = db.exec(select(Doctor.user_id).where(Doctor.id == doctors[0])).one()
        actors = {
            f"user:{admin.id}": "admin",
            f"user:{doctor_user}": "doctor",
            f"user:{patient}": "patient",
            "user:999999999": "patient",  # an unknown user reads as a patient, as before
            "stripe:evt_kind": "stripe",
            "system:reconcile": "system",
            "cli:seed": None,
        }
        rows = [
            audit.record(db, actor=actor, entity_type="booking", entity_id=1, action="kind_test")
            for actor in actors
        ]
        db.commit()
        assert {r.actor: r.actor_kind for r in rows} == actors
        from efoy_app.domain import audit_views

        for kind in audit_views.ACTOR_KINDS:
            listed = audit_views.audit_list(db, admin, audit_views.AuditFilter(actor=kind))
            want = db.exec(
                select(func.count()).select_from(AuditLog).where(AuditLog.actor_kind == kind)
            ).one()
            assert listed.count == want
            assert all(actors.get(r.actor, kind) == kind for r in listed.data)


def test_an_email_search_naming_too_many_patients_is_refused(engine):
    admin, _doctors, _patient = _world(engine)
    with Session(engine) as db:
        db.add_all(
            User(email=f"many{i:03d}@crowd.test", password_hash="!", full_name=f"Many {i}",
                 role="patient", timezone="UTC")
            for i in range(admin_views.SEARCH_PATIENTS_MAX + 1)
        )  # fmt: skip
        db.commit()
        vague = admin_views.PaymentFilter(q="crowd.test")
        with pytest.raises(ValidationFailed, match="more than 100 email addresses"):
            admin_views.payment_page(db, admin, vague, 1)
        with pytest.raises(ValidationFailed):
            admin_views.list_payments(db, admin, vague)
        # A narrower part, an id or a booking number is fine.
        admin_views.payment_page(db, admin, admin_views.PaymentFilter(q="many042@"), 1)
        admin_views.payment_page(db, admin, admin_views.PaymentFilter(q="#12"), 1)
        admin_views.payment_page(db, admin, admin_views.PaymentFilter(q="cs_test_crowd"), 1)
