"""Receipt numbers under concurrency, through the real fulfilment path on SQLite and PostgreSQL:
twenty payments confirmed at the same moment get twenty distinct, consecutive numbers; a
transaction that rolls back gives its number back (no gap); refund notes count on their own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.domain import payment_fulfil
from efoy_app.domain.receipt_numbers import next_number
from efoy_app.models import (
    SERIES_RECEIPT,
    SERIES_REFUND_NOTE,
    Booking,
    Doctor,
    OutboxEmail,
    Payment,
    User,
)
from efoy_app.settings import get_settings
from tests.integration.support import BACKENDS, seeded_engine

PAYERS = 20


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    get_settings.cache_clear()
    with seeded_engine(request.param, tmp_path) as eng:
        yield eng


def pending_payments(engine: Engine, count: int) -> list[int]:
    """`count` held bookings of one new patient, days ahead, each with a pending payment."""
    with Session(engine) as s:
        doctor = s.exec(select(Doctor).order_by(Doctor.id)).first()
        patient = User(email="payer@example.com", password_hash="!", full_name="Zoë Ñúñez")
        s.add(patient)
        s.flush()
        first = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=3)
        ids = []
        for i in range(count):
            starts = first + timedelta(hours=i)
            booking = Booking(
                patient_id=patient.id, doctor_id=doctor.id, starts_at=starts,
                ends_at=starts + timedelta(minutes=30), status="held",
                price_minor=doctor.fee_minor, currency=doctor.currency,
                hold_expires_at=datetime.now(UTC) + timedelta(minutes=30),
            )  # fmt: skip
            s.add(booking)
            s.flush()
            payment = Payment(
                booking_id=booking.id, kind="payment_intent", status="pending",
                amount_minor=doctor.fee_minor, currency=doctor.currency,
                stripe_payment_intent_id=f"pi_race_{i}",
            )  # fmt: skip
            s.add(payment)
            s.flush()
            ids.append(payment.id)
        s.commit()
        return ids


def succeeded_intent(payment: Payment) -> dict:
    """A PaymentIntent as Stripe returns it once the card is charged."""
    return {
        "id": payment.stripe_payment_intent_id,
        "status": "succeeded",
        "amount": payment.amount_minor,
        "amount_received": payment.amount_minor,
        "currency": payment.currency.lower(),
        "metadata": {"payment_id": str(payment.id)},
        "latest_charge": {
            "id": f"ch_{payment.id}",
            "created": int(datetime.now(UTC).timestamp()),
            "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}},
        },
    }


def test_twenty_payments_confirmed_at_once_get_twenty_consecutive_numbers(engine: Engine):
    ids = pending_payments(engine, PAYERS)
    barrier = threading.Barrier(PAYERS, timeout=60)
    errors: list[str] = []

    def confirm(payment_id: int) -> None:
        with Session(engine, expire_on_commit=False) as s:
            barrier.wait()
            try:
                payment = s.exec(
                    select(Payment).where(Payment.id == payment_id).with_for_update()
                ).one()
                assert (
                    payment_fulfil.apply_paid(s, payment, succeeded_intent(payment), "test") == []
                )
                s.commit()
            except Exception as exc:  # noqa: BLE001 - any failure fails the test
                errors.append(repr(exc))

    threads = [threading.Thread(target=confirm, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    year = datetime.now(UTC).year  # the clinic's clock is UTC in these tests
    with Session(engine) as s:
        payments = s.exec(select(Payment).where(Payment.id.in_(ids))).all()
        assert {p.status for p in payments} == {"paid"}
        numbers = sorted(p.receipt_number for p in payments)
        assert numbers == [f"EFOY-{year}-{n:06d}" for n in range(1, PAYERS + 1)]
        confirmations = s.exec(select(OutboxEmail).where(OutboxEmail.kind == "confirmation")).all()
        assert sorted(e.payment_id for e in confirmations) == sorted(ids)
        assert all(e.subject.endswith(f"(receipt {p.receipt_number})") for e, p in zip(
            sorted(confirmations, key=lambda e: e.payment_id),
            sorted(payments, key=lambda p: p.id), strict=True,
        ))  # fmt: skip


def test_a_rolled_back_number_is_given_again_and_series_count_apart(engine: Engine):
    with Session(engine) as s:
        assert next_number(s, SERIES_RECEIPT, 2031) == "EFOY-2031-000001"
        s.rollback()  # the payment that took it never committed
    with Session(engine) as s:
        assert next_number(s, SERIES_RECEIPT, 2031) == "EFOY-2031-000001"
        assert next_number(s, SERIES_RECEIPT, 2031) == "EFOY-2031-000002"
        assert next_number(s, SERIES_REFUND_NOTE, 2031) == "EFOY-RN-2031-000001"
        assert next_number(s, SERIES_RECEIPT, 2032) == "EFOY-2032-000001"
        s.commit()
    with Session(engine) as s:
        assert next_number(s, SERIES_RECEIPT, 2031) == "EFOY-2031-000003"
