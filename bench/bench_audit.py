"""Figures for the audit tab at scale (prints numbers; not a pass/fail test).

The same world as `bench_admin` (100 000 payments, 300 000 audit rows), with the audit rows' actors
spread as a live clinic's would be: 45 % Stripe events (each its own id), 15 % the system, 5 % the
admin, 35 % patients (5 000 of them), then `VACUUM ANALYZE` on PostgreSQL. Each line times
`audit_views.audit_list`: a page of 50, its count, the actors' names and the currencies (what the
page and `GET /api/v1/admin/audit` run).

    .venv/bin/python -m bench.bench_audit      # SQLite (temp file)
    TEST_DATABASE_URL=postgresql+psycopg://root@127.0.0.1:5432/test \
        .venv/bin/python -m bench.bench_audit

The target is p95 <= 50 ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.bench_admin import AUDIT, PAGE, seed, timed
from bench.bench_booking import on_both_databases
from efoy_app.domain import audit_views
from efoy_app.domain.audit_views import AuditFilter
from efoy_app.models import User


def spread_actors(engine: Engine) -> dict:
    """Give the seeded audit rows the actors of a live clinic (one UPDATE per kind)."""
    t0 = time.perf_counter()
    with engine.begin() as conn:
        admin = conn.execute(sa.select(User.id).where(User.email == "admin@bench.test")).scalar()
        first = conn.execute(sa.select(sa.func.min(User.id)).where(User.role == "patient")).scalar()
        kinds = [
            ("id % 20 < 9", "'stripe:evt_' || CAST(id AS TEXT)", "stripe"),
            ("id % 20 IN (9, 10, 11)", "'system:reconcile'", "system"),
            ("id % 20 = 12", f"'user:{admin}'", "admin"),
            ("id % 20 > 12", f"'user:' || CAST((id * 7) % 5000 + {first} AS TEXT)", "patient"),
        ]
        for where, value, kind in kinds:  # the kind as `audit.record` would have stored it
            conn.execute(
                sa.text(f"UPDATE audit_log SET actor = {value}, actor_kind = :kind WHERE {where}"),
                {"kind": kind},
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # PostgreSQL: VACUUM sets the visibility map that index-only scans need, as autovacuum
        # does on a live table within minutes of a bulk update; SQLite: plain statistics.
        vacuum = "VACUUM ANALYZE audit_log" if engine.dialect.name == "postgresql" else "ANALYZE"
        conn.execute(sa.text(vacuum))
    print(f"  spread the actors of {AUDIT} audit rows in {time.perf_counter() - t0:.1f} s")
    return {"admin": admin, "patient": first + 42}


def listing(f: AuditFilter, offset: int = 0) -> Callable[[Session, User], object]:
    def call(s: Session, admin: User) -> object:
        got = audit_views.audit_list(s, admin, f, limit=PAGE, offset=offset)
        assert offset >= got.count or got.data, "an empty page where rows were expected"
        return got

    return call


def run(name: str, engine_cm: Callable[[], AbstractContextManager[Engine]]) -> None:
    print(f"{name}:")
    with engine_cm() as engine:
        world = seed(engine)
        who = spread_actors(engine)
        mid: date = world["mid"].date()
        week = {"date_from": mid, "date_to": mid + timedelta(days=6), "tz": "Africa/Addis_Ababa"}
        some_payment = 50_000  # entity ids run 1..100 000
        cases = [
            ("first page + count", listing(AuditFilter())),
            ("offset 50 000", listing(AuditFilter(), 50_000)),
            ("last page (offset 299 950)", listing(AuditFilter(), AUDIT - PAGE)),
            ("actor=stripe", listing(AuditFilter(actor="stripe"))),
            ("actor=system", listing(AuditFilter(actor="system"))),
            ("actor=admin", listing(AuditFilter(actor="admin"))),
            ("actor=admin, offset 10 000", listing(AuditFilter(actor="admin"), 10_000)),
            ("actor=patient", listing(AuditFilter(actor="patient"))),
            ("actor=patient, offset 50 000", listing(AuditFilter(actor="patient"), 50_000)),
            ("one patient (user:<id>)", listing(AuditFilter(actor=f"user:{who['patient']}"))),
            ("object type=payment", listing(AuditFilter(object_type="payment"))),
            ("object type=refund, offset 50 000",
             listing(AuditFilter(object_type="refund"), 50_000)),
            ("one payment (payment <id>)",
             listing(AuditFilter(object_type="payment", object_id=some_payment))),
            ("a week (clinic days)", listing(AuditFilter(**week))),
            ("a week, actor=stripe", listing(AuditFilter(actor="stripe", **week))),
            ("a week, actor=admin, type=booking",
             listing(AuditFilter(actor="admin", object_type="booking", **week))),
        ]  # fmt: skip
        worst = max(timed(engine, label, call) for label, call in cases)
        print(f"  worst p95: {worst:.2f} ms (target 50 ms)")


def main() -> None:
    on_both_databases(run)


if __name__ == "__main__":
    main()
