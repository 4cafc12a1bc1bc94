"""The `/v1` API: authentication, fault injection, idempotency, then one handler per endpoint.

Handlers are plain functions `(sandbox, params, **path) -> dict` that raise StripeError; they run
on the event loop without awaiting, so each request's changes happen all at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import API_VERSION, checkout, idempotency, payments, refunds, views
from .errors import (
    StripeError,
    api_error,
    authentication,
    invalid_request,
    no_such,
    unexpected_state,
)
from .events import RequestInfo, current_request, type_matches
from .faults import ApiFault
from .forms import Params, parse_pairs
from .ids import new_id, webhook_secret
from .money import check_amount, check_currency
from .objects import webhook_endpoint

if TYPE_CHECKING:
    from .runtime import Sandbox

Handler = Callable[..., dict[str, Any]]

NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


# The request pipeline -------------------------------------------------------------------------


def api_key(request: Request) -> str:
    """Any `sk_test_...` key is accepted (Bearer, or Basic as curl's `-u key:` sends it)."""
    header = request.headers.get("authorization", "").strip()
    if not header:
        raise authentication(NO_KEY)
    scheme, _, value = header.partition(" ")
    key = value.strip()
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(key).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    elif scheme.lower() != "bearer":
        raise authentication(
            "Invalid Authorization header: use Bearer auth "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
        )
    if not key.startswith("sk_test_") or len(key) <= len("sk_test_"):
        masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key
        raise authentication(f"Invalid API Key provided: {masked}")
    return key


async def _fail(fault: ApiFault) -> None:
    if fault.hang_seconds:
        await asyncio.sleep(fault.hang_seconds)
    raise api_error(fault.status, f"Sandbox fault injection: HTTP {fault.status} for this request.")


async def serve(sb: Sandbox, request: Request, handler: Handler) -> Response:
    request_id = new_id("req", 14)
    fault: ApiFault | None = None
    method = request.method
    key = request.headers.get("idempotency-key") if method == "POST" else None
    version = request.headers.get("stripe-version")
    print_: str | None = None
    replayed = False
    try:
        api_key(request)
        fault = sb.faults.take_api(request.url.path, method)
        if fault is not None and not fault.after:
            await _fail(fault)
        raw = (await request.body()).decode() if method == "POST" else request.url.query
        pairs = parse_qsl(raw, keep_blank_values=True)
        if key:
            print_ = idempotency.fingerprint(method, request.url.path, pairs)
            replay = idempotency.lookup(sb, key, print_)
            if replay is not None:
                status, body, replayed = replay.status, replay.body, True
        if not replayed:
            params = Params(parse_pairs(pairs))
            token = current_request.set(RequestInfo(request_id, key, version))
            try:
                body = handler(sb, params, **request.path_params)
                status = 200
            finally:
                current_request.reset(token)
    except StripeError as exc:
        status, body = exc.status, exc.body()
    if key and print_ and not replayed and idempotency.should_keep(status):
        idempotency.remember(sb, key, print_, status, body)
    if fault is not None and fault.after:
        try:
            await _fail(fault)  # done, but the answer is lost on its way back
        except StripeError as exc:
            status, body = exc.status, exc.body()
    headers = {"Request-Id": request_id, "Stripe-Version": version or API_VERSION}
    if key:
        headers["Idempotency-Key"] = key
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(json.dumps(body, indent=2), status, headers, media_type="application/json")


def routes(sb: Sandbox) -> list[Route]:
    def endpoint(handler: Handler) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            return await serve(sb, request, handler)

        return run

    async def not_found(request: Request) -> Response:
        def handler(_sb: Sandbox, _params: Params, **_: Any) -> dict[str, Any]:
            raise invalid_request(
                f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                status=404,
            )

        return await serve(sb, request, handler)

    table = [
        Route(path, endpoint(handler), methods=[method]) for method, path, handler in ENDPOINTS
    ]
    table.append(
        Route("/v1/{rest:path}", not_found, methods=["GET", "POST", "DELETE", "PUT", "PATCH"])
    )
    return table


# Checkout Sessions ----------------------------------------------------------------------------


def create_session(sb: Sandbox, p: Params) -> dict[str, Any]:
    return views.render(sb, checkout.create(sb, p), p)


def list_sessions(sb: Sandbox, p: Params) -> dict[str, Any]:
    p.reject_unknown(
        {
            "limit",
            "starting_after",
            "ending_before",
            "expand",
            "created",
            "payment_intent",
            "status",
            "customer",
            "customer_details",
            "payment_link",
            "subscription",
        }
    )
    items = list(sb.store.newest_first("checkout.session"))
    intent = p.str("payment_intent")
    if intent is not None:
        items = [s for s in items if s["payment_intent"] == intent]
    status = p.enum("status", ("open", "complete", "expired"))
    if status is not None:
        items = [s for s in items if s["status"] == status]
    email = p.dict("customer_details").str("email")
    if email is not None:
        items = [s for s in items if (s["customer_details"] or {}).get("email") == email]
    for unsupported in ("customer", "payment_link", "subscription"):
        if p.str(unsupported) is not None:
            items = []
    return views.page(sb, items, p, "/v1/checkout/sessions")


def get_session(sb: Sandbox, p: Params, session_id: str) -> dict[str, Any]:
    p.reject_unknown({"expand"})
    return views.render(sb, checkout.get(sb, session_id), p)


def update_session(sb: Sandbox, p: Params, session_id: str) -> dict[str, Any]:
    p.reject_unknown({"metadata", "expand"})
    session = checkout.get(sb, session_id)
    session["metadata"] = p.metadata(session["metadata"])
    return views.render(sb, sb.store.put(session), p)


def expire_session(sb: Sandbox, p: Params, session_id: str) -> dict[str, Any]:
    p.reject_unknown({"expand"})
    return views.render(sb, checkout.expire(sb, checkout.get(sb, session_id)), p)


def session_line_items(sb: Sandbox, p: Params, session_id: str) -> dict[str, Any]:
    p.reject_unknown({"limit", "starting_after", "ending_before", "expand"})
    session = checkout.get(sb, session_id)
    return views.page(
        sb, session["_line_items"], p, f"/v1/checkout/sessions/{session_id}/line_items"
    )


# PaymentIntents -------------------------------------------------------------------------------

INTENT_CREATE = {
    "amount",
    "currency",
    "metadata",
    "description",
    "receipt_email",
    "automatic_payment_methods",
    "payment_method",
    "payment_method_types",
    "confirm",
    "return_url",
    "capture_method",
    "confirmation_method",
    "setup_future_usage",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "expand",
    "customer",
    "payment_method_options",
    "use_stripe_sdk",
    "error_on_requires_action",
}
INTENT_CONFIRM = {
    "payment_method",
    "return_url",
    "receipt_email",
    "expand",
    "payment_method_options",
    "use_stripe_sdk",
    "error_on_requires_action",
    "setup_future_usage",
    "client_secret",
    "off_session",
    "mandate_data",
}
NEEDS_RETURN_URL = (
    "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. "
    "Because some of these payment methods might redirect your customer off of your page, you "
    "must provide a `return_url`. If you don't want to accept redirect-based payment methods, "
    "set `automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
    "Payment Intents."
)


def create_intent(sb: Sandbox, p: Params) -> dict[str, Any]:
    p.reject_unknown(INTENT_CREATE)
    amount = p.int("amount", required=True, minimum=1) or 0
    currency = check_currency(p.str("currency", required=True) or "")
    check_amount(amount, currency)
    if p.str("customer") is not None:
        raise no_such("customer", p.str("customer") or "", param="customer")
    if p.enum("capture_method", ("automatic", "automatic_async", "manual")) == "manual":
        raise invalid_request(
            "The Stripe sandbox supports only automatic capture.", param="capture_method"
        )
    automatic = p.dict("automatic_payment_methods")
    automatic.reject_unknown({"enabled", "allow_redirects"})
    types = p.strings("payment_method_types")
    if types and "card" not in types:
        raise invalid_request(
            "The Stripe sandbox supports only card payments.", param="payment_method_types"
        )
    enabled = automatic.bool("enabled", default=not types)
    redirects = automatic.enum("allow_redirects", ("always", "never")) or "always"
    method_id = p.str("payment_method")
    method = payments.payment_method_for(sb, method_id) if method_id else None
    confirm = p.bool("confirm")
    return_url = p.str("return_url")
    if return_url is not None and not confirm:
        raise invalid_request(
            "You can only specify `return_url` when `confirm` is true.", param="return_url"
        )
    if confirm and enabled and redirects == "always" and return_url is None:
        raise invalid_request(NEEDS_RETURN_URL, param="return_url")
    intent = payments.create_intent(
        sb,
        amount=amount,
        currency=currency,
        metadata=p.metadata(),
        description=p.str("description"),
        receipt_email=p.str("receipt_email"),
        automatic_payment_methods=enabled,
        statement_descriptor=p.str("statement_descriptor", max_length=22),
        statement_descriptor_suffix=p.str("statement_descriptor_suffix", max_length=22),
    )
    if enabled:
        intent["automatic_payment_methods"]["allow_redirects"] = redirects
    if method is not None:
        intent.update(payment_method=method["id"], status="requires_confirmation")
    sb.store.put(intent)
    if confirm:
        payments.confirm(sb, intent, method, return_url=return_url)
    return views.render(sb, intent, p)


def list_intents(sb: Sandbox, p: Params) -> dict[str, Any]:
    p.reject_unknown({"limit", "starting_after", "ending_before", "expand", "created", "customer"})
    items = list(sb.store.newest_first("payment_intent"))
    if p.str("customer") is not None:
        items = []
    return views.page(sb, items, p, "/v1/payment_intents")


def get_intent(sb: Sandbox, p: Params, intent_id: str) -> dict[str, Any]:
    p.reject_unknown({"expand", "client_secret"})
    intent = payments.get_intent(sb, intent_id)
    secret = p.str("client_secret")
    if secret is not None and secret != intent["client_secret"]:
        raise invalid_request(
            "The client_secret provided does not match the client_secret associated with the "
            "PaymentIntent.",
            param="client_secret",
        )
    return views.render(sb, intent, p)


def update_intent(sb: Sandbox, p: Params, intent_id: str) -> dict[str, Any]:
    p.reject_unknown(
        {
            "amount",
            "currency",
            "metadata",
            "description",
            "receipt_email",
            "payment_method",
            "statement_descriptor",
            "statement_descriptor_suffix",
            "expand",
            "payment_method_types",
            "setup_future_usage",
        }
    )
    intent = payments.get_intent(sb, intent_id)
    money_fields = [k for k in ("amount", "currency", "payment_method") if p.str(k) is not None]
    if money_fields and intent["status"] not in payments.CONFIRMABLE:
        raise unexpected_state(
            f"You cannot update this PaymentIntent because it has a status of "
            f"{intent['status']}. Updates to {money_fields[0]} are only allowed when the status "
            f"is one of: {', '.join(payments.CONFIRMABLE)}.",
            param=money_fields[0],
        )
    currency = check_currency(p.str("currency") or intent["currency"])
    amount = p.int("amount", minimum=1) or intent["amount"]
    check_amount(amount, currency)
    method_id = p.str("payment_method")
    if method_id is not None:
        method = payments.payment_method_for(sb, method_id)
        intent.update(payment_method=method["id"], status="requires_confirmation", next_action=None)
    intent.update(amount=amount, currency=currency, metadata=p.metadata(intent["metadata"]))
    for key in (
        "description",
        "receipt_email",
        "statement_descriptor",
        "statement_descriptor_suffix",
    ):
        if key in p:
            intent[key] = p.str(key)
    return views.render(sb, sb.store.put(intent), p)


def confirm_intent(sb: Sandbox, p: Params, intent_id: str) -> dict[str, Any]:
    p.reject_unknown(INTENT_CONFIRM)
    intent = payments.get_intent(sb, intent_id)
    method_id = p.str("payment_method")
    method = payments.payment_method_for(sb, method_id) if method_id else None
    return_url = p.str("return_url") or intent.get("_return_url")
    automatic = intent["automatic_payment_methods"]
    if (
        automatic
        and automatic.get("allow_redirects") == "always"
        and return_url is None
        and intent["status"] in payments.CONFIRMABLE
    ):
        raise invalid_request(NEEDS_RETURN_URL, param="return_url")
    if p.str("receipt_email") is not None:
        intent["receipt_email"] = p.str("receipt_email")
    payments.confirm(sb, intent, method, return_url=return_url)
    return views.render(sb, intent, p)


def cancel_intent(sb: Sandbox, p: Params, intent_id: str) -> dict[str, Any]:
    p.reject_unknown({"cancellation_reason", "expand"})
    reason = p.enum(
        "cancellation_reason", ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
    )
    intent = payments.get_intent(sb, intent_id)
    return views.render(sb, payments.cancel(sb, intent, reason), p)


# Charges, Refunds, PaymentMethods, BalanceTransactions ----------------------------------------


def _get(sb: Sandbox, kind: str, object_id: str, label: str | None = None) -> dict[str, Any]:
    obj = sb.store.get(object_id, kind)
    if obj is None:
        raise no_such(label or kind, object_id)
    return obj


def get_charge(sb: Sandbox, p: Params, charge_id: str) -> dict[str, Any]:
    p.reject_unknown({"expand"})
    return views.render(sb, _get(sb, "charge", charge_id), p)


def list_charges(sb: Sandbox, p: Params) -> dict[str, Any]:
    p.reject_unknown(
        {
            "limit",
            "starting_after",
            "ending_before",
            "expand",
            "created",
            "payment_intent",
            "customer",
            "transfer_group",
        }
    )
    items = list(sb.store.newest_first("charge"))
    intent = p.str("payment_intent")
    if intent is not None:
        items = [c for c in items if c["payment_intent"] == intent]
    if p.str("customer") is not None:
        items = []
    return views.page(sb, items, p, "/v1/charges")


def create_refund(sb: Sandbox, p: Params) -> dict[str, Any]:
    return views.render(sb, refunds.create(sb, p), p)


def get_refund(sb: Sandbox, p: Params, refund_id: str) -> dict[str, Any]:
    p.reject_unknown({"expand"})
    return views.render(sb, _get(sb, "refund", refund_id), p)


def update_refund(sb: Sandbox, p: Params, refund_id: str) -> dict[str, Any]:
    return views.render(sb, refunds.update(sb, _get(sb, "refund", refund_id), p), p)


def list_refunds(sb: Sandbox, p: Params) -> dict[str, Any]:
    p.reject_unknown(
        {
            "limit",
            "starting_after",
            "ending_before",
            "expand",
            "created",
            "charge",
            "payment_intent",
        }
    )
    items = list(sb.store.newest_first("refund"))
    for key in ("charge", "payment_intent"):
        value = p.str(key)
        if value is not None:
            items = [r for r in items if r[key] == value]
    return views.page(sb, items, p, "/v1/refunds")


def get_payment_method(sb: Sandbox, p: Params, method_id: str) -> dict[str, Any]:
    p.reject_unknown({"expand"})
    return views.render(sb, _get(sb, "payment_method", method_id, "PaymentMethod"), p)


def get_balance_transaction(sb: Sandbox, p: Params, txn_id: str) -> dict[str, Any]:
    p.reject_unknown({"expand"})
    return views.render(sb, _get(sb, "balance_transaction", txn_id), p)


# Events and webhook endpoints -----------------------------------------------------------------


def get_event(sb: Sandbox, p: Params, event_id: str) -> dict[str, Any]:
    p.reject_unknown({"expand"})
    return views.render(sb, _get(sb, "event", event_id), p)


def list_events(sb: Sandbox, p: Params) -> dict[str, Any]:
    p.reject_unknown(
        {
            "limit",
            "starting_after",
            "ending_before",
            "expand",
            "created",
            "type",
            "types",
            "delivery_success",
        }
    )
    items = list(sb.store.newest_first("event"))
    type_ = p.str("type")
    types = p.strings("types")
    if type_ is not None and types:
        raise invalid_request("You cannot specify both `type` and `types`.", param="types")
    patterns = [type_] if type_ else types
    if patterns:
        items = [e for e in items if any(type_matches(t, e["type"]) for t in patterns)]
    if "delivery_success" in p:
        pending = not p.bool("delivery_success")
        items = [e for e in items if (e["pending_webhooks"] > 0) == pending]
    return views.page(sb, items, p, "/v1/events")


def _enabled_events(p: Params) -> list[str]:
    events = p.strings("enabled_events")
    for index, name in enumerate(events):
        if name != "*" and ("." not in name or " " in name):
            raise invalid_request(
                f"Invalid enabled_events[{index}]: {name} is not a valid event type.",
                param=f"enabled_events[{index}]",
            )
    return events


def create_endpoint(sb: Sandbox, p: Params) -> dict[str, Any]:
    p.reject_unknown(
        {"url", "enabled_events", "description", "metadata", "api_version", "connect", "expand"}
    )
    url = p.str("url", required=True) or ""
    if not url.startswith(("http://", "https://")):
        raise invalid_request("Invalid URL: must be an http or https URL.", param="url")
    events = _enabled_events(p)
    if not events:
        raise invalid_request(
            "Missing required param: enabled_events.",
            param="enabled_events",
            code="parameter_missing",
        )
    endpoint = webhook_endpoint(
        url=url,
        enabled_events=events,
        created=sb.clock.now(),
        secret=webhook_secret(),
        description=p.str("description"),
        metadata=p.metadata(),
        api_version=p.str("api_version"),
    )
    sb.store.put(endpoint)
    shown = views.render(sb, endpoint, p)
    shown["secret"] = endpoint["_secret"]  # shown once, on creation, as Stripe does
    return shown


def list_endpoints(sb: Sandbox, p: Params) -> dict[str, Any]:
    p.reject_unknown({"limit", "starting_after", "ending_before", "expand"})
    return views.page(
        sb, list(sb.store.newest_first("webhook_endpoint")), p, "/v1/webhook_endpoints"
    )


def get_endpoint(sb: Sandbox, p: Params, endpoint_id: str) -> dict[str, Any]:
    p.reject_unknown({"expand"})
    return views.render(sb, _get(sb, "webhook_endpoint", endpoint_id), p)


def update_endpoint(sb: Sandbox, p: Params, endpoint_id: str) -> dict[str, Any]:
    p.reject_unknown({"url", "enabled_events", "description", "metadata", "disabled", "expand"})
    endpoint = _get(sb, "webhook_endpoint", endpoint_id)
    if p.str("url") is not None:
        endpoint["url"] = p.str("url")
    if "enabled_events" in p:
        endpoint["enabled_events"] = _enabled_events(p) or endpoint["enabled_events"]
    if "description" in p:
        endpoint["description"] = p.str("description")
    if "disabled" in p:
        endpoint["status"] = "disabled" if p.bool("disabled") else "enabled"
    endpoint["metadata"] = p.metadata(endpoint["metadata"])
    return views.render(sb, sb.store.put(endpoint), p)


def delete_endpoint(sb: Sandbox, p: Params, endpoint_id: str) -> dict[str, Any]:
    _get(sb, "webhook_endpoint", endpoint_id)
    sb.store.delete(endpoint_id)
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


ENDPOINTS: list[tuple[str, str, Handler]] = [
    ("POST", "/v1/checkout/sessions", create_session),
    ("GET", "/v1/checkout/sessions", list_sessions),
    ("GET", "/v1/checkout/sessions/{session_id}", get_session),
    ("POST", "/v1/checkout/sessions/{session_id}", update_session),
    ("POST", "/v1/checkout/sessions/{session_id}/expire", expire_session),
    ("GET", "/v1/checkout/sessions/{session_id}/line_items", session_line_items),
    ("POST", "/v1/payment_intents", create_intent),
    ("GET", "/v1/payment_intents", list_intents),
    ("GET", "/v1/payment_intents/{intent_id}", get_intent),
    ("POST", "/v1/payment_intents/{intent_id}", update_intent),
    ("POST", "/v1/payment_intents/{intent_id}/confirm", confirm_intent),
    ("POST", "/v1/payment_intents/{intent_id}/cancel", cancel_intent),
    ("GET", "/v1/charges", list_charges),
    ("GET", "/v1/charges/{charge_id}", get_charge),
    ("POST", "/v1/refunds", create_refund),
    ("GET", "/v1/refunds", list_refunds),
    ("GET", "/v1/refunds/{refund_id}", get_refund),
    ("POST", "/v1/refunds/{refund_id}", update_refund),
    ("GET", "/v1/payment_methods/{method_id}", get_payment_method),
    ("GET", "/v1/balance_transactions/{txn_id}", get_balance_transaction),
    ("GET", "/v1/events", list_events),
    ("GET", "/v1/events/{event_id}", get_event),
    ("POST", "/v1/webhook_endpoints", create_endpoint),
    ("GET", "/v1/webhook_endpoints", list_endpoints),
    ("GET", "/v1/webhook_endpoints/{endpoint_id}", get_endpoint),
    ("POST", "/v1/webhook_endpoints/{endpoint_id}", update_endpoint),
    ("DELETE", "/v1/webhook_endpoints/{endpoint_id}", delete_endpoint),
]
