"""PaymentIntents and the card payments behind them, shared by the API, the hosted pages and
the `/_sandbox` conveniences so all three behave the same.

A confirmation with a card either succeeds (a Charge, `payment_intent.succeeded`), declines
(a failed Charge, `last_payment_error`, `payment_intent.payment_failed`, a 402 card_error for
the API) or needs 3-D Secure (`requires_action` with a redirect to the sandbox's authentication
page). A succeeded PaymentIntent that came from Checkout completes its Checkout Session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from . import objects
from .cards import (
    Card,
    CardForm,
    CardInputError,
    behaviour_of,
    parse_card,
    test_payment_method_card,
)
from .errors import DOCS, StripeError, no_such, unexpected_state
from .events import emit
from .views import present

if TYPE_CHECKING:
    from .runtime import Sandbox

AUTHENTICATION_FAILED = (
    "We are unable to authenticate your payment method. "
    "Please choose a different payment method and try again."
)
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)


@dataclass
class Outcome:
    """What a payment attempt did, for pages (redirect or message) and for JSON answers."""

    outcome: str  # succeeded | declined | requires_action | invalid
    redirect: str | None = None
    error: dict[str, Any] | None = None
    status: int = 200

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"outcome": self.outcome}
        if self.redirect is not None:
            body["redirect"] = self.redirect
        if self.error is not None:
            body["error"] = self.error
        return body


def create_intent(
    sb: Sandbox,
    *,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    description: str | None = None,
    receipt_email: str | None = None,
    automatic_payment_methods: bool = True,
    statement_descriptor: str | None = None,
    statement_descriptor_suffix: str | None = None,
    checkout_session: str | None = None,
) -> dict[str, Any]:
    intent = objects.payment_intent(
        amount=amount,
        currency=currency,
        created=sb.clock.now(),
        metadata=metadata,
        description=description,
        receipt_email=receipt_email,
        automatic_payment_methods=automatic_payment_methods,
        statement_descriptor=statement_descriptor,
        statement_descriptor_suffix=statement_descriptor_suffix,
    )
    if checkout_session is not None:
        intent["_checkout_session"] = checkout_session
    sb.store.put(intent)
    emit(sb, "payment_intent.created", intent)
    return intent


def get_intent(sb: Sandbox, intent_id: str, param: str | None = None) -> dict[str, Any]:
    intent = sb.store.get(intent_id, "payment_intent")
    if intent is None:
        raise no_such("payment_intent", intent_id, param=param)
    return intent


def payment_method_for(sb: Sandbox, value: str, param: str = "payment_method") -> dict[str, Any]:
    """A stored PaymentMethod, or a new one for Stripe's test ids (`pm_card_visa`...)."""
    card = test_payment_method_card(value)
    if card is not None:
        return add_card(sb, card)
    method = sb.store.get(value, "payment_method")
    if method is None:
        raise no_such("PaymentMethod", value, param=param)
    return method


def add_card(sb: Sandbox, card: Card) -> dict[str, Any]:
    return sb.store.put(objects.payment_method(card, sb.clock.now()))


def confirm(
    sb: Sandbox,
    intent: dict[str, Any],
    method: dict[str, Any] | None,
    return_url: str | None = None,
) -> str:
    """Charge the card; returns "succeeded" or "requires_action", raises a 402 on a decline."""
    if intent["status"] not in CONFIRMABLE:
        raise unexpected_state(
            f"You cannot confirm this PaymentIntent because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may "
            f"be confirmed: {', '.join(CONFIRMABLE)}."
        )
    if method is None:
        if intent["payment_method"] is None:
            raise unexpected_state(
                "You cannot confirm this PaymentIntent because it's missing a payment method. "
                "To confirm the PaymentIntent with cus_xxx, specify a payment method attached "
                "to this customer along with the customer ID.",
                param="payment_method",
            )
        method = payment_method_for(sb, intent["payment_method"])
    if return_url is not None:
        intent["_return_url"] = return_url
    intent.update(payment_method=method["id"], last_payment_error=None, next_action=None)
    behaviour = behaviour_of(method["_number"])
    if behaviour.result == "succeed":
        succeed(sb, intent, method)
        return "succeeded"
    if behaviour.result == "authenticate":
        _require_action(sb, intent)
        return "requires_action"
    raise _decline(
        sb,
        intent,
        method,
        behaviour.code or "card_declined",
        behaviour.decline_code,
        behaviour.message or "Your card was declined.",
    )


