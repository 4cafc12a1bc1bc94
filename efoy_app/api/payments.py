"""REST payments under /api/v1/payment, with the paths the original design named.

Thin: every rule is in `efoy_app.domain.payment_*`, `refunds` and `webhooks`.
Routes are plain `def` so FastAPI runs them in its threadpool: the domain's database and Stripe
calls block, and must not block the event loop that also serves Reflex.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from efoy_app import webhook_queue
from efoy_app.api.deps import AdminUser, CurrentUser, DbSession, finish
from efoy_app.api.errors import error_response
from efoy_app.api.idempotency import MAX_KEY_LENGTH, Action, Answer, Resume, run_idempotent
from efoy_app.api.schemas import (
    AUTH_ERRORS,
    READABLE,
    STRIPE_ID_PATTERN,
    Amount,
    AmountMinor,
    AmountOut,
    CamelIn,
    CamelModel,
    Currency,
    Id,
    error_responses,
    one_of,
)
from efoy_app.domain import (
    admin_views,
    payment_fulfil,
    payment_start,
    payment_views,
    refunds,
    webhook_inbox,
    webhooks,
)
from efoy_app.domain.card_page import card_page_url
from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.money import to_minor
from efoy_app.models import Payment, User
from efoy_app.routes import API_PAYMENT
from efoy_app.settings import get_settings

router = APIRouter(prefix=API_PAYMENT, tags=["payments"], responses=AUTH_ERRORS)

StripeObjectId = Annotated[
    str, Path(pattern=STRIPE_ID_PATTERN, description="A Checkout Session or PaymentIntent id")
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="Same key, same body: the first answer is replayed",
    ),
]
START_ERRORS = error_responses(
    400,
    402,
    404,
    409,
    503,
    s400="amount_mismatch: the amount or currency sent is not the booking's (or a bad body)",
    s409="already_paid, hold_expired, checkout_too_late (the appointment starts within 31 "
    "minutes: Stripe's hosted page needs 30; pay by card), or idempotency_key_in_use",
)


class StartPaymentIn(CamelIn):
    booking_id: Id
    amount: Amount | None = Field(default=None, description="Seed compatibility: major units")
    amount_minor: AmountMinor | None = None
    currency: Currency | None = None


class CheckoutOut(CamelModel):
    session_id: str
    url: str
    payment_id: int
    booking_id: int
    reused: bool


class PaymentIntentOut(CamelModel):
    payment_intent_id: str
    client_secret: str
    payment_id: int
    booking_id: int
    amount_minor: int
    currency: str
    publishable_key: str | None
    card_page_url: str | None = Field(
        description="Sandbox only: the page standing in for Stripe.js"
    )


class PaymentStatusOut(AmountOut):
    """The patient's view of a payment (`payment_views.PaymentView`), as the seed named it."""

    session_id: str | None
    payment_intent_id: str | None
    payment_id: int
    booking_id: int
    kind: str
    status: str
    booking_status: str
    amount_refunded_minor: int
    paid_at: datetime | None
    card_brand: str | None
    card_last4: str | None
    failure_message: str | None
    flagged: bool
    flag_reason: str | None


class RefundIn(CamelIn):
    amount: Amount | None = Field(default=None, description="Major units, as in the seed")
    amount_minor: AmountMinor | None = None
    reason: str = Field(min_length=1, max_length=500, pattern=READABLE)


class RefundOut(CamelModel):
    refund_id: int = Field(validation_alias="id")
    stripe_refund_id: str | None
    status: str = Field(description=one_of(*admin_views.REFUND_STATUSES))
    queued: bool = Field(
        description="Stripe did not answer: the refund is reserved and will be sent "
        "automatically (HTTP 202); asking again sends this same refund, never a second one"
    )
    message: str
    amount_minor: int
    currency: str
    payment: PaymentStatusOut


def status_out(db: Session, payment: Payment) -> PaymentStatusOut:
    return PaymentStatusOut.model_validate(payment_views.payment_view(db, payment))


def _payment_for(db: Session, stripe_id: str, user: User) -> Payment:
    """By PaymentIntent id (pi_...) or Checkout Session id; 404 unless the caller may see it."""
    if stripe_id.startswith("pi_"):
        return payment_views.payment_by_intent_for(db, stripe_id, user)
    return payment_views.payment_by_session_for(db, stripe_id, user)


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)


def _idempotent(
    db: Session,
    user: User,
    endpoint: str,
    key: str | None,
    body: BaseModel,
    action: Action,
    resume: Resume | None = None,
) -> JSONResponse:
    """A money-moving route: run once per Idempotency-Key, then end the transaction."""
    return finish(
        db,
        run_idempotent(
            db,
            user=user,
            endpoint=endpoint,
            key=key,
            body=body.model_dump(mode="json"),
            action=action,
            resume=resume,
        ),
    )


def _starter(
    db: Session,
    user: User,
    body: StartPaymentIn,
    start: Callable[..., Any],
    out: Callable[[Any], BaseModel],
) -> Action:
    """The action that starts a payment of one kind (`start`) and answers with `out` of it."""

    def action() -> Answer:
        started = start(
            db,
            booking_id=body.booking_id,
            user=user,
            amount=body.amount,
            amount_minor=body.amount_minor,
            currency=body.currency,
        )
        return 200, _dump(out(started))

    return action


