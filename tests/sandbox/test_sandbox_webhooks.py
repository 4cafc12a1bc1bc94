"""Webhook deliveries, verified on arrival with `stripe.Webhook.construct_event`, and the
controls that make them fail, repeat, wait or arrive out of order."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import stripe
from sandbox_support import WEBHOOK_SECRET, Receiver, wait_for

from stripe_sandbox.testing import SandboxProcess


def new_intent(client: stripe.StripeClient, amount: int = 2000) -> Any:
    return client.v1.payment_intents.create(params={"amount": amount, "currency": "usd"})


def deliveries(sandbox: SandboxProcess, event_id: str) -> list[dict[str, Any]]:
    return sandbox.control(f"deliveries?event_id={event_id}", method="GET")["data"]


def only_event(client: stripe.StripeClient, object_id: str) -> Any:
    events = [e for e in client.v1.events.list().data if e.data.object["id"] == object_id]
    assert len(events) == 1
    return events[0]


def test_every_event_of_a_checkout_payment_arrives_signed(
    make_session: Callable[..., Any],
    sandbox: SandboxProcess,
    receiver: Receiver,
    client: stripe.StripeClient,
) -> None:
    session = make_session()
    sandbox.control(
        f"checkout/sessions/{session.id}/pay",
        {"card": "4242424242424242", "email": "patient@example.com"},
    )
    events = client.v1.events.list().data
    assert sorted(e.type for e in events) == [
        "charge.succeeded",
        "checkout.session.completed",
        "payment_intent.created",
        "payment_intent.succeeded",
    ]
    ids = {e.id for e in events}

    def mine() -> list[dict[str, Any]]:  # a late delivery from an earlier test may arrive too
        return [r for r in receiver.records() if r["id"] in ids]

    wait_for(lambda: len(mine()) == 4)
    records = mine()
    assert all(r["valid"] for r in records), records
    assert sorted(r["id"] for r in records) == sorted(ids)
    completed = receiver.records(type_="checkout.session.completed")[0]
    assert completed["object_id"] == session.id
    wait_for(lambda: all(e.pending_webhooks == 0 for e in client.v1.events.list().data))
    assert [(d["attempt"], d["status_code"]) for d in deliveries(sandbox, completed["id"])] == [
        (1, 200)
    ]
    # The check is real: a wrong secret or an edited body is refused.
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            completed["raw"], completed["signature"], "whsec_someoneelse"
        )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            completed["raw"].replace(b"paid", b"PAID"), completed["signature"], WEBHOOK_SECRET
        )


def test_a_500_answer_is_retried_with_back_off(
    sandbox: SandboxProcess, receiver: Receiver, client: stripe.StripeClient
) -> None:
    receiver.plan = [500, 500]
    intent = new_intent(client)
    wait_for(lambda: len(receiver.records(object_id=intent.id)) == 3)
    records = receiver.records(object_id=intent.id)
    assert [r["answered"] for r in records] == [500, 500, 200]
    assert len({r["id"] for r in records}) == 1 and all(r["valid"] for r in records)
    gaps = [
        later["time"] - earlier["time"]
        for earlier, later in zip(records, records[1:], strict=False)
    ]
    assert gaps[0] >= 0.045 and gaps[1] >= 0.095  # --retry-base 0.05, doubling
    log = wait_for(
        lambda: (rows := deliveries(sandbox, records[0]["id"])) and len(rows) == 3 and rows
    )
    assert [(d["attempt"], d["status_code"], d["delivered"]) for d in log] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]


def test_a_timeout_is_retried(
    sandbox: SandboxProcess, receiver: Receiver, client: stripe.StripeClient
) -> None:
    receiver.plan = ["slow"]  # answers after 1.5 s; the sandbox waits 1 s
    intent = new_intent(client)
    wait_for(lambda: len(receiver.records(object_id=intent.id)) == 2, timeout=5)
    event = only_event(client, intent.id)
    log = wait_for(lambda: (rows := deliveries(sandbox, event.id)) and len(rows) == 2 and rows)
    assert (log[0]["attempt"], log[0]["status_code"]) == (1, None)
    assert log[0]["error"].startswith("timed out")
    assert (log[1]["attempt"], log[1]["status_code"]) == (2, 200)


def test_delivery_gives_up_after_the_last_attempt(
    sandbox: SandboxProcess, receiver: Receiver, client: stripe.StripeClient
) -> None:
    receiver.plan = [503] * 6
    intent = new_intent(client)
    wait_for(lambda: len(receiver.records(object_id=intent.id)) == 5, timeout=4)
    time.sleep(1.0)  # longer than the next back-off (0.8 s) would be
    assert len(receiver.records(object_id=intent.id)) == 5  # --max-attempts 5
    assert only_event(client, intent.id).pending_webhooks == 1


def test_the_api_answers_before_the_webhook_is_delivered(
    receiver: Receiver, client: stripe.StripeClient
) -> None:
    receiver.plan = ["slow"]
    started = time.monotonic()
    intent = new_intent(client)
    assert time.monotonic() - started < 0.5
    wait_for(lambda: receiver.records(object_id=intent.id), timeout=3)


def test_drop_loses_the_next_delivery_only(
    sandbox: SandboxProcess, receiver: Receiver, client: stripe.StripeClient
) -> None:
    sandbox.control("faults/webhooks", {"mode": "drop", "count": 1})
    dropped, kept = new_intent(client), new_intent(client)
    wait_for(lambda: receiver.records(object_id=kept.id))
    time.sleep(0.2)
    assert receiver.records(object_id=dropped.id) == []
    log = deliveries(sandbox, only_event(client, dropped.id).id)
    assert [(d["attempt"], d["error"]) for d in log] == [(0, "dropped by fault injection")]


def test_duplicate_sends_the_same_event_twice(
    sandbox: SandboxProcess, receiver: Receiver, client: stripe.StripeClient
) -> None:
    sandbox.control("faults/webhooks", {"mode": "duplicate", "count": 1})
    twice, once = new_intent(client), new_intent(client)
    wait_for(lambda: len(receiver.records(object_id=twice.id)) == 2)
    wait_for(lambda: len(receiver.records(object_id=once.id)) == 1)
    records = receiver.records(object_id=twice.id)
    assert records[0]["id"] == records[1]["id"] and all(r["valid"] for r in records)
    time.sleep(0.1)
    assert len(receiver.records(object_id=once.id)) == 1


def test_delay_holds_a_delivery_back_so_a_later_one_overtakes_it(
    sandbox: SandboxProcess, receiver: Receiver, client: stripe.StripeClient
) -> None:
    sandbox.control("faults/webhooks", {"mode": "delay", "count": 1, "delay_seconds": 0.6})
    started = time.monotonic()
    late, early = new_intent(client), new_intent(client)
    wait_for(lambda: receiver.records(object_id=late.id), timeout=3)
    late_at = receiver.records(object_id=late.id)[0]["time"]
    early_at = receiver.records(object_id=early.id)[0]["time"]
    assert early_at < late_at
    assert late_at - started >= 0.55


@pytest.mark.parametrize(("order", "expected"), [("fifo", [0, 1, 2]), ("reverse", [2, 1, 0])])
def test_pause_holds_deliveries_and_resume_releases_them_in_order(
    sandbox: SandboxProcess,
    receiver: Receiver,
    client: stripe.StripeClient,
    order: str,
    expected: list[int],
) -> None:
    sandbox.control("webhooks/pause")
    intents = [new_intent(client, 1000 + i) for i in range(3)]
    ids = [intent.id for intent in intents]

    def arrived() -> list[str]:
        return [r["object_id"] for r in receiver.records() if r["object_id"] in ids]

    assert sandbox.control("webhooks", method="GET")["held"] == 3
    time.sleep(0.2)
    assert arrived() == []
    assert sandbox.control("webhooks/resume", {"order": order})["released"] == 3
    wait_for(lambda: len(arrived()) == 3)
    assert arrived() == [ids[i] for i in expected]


def test_resend_delivers_an_event_again(
    sandbox: SandboxProcess, receiver: Receiver, client: stripe.StripeClient
) -> None:
    intent = new_intent(client)
    wait_for(lambda: receiver.records(object_id=intent.id))
    event = only_event(client, intent.id)
    assert sandbox.control(f"events/{event.id}/resend") == {"event": event.id, "queued": 1}
    wait_for(lambda: len(receiver.records(object_id=intent.id)) == 2)
    assert [r["id"] for r in receiver.records(object_id=intent.id)] == [event.id, event.id]


def test_api_created_endpoints_get_only_their_events_with_their_secret(
    sandbox: SandboxProcess, receiver: Receiver, client: stripe.StripeClient
) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": receiver.url + "/other", "enabled_events": ["charge.succeeded"]}
    )
    receiver.secrets["/other"] = endpoint.secret
    intent = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "return_url": "https://efoy.example/done",
        }
    )
    ids = {intent.id, intent.latest_charge}
    wait_for(lambda: len([r for r in receiver.records() if r["object_id"] in ids]) == 3)
    wait_for(lambda: receiver.records(path="/other"))
    other = receiver.records(path="/other")
    assert [(r["type"], r["valid"]) for r in other] == [("charge.succeeded", True)]
    charge_event = client.v1.events.list(params={"type": "charge.succeeded"}).data[0]
    wait_for(lambda: client.v1.events.retrieve(charge_event.id).pending_webhooks == 0)
