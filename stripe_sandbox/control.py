"""`/_sandbox/...`: controls for tests and demos (JSON in, JSON out, no API key).

Never under `/v1`, so the `stripe` library cannot reach them by accident.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import checkout, payments
from .cards import CardForm
from .errors import StripeError
from .faults import ApiFault, RefundFailure, WebhookFault

if TYPE_CHECKING:
    from .runtime import Sandbox


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ControlError(400, f"Body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError(400, "Body must be a JSON object.")
    return data


def number(data: dict[str, Any], key: str, default: float, *, minimum: float = 0) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ControlError(400, f"`{key}` must be a number >= {minimum}.")
    return float(value)


def flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ControlError(400, f"`{key}` must be true or false.")
    return value


def choice(
    data: dict[str, Any], key: str, choices: tuple[str, ...], default: str | None = None
) -> str:
    value = data.get(key, default)
    if value not in choices:
        raise ControlError(400, f"`{key}` must be one of: {', '.join(choices)}.")
    return str(value)


def routes(sb: Sandbox) -> list[Route]:
    Handler = Callable[[Request, dict[str, Any]], Awaitable[Any] | Any]

    def control(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                data = await body_of(request) if request.method == "POST" else {}
                result = handler(request, data)
                if hasattr(result, "__await__"):
                    result = await result
            except ControlError as exc:
                return JSONResponse({"error": {"message": exc.message}}, exc.status)
            except StripeError as exc:
                return JSONResponse(exc.body(), exc.status)
            if isinstance(result, Response):
                return result
            return JSONResponse(result)

        return run

    def health(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    def reset(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        sb.reset()
        return {"ok": True}

    def api_fault(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        status = int(number(data, "status", 500, minimum=400))
        if status not in (409, 429, 500, 502, 503, 504):
            raise ControlError(400, "`status` must be 500, 502, 503, 504, 429 or 409.")
        prefix = data.get("path_prefix", "/v1")
        if not isinstance(prefix, str) or not prefix.startswith("/v1"):
            raise ControlError(400, "`path_prefix` must start with /v1.")
        sb.faults.api.append(
            ApiFault(
                count=int(number(data, "count", 1, minimum=1)),
                status=status,
                hang_seconds=number(data, "hang_seconds", 0.0),
                path_prefix=prefix,
                after=flag(data, "after"),
                method=choice(data, "method", ("GET", "POST", "DELETE"))
                if "method" in data
                else None,
            )
        )
        return sb.faults.describe()

    def webhook_fault(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        sb.faults.webhooks.append(
            WebhookFault(
                mode=choice(data, "mode", ("drop", "duplicate", "delay")),
                count=int(number(data, "count", 1, minimum=1)),
                delay_seconds=number(data, "delay_seconds", 2.0),
            )
        )
        return sb.faults.describe()

    def clear_faults(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        sb.faults.clear()
        return sb.faults.describe()

    def show_faults(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return sb.faults.describe()

    def fail_next_refund(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        reason = data.get("failure_reason", "expired_or_canceled_card")
        if not isinstance(reason, str) or not reason:
            raise ControlError(400, "`failure_reason` must be a string.")
        sb.faults.refund = RefundFailure(
            failure_reason=reason,
            after_seconds=number(data, "after_seconds", 0.5),
            initial_status=choice(data, "initial_status", ("succeeded", "pending"), "succeeded"),
        )
        return sb.faults.describe()

    def pause(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        sb.webhooks.pause()
        return sb.webhooks.status()

    def resume(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        released = sb.webhooks.resume(choice(data, "order", ("fifo", "reverse"), "fifo"))
        return {**sb.webhooks.status(), "released": released}

    def webhook_status(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return sb.webhooks.status()

    def resend(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        event_id = request.path_params["event_id"]
        event = sb.store.get(event_id, "event")
        if event is None:
            raise ControlError(404, f"No such event: '{event_id}'")
        endpoint = data.get("endpoint")
        queued = sb.webhooks.resend(event, endpoint if isinstance(endpoint, str) else None)
        return {"event": event_id, "queued": queued}

    def deliveries(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        rows = list(sb.webhooks.log)
        for key in ("event_id", "type", "endpoint"):
            wanted = request.query_params.get(key)
            if wanted:
                rows = [r for r in rows if r[key] == wanted]
        return {"object": "list", "data": rows}

    def advance_clock(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        sb.advance_clock(number(data, "seconds", 0.0))
        expired = checkout.expire_due(sb)
        return {"now": sb.clock.now(), "offset": sb.clock.offset, "expired_sessions": expired}

    def clock(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return {"now": sb.clock.now(), "offset": sb.clock.offset}

    def pay_session(request: Request, data: dict[str, Any]) -> Response:
        """Submit the hosted Checkout form without a browser (same code path as the page)."""
        form = CardForm(
            number=str(data.get("card", "")),
            expiry=str(data.get("expiry", "12/34")),
            cvc=str(
                data.get(
                    "cvc",
                    "1234" if str(data.get("card", "")).strip()[:2] in ("34", "37") else "123",
                )
            ),
            name=str(data.get("name", "")),
            email=str(data.get("email", "")),
        )
        outcome = checkout.pay(sb, request.path_params["session_id"], form)
        return JSONResponse(outcome.json(), outcome.status)

    def authenticate(request: Request, data: dict[str, Any]) -> Response:
        """Press "Complete authentication" or "Fail authentication" (same code path)."""
        intent = payments.get_intent(sb, request.path_params["intent_id"])
        result = choice(data, "result", ("complete", "fail"))
        outcome = payments.authenticate(sb, intent, result)
        return JSONResponse(outcome.json(), outcome.status)

    table: list[tuple[str, str, Handler]] = [
        ("GET", "/health", health),
        ("POST", "/reset", reset),
        ("GET", "/faults", show_faults),
        ("POST", "/faults/api", api_fault),
        ("POST", "/faults/webhooks", webhook_fault),
        ("POST", "/faults/clear", clear_faults),
        ("POST", "/refunds/fail_next", fail_next_refund),
        ("GET", "/webhooks", webhook_status),
        ("POST", "/webhooks/pause", pause),
        ("POST", "/webhooks/resume", resume),
        ("POST", "/events/{event_id}/resend", resend),
        ("GET", "/deliveries", deliveries),
        ("GET", "/clock", clock),
        ("POST", "/clock/advance", advance_clock),
        ("POST", "/checkout/sessions/{session_id}/pay", pay_session),
        ("POST", "/payment_intents/{intent_id}/authenticate", authenticate),
    ]
    return [
        Route("/_sandbox" + path, control(handler), methods=[method])
        for method, path, handler in table
    ]
