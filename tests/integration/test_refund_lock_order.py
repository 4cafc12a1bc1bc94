"""Refund settlement and the webhook's refund sync take their row locks in one order (the payment,
then its refunds), so they wait for each other instead of deadlocking.

Found by the PostgreSQL pass: an admin's refund, settled right after Stripe answered, locked the
refund row first; its second update of that row (the refund note's number) made PostgreSQL's
foreign-key check wait for the payment row, which the webhook's `charge.refunded` held while it
waited for the refund row: "deadlock detected", and the admin saw 503. Here the webhook's side is
played by a transaction that holds the payment and then updates the refund, as `sync_refunds` does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.domain import refunds
from efoy_app.domain.refund_sync import apply_stripe_refund, recompute_payment
from efoy_app.models import Booking, Doctor, Payment, Refund, User
from efoy_app.settings import get_settings
from tests.integration.support import BACKENDS, seeded_engine

WEBHOOK_DELAY = 1.0  # long enough for the settling side to reach the payment's lock


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    get_settings.cache_clear()
    with seeded_engine(request.param, tmp_path) as eng:
        yield eng


def paid_payment_with_a_pending_refund(engine: Engine) -> tuple[int, int]:
    with Session(engine) as s:
        doctor = s.exec(select(Doctor).order_by(Doctor.id)).first()
        patient = User(email="locks@example.com", password_hash="!", full_name="Abebe Bikila")
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
        payment = Payment(
            booking_id=booking.id, kind="payment_intent", status="paid",
            amount_minor=doctor.fee_minor, currency=doctor.currency,
            stripe_payment_intent_id="pi_lock_order",
        )  # fmt: skip
        s.add(payment)
        s.flush()
        refund = Refund(
            payment_id=payment.id, amount_minor=doctor.fee_minor // 4, currency=doctor.currency,
            reason="doctor ran late", stripe_idempotency_key="refund-lock-order", attempts=1,
        )  # fmt: skip
        s.add(refund)
        s.commit()
        return payment.id, refund.id


def test_settling_a_refund_while_the_webhook_holds_its_payment(engine: Engine) -> None:
    payment_id, refund_id = paid_payment_with_a_pending_refund(engine)
    webhook_holds_payment = threading.Event()
    settling_started = threading.Event()
    errors: list[BaseException] = []

    def webhook() -> None:
        try:
            with Session(engine) as s:
                s.exec(select(Payment).where(Payment.id == payment_id).with_for_update()).one()
                webhook_holds_payment.set()
                settling_started.wait(10)
                threading.Event().wait(WEBHOOK_DELAY)
                refund = s.exec(select(Refund).where(Refund.id == refund_id)).one()
                refund.last_error = None
                refund.updated_at = datetime.now(UTC)
                s.add(refund)
                s.commit()
        except BaseException as exc:  # noqa: BLE001  (reported by the main thread)
            errors.append(exc)

    def settle() -> None:
        """What `refunds.submit_refund` does once Stripe has answered."""
        try:
            webhook_holds_payment.wait(10)
            with Session(engine, expire_on_commit=False) as s:
                settling_started.set()
                refund = refunds._lock_refund(s, refund_id)
                stripe_refund = {"id": "re_lock_order", "status": "succeeded"}
                apply_stripe_refund(s, refund, stripe_refund, actor="system:refunds")
                recompute_payment(s, s.get(Payment, payment_id), actor="system:refunds")
                s.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=webhook), threading.Thread(target=settle)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    with Session(engine) as s:
        refund = s.get(Refund, refund_id)
        payment = s.get(Payment, payment_id)
        assert (refund.status, refund.stripe_refund_id) == ("succeeded", "re_lock_order")
        assert refund.note_number is not None and refund.note_number.startswith("EFOY-RN-")
        assert (payment.status, payment.amount_refunded_minor) == (
            "partially_refunded",
            refund.amount_minor,
        )