def succeed(
    sb: Sandbox, intent: dict[str, Any], method: dict[str, Any], authenticated: bool = False
) -> dict[str, Any]:
    charge = objects.charge(
        intent=intent,
        method=method,
        created=sb.clock.now(),
        public_url=sb.config.public_url,
        authenticated=authenticated,
    )
    sb.store.put(charge)
    sb.store.put(
        objects.balance_transaction(
            transaction_id=charge["balance_transaction"],
            amount=charge["amount"],
            currency=charge["currency"],
            source=charge["id"],
            type_="charge",
            created=charge["created"],
            description=intent["description"],
        )
    )
    intent.update(
        status="succeeded",
        amount_received=intent["amount"],
        latest_charge=charge["id"],
        next_action=None,
        last_payment_error=None,
    )
    sb.store.put(intent)
    emit(sb, "charge.succeeded", charge)
    emit(sb, "payment_intent.succeeded", intent)
    _complete_checkout(sb, intent, method)
    return charge


def _complete_checkout(sb: Sandbox, intent: dict[str, Any], method: dict[str, Any]) -> None:
    """A paid Checkout Session is complete; its customer is whoever filled in the form."""
    session = sb.store.get(intent.get("_checkout_session", ""), "checkout.session")
    if session is None:
        return
    details = method["billing_details"]
    session.update(
        status="complete",
        payment_status="paid",
        url=None,
        customer_details=objects.customer_details(details["email"], details["name"]),
    )
    sb.store.put(session)
    emit(sb, "checkout.session.completed", session)


def _decline(
    sb: Sandbox,
    intent: dict[str, Any],
    method: dict[str, Any],
    code: str,
    decline_code: str | None,
    message: str,
) -> StripeError:
    charge = objects.charge(
        intent=intent,
        method=method,
        created=sb.clock.now(),
        public_url=sb.config.public_url,
        failure=(code, decline_code, message),
    )
    sb.store.put(charge)
    error: dict[str, Any] = {
        "charge": charge["id"],
        "code": code,
        "decline_code": decline_code,
        "doc_url": DOCS + code.replace("_", "-"),
        "message": message,
        "payment_method": present(sb, method),
        "type": "card_error",
    }
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        latest_charge=charge["id"],
        last_payment_error=error,
        next_action=None,
    )
    sb.store.put(intent)
    emit(sb, "charge.failed", charge)
    emit(sb, "payment_intent.payment_failed", intent)
    return StripeError(
        402,
        "card_error",
        message,
        code=code,
        decline_code=decline_code,
        extra={
            "charge": charge["id"],
            "payment_intent": present(sb, intent),
            "payment_method": present(sb, method),
        },
    )


def authentication_url(sb: Sandbox, intent: dict[str, Any]) -> str:
    query = urlencode({"client_secret": intent["client_secret"]})
    return f"{sb.config.public_url}/authenticate/{intent['id']}?{query}"


def _require_action(sb: Sandbox, intent: dict[str, Any]) -> None:
    intent.update(
        status="requires_action",
        next_action={
            "type": "redirect_to_url",
            "redirect_to_url": {
                "return_url": intent.get("_return_url"),
                "url": authentication_url(sb, intent),
            },
        },
    )
    sb.store.put(intent)
    emit(sb, "payment_intent.requires_action", intent)


def authenticate(sb: Sandbox, intent: dict[str, Any], result: str) -> Outcome:
    """The 3-D Secure step: the buttons on the authentication page and the control call."""
    if intent["status"] != "requires_action":
        raise unexpected_state(
            f"This PaymentIntent is not awaiting authentication (its status is {intent['status']})."
        )
    method = payment_method_for(sb, intent["payment_method"])
    if result == "complete":
        succeed(sb, intent, method, authenticated=True)
        return Outcome("succeeded", redirect=after_payment_url(sb, intent))
    error = {
        "code": "payment_intent_authentication_failure",
        "doc_url": DOCS + "payment-intent-authentication-failure",
        "message": AUTHENTICATION_FAILED,
        "payment_method": present(sb, method),
        "type": "invalid_request_error",
    }
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        next_action=None,
        last_payment_error=error,
    )
    sb.store.put(intent)
    emit(sb, "payment_intent.payment_failed", intent)
    public_error = {k: error[k] for k in ("type", "code", "message")}
    return Outcome("declined", redirect=after_payment_url(sb, intent), error=public_error)


