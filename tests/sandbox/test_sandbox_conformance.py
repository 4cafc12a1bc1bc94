"""Every object the sandbox serves carries every top-level key of Stripe's own fixture object,
with the same JSON type (or null). Read over raw HTTP, so the library cannot paper over gaps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from stripe_sandbox.testing import SandboxProcess

FIXTURES = Path(__file__).resolve().parents[2] / "stripe_sandbox" / "fixtures"
RESOURCES = json.loads((FIXTURES / "fixtures3.subset.json").read_text())["resources"]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def mismatches(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    problems = []
    for key, value in expected.items():
        if key not in actual:
            problems.append(f"missing {key}")
        elif (
            value is not None
            and actual[key] is not None
            and (json_type(value) != json_type(actual[key]))
        ):
            problems.append(f"{key}: {json_type(actual[key])}, Stripe has {json_type(value)}")
    return problems


def api(sandbox: SandboxProcess, method: str, path: str, **data: Any) -> dict[str, Any]:
    response = httpx.request(
        method,
        sandbox.url + path,
        data=data or None,
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def served(sandbox: SandboxProcess) -> dict[str, dict[str, Any]]:
    """One object of each type, from a paid and partly refunded Checkout Session."""
    session = api(
        sandbox,
        "POST",
        "/v1/checkout/sessions",
        **{
            "mode": "payment",
            "success_url": "https://example.com/ok",
            "line_items[0][price_data][currency]": "usd",
            "line_items[0][price_data][unit_amount]": "5000",
            "line_items[0][price_data][product_data][name]": "Consultation",
            "line_items[0][quantity]": "1",
        },
    )
    paid = sandbox.control(
        f"checkout/sessions/{session['id']}/pay",
        {"card": "4242424242424242", "email": "patient@example.com"},
    )
    assert paid["outcome"] == "succeeded"
    session = api(sandbox, "GET", f"/v1/checkout/sessions/{session['id']}")
    intent = api(sandbox, "GET", f"/v1/payment_intents/{session['payment_intent']}")
    charge = api(sandbox, "GET", f"/v1/charges/{intent['latest_charge']}")
    refund = api(sandbox, "POST", "/v1/refunds", charge=charge["id"], amount="1000")
    endpoint = api(
        sandbox,
        "POST",
        "/v1/webhook_endpoints",
        url="https://example.com/hook",
        **{"enabled_events[0]": "*"},
    )
    events = api(sandbox, "GET", "/v1/events", limit="1")["data"]
    return {
        "checkout.session": session,
        "payment_intent": intent,
        "charge": charge,
        "refund": refund,
        "event": events[0],
        "webhook_endpoint": endpoint,
        "payment_method": api(sandbox, "GET", f"/v1/payment_methods/{intent['payment_method']}"),
        "balance_transaction": api(
            sandbox, "GET", f"/v1/balance_transactions/{charge['balance_transaction']}"
        ),
    }


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_object_has_every_fixture_key_with_stripes_type(
    resource: str, served: dict[str, dict[str, Any]]
) -> None:
    obj = served[resource]
    assert obj["object"] == resource
    assert mismatches(RESOURCES[resource], obj) == []


def test_fresh_payment_intent_and_open_session_conform_too(sandbox: SandboxProcess) -> None:
    """Unpaid objects have many nulls; the keys must still all be there."""
    intent = api(sandbox, "POST", "/v1/payment_intents", amount="1099", currency="usd")
    session = api(
        sandbox,
        "POST",
        "/v1/checkout/sessions",
        **{
            "mode": "payment",
            "line_items[0][price_data][currency]": "eur",
            "line_items[0][price_data][unit_amount]": "1000",
            "line_items[0][price_data][product_data][name]": "X",
            "line_items[0][quantity]": "2",
        },
    )
    assert mismatches(RESOURCES["payment_intent"], intent) == []
    assert mismatches(RESOURCES["checkout.session"], session) == []
    assert (intent["status"], session["status"], session["amount_total"]) == (
        "requires_payment_method",
        "open",
        2000,
    )


def test_the_comparison_catches_a_wrong_type() -> None:
    """The check above must be able to fail."""
    assert mismatches({"a": 1, "b": "x", "c": None}, {"a": "1", "c": 5}) == [
        "a: string, Stripe has number",
        "missing b",
    ]
