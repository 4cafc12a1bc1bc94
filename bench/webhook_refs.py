"""The two references the webhook benchmark measures Efoy's route against, each a bare
Starlette app on the same server and worker count (`uvicorn bench.webhook_refs:floor`):

- `floor`: checks the signature with `stripe.WebhookSignature.verify_header` and parses the JSON,
  nothing else: what any webhook endpoint must at least do;
- `construct`: Stripe's sample handler, `stripe.Webhook.construct_event` and nothing else.

Neither stores anything: they answer 200 and forget, so they are what a route costs with no
durable work at all.
"""

from __future__ import annotations

import json
import os

import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PATH = "/api/v1/payment/webhook"
SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")


async def _floor(request: Request) -> JSONResponse:
    body = await request.body()
    try:
        stripe.WebhookSignature.verify_header(
            body.decode("utf-8"), request.headers.get("stripe-signature", ""), SECRET, 300
        )
        json.loads(body)
    except (stripe.SignatureVerificationError, ValueError):
        return JSONResponse({"error": "invalid"}, status_code=400)
    return JSONResponse({"received": True})


async def _construct(request: Request) -> JSONResponse:
    body = await request.body()
    try:
        stripe.Webhook.construct_event(body, request.headers.get("stripe-signature", ""), SECRET)
    except (stripe.SignatureVerificationError, ValueError):
        return JSONResponse({"error": "invalid"}, status_code=400)
    return JSONResponse({"received": True})


floor = Starlette(routes=[Route(PATH, _floor, methods=["POST"])])
construct = Starlette(routes=[Route(PATH, _construct, methods=["POST"])])
