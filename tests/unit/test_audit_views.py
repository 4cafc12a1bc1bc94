"""The audit list's filters against a brute-force reading of the same rows, the object a person
types ("booking 12", "#12"), and each row as a sentence."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from efoy_app.domain import audit_views
from efoy_app.domain.audit_views import AuditFilter, parse_object
from efoy_app.domain.errors import Forbidden, ValidationFailed
from efoy_app.models import ROLE_ADMIN, ROLE_DOCTOR, AuditLog, User
from efoy_app.routes import MAX_ID
from efoy_app.state.admin_audit import sentence_of
from tests.unit.conftest import add_user

START = datetime(2026, 3, 1, 21, 30, tzinfo=UTC)  # 00:30 on 2 March in Addis Ababa (UTC+3)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("booking 12", ("booking", 12)),
        ("Payment #3", ("payment", 3)),
        ("  refund#7 ", ("refund", 7)),
        ("webhook event 4", ("webhook_event", 4)),
        ("#12", (None, 12)),
        ("12", (None, 12)),
        ("booking", ("booking", None)),
        ("", (None, None)),
        (f"booking {2**63}", ("booking", -1)),
        (f"#{MAX_ID}", (None, MAX_ID)),
    ],
)
def test_an_object_as_typed(typed: str, expected: tuple) -> None:
    assert parse_object(typed) == expected


@pytest.mark.parametrize("typed", ["invoice 12", "12 booking", "booking 1 2", "x" * 61, "#-3"])
def test_an_object_that_is_not_one_is_refused(typed: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_object(typed)


@pytest.fixture
def world(session: Session) -> dict:
    """200 audit rows by admins, patients, a doctor, Stripe and the system over 10 days."""
    admin = add_user(session, email="root@example.com", role=ROLE_ADMIN)
    admin2 = add_user(session, email="root2@example.com", role=ROLE_ADMIN)
    doctor = add_user(session, email="doc@example.com", role=ROLE_DOCTOR)
    patients = [add_user(session, email=f"p{i}@example.com") for i in range(3)]
    actors = [f"user:{u.id}" for u in (admin, admin2, doctor, *patients)]
    actors += ["stripe:evt_1", "stripe:evt_2", "system:reconcile", "system:hold-expiry"]
    rnd = random.Random(7)
    for _ in range(200):
        session.add(
            AuditLog(
                at=START + timedelta(hours=rnd.randrange(240)),
                actor=rnd.choice(actors),
                entity_type=rnd.choice(audit_views.OBJECT_TYPES),
                entity_id=rnd.randrange(1, 6),
                action="status_changed",
                from_status="pending",
                to_status="paid",
            )
        )
    session.commit()
    return {
        "admin": admin,
        "admins": {f"user:{admin.id}", f"user:{admin2.id}"},
        "patients": {f"user:{p.id}" for p in patients},
    }


def _all(session: Session) -> list[AuditLog]:
    rows = list(session.exec(select(AuditLog)).all())
    return sorted(rows, key=lambda r: (r.at, r.id), reverse=True)


def _day(moment: datetime) -> date:
    return (moment + timedelta(hours=3)).date()  # Addis Ababa has no daylight saving


def test_filters_match_a_brute_force_reading(session: Session, world: dict) -> None:
    rows = _all(session)
    admin = world["admin"]
    cases = {
        AuditFilter(): lambda r: True,
        AuditFilter(actor="admin"): lambda r: r.actor in world["admins"],
        AuditFilter(actor="patient"): lambda r: r.actor in world["patients"],
        AuditFilter(actor="stripe"): lambda r: r.actor.startswith("stripe:"),
        AuditFilter(actor="system"): lambda r: r.actor.startswith("system:"),
        AuditFilter(actor=f"user:{admin.id}"): lambda r: r.actor == f"user:{admin.id}",
        AuditFilter(object_type="refund"): lambda r: r.entity_type == "refund",
        AuditFilter(object_type="booking", object_id=3): (
            lambda r: (r.entity_type, r.entity_id) == ("booking", 3)
        ),
        AuditFilter(object_id=2): lambda r: r.entity_id == 2,
        AuditFilter(
            actor="stripe",
            date_from=date(2026, 3, 4),
            date_to=date(2026, 3, 5),
            tz="Africa/Addis_Ababa",
        ): (
            lambda r: r.actor.startswith("stripe:")
            and date(2026, 3, 4) <= _day(r.at) <= date(2026, 3, 5)
        ),
        AuditFilter(date_from=date(2026, 3, 2), date_to=date(2026, 3, 2),
                    tz="Africa/Addis_Ababa"): (
            lambda r: _day(r.at) == date(2026, 3, 2)
        ),
    }  # fmt: skip
    for f, keep in cases.items():
        wanted = [r.id for r in rows if keep(r)]
        assert wanted, f"the case {f} matches nothing: the test data is too thin"
        got = audit_views.audit_list(session, admin, f, limit=200)
        assert (got.count, [r.id for r in got.data]) == (len(wanted), wanted), f
        page2 = audit_views.audit_list(session, admin, f, limit=7, offset=7)
        assert [r.id for r in page2.data] == wanted[7:14], f


def test_bad_filters_are_refused_and_patients_see_nothing(session: Session, world: dict) -> None:
    admin = world["admin"]
    for f in (
        AuditFilter(actor="robot"),
        AuditFilter(object_type="invoice"),
        AuditFilter(date_from=date(2026, 3, 5), date_to=date(2026, 3, 4)),
        AuditFilter(date_from=date(1999, 12, 31)),
    ):
        with pytest.raises(ValidationFailed):
            audit_views.audit_list(session, admin, f)
    with pytest.raises(ValidationFailed):
        audit_views.audit_list(session, admin, AuditFilter(), limit=0)
    patient = session.get(User, int(next(iter(world["patients"])).split(":")[1]))
    with pytest.raises(Forbidden):
        audit_views.audit_list(session, patient, AuditFilter())


def test_rows_read_as_sentences(session: Session, world: dict) -> None:
    admin = world["admin"]
    row = audit_views.AuditRow(
        id=1, at=START, actor=f"user:{admin.id}", actor_name="Root Admin",
        actor_email="root@example.com", entity_type="payment", entity_id=12,
        action="status_changed", from_status="pending", to_status="paid",
        reason="payment succeeded", details=None, currency="USD",
    )  # fmt: skip
    said = sentence_of(row, "Africa/Addis_Ababa")
    assert said.sentence == "Root Admin moved payment #12 from Pending to Paid."
    assert said.why == "Stripe reported the payment as succeeded."
    assert (said.at, said.actor_detail) == ("Mon 2 Mar 2026, 00:30 EAT", "root@example.com")
    refund = audit_views.AuditRow(
        id=2, at=START, actor="stripe:evt_9", actor_name=None, actor_email=None,
        entity_type="refund", entity_id=4, action="refund_requested", from_status=None,
        to_status="pending", reason="doctor ran late", details={"amount_minor": 1500},
        currency="EUR",
    )  # fmt: skip
    said = sentence_of(refund, "UTC")
    assert said.sentence == "Stripe webhook: Refund requested, refund #4, now Pending."
    assert said.why == "A refund of €15.00 was asked for: doctor ran late."
    assert said.actor_detail == "Event evt_9"
