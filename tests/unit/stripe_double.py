"""An in-memory Stripe for unit tests of the payment rules, supplied through the gateway seam
(`stripe_gateway.use_client`).

It answers the calls the domain makes (`v1.checkout.sessions`, `v1.payment_intents`,
`v1.refunds`, `v1.charges`) with plain dicts shaped like Stripe's objects, and keeps Stripe's
rules that our rules lean on: the same idempotency key returns the first answer (and refuses
different parameters), an open session can be expired and a succeeded one cannot be canceled, a
charge cannot be refunded beyond what it took. It can fail a call before doing the work (an
outage, a refusal, a decline) or do the work and lose the answer, and it records every call so a
test can count them. The test plays the patient and the Dashboard with `pay_session`,
`pay_intent`, `decline_intent` and `dashboard_refund`.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import count
from types import SimpleNamespace
from typing import Any

import stripe

LOST = "lost"  # a planned outcome: the work is done, then the answer is lost

NOW = 1_700_000_000  # `created` of every object; the domain only copies it


def _missing(kind: str, object_id: str) -> stripe.InvalidRequestError:
    return stripe.InvalidRequestError(
        f"No such {kind}: '{object_id}'", param="id", code="resource_missing"
    )


def _expanded(params: Any, path: str) -> bool:
    return path in ((params or {}).get("expand") or [])


@dataclass
class StripeDouble:
    """The Stripe account of one test."""

    offline: bool = False  # every call fails with APIConnectionError, nothing is done
    refund_status: str = "succeeded"  # what a new refund reports (e.g. "pending")
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, Any, str | None]] = field(default_factory=list)  # (op, target, key)
    _plans: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    _answers: dict[str, tuple[Any, dict[str, Any]]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: count(1))

    def __post_init__(self) -> None:
        self.v1 = SimpleNamespace(
            checkout=SimpleNamespace(sessions=_Sessions(self)),
            payment_intents=_Intents(self),
            refunds=_Refunds(self),
            charges=_Charges(self),
        )

    # --- what a test plans ---

    def fail(self, op: str, error: Exception | None = None, times: int = 1) -> None:
        """The next `times` calls of `op` (e.g. "refunds.create") raise `error` (default: no
        connection) before anything is done."""
        for _ in range(times):
            self._plans[op].append(error or stripe.APIConnectionError("Stripe is not answering"))

    def lose(self, op: str, times: int = 1) -> None:
        """The next `times` calls of `op` do their work, then the answer is lost."""
        self._plans[op].extend([LOST] * times)

    def calls_to(self, op: str) -> list[tuple[str, Any, str | None]]:
        return [c for c in self.calls if c[0] == op]

    # --- what the patient, the bank and the Dashboard do ---

    def pay_session(
        self, session_id: str, *, amount: int | None = None, currency: str | None = None
    ) -> dict[str, Any]:
        """The patient pays on the hosted page (`amount`/`currency`: what Stripe then reports)."""
        session = self.sessions[session_id]
        assert session["status"] == "open", f"a {session['status']} session cannot be paid"
        pi = self._new_intent(
            amount=session["amount_total"],
            currency=session["currency"],
            metadata=dict(session["_payment_intent_data"].get("metadata") or {}),
        )
        self._succeed(pi)
        session.update(status="complete", payment_status="paid", payment_intent=pi["id"])
        if amount is not None:
            session["amount_total"] = amount
        if currency is not None:
            session["currency"] = currency
        return session

    def pay_intent(
        self, intent_id: str, *, amount: int | None = None, currency: str | None = None
    ) -> dict[str, Any]:
        """The card form's payment goes through (`amount`/`currency`: what Stripe then reports)."""
        pi = self.intents[intent_id]
        self._succeed(pi)
        if amount is not None:
            pi["amount"] = pi["amount_received"] = amount
        if currency is not None:
            pi["currency"] = currency
        return pi

    def decline_intent(self, intent_id: str) -> dict[str, Any]:
        pi = self.intents[intent_id]
        pi.update(
            status="requires_payment_method",
            last_payment_error={
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
            },
        )
        return pi

    def dashboard_refund(self, intent_id: str, amount: int) -> dict[str, Any]:
        """A refund made in Stripe's Dashboard, outside Efoy."""
        return self._refund({"payment_intent": intent_id, "amount": amount}, reason=None)

    def refunded(self, intent_id: str) -> int:
        return sum(
            r["amount"]
            for r in self.refunds
            if r["payment_intent"] == intent_id and r["status"] in ("succeeded", "pending")
        )

    # --- plumbing shared by the services ---

    def _next(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids)}"

    def _run(self, op: str, target: Any, options: dict[str, Any] | None, work: Any) -> Any:
        key = (options or {}).get("idempotency_key")
        self.calls.append((op, target, key))
        if self.offline:
            raise stripe.APIConnectionError("Stripe is not answering")
        plan = self._plans[op].pop(0) if self._plans[op] else None
        if isinstance(plan, Exception):
            raise plan
        if key is not None and key in self._answers:
            first_params, answer = self._answers[key]
            if first_params != target:
                raise stripe.IdempotencyError(
                    "Keys for idempotent requests can only be used with the same parameters."
                )
            result = answer
        else:
            result = work()
            if key is not None:
                self._answers[key] = (copy.deepcopy(target), copy.deepcopy(result))
        if plan == LOST:
            raise stripe.APIConnectionError("The answer was lost on its way back")
        return copy.deepcopy(result)

    def _new_intent(
        self, *, amount: int, currency: str, metadata: dict[str, str], **extra: Any
    ) -> dict[str, Any]:
        pi_id = self._next("pi")
        pi = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "client_secret": f"{pi_id}_secret_{next(self._ids)}abc",
            "created": NOW,
            "last_payment_error": None,
            "latest_charge": None,
            "metadata": metadata,
            "next_action": None,
            "status": "requires_payment_method",
            **extra,
        }
        self.intents[pi_id] = pi
        return pi

    def _succeed(self, pi: dict[str, Any]) -> None:
        charge_id = self._next("ch")
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": pi["amount"],
            "currency": pi["currency"],
            "created": NOW,
            "payment_intent": pi["id"],
            "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}, "type": "card"},
            "status": "succeeded",
        }
        pi.update(
            status="succeeded",
            amount_received=pi["amount"],
            latest_charge=charge_id,
            last_payment_error=None,
        )

    def _intent_view(self, pi: dict[str, Any], expand_charge: bool) -> dict[str, Any]:
        view = copy.deepcopy(pi)
        if expand_charge and view["latest_charge"]:
            view["latest_charge"] = copy.deepcopy(self.charges[view["latest_charge"]])
        return view

    def _refund(self, params: dict[str, Any], reason: str | None) -> dict[str, Any]:
        if "payment_intent" in params:
            pi = self.intents.get(params["payment_intent"])
        else:
            charge = self.charges.get(params.get("charge", ""))
            pi = self.intents.get(charge["payment_intent"]) if charge else None
        if pi is None or pi["status"] != "succeeded":
            raise stripe.InvalidRequestError(
                "This PaymentIntent does not have a successful charge to refund.",
                param="payment_intent",
                code="charge_not_refundable",
            )
        left = pi["amount_received"] - self.refunded(pi["id"])
        amount = params.get("amount") or left
        if amount > left:
            raise stripe.InvalidRequestError(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                param="amount",
                code="amount_too_large",
            )
        refund = {
            "id": self._next("re"),
            "object": "refund",
            "amount": amount,
            "charge": pi["latest_charge"],
            "created": NOW,
            "currency": pi["currency"],
            "failure_reason": None,
            "metadata": dict(params.get("metadata") or {}),
            "payment_intent": pi["id"],
            "reason": reason,
            "status": self.refund_status,
        }
        self.refunds.append(refund)
        return refund


