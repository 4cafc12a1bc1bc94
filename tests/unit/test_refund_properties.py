"""Refund arithmetic under any sequence of refunds, outages, lost answers, retries,
reconciliation passes, late bank failures and Dashboard refunds (hypothesis).

Stripe is the one thing replaced here: a small in-memory Stripe with its idempotency rules (the
same key returns the first result; an answer can be lost after the work is done; it refuses to
refund more than was charged). Everything of ours is the real domain code on a real SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from types import SimpleNamespace
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine, select

from efoy_app.domain import refunds
from efoy_app.domain.errors import DomainError
from efoy_app.models import PAYMENT_PAID, REFUND_FAILED, Payment, Refund

PAID = 10_000
PI = "pi_property"


@dataclass
class FakeStripe:
    """Stripe's refunds as far as the ledger can tell: idempotent keys, lost answers, a cap."""

    mode: str = "ok"  # ok | down (nothing done) | lost (done, answer lost)
    made: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: count(1))

    def refunded(self) -> int:
        return sum(r["amount"] for r in self.made if r["status"] == "succeeded")

    def create(self, params: dict[str, Any], options: dict[str, Any] | None = None) -> dict:
        key = (options or {}).get("idempotency_key")
        if self.mode == "down":
            raise stripe.APIConnectionError("Stripe is down")
        if key in self.by_key:
            result = self.by_key[key]
        else:
            amount = params.get("amount") or PAID - self.refunded()
            if amount > PAID - self.refunded():
                raise stripe.InvalidRequestError(
                    "Refund amount is greater than unrefunded amount on charge.",
                    param="amount",
                    code="amount_too_large",
                )
            result = {
                "id": f"re_{next(self.ids)}",
                "object": "refund",
                "amount": amount,
                "currency": "usd",
                "status": "succeeded",
                "payment_intent": PI,
                "metadata": dict(params.get("metadata") or {}),
            }
            self.made.append(result)
            if key:
                self.by_key[key] = result
        if self.mode == "lost":
            raise stripe.APIConnectionError("The answer was lost")
        return dict(result)

    def list(self, params: dict[str, Any]) -> SimpleNamespace:
        if self.mode == "down":
            raise stripe.APIConnectionError("Stripe is down")
        return SimpleNamespace(data=[dict(r) for r in self.made])


@contextmanager
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Session, FakeStripe, int]]:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    SQLModel.metadata.create_all(engine)
    fake = FakeStripe()
    client = SimpleNamespace(v1=SimpleNamespace(refunds=fake))
    monkeypatch.setattr(refunds, "get_stripe", lambda: client)
    with Session(engine, expire_on_commit=False) as db:
        payment = Payment(
            booking_id=1,
            kind="checkout",
            amount_minor=PAID,
            currency="USD",
            status=PAYMENT_PAID,
            stripe_payment_intent_id=PI,
        )
        db.add(payment)
        db.commit()
        yield db, fake, payment.id
    engine.dispose()


MODES = st.sampled_from(["ok", "ok", "down", "lost"])
AMOUNTS = st.one_of(st.none(), st.integers(1, PAID), st.sampled_from([1, 1000, 2500, PAID]))
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("ask"), AMOUNTS, st.sampled_from(["late", "goodwill"]), MODES),
        st.tuples(st.just("retry"), MODES),
        st.tuples(st.just("reconcile"), MODES),
        st.tuples(st.just("webhooks")),
        st.tuples(st.just("bank_fails"), st.integers(0, 20)),
        st.tuples(st.just("dashboard"), st.integers(1, PAID)),
    ),
    max_size=25,
)


def _rows(db: Session, payment_id: int) -> list[Refund]:
    db.rollback()
    return list(db.exec(select(Refund).where(Refund.payment_id == payment_id)).all())


def _sync(db: Session, fake: FakeStripe, payment_id: int) -> None:
    """What the refund webhooks do: apply everything Stripe knows for the payment."""
    db.rollback()
    payment = db.get(Payment, payment_id)
    refunds.sync_refunds(db, payment, [dict(r) for r in fake.made], actor="stripe:evt")
    db.commit()