def _intent_out(start: payment_start.CardPaymentStart) -> PaymentIntentOut:
    return PaymentIntentOut.model_validate(
        {
            **asdict(start),
            "publishable_key": get_settings().stripe_publishable_key,
            "card_page_url": card_page_url(start.payment_intent_id, start.client_secret),
        }
    )


@router.post(
    "/create-checkout-session", response_model=CheckoutOut, status_code=200, responses=START_ERRORS
)
def create_checkout_session(
    body: StartPaymentIn, user: CurrentUser, db: DbSession, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Hosted Checkout for a held booking; the same booking always gets the same open session."""
    action = _starter(db, user, body, payment_start.start_checkout, CheckoutOut.model_validate)
    return _idempotent(db, user, "create-checkout-session", idempotency_key, body, action)


@router.post(
    "/create-payment-intent",
    response_model=PaymentIntentOut,
    status_code=200,
    responses=START_ERRORS,
)
def create_payment_intent(
    body: StartPaymentIn, user: CurrentUser, db: DbSession, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """A PaymentIntent for the on-page card form (Stripe's Payment Element or the sandbox page)."""
    action = _starter(db, user, body, payment_start.start_card_payment, _intent_out)
    return _idempotent(db, user, "create-payment-intent", idempotency_key, body, action)


@router.post(
    "/confirm-payment/{payment_intent_id}",
    response_model=PaymentStatusOut,
    responses=error_responses(404, 503),
)
def confirm_payment(
    payment_intent_id: StripeObjectId, user: CurrentUser, db: DbSession
) -> PaymentStatusOut:
    """Runs the same fulfilment as the webhook, for a client that just finished paying."""
    payment_views.payment_by_intent_for(db, payment_intent_id, user)  # 404 unless it is theirs
    payment = payment_fulfil.fulfill_payment_intent(db, payment_intent_id, actor=f"user:{user.id}")
    return finish(db, status_out(db, payment))


@router.get("/status/{session_id}", response_model=PaymentStatusOut, responses=error_responses(404))
def payment_status(
    session_id: StripeObjectId, user: CurrentUser, db: DbSession
) -> PaymentStatusOut:
    """Status by Checkout Session id (or PaymentIntent id), from our database."""
    return finish(db, status_out(db, _payment_for(db, session_id, user)))


@router.post(
    "/refund/{session_id}",
    response_model=RefundOut,
    responses={
        202: {"model": RefundOut, "description": "Queued: Stripe did not answer"},
        **error_responses(
            400,
            403,
            404,
            409,
            502,
            s409="Nothing left to refund, refund_queued, or idempotency_key_in_use",
        ),
    },
)
def refund(
    session_id: StripeObjectId,
    body: RefundIn,
    admin: AdminUser,
    db: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Admin refund, full or partial; never more than what is left on the payment.

    200 when Stripe took it; 202 when Stripe did not answer and the refund is queued (sent
    automatically, and by a retry of the same request, with the same idempotency key)."""
    payment = _payment_for(db, session_id, admin)
    if body.amount is not None and body.amount_minor is not None:
        raise ValidationFailed("Send either amount or amountMinor, not both.")
    amount_minor = body.amount_minor
    if body.amount is not None:
        amount_minor = to_minor(body.amount, payment.currency)
    payment_id = payment.id

    def answer(outcome: refunds.RefundOutcome) -> Answer:
        paid = db.get(Payment, payment_id)
        out = RefundOut.model_validate(
            {
                **outcome.refund.model_dump(),
                "queued": outcome.queued,
                "message": outcome.message,
                "payment": status_out(db, paid),
            }
        )
        return 202 if outcome.queued else 200, _dump(out)

    def action() -> Answer:
        fresh = db.get(Payment, payment_id)
        return answer(
            refunds.refund_payment(
                db,
                payment=fresh,
                amount_minor=amount_minor,
                reason=body.reason,
                requested_by_user_id=admin.id,
            )
        )

    def resume(first: dict[str, Any]) -> Answer:
        # The first answer was "queued": send that same refund again, whatever became of it.
        return answer(refunds.submit_refund(db, int(first["refundId"])))

    return _idempotent(
        db, admin, f"refund:{payment_id}", idempotency_key, body, action, resume=resume
    )


@router.post(
    "/webhook",
    include_in_schema=True,
    responses=error_responses(
        400,
        413,
        s400="Missing or invalid Stripe-Signature, or a body that is not a Stripe event",
    ),
    openapi_extra={"security": []},
)
async def webhook(request: Request) -> JSONResponse:
    """Stripe's webhook: no JWT, the Stripe-Signature over the raw body is the authentication."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > webhooks.MAX_BODY_BYTES:
        return error_response(413, "payload_too_large", "Webhook body too large.")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > webhooks.MAX_BODY_BYTES:
            return error_response(413, "payload_too_large", "Webhook body too large.")
    signature = request.headers.get("stripe-signature")
    try:
        event = webhooks.verify(bytes(body), signature)
    except webhooks.InvalidWebhook as exc:
        return error_response(400, exc.code, exc.message)
    # Committed before the 2xx, applied after it (domain/webhook_inbox.py says why).
    stored = await anyio.to_thread.run_sync(webhook_inbox.store, event)
    if stored.to_process:
        webhook_queue.submit(event)
    return JSONResponse({"received": True, "outcome": stored.outcome})