class _Sessions:
    def __init__(self, stripe_: StripeDouble) -> None:
        self.s = stripe_

    def create(self, params: dict[str, Any], options: dict[str, Any] | None = None) -> dict:
        def work() -> dict[str, Any]:
            session_id = self.s._next("cs")
            items = params["line_items"]
            session = {
                "id": session_id,
                "object": "checkout.session",
                "amount_total": sum(
                    i["price_data"]["unit_amount"] * i.get("quantity", 1) for i in items
                ),
                "client_reference_id": params.get("client_reference_id"),
                "currency": items[0]["price_data"]["currency"],
                "customer_email": params.get("customer_email"),
                "expires_at": params.get("expires_at"),
                "metadata": dict(params.get("metadata") or {}),
                "mode": params.get("mode"),
                "payment_intent": None,
                "payment_status": "unpaid",
                "status": "open",
                "success_url": params.get("success_url"),
                "url": f"https://checkout.stripe.test/c/pay/{session_id}",
                "_line_items": copy.deepcopy(items),
                "_payment_intent_data": copy.deepcopy(params.get("payment_intent_data") or {}),
            }
            self.s.sessions[session_id] = session
            return session

        return self.s._run("checkout.sessions.create", params, options, work)

    def retrieve(self, session_id: str, params: dict[str, Any] | None = None) -> dict:
        def work() -> dict[str, Any]:
            if session_id not in self.s.sessions:
                raise _missing("checkout.session", session_id)
            view = copy.deepcopy(self.s.sessions[session_id])
            if view["payment_intent"] and _expanded(params, "payment_intent"):
                view["payment_intent"] = self.s._intent_view(
                    self.s.intents[view["payment_intent"]],
                    _expanded(params, "payment_intent.latest_charge"),
                )
            return view

        return self.s._run("checkout.sessions.retrieve", session_id, None, work)

    def expire(self, session_id: str) -> dict:
        def work() -> dict[str, Any]:
            session = self.s.sessions.get(session_id)
            if session is None:
                raise _missing("checkout.session", session_id)
            if session["status"] != "open":
                raise stripe.InvalidRequestError(
                    'Only Checkout Sessions with a status in ["open"] can be expired.',
                    param=None,
                    code="checkout_session_not_open",
                )
            session["status"] = "expired"
            return session

        return self.s._run("checkout.sessions.expire", session_id, None, work)


