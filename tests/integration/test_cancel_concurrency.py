"""Ten cancels of one paid booking at the same moment, through the domain on SQLite and
PostgreSQL: one cancellation row, one refund reserved, nine answers that repeat the first.

Run in approval mode and with Stripe unreachable, so the race is the database's alone: the
booking row lock (PostgreSQL) or the write lock (SQLite, BEGIN IMMEDIATE) and the unique
`cancellations.booking_id` decide it; approving at the same moment then reserves one refund.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import stripe
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.domain import booking_cancel
from efoy_app.domain.stripe_gateway import use_client
from efoy_app.models import (
    Booking,
    Cancellation,
    Doctor,
    Payment,
    Refund,
    User,
)
from efoy_app.settings import get_settings
from tests.integration.support import BACKENDS, seeded_engine

RACERS = 10


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with seeded_engine(request.param, tmp_path) as eng:
        yield eng


@pytest.fixture(autouse=True)
def approval_mode_and_no_stripe(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Approval mode, and a Stripe client aimed at a port nothing listens on: an outage (a real
    client; another test's sandbox client, if one is in use, is set aside for this test)."""
    monkeypatch.setenv("EFOY_CANCELLATION_REFUNDS", "approval")
    monkeypatch.setenv("EFOY_ENV", "demo")
    get_settings.cache_clear()
    unreachable = stripe.StripeClient(
        "sk_test_unreachable",
        base_addresses={"api": "http://127.0.0.1:9"},
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
        max_network_retries=0,
    )
    with use_client(unreachable):
        yield
    get_settings.cache_clear()


def paid_booking(engine: Engine) -> tuple[int, int]:
    """A confirmed booking four days ahead with its paid payment; (booking id, patient id)."""
    with Session(engine) as s:
        doctor = s.exec(select(Doctor).order_by(Doctor.id)).first()
        patient = User(email="canceller@example.com", password_hash="!", full_name="Canceller")
        s.add(patient)
        s.flush()
        starts = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=4)
        booking = Booking(
            patient_id=patient.id, doctor_id=doctor.id, starts_at=starts,
            ends_at=starts + timedelta(minutes=30), status="confirmed",
            price_minor=doctor.fee_minor, currency=doctor.currency,
        )  # fmt: skip
        s.add(booking)
        s.flush()
        s.add(
            Payment(
                booking_id=booking.id,
                kind="checkout",
                status="paid",
                amount_minor=doctor.fee_minor,
                currency=doctor.currency,
                stripe_checkout_session_id="cs_test_race",
                stripe_payment_intent_id="pi_race",
                paid_at=datetime.now(UTC),
            )  # fmt: skip
        )
        s.commit()
        return booking.id, patient.id


def race(engine: Engine, work) -> Counter:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(RACERS, timeout=60)
    outcomes: list[str] = []

    def one() -> None:
        with Session(engine, expire_on_commit=False) as s:
            barrier.wait()
            try:
                outcomes.append(work(s))
            except Exception as exc:  # noqa: BLE001 - any other outcome fails the test
                outcomes.append(repr(exc))

    threads = [threading.Thread(target=one) for _ in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return Counter(outcomes)


def test_ten_cancels_then_ten_approvals_reserve_one_refund(engine: Engine) -> None:
    booking_id, patient_id = paid_booking(engine)

    def cancel(s: Session) -> str:
        patient = s.get(User, patient_id)
        outcome = booking_cancel.cancel(s, booking_id=booking_id, actor=patient)
        return "repeated" if outcome.repeated else outcome.cancellation.status

    assert race(engine, cancel) == {"awaiting_approval": 1, "repeated": RACERS - 1}
    with Session(engine) as s:
        (cancellation,) = s.exec(
            select(Cancellation).where(Cancellation.booking_id == booking_id)
        ).all()
        assert s.get(Booking, booking_id).status == "cancelled"
        admin = s.exec(select(User).where(User.role == "admin")).first()
        admin_id, cancellation_id = admin.id, cancellation.id

    def approve(s: Session) -> str:
        outcome = booking_cancel.approve(
            s, cancellation_id=cancellation_id, admin=s.get(User, admin_id)
        )
        return "repeated" if outcome.repeated else ("queued" if outcome.queued else "sent")

    # Stripe is unreachable: the one reserved refund is queued for reconciliation to send.
    assert race(engine, approve) == {"queued": 1, "repeated": RACERS - 1}
    with Session(engine) as s:
        refunds = s.exec(select(Refund)).all()
        assert [(r.amount_minor, r.status, r.stripe_refund_id) for r in refunds] == [
            (s.get(Payment, refunds[0].payment_id).amount_minor, "pending", None)
        ]
        assert s.get(Cancellation, cancellation_id).refund_id == refunds[0].id
