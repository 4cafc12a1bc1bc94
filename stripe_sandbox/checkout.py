"""Checkout Sessions (mode=payment): create, expire by hand or by time, pay on the hosted page.

As Stripe does now, the PaymentIntent is created only when the customer first submits a card;
it is reused for every retry on the same session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import objects, payments
from .cards import CardForm, CardInputError, parse_card
from .errors import invalid_request, no_such
from .events import emit
from .forms import Params
from .money import check_amount, check_currency
from .payments import Outcome

if TYPE_CHECKING:
    from .runtime import Sandbox

MIN_LIFETIME = 30 * 60
MAX_LIFETIME = 24 * 60 * 60
CLOCK_SLACK = 10  # a client computes now+30 min a moment before the request arrives

CREATE_PARAMS = {
    "mode",
    "line_items",
    "success_url",
    "cancel_url",
    "metadata",
    "client_reference_id",
    "customer_email",
    "expires_at",
    "payment_intent_data",
    "locale",
    "expand",
    # Accepted and ignored: they change nothing on a card payment in the sandbox.
    "payment_method_types",
    "submit_type",
    "customer_creation",
    "billing_address_collection",
    "phone_number_collection",
    "allow_promotion_codes",
    "ui_mode",
    "currency",
    "payment_method_options",
    "consent_collection",
    "custom_text",
    "invoice_creation",
    "automatic_tax",
    "tax_id_collection",
    "after_expiration",
    "payment_method_collection",
    "adaptive_pricing",
    "customer",
}
LINE_ITEM_PARAMS = {
    "price_data",
    "quantity",
    "price",
    "adjustable_quantity",
    "tax_rates",
    "dynamic_tax_rates",
    "metadata",
}
PRICE_DATA_PARAMS = {
    "currency",
    "unit_amount",
    "product_data",
    "product",
    "tax_behavior",
    "recurring",
    "unit_amount_decimal",
}
PRODUCT_DATA_PARAMS = {"name", "description", "images", "metadata", "tax_code", "unit_label"}
INTENT_DATA_PARAMS = {
    "metadata",
    "description",
    "receipt_email",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "capture_method",
    "setup_future_usage",
}


def create(sb: Sandbox, params: Params) -> dict[str, Any]:
    params.reject_unknown(CREATE_PARAMS)
    mode = params.enum("mode", ("payment", "setup", "subscription"), required=True)
    if mode != "payment":
        raise invalid_request(
            f"The Stripe sandbox supports only mode=payment (got mode={mode}).", param="mode"
        )
    if params.str("customer") is not None:
        raise no_such("customer", params.str("customer") or "", param="customer")
    ui_mode = params.str("ui_mode")
    if ui_mode not in (None, "hosted"):
        raise invalid_request("The Stripe sandbox supports only ui_mode=hosted.", param="ui_mode")
    types = params.strings("payment_method_types")
    if types and "card" not in types:
        raise invalid_request(
            "The Stripe sandbox supports only card payments.", param="payment_method_types"
        )
    now = sb.clock.now()
    items = _line_items(params, now)
    currency = items[0]["currency"]
    check_amount(sum(i["amount_total"] for i in items), currency, param="line_items")
    expires_at = params.int("expires_at")
    if expires_at is None:
        expires_at = now + MAX_LIFETIME
    elif expires_at - now < MIN_LIFETIME - CLOCK_SLACK:
        raise invalid_request(
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
            "creation.",
            param="expires_at",
        )
    elif expires_at - now > MAX_LIFETIME + CLOCK_SLACK:
        raise invalid_request(
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            param="expires_at",
        )
    for key in ("success_url", "cancel_url"):
        url = params.str(key, max_length=5000)
        if url is not None and not url.startswith(("http://", "https://")):
            raise invalid_request("Not a valid URL", param=key, code="url_invalid")
    intent_data = params.dict("payment_intent_data")
    intent_data.reject_unknown(INTENT_DATA_PARAMS)
    if intent_data.enum("capture_method", ("automatic", "automatic_async", "manual")) == "manual":
        raise invalid_request(
            "The Stripe sandbox supports only automatic capture.",
            param="payment_intent_data[capture_method]",
        )
    session = objects.checkout_session(
        created=now,
        expires_at=expires_at,
        currency=currency,
        line_items=items,
        success_url=params.str("success_url"),
        cancel_url=params.str("cancel_url"),
        metadata=params.metadata(),
        client_reference_id=params.str("client_reference_id", max_length=200),
        customer_email=params.str("customer_email"),
        locale=params.str("locale"),
        payment_intent_data={
            "metadata": intent_data.metadata(),
            "description": intent_data.str("description"),
            "receipt_email": intent_data.str("receipt_email"),
            "statement_descriptor": intent_data.str("statement_descriptor", max_length=22),
            "statement_descriptor_suffix": intent_data.str(
                "statement_descriptor_suffix", max_length=22
            ),
        },
        public_url=sb.config.public_url,
    )
    return sb.store.put(session)


def _line_items(params: Params, now: int) -> list[dict[str, Any]]:
    raw_items = params.items("line_items")
    if not raw_items:
        raise invalid_request(
            "You must specify `line_items` in `payment` mode.",
            param="line_items",
            code="parameter_missing",
        )
    items = []
    for item in raw_items:
        item.reject_unknown(LINE_ITEM_PARAMS)
        if item.str("price") is not None:
            raise no_such("price", item.str("price") or "", param=item.name("price"))
        price = item.dict("price_data", required=True)
        price.reject_unknown(PRICE_DATA_PARAMS)
        if "recurring" in price:
            raise invalid_request(
                "You must be in `subscription` mode to use recurring prices; the Stripe sandbox "
                "supports only `payment` mode.",
                param=price.name("recurring"),
            )
        if price.str("product") is not None:
            raise no_such("product", price.str("product") or "", param=price.name("product"))
        currency = check_currency(
            price.str("currency", required=True) or "", param=price.name("currency")
        )
        unit_amount = price.int("unit_amount", required=True, minimum=0) or 0
        product = price.dict("product_data", required=True)
        product.reject_unknown(PRODUCT_DATA_PARAMS)
        quantity = item.int("quantity", required=True, minimum=1) or 1
        items.append(
            objects.line_item(
                name=product.str("name", required=True) or "",
                unit_amount=unit_amount,
                quantity=quantity,
                currency=currency,
                created=now,
                description=product.str("description"),
                metadata=product.metadata(),
            )
        )
    if len({i["currency"] for i in items}) > 1:
        raise invalid_request("All line items must use the same currency.", param="line_items")
    return items


def get(sb: Sandbox, session_id: str) -> dict[str, Any]:
    session = sb.store.get(session_id, "checkout.session")
    if session is None:
        raise no_such("checkout.session", session_id)
    return session


def expire(sb: Sandbox, session: dict[str, Any]) -> dict[str, Any]:
    """Close an open session: `checkout.session.expired`, and its PaymentIntent canceled."""
    if session["status"] != "open":
        raise invalid_request(
            f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
            f'Session has a status of "{session["status"]}".',
            param="session",
        )
    session.update(status="expired", url=None)
    sb.store.put(session)
    intent = sb.store.get(session["payment_intent"] or "", "payment_intent")
    if intent is not None and intent["status"] in payments.CANCELABLE:
        payments.cancel(sb, intent, "abandoned")
    emit(sb, "checkout.session.expired", session)
    return session


def expire_due(sb: Sandbox) -> int:
    """Called every second, and after the clock is moved: expire sessions past `expires_at`."""
    now = sb.clock.now()
    due = [
        s
        for s in sb.store.all("checkout.session")
        if s["status"] == "open" and s["expires_at"] <= now
    ]
    for session in due:
        expire(sb, session)
    return len(due)


def pay(sb: Sandbox, session_id: str, form: CardForm) -> Outcome:
    """Submit the hosted Checkout form: the one code path for the page and the control call."""
    session = sb.store.get(session_id, "checkout.session")
    if session is None:
        return Outcome(
            "invalid",
            status=404,
            error={
                "code": "resource_missing",
                "message": f"No such checkout.session: '{session_id}'",
            },
        )
    if session["status"] == "open" and session["expires_at"] <= sb.clock.now():
        expire(sb, session)
    if session["status"] == "expired":
        return Outcome(
            "invalid",
            status=400,
            error={
                "code": "checkout_session_expired",
                "message": "This Checkout Session has expired. Return to the merchant to start "
                "again.",
            },
        )
    if session["status"] == "complete":
        return Outcome(
            "invalid",
            status=400,
            error={
                "code": "checkout_session_complete",
                "message": "This Checkout Session is already paid. You have not been charged "
                "again.",
            },
        )
    email = form.email.strip() or session["customer_email"] or ""
    if "@" not in email:
        return Outcome(
            "invalid",
            status=400,
            error={
                "code": "email_invalid",
                "message": "Your email address is incomplete.",
                "field": "email",
            },
        )
    try:
        card = parse_card(
            form.number, form.expiry, form.cvc, sb.clock, name=form.name.strip(), email=email
        )
    except CardInputError as exc:
        return Outcome(
            "invalid",
            status=400,
            error={"code": exc.code, "message": exc.message, "field": exc.field},
        )
    intent = sb.store.get(session["payment_intent"] or "", "payment_intent")
    if intent is None:
        data = session["_payment_intent_data"]
        intent = payments.create_intent(
            sb,
            amount=session["amount_total"],
            currency=session["currency"],
            metadata=dict(data["metadata"]),
            description=data["description"],
            receipt_email=data["receipt_email"] or None,
            statement_descriptor=data["statement_descriptor"],
            statement_descriptor_suffix=data["statement_descriptor_suffix"],
            checkout_session=session["id"],
        )
        session["payment_intent"] = intent["id"]
        sb.store.put(session)
    return payments.attempt(sb, intent, card)