def after_payment_url(sb: Sandbox, intent: dict[str, Any]) -> str | None:
    """Where the browser goes once a payment attempt has ended, as Stripe would send it."""
    session = sb.store.get(intent.get("_checkout_session", ""), "checkout.session")
    if session is not None:
        if intent["status"] == "succeeded":
            return success_url(sb, session)
        return f"{sb.config.public_url}/checkout/{session['id']}"
    return_url = intent.get("_return_url")
    if not return_url:
        return None
    status = "succeeded" if intent["status"] == "succeeded" else "failed"
    query = urlencode(
        {
            "payment_intent": intent["id"],
            "payment_intent_client_secret": intent["client_secret"],
            "redirect_status": status,
        }
    )
    return f"{return_url}{'&' if '?' in return_url else '?'}{query}"


def success_url(sb: Sandbox, session: dict[str, Any]) -> str:
    """`{CHECKOUT_SESSION_ID}` filled in, as Stripe does; the sandbox's own page if none given."""
    url = session["success_url"]
    if not url:
        return f"{sb.config.public_url}/checkout/{session['id']}"
    return url.replace("{CHECKOUT_SESSION_ID}", session["id"])


def cancel(sb: Sandbox, intent: dict[str, Any], reason: str | None) -> dict[str, Any]:
    if intent["status"] not in CANCELABLE:
        raise unexpected_state(
            f"You cannot cancel this PaymentIntent because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may "
            f"be canceled: {', '.join(CANCELABLE)}."
        )
    intent.update(
        status="canceled", canceled_at=sb.clock.now(), cancellation_reason=reason, next_action=None
    )
    sb.store.put(intent)
    emit(sb, "payment_intent.canceled", intent)
    return intent


def attempt(
    sb: Sandbox, intent: dict[str, Any], card: Card, return_url: str | None = None
) -> Outcome:
    """Confirm `intent` with a typed card; the result as a page (or JSON caller) needs it."""
    method = add_card(sb, card)
    try:
        result = confirm(sb, intent, method, return_url=return_url)
    except StripeError as exc:
        if exc.status != 402:
            return Outcome(
                "invalid", status=exc.status, error={"code": exc.code, "message": exc.message}
            )
        return Outcome(
            "declined",
            status=402,
            error={
                "type": exc.type,
                "code": exc.code,
                "decline_code": exc.decline_code,
                "message": exc.message,
            },
        )
    if result == "requires_action":
        return Outcome("requires_action", redirect=intent["next_action"]["redirect_to_url"]["url"])
    return Outcome("succeeded", redirect=after_payment_url(sb, intent))


def pay(sb: Sandbox, intent: dict[str, Any], form: CardForm, return_url: str | None) -> Outcome:
    """Submit the sandbox card page that stands in for Stripe.js (Payment Element)."""
    if intent["status"] == "succeeded":
        return Outcome(
            "invalid",
            status=400,
            error={
                "code": "payment_intent_unexpected_state",
                "message": "This payment has already succeeded. You have not been charged again.",
            },
        )
    if intent["status"] not in CONFIRMABLE:
        return Outcome(
            "invalid",
            status=400,
            error={
                "code": "payment_intent_unexpected_state",
                "message": f"This payment cannot be paid: it is {intent['status']}.",
            },
        )
    try:
        card = parse_card(
            form.number,
            form.expiry,
            form.cvc,
            sb.clock,
            name=form.name.strip(),
            email=form.email.strip(),
        )
    except CardInputError as exc:
        return Outcome(
            "invalid",
            status=400,
            error={"code": exc.code, "message": exc.message, "field": exc.field},
        )
    return attempt(sb, intent, card, return_url=return_url)