def _submit(db: Session, refund_id: int) -> bool | None:
    """What reconciliation does with a queued row; True if it is still queued, None if Stripe
    refused it (e.g. a Dashboard refund took the room meanwhile: the row is failed)."""
    try:
        return refunds.submit_refund(db, refund_id).queued
    except refunds.RefundRejected:
        db.rollback()
        return None


def _check(db: Session, fake: FakeStripe, payment_id: int) -> None:
    rows = _rows(db, payment_id)
    accepted = [r for r in rows if r.status in refunds.RESERVING and r.stripe_refund_id]
    assert sum(r.amount_minor for r in accepted) <= PAID
    if not any(r.requested_by_user_id is None for r in rows):
        # Only our own requests: what they reserve never exceeds the payment. (A Dashboard
        # refund made while one of ours is queued can: Stripe then refuses ours, see below.)
        assert sum(r.amount_minor for r in rows if r.status in refunds.RESERVING) <= PAID
    assert fake.refunded() <= PAID
    payment = db.get(Payment, payment_id)
    assert 0 <= payment.amount_refunded_minor <= PAID
    # Every ledger row is at most one refund at Stripe: no row is ever paid twice.
    keys = [r["metadata"].get("efoy_refund_key") for r in fake.made]
    ours = [k for k in keys if k]
    assert len(ours) == len(set(ours))
    assert len(ours) <= len(rows)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_no_sequence_refunds_more_than_paid_or_any_request_twice(
    monkeypatch: pytest.MonkeyPatch, ops: list[tuple]
) -> None:
    with world(monkeypatch) as (db, fake, payment_id):
        last_ask: tuple[int | None, str] | None = None
        last_queued = False
        for op in ops:
            kind = op[0]
            before = len(_rows(db, payment_id))
            if kind in ("ask", "retry"):
                if kind == "ask":
                    _, amount, reason, mode = op
                    last_ask = (amount, reason)
                elif last_ask is None:
                    continue
                else:
                    _, mode = op
                    amount, reason = last_ask
                fake.mode = mode
                try:
                    outcome = refunds.refund_payment(
                        db,
                        payment=db.get(Payment, payment_id),
                        amount_minor=amount,
                        reason=reason,
                        requested_by_user_id=7,
                    )
                    queued = outcome.queued
                except DomainError:
                    db.rollback()
                    queued = False
                if kind == "retry" and last_queued:
                    # The retry of a refund Stripe did not answer never adds a row.
                    assert len(_rows(db, payment_id)) == before
                last_queued = queued
            elif kind == "reconcile":
                fake.mode = op[1]
                for row in _rows(db, payment_id):
                    if row.status == "pending" and row.stripe_refund_id is None:
                        _submit(db, row.id)
            elif kind == "webhooks":
                fake.mode = "ok"
                _sync(db, fake, payment_id)
            elif kind == "bank_fails":
                done = [r for r in fake.made if r["status"] == "succeeded"]
                if done:
                    done[op[1] % len(done)]["status"] = REFUND_FAILED
                    _sync(db, fake, payment_id)
            elif kind == "dashboard" and op[1] <= PAID - fake.refunded():
                fake.mode = "ok"
                fake.create({"amount": op[1]})
            _check(db, fake, payment_id)
        # Once Stripe answers again and every event has arrived, the books agree exactly.
        fake.mode = "ok"
        for row in _rows(db, payment_id):
            if row.status == "pending" and row.stripe_refund_id is None:
                assert _submit(db, row.id) is not True  # sent, or refused: never still queued
        _sync(db, fake, payment_id)
        _check(db, fake, payment_id)
        rows = _rows(db, payment_id)
        assert sum(r.amount_minor for r in rows if r.status == "succeeded") == fake.refunded()
        assert db.get(Payment, payment_id).amount_refunded_minor == fake.refunded()
