"""The pages a browser sees: hosted Checkout, the card page standing in for Stripe.js, the 3-D
Secure test page and receipts. Plain HTML forms, so Playwright (or a person) can fill them in.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import checkout, payments
from .cards import CardForm
from .errors import StripeError
from .money import format_amount

if TYPE_CHECKING:
    from .runtime import Sandbox

STYLE = """
body{font-family:system-ui,sans-serif;background:#f6f9fc;color:#1a1f36;margin:0}
main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;
box-shadow:0 2px 8px rgba(0,0,0,.08)}
h1{font-size:1.3rem;margin-top:0}.amount{font-size:2rem;font-weight:600;margin:.2rem 0 1rem}
label{display:block;font-size:.9rem;margin:.8rem 0 .2rem}
input{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #cfd7df;border-radius:4px;
font-size:1rem}
button{margin-top:1.2rem;width:100%;padding:.7rem;border:0;border-radius:4px;background:#635bff;
color:#fff;font-size:1rem;cursor:pointer}
button.secondary{background:#fff;color:#c0123c;border:1px solid #c0123c}
.error{color:#c0123c;background:#fff0f3;padding:.6rem;border-radius:4px}
.notice{background:#eef6ff;padding:.6rem;border-radius:4px}
.hint{color:#697386;font-size:.8rem;margin-top:1.5rem}
ul{padding-left:1.1rem}a{color:#635bff}
"""
HINT = (  # worded apart from the error messages, so tests that look for those find one
    "Stripe sandbox, test mode. Test cards: 4242 4242 4242 4242 (success), "
    "4000 0000 0000 0002 (decline), 4000 0000 0000 9995 (no funds), "
    "4000 0000 0000 0069 (old card), 4000 0025 0000 3155 (3-D Secure). "
    "Any future expiry, any CVC."
)


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body><main>{body}</main>"
        f"</body></html>",
        status_code=status,
    )


def field(
    name: str,
    label: str,
    *,
    value: str = "",
    kind: str = "text",
    required: bool = True,
    autocomplete: str = "",
    placeholder: str = "",
    readonly: bool = False,
) -> str:
    attributes = [f'id="{name}"', f'name="{name}"', f'type="{kind}"', f'value="{e(value)}"']
    if autocomplete:
        attributes.append(f'autocomplete="{autocomplete}"')
    if placeholder:
        attributes.append(f'placeholder="{e(placeholder)}"')
    if required:
        attributes.append("required")
    if readonly:
        attributes.append("readonly")
    return f'<label for="{name}">{e(label)}</label><input {" ".join(attributes)}>'


def card_form(
    *,
    email: str,
    email_required: bool,
    email_readonly: bool,
    hidden: dict[str, str],
    form: CardForm | None = None,
) -> str:
    form = form or CardForm()
    hidden_inputs = "".join(
        f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in hidden.items() if v
    )
    return (
        f'<form method="post" novalidate>{hidden_inputs}'
        + field(
            "email",
            "Email",
            value=email,
            kind="email",
            required=email_required,
            autocomplete="email",
            readonly=email_readonly,
        )
        + field(
            "card_number",
            "Card number",
            value=form.number,
            autocomplete="cc-number",
            placeholder="1234 1234 1234 1234",
        )
        + field("expiry", "Expiry", value=form.expiry, autocomplete="cc-exp", placeholder="MM / YY")
        + field("cvc", "CVC", value=form.cvc, autocomplete="cc-csc", placeholder="CVC")
        + field("name", "Cardholder name", value=form.name, required=False, autocomplete="cc-name")
        + '<button type="submit">Pay</button></form>'
    )


def error_box(message: str | None) -> str:
    return f'<p class="error" role="alert">{e(message)}</p>' if message else ""


async def form_data(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


def card_from(data: dict[str, str]) -> CardForm:
    return CardForm(
        number=data.get("card_number", ""),
        expiry=data.get("expiry", ""),
        cvc=data.get("cvc", ""),
        name=data.get("name", ""),
        email=data.get("email", ""),
    )


def last_error(intent: dict[str, Any] | None) -> str | None:
    """After a failed 3-D Secure step the form shows why, as Stripe's page does."""
    if intent and intent["status"] == "requires_payment_method" and intent["last_payment_error"]:
        return intent["last_payment_error"]["message"]
    return None


def routes(sb: Sandbox) -> list[Route]:
    # Hosted Checkout ---------------------------------------------------------------------------

    def checkout_page(
        session: dict[str, Any], error: str | None = None, form: CardForm | None = None
    ) -> HTMLResponse:
        amount = format_amount(session["amount_total"], session["currency"])
        back = (
            f'<p><a href="{e(session["cancel_url"])}">Cancel and go back</a></p>'
            if session["cancel_url"]
            else ""
        )
        if session["status"] == "complete":
            return page(
                "Payment complete",
                f'<h1>Payment complete</h1><p class="amount">'
                f'{e(amount)}</p><p class="notice" role="status">This Checkout Session '
                f"is already paid.</p>",
            )
        if session["status"] == "expired":
            return page(
                "Session expired",
                f'<h1>Session expired</h1><p class="notice" '
                f'role="status">This Checkout Session has expired. Return to the '
                f"merchant to start again.</p>{back}",
                status=410,
            )
        items = "".join(
            f"<li>{e(i['description'])} × {i['quantity']}: "
            f"{e(format_amount(i['amount_total'], i['currency']))}</li>"
            for i in session["_line_items"]
        )
        intent = sb.store.get(session["payment_intent"] or "", "payment_intent")
        email = (form.email if form and form.email else session["customer_email"]) or ""
        body = (
            f'<h1>Checkout</h1><p class="amount" data-testid="amount">{e(amount)}</p>'
            f"<ul>{items}</ul>{error_box(error or last_error(intent))}"
            + card_form(
                email=email,
                email_required=True,
                email_readonly=bool(session["customer_email"]),
                hidden={},
                form=form,
            )
            + back
            + f'<p class="hint">{e(HINT)}</p>'
        )
        return page(f"Pay {amount}", body)

    def find_session(session_id: str) -> dict[str, Any] | None:
        session = sb.store.get(session_id, "checkout.session")
        if session and session["status"] == "open" and session["expires_at"] <= sb.clock.now():
            checkout.expire(sb, session)
        return session

    async def show_checkout(request: Request) -> Response:
        session = find_session(request.path_params["session_id"])
        if session is None:
            return page("Not found", "<h1>Checkout Session not found</h1>", status=404)
        return checkout_page(session)

    async def submit_checkout(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        form = card_from(await form_data(request))
        outcome = checkout.pay(sb, session_id, form)
        if outcome.redirect and outcome.outcome in ("succeeded", "requires_action"):
            return RedirectResponse(outcome.redirect, status_code=303)
        session = find_session(session_id)
        if session is None:
            return page("Not found", "<h1>Checkout Session not found</h1>", status=404)
        message = outcome.error["message"] if outcome.error else None
        form = CardForm(number="", expiry=form.expiry, cvc="", name=form.name, email=form.email)
        return checkout_page(session, message, form)

    # 3-D Secure --------------------------------------------------------------------------------

    def find_intent(request: Request, secret: str | None) -> dict[str, Any] | None:
        intent = sb.store.get(request.path_params["intent_id"], "payment_intent")
        if intent is None or secret != intent["client_secret"]:
            return None
        return intent

    async def show_authentication(request: Request) -> Response:
        intent = find_intent(request, request.query_params.get("client_secret"))
        if intent is None:
            return page("Not found", "<h1>Payment not found</h1>", status=404)
        amount = format_amount(intent["amount"], intent["currency"])
        if intent["status"] != "requires_action":
            return page(
                "Nothing to authenticate",
                '<h1>Nothing to authenticate</h1><p class="notice">This payment is '
                f"not waiting for authentication (status: {e(intent['status'])}).</p>",
            )
        secret = f'<input type="hidden" name="client_secret" value="{e(intent["client_secret"])}">'
        body = (
            "<h1>Authenticate your payment</h1>"
            f'<p class="amount">{e(amount)}</p>'
            "<p>Your bank asks you to confirm this payment (3-D Secure test page).</p>"
            f'<form method="post">{secret}<input type="hidden" name="result" value="complete">'
            '<button type="submit">Complete authentication</button></form>'
            f'<form method="post">{secret}<input type="hidden" name="result" value="fail">'
            '<button type="submit" class="secondary">Fail authentication</button></form>'
        )
        return page("Authenticate your payment", body)

    async def submit_authentication(request: Request) -> Response:
        data = await form_data(request)
        intent = find_intent(request, data.get("client_secret"))
        if intent is None:
            return page("Not found", "<h1>Payment not found</h1>", status=404)
        try:
            outcome = payments.authenticate(
                sb, intent, "complete" if data.get("result") == "complete" else "fail"
            )
        except StripeError as exc:
            return page(
                "Cannot authenticate",
                f"<h1>Cannot authenticate</h1>{error_box(exc.message)}",
                status=400,
            )
        if outcome.redirect:
            return RedirectResponse(outcome.redirect, status_code=303)
        succeeded = outcome.outcome == "succeeded"
        title = "Authentication complete" if succeeded else "Authentication failed"
        message = (outcome.error or {}).get("message", "You can close this page.")
        return page(title, f'<h1>{title}</h1><p class="notice" role="status">{e(message)}</p>')

    # Card page for PaymentIntents (stands in for Stripe.js) -------------------------------------

    def pay_page(
        intent: dict[str, Any],
        return_url: str,
        error: str | None = None,
        form: CardForm | None = None,
    ) -> HTMLResponse:
        amount = format_amount(intent["amount"], intent["currency"])
        if intent["status"] == "succeeded":
            return page(
                "Payment complete",
                f'<h1>Payment complete</h1><p class="amount">'
                f'{e(amount)}</p><p class="notice" role="status">This payment has '
                f"already succeeded. You have not been charged again.</p>",
            )
        if intent["status"] == "canceled":
            return page(
                "Payment canceled",
                '<h1>Payment canceled</h1><p class="notice" '
                'role="status">This payment was canceled and cannot be paid.</p>',
                status=410,
            )
        hidden = {"client_secret": intent["client_secret"], "return_url": return_url}
        description = f"<p>{e(intent['description'])}</p>" if intent["description"] else ""
        body = (
            f'<h1>Pay by card</h1><p class="amount" data-testid="amount">{e(amount)}</p>'
            f"{description}{error_box(error or last_error(intent))}"
            + card_form(
                email=(form.email if form else intent["receipt_email"]) or "",
                email_required=False,
                email_readonly=False,
                hidden=hidden,
                form=form,
            )
            + f'<p class="hint">{e(HINT)}</p>'
        )
        return page(f"Pay {amount}", body)

    async def show_pay(request: Request) -> Response:
        intent = find_intent(request, request.query_params.get("client_secret"))
        if intent is None:
            return page("Not found", "<h1>Payment not found</h1>", status=404)
        return pay_page(intent, request.query_params.get("return_url", ""))

    async def submit_pay(request: Request) -> Response:
        data = await form_data(request)
        intent = find_intent(request, data.get("client_secret"))
        if intent is None:
            return page("Not found", "<h1>Payment not found</h1>", status=404)
        return_url = data.get("return_url") or None
        form = card_from(data)
        outcome = payments.pay(sb, intent, form, return_url)
        if outcome.redirect and outcome.outcome in ("succeeded", "requires_action"):
            return RedirectResponse(outcome.redirect, status_code=303)
        if outcome.outcome == "succeeded":
            return pay_page(intent, return_url or "")
        message = outcome.error["message"] if outcome.error else None
        form = CardForm(number="", expiry=form.expiry, cvc="", name=form.name, email=form.email)
        return pay_page(intent, return_url or "", message, form)

    # Receipts and index ------------------------------------------------------------------------

    async def receipt(request: Request) -> Response:
        charge = sb.store.get(request.path_params["charge_id"], "charge")
        if charge is None or charge["status"] != "succeeded":
            return page("Not found", "<h1>Receipt not found</h1>", status=404)
        card = charge["payment_method_details"]["card"]
        paid = time.strftime("%d %b %Y, %H:%M UTC", time.gmtime(charge["created"]))
        refunded = ""
        if charge["amount_refunded"]:
            total = format_amount(charge["amount_refunded"], charge["currency"])
            refunded = f"<p>Refunded: {e(total)}</p>"
        body = (
            f'<h1>Receipt</h1><p class="amount">'
            f"{e(format_amount(charge['amount'], charge['currency']))}</p>"
            f"<p>{e(charge['description'] or '')}</p><p>Paid {e(paid)} with "
            f"{e(card['brand'].title())} •••• {e(card['last4'])}</p>{refunded}"
            f'<p class="hint">Receipt for {e(charge["id"])} (Stripe sandbox, test mode)</p>'
        )
        return page("Receipt", body)

    async def index(request: Request) -> Response:
        return page(
            "Stripe sandbox",
            "<h1>Stripe sandbox</h1><p>A Stripe-compatible test "
            "server. API under <code>/v1</code>, controls under <code>/_sandbox</code>."
            "</p>",
        )

    return [
        Route("/", index),
        Route("/checkout/{session_id}", show_checkout, methods=["GET"]),
        Route("/checkout/{session_id}", submit_checkout, methods=["POST"]),
        Route("/authenticate/{intent_id}", show_authentication, methods=["GET"]),
        Route("/authenticate/{intent_id}", submit_authentication, methods=["POST"]),
        Route("/pay/{intent_id}", show_pay, methods=["GET"]),
        Route("/pay/{intent_id}", submit_pay, methods=["POST"]),
        Route("/receipts/{charge_id}", receipt, methods=["GET"]),
    ]
