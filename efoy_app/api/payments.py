"""REST payments under /api/v1/payment, with the paths the original design named.

Thin: every rule is in `efoy_app.domain.payment_*`, `refunds` and `webhooks`.
Routes are plain `def` so FastAPI runs them in its threadpool: the domain's database and Stripe
calls block, and must not block the event loop that also serves Reflex.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlmodel import Session

from efoy_app.api.deps import current_user, finish, get_session, require_admin
from efoy_app.api.idempotency import MAX_KEY_LENGTH, run_idempotent
from efoy_app.api.schemas import (
    AUTH_ERRORS,
    STRIPE_ID_PATTERN,
    Amount,
    AmountMinor,
    Currency,
    Id,
    error_responses,
)
from efoy_app.domain import payment_fulfil, payment_start, payment_views, refunds, webhooks
from efoy_app.domain.card_page import card_page_url
from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.money import to_major, to_minor
from efoy_app.models import Payment, User
from efoy_app.settings import get_settings

router = APIRouter(prefix="/api/v1/payment", tags=["payments"], responses=AUTH_ERRORS)

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
    s409="already_paid, hold_expired, or idempotency_key_in_use",
)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class StartPaymentIn(_Camel):
    booking_id: Id
    amount: Amount | None = Field(default=None, description="Seed compatibility: major units")
    amount_minor: AmountMinor | None = None
    currency: Currency | None = None


class CheckoutOut(_Camel):
    session_id: str
    url: str
    payment_id: int
    booking_id: int
    reused: bool


class PaymentIntentOut(_Camel):
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


class PaymentStatusOut(_Camel):
    session_id: str | None
    payment_intent_id: str | None
    payment_id: int
    booking_id: int
    kind: str
    status: str
    booking_status: str
    amount: str = Field(description="Major units, as a decimal string")
    amount_minor: int
    currency: str
    amount_refunded_minor: int
    paid_at: datetime | None
    card_brand: str | None
    card_last4: str | None
    failure_message: str | None
    flagged: bool
    flag_reason: str | None


class RefundIn(_Camel):
    amount: Amount | None = Field(default=None, description="Major units, as in the seed")
    amount_minor: AmountMinor | None = None
    reason: str = Field(min_length=1, max_length=500)


class RefundOut(_Camel):
    refund_id: int
    stripe_refund_id: str | None
    status: str = Field(description="pending | succeeded | failed | canceled")
    queued: bool = Field(
        description="Stripe did not answer: the refund is reserved and will be sent "
        "automatically (HTTP 202); asking again sends this same refund, never a second one"
    )
    message: str
    amount_minor: int
    currency: str
    payment: PaymentStatusOut


def status_out(db: Session, payment: Payment) -> PaymentStatusOut:
    view = payment_views.payment_view(db, payment)
    return PaymentStatusOut(
        session_id=view.session_id,
        payment_intent_id=view.payment_intent_id,
        payment_id=view.payment_id,
        booking_id=view.booking_id,
        kind=view.kind,
        status=view.status,
        booking_status=view.booking_status,
        amount=str(to_major(view.amount_minor, view.currency)),
        amount_minor=view.amount_minor,
        currency=view.currency,
        amount_refunded_minor=view.amount_refunded_minor,
        paid_at=view.paid_at,
        card_brand=view.card_brand,
        card_last4=view.card_last4,
        failure_message=view.failure_message,
        flagged=view.flagged,
        flag_reason=view.flag_reason,
    )


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)


def _idempotent(
    db: Session,
    user: User,
    endpoint: str,
    key: str | None,
    body: BaseModel,
    action: Callable[[], tuple[int, dict[str, Any]]],
    resume: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]] | None = None,
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


@router.post(
    "/create-checkout-session", response_model=CheckoutOut, status_code=200, responses=START_ERRORS
)
def create_checkout_session(
    body: StartPaymentIn,
    idempotency_key: IdempotencyKey = None,
    user: User = Depends(current_user),
    db: Session = Depends(get_session),
) -> JSONResponse:
    """Hosted Checkout for a held booking; the same booking always gets the same open session."""

    def action() -> tuple[int, dict[str, Any]]:
        start = payment_start.start_checkout(
            db,
            booking_id=body.booking_id,
            user=user,
            amount=body.amount,
            amount_minor=body.amount_minor,
            currency=body.currency,
        )
        return 200, _dump(
            CheckoutOut(
                session_id=start.session_id,
                url=start.url,
                payment_id=start.payment_id,
                booking_id=start.booking_id,
                reused=start.reused,
            )
        )

    return _idempotent(db, user, "create-checkout-session", idempotency_key, body, action)


@router.post(
    "/create-payment-intent",
    response_model=PaymentIntentOut,
    status_code=200,
    responses=START_ERRORS,
)
def create_payment_intent(
    body: StartPaymentIn,
    idempotency_key: IdempotencyKey = None,
    user: User = Depends(current_user),
    db: Session = Depends(get_session),
) -> JSONResponse:
    """A PaymentIntent for the on-page card form (Stripe's Payment Element or the sandbox page)."""

    def action() -> tuple[int, dict[str, Any]]:
        start = payment_start.start_card_payment(
            db,
            booking_id=body.booking_id,
            user=user,
            amount=body.amount,
            amount_minor=body.amount_minor,
            currency=body.currency,
        )
        return 200, _dump(
            PaymentIntentOut(
                payment_intent_id=start.payment_intent_id,
                client_secret=start.client_secret,
                payment_id=start.payment_id,
                booking_id=start.booking_id,
                amount_minor=start.amount_minor,
                currency=start.currency,
                publishable_key=get_settings().stripe_publishable_key,
                card_page_url=card_page_url(start.payment_intent_id, start.client_secret),
            )
        )

    return _idempotent(db, user, "create-payment-intent", idempotency_key, body, action)


@router.post(
    "/confirm-payment/{payment_intent_id}",
    response_model=PaymentStatusOut,
    responses=error_responses(404, 503),
)
def confirm_payment(
    payment_intent_id: StripeObjectId,
    user: User = Depends(current_user),
    db: Session = Depends(get_session),
) -> PaymentStatusOut:
    """Runs the same fulfilment as the webhook, for a client that just finished paying."""
    payment_views.payment_by_intent_for(db, payment_intent_id, user)  # 404 unless it is theirs
    payment = payment_fulfil.fulfill_payment_intent(db, payment_intent_id, actor=f"user:{user.id}")
    return finish(db, status_out(db, payment))


@router.get("/status/{session_id}", response_model=PaymentStatusOut, responses=error_responses(404))
def payment_status(
    session_id: StripeObjectId,
    user: User = Depends(current_user),
    db: Session = Depends(get_session),
) -> PaymentStatusOut:
    """Status by Checkout Session id (or PaymentIntent id), from our database."""
    if session_id.startswith("pi_"):
        payment = payment_views.payment_by_intent_for(db, session_id, user)
    else:
        payment = payment_views.payment_by_session_for(db, session_id, user)
    return finish(db, status_out(db, payment))


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
    idempotency_key: IdempotencyKey = None,
    admin: User = Depends(require_admin),
    db: Session = Depends(get_session),
) -> JSONResponse:
    """Admin refund, full or partial; never more than what is left on the payment.

    200 when Stripe took it; 202 when Stripe did not answer and the refund is queued (sent
    automatically, and by a retry of the same request, with the same idempotency key)."""
    if session_id.startswith("pi_"):
        payment = payment_views.payment_by_intent_for(db, session_id, admin)
    else:
        payment = payment_views.payment_by_session_for(db, session_id, admin)
    if body.amount is not None and body.amount_minor is not None:
        raise ValidationFailed("Send either amount or amountMinor, not both.")
    amount_minor = body.amount_minor
    if body.amount is not None:
        amount_minor = to_minor(body.amount, payment.currency)
    payment_id = payment.id

    def answer(outcome: refunds.RefundOutcome) -> tuple[int, dict[str, Any]]:
        row = outcome.refund
        paid = db.get(Payment, payment_id)
        return 202 if outcome.queued else 200, _dump(
            RefundOut(
                refund_id=row.id,
                stripe_refund_id=row.stripe_refund_id,
                status=row.status,
                queued=outcome.queued,
                message=outcome.message,
                amount_minor=row.amount_minor,
                currency=row.currency,
                payment=status_out(db, paid),
            )
        )

    def action() -> tuple[int, dict[str, Any]]:
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

    def resume(first: dict[str, Any]) -> tuple[int, dict[str, Any]]:
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
        return _error(413, "payload_too_large", "Webhook body too large.")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > webhooks.MAX_BODY_BYTES:
            return _error(413, "payload_too_large", "Webhook body too large.")
    signature = request.headers.get("stripe-signature")
    try:
        event = webhooks.verify(bytes(body), signature)
    except webhooks.InvalidWebhook as exc:
        return _error(400, exc.code, exc.message)
    try:
        outcome = await anyio.to_thread.run_sync(webhooks.process_event, event)
    except webhooks.WebhookProcessingError:
        return _error(500, "processing_failed", "The event could not be processed; retry later.")
    return JSONResponse({"received": True, "outcome": outcome})


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
