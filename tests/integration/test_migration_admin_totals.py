"""Revision f9a0b1c2d3e4 on a database that already has payments and audit rows, on SQLite and
PostgreSQL: it backfills each payment's doctor, the per-currency totals and each audit row's kind
of actor, and from then on its triggers keep the totals; it goes down and up again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tests.integration.test_migrations import alembic, empty_db  # noqa: F401 - the fixture

BEFORE = "e8f9a0b1c2d3"
NOW = datetime(2031, 1, 2, 3, 4, tzinfo=UTC)


def _insert(conn: sa.Connection, table: str, **values: Any) -> int:
    """A row with `values`, every other required column filled with a plain value."""
    t = sa.Table(table, sa.MetaData(), autoload_with=conn)
    row = dict(values)
    for c in t.columns:
        if c.name in row or c.nullable or c.primary_key or c.server_default is not None:
            continue
        kind = c.type.python_type
        row[c.name] = {int: 0, str: "x", bool: False, datetime: NOW}.get(kind, "x")
    return conn.execute(t.insert().values(**row).returning(t.c.id)).scalar_one()


def _totals(conn: sa.Connection) -> set[tuple]:
    return {
        tuple(r)
        for r in conn.execute(
            sa.text(
                "SELECT currency, status, flagged, doctor_id, n, amount_minor, refunded_minor"
                " FROM payment_totals WHERE n <> 0"
            )
        )
    }


def _direct(conn: sa.Connection) -> set[tuple]:
    return {
        tuple(r)
        for r in conn.execute(
            sa.text(
                "SELECT currency, status, flagged, COALESCE(doctor_id, 0), COUNT(*),"
                " SUM(amount_minor), SUM(amount_refunded_minor) FROM payments"
                " GROUP BY currency, status, flagged, COALESCE(doctor_id, 0)"
            )
        )
    }


def test_the_revision_backfills_and_then_keeps_the_totals(empty_db: str) -> None:  # noqa: F811
    alembic(empty_db, "upgrade", BEFORE)
    engine = sa.create_engine(empty_db)
    try:
        with engine.begin() as conn:
            admin = _insert(conn, "users", email="a@x.test", role="admin")
            doc_user = _insert(conn, "users", email="d@x.test", role="doctor")
            other_doc = _insert(conn, "users", email="e@x.test", role="doctor")
            patient = _insert(conn, "users", email="p@x.test", role="patient")
            doctors = [
                _insert(conn, "doctors", user_id=doc_user, currency="USD"),
                _insert(conn, "doctors", user_id=other_doc, currency="EUR"),
            ]
            payments = []
            for i, (doctor, status, currency, amount, back) in enumerate(
                [
                    (doctors[0], "paid", "USD", 5000, 0),
                    (doctors[0], "partially_refunded", "USD", 5000, 1500),
                    (doctors[1], "paid", "EUR", 4000, 0),
                    (doctors[1], "pending", "EUR", 4000, 0),
                ]
            ):
                booking = _insert(
                    conn, "bookings", patient_id=patient, doctor_id=doctor, status="confirmed",
                    price_minor=amount, currency=currency,
                    starts_at=datetime(2031, 2, 1, 9 + i, tzinfo=UTC),
                )  # fmt: skip
                payments.append(
                    _insert(
                        conn, "payments", booking_id=booking, kind="checkout", status=status,
                        amount_minor=amount, currency=currency, amount_refunded_minor=back,
                        flagged=False,
                    )
                )  # fmt: skip
            for actor in (f"user:{admin}", f"user:{doc_user}", f"user:{patient}",
                          "stripe:evt_1", "system:reconcile"):  # fmt: skip
                _insert(conn, "audit_log", actor=actor, entity_type="payment", entity_id=1,
                        action="status_changed")  # fmt: skip
        alembic(empty_db, "upgrade", "head")
        with engine.begin() as conn:
            got = dict(conn.execute(sa.text("SELECT id, doctor_id FROM payments")).all())
            assert got == dict(zip(payments, [doctors[0]] * 2 + [doctors[1]] * 2, strict=True))
            assert _totals(conn) == _direct(conn)
            assert ("USD", "partially_refunded", False, doctors[0], 1, 5000, 1500) in {
                (c, s, bool(f), d, n, a, r) for c, s, f, d, n, a, r in _totals(conn)
            }
            kinds = dict(conn.execute(sa.text("SELECT actor, actor_kind FROM audit_log")).all())
            assert kinds == {
                f"user:{admin}": "admin",
                f"user:{doc_user}": "doctor",
                f"user:{patient}": "patient",
                "stripe:evt_1": "stripe",
                "system:reconcile": "system",
            }
            # The triggers keep the totals from now on: a status move, a refund, a delete.
            conn.execute(
                sa.text("UPDATE payments SET status = 'refunded', amount_refunded_minor = 5000"
                        " WHERE id = :id"), {"id": payments[0]}
            )  # fmt: skip
            conn.execute(sa.text("DELETE FROM payments WHERE id = :id"), {"id": payments[3]})
            assert _totals(conn) == _direct(conn)
    finally:
        engine.dispose()
    alembic(empty_db, "downgrade", BEFORE)
    alembic(empty_db, "upgrade", "head")
    engine = sa.create_engine(empty_db)
    try:
        with engine.begin() as conn:
            assert _totals(conn) == _direct(conn)
    finally:
        engine.dispose()