class _Intents:
    def __init__(self, stripe_: StripeDouble) -> None:
        self.s = stripe_

    def create(self, params: dict[str, Any], options: dict[str, Any] | None = None) -> dict:
        def work() -> dict[str, Any]:
            return self.s._new_intent(
                amount=params["amount"],
                currency=params["currency"],
                metadata=dict(params.get("metadata") or {}),
                description=params.get("description"),
                receipt_email=params.get("receipt_email"),
            )

        return self.s._run("payment_intents.create", params, options, work)

    def retrieve(self, intent_id: str, params: dict[str, Any] | None = None) -> dict:
        def work() -> dict[str, Any]:
            if intent_id not in self.s.intents:
                raise _missing("payment_intent", intent_id)
            return self.s._intent_view(
                self.s.intents[intent_id], _expanded(params, "latest_charge")
            )

        return self.s._run("payment_intents.retrieve", intent_id, None, work)

    def cancel(self, intent_id: str) -> dict:
        def work() -> dict[str, Any]:
            pi = self.s.intents.get(intent_id)
            if pi is None:
                raise _missing("payment_intent", intent_id)
            if pi["status"] in ("succeeded", "canceled"):
                raise stripe.InvalidRequestError(
                    f"You cannot cancel this PaymentIntent because it has a status of "
                    f"{pi['status']}.",
                    param=None,
                    code="payment_intent_unexpected_state",
                )
            pi["status"] = "canceled"
            return pi

        return self.s._run("payment_intents.cancel", intent_id, None, work)


class _Refunds:
    def __init__(self, stripe_: StripeDouble) -> None:
        self.s = stripe_

    def create(self, params: dict[str, Any], options: dict[str, Any] | None = None) -> dict:
        return self.s._run(
            "refunds.create",
            params,
            options,
            lambda: self.s._refund(params, reason=params.get("reason")),
        )

    def list(self, params: dict[str, Any]) -> SimpleNamespace:
        def work() -> SimpleNamespace:
            found = [
                r
                for r in self.s.refunds
                if r["payment_intent"] == params.get("payment_intent")
                or r["charge"] == params.get("charge")
            ]
            return SimpleNamespace(data=copy.deepcopy(found[: params.get("limit", 10)]))

        return self.s._run("refunds.list", params, None, work)


class _Charges:
    def __init__(self, stripe_: StripeDouble) -> None:
        self.s = stripe_

    def retrieve(self, charge_id: str) -> dict:
        def work() -> dict[str, Any]:
            if charge_id not in self.s.charges:
                raise _missing("charge", charge_id)
            return copy.deepcopy(self.s.charges[charge_id])

        return self.s._run("charges.retrieve", charge_id, None, work)
