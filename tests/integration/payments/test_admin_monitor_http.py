"""The webhook monitor and the audit trail over HTTP: replay, alerts, the audit list.

Real API under uvicorn, real sandbox, signed webhooks; a payment made stale by moving its
creation time back in the database (the one thing a test cannot wait 2 minutes for).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from efoy_app.models import (
    AlertWarning,
    AuditLog,
    Booking,
    OutboxEmail,
    Payment,
    Refund,
    User,
    WebhookEvent,
    utcnow,
)
from efoy_app.settings import get_settings
from tests.integration.payments.helpers import (
    WEBHOOK_PATH,
    applied_event,
    auth,
    book_slot,
    pay_session,
    settled_webhooks,
    sign,
    start_checkout,
    wait_for,
)

ADMIN = "/api/v1/admin"


def _replay(api_server, token: str | None, event_id: object) -> httpx.Response:
    headers = auth(token) if token else {}
    return httpx.post(f"{api_server.url}{ADMIN}/webhooks/{event_id}/replay", headers=headers,
                      timeout=60)  # fmt: skip


def _get(api_server, token: str, path: str, **params) -> httpx.Response:
    return httpx.get(f"{api_server.url}{ADMIN}{path}", params=params, headers=auth(token),
                     timeout=30)  # fmt: skip


def _stored(api_server, event_type: str, object_id: str) -> WebhookEvent:
    """The stored event (waiting for it: other events of the payment may come first)."""

    def probe() -> WebhookEvent | None:
        with Session(api_server.engine) as db:
            for row in db.exec(select(WebhookEvent).where(WebhookEvent.type == event_type)):
                if json.loads(row.payload)["data"]["object"]["id"] == object_id:
                    return row
        return None

    return wait_for(probe)


def _admin_id(api_server) -> int:
    with Session(api_server.engine) as db:
        return db.exec(select(User).where(User.email == "admin@example.com")).one().id


def _books(api_server, booking_id: int) -> dict:
    """Everything a replay must not change: the payments, booking, refunds, mail and trail."""
    with Session(api_server.engine) as db:
        payments = db.exec(select(Payment).where(Payment.booking_id == booking_id)).all()
        ids = [p.id for p in payments]
        refunds = db.exec(select(Refund).where(col(Refund.payment_id).in_(ids))).all()
        trail = db.exec(
            select(AuditLog.entity_type, AuditLog.entity_id, AuditLog.action, AuditLog.to_status)
            .where(
                ((AuditLog.entity_type == "booking") & (AuditLog.entity_id == booking_id))
                | ((AuditLog.entity_type == "payment") & col(AuditLog.entity_id).in_(ids))
            )
            .order_by(col(AuditLog.id))
        ).all()
        return {
            "payments": [
                (p.status, p.amount_minor, p.amount_refunded_minor, p.paid_at) for p in payments
            ],
            "booking": db.get(Booking, booking_id).status,
            "refunds": [(r.amount_minor, r.status) for r in refunds],
            "trail": [tuple(t) for t in trail],
            "mail": db.exec(select(func.count()).select_from(OutboxEmail)).one(),
        }


def test_replaying_a_processed_completion_twice_changes_nothing(
    api_server, sandbox, admin_token, make_patient
):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=5)
    checkout = start_checkout(api_server.url, token, booking["id"])
    assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
    wait_for(lambda: _books(api_server, booking["id"])["booking"] == "confirmed")
    stored = _stored(api_server, "checkout.session.completed", checkout["sessionId"])
    event = applied_event(api_server.engine, stored.stripe_event_id)
    assert event.status == "processed"
    before = _books(api_server, booking["id"])
    answers = [_replay(api_server, admin_token, event.id) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    said = [(a.json()["statusBefore"], a.json()["status"], a.json()["changes"]) for a in answers]
    assert said == [("processed", "processed", 0)] * 2
    assert [a.json()["attempts"] for a in answers] == [event.attempts + 1, event.attempts + 2]
    after = _books(api_server, booking["id"])
    assert after == before
    assert after["payments"][0][0] == "paid" and len(after["payments"]) == 1
    assert after["refunds"] == []
    confirmations = [t for t in after["trail"] if t[0] == "booking" and t[3] == "confirmed"]
    assert len(confirmations) == 1
    with Session(api_server.engine) as db:
        replays = db.exec(
            select(AuditLog).where(
                AuditLog.entity_type == "webhook_event", AuditLog.entity_id == event.id
            )
        ).all()
    assert [(r.actor, r.action, r.from_status, r.to_status) for r in replays] == [
        (f"user:{_admin_id(api_server)}", "webhook_replayed", "processed", "processed")
    ] * 2
    assert replays[0].reason == "Replayed by an admin; processed again and nothing changed."


def test_replaying_a_failed_event_retries_it_and_the_alert_clears(
    api_server, sandbox, webhook_secret, admin_token, make_patient
):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=5)
    with sandbox.webhooks_paused():
        checkout = start_checkout(api_server.url, token, booking["id"])
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
        event = sandbox.find_event("checkout.session.completed", checkout["sessionId"])
        body = json.dumps(event).encode()
        fault = {"count": 3, "status": 500, "path_prefix": "/v1/checkout"}
        sandbox.control("/faults/api", fault)
        try:
            signature = {"Stripe-Signature": sign(body, webhook_secret)}
            first = httpx.post(api_server.url + WEBHOOK_PATH, content=body, headers=signature,
                               timeout=30)  # fmt: skip
            applied_event(api_server.engine, event["id"])
        finally:
            sandbox.control("/faults/clear")
        assert first.status_code == 200
        row = _stored(api_server, "checkout.session.completed", checkout["sessionId"])
        assert (row.status, row.attempts) == ("failed", 1)
        alerts = _get(api_server, admin_token, "/alerts").json()
        assert row.id in alerts["failedEvents"]["ids"]
        # Stripe still down: the replay fails too, and says so.
        sandbox.control("/faults/api", fault)
        try:
            again = _replay(api_server, admin_token, row.id)
        finally:
            sandbox.control("/faults/clear")
        assert again.status_code == 200, again.text
        failed = again.json()
        assert (failed["statusBefore"], failed["status"], failed["attempts"]) == (
            "failed",
            "failed",
            2,
        )
        assert "PaymentProviderUnavailable" in failed["error"]
        assert _books(api_server, booking["id"])["booking"] == "held"
        # Stripe back: the replay applies the payment.
        done = _replay(api_server, admin_token, row.id).json()
        assert (done["status"], done["attempts"], done["error"]) == ("processed", 3, None)
        assert done["changes"] >= 2  # the payment paid, the booking confirmed
        state = _books(api_server, booking["id"])
        assert (state["booking"], state["payments"][0][0]) == ("confirmed", "paid")
        alerts = _get(api_server, admin_token, "/alerts").json()
        assert row.id not in alerts["failedEvents"]["ids"]
    with Session(api_server.engine) as db:
        trail = db.exec(
            select(AuditLog.from_status, AuditLog.to_status)
            .where(AuditLog.entity_type == "webhook_event", AuditLog.entity_id == row.id)
            .order_by(col(AuditLog.id))
        ).all()
        assert [tuple(t) for t in trail] == [("failed", "failed"), ("failed", "processed")]
        warned = db.exec(
            select(AlertWarning).where(
                AlertWarning.kind == "failed_event", AlertWarning.object_id == row.id
            )
        ).all()
        assert len(warned) == 1  # warned when it failed, not again on the second failure


def test_a_stale_pending_payment_alerts_once_and_clears_when_paid(
    api_server, sandbox, admin_token, make_patient, caplog: pytest.LogCaptureFixture
):
    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=4)
    checkout = start_checkout(api_server.url, token, booking["id"])
    with Session(api_server.engine) as db:
        payment = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
    assert payment.id not in _get(api_server, admin_token, "/alerts").json()["stalePayments"]["ids"]
    grace = get_settings().reconcile_grace_seconds
    # Stale: started before, and still pending past the grace after, the hold's end.
    long_ago = utcnow() - timedelta(seconds=grace + 5)
    with Session(api_server.engine) as db:
        db.exec(update(Payment).where(Payment.id == payment.id).values(created_at=long_ago))
        db.exec(update(Booking).where(Booking.id == booking["id"]).values(hold_expires_at=long_ago))
        db.commit()
    with caplog.at_level(logging.WARNING, logger="efoy.alerts"):
        seen = [_get(api_server, admin_token, "/alerts").json() for _ in range(3)]
    for alerts in seen:
        assert payment.id in alerts["stalePayments"]["ids"]
        assert alerts["graceSeconds"] == grace
    with Session(api_server.engine) as db:
        pending = db.exec(
            select(func.count())
            .select_from(Payment)
            .join(Booking, Booking.id == Payment.booking_id)
            .where(
                Payment.status == "pending",
                Payment.created_at <= utcnow() - timedelta(seconds=grace),
                Booking.hold_expires_at <= utcnow() - timedelta(seconds=grace),
            )
        ).one()
    assert seen[-1]["stalePayments"]["count"] == pending
    said = [r.getMessage() for r in caplog.records if r.name == "efoy.alerts"]
    assert said.count(f"alert.stale_payment id={payment.id}") == 1
    assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
    wait_for(lambda: _books(api_server, booking["id"])["payments"][0][0] == "paid")
    assert payment.id not in _get(api_server, admin_token, "/alerts").json()["stalePayments"]["ids"]


def test_audit_list_filters_and_pages(api_server, sandbox, admin_token, make_patient):
    patient = make_patient()
    booking = book_slot(api_server.url, patient, doctor_index=3)
    checkout = start_checkout(api_server.url, patient, booking["id"])
    assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
    wait_for(lambda: _books(api_server, booking["id"])["booking"] == "confirmed")
    event = _stored(api_server, "checkout.session.completed", checkout["sessionId"])
    assert _replay(api_server, admin_token, event.id).status_code == 200

    one = _get(api_server, admin_token, "/audit", object=f"booking {booking['id']}").json()
    assert {(r["entityType"], r["entityId"]) for r in one["data"]} == {("booking", booking["id"])}
    assert [r["action"] for r in one["data"]][-1] == "held"  # newest first: the hold is last
    assert one["count"] == len(one["data"])
    held = one["data"][-1]
    assert held["actor"] == f"user:{patient.user_id}"
    assert held["actorName"].startswith("Patient ")  # the name it registered with
    same = _get(api_server, admin_token, "/audit", object_type="booking",
                object_id=booking["id"]).json()  # fmt: skip
    assert same == one
    by_hash = _get(api_server, admin_token, "/audit", object=f"#{booking['id']}").json()
    assert {r["entityId"] for r in by_hash["data"]} == {booking["id"]}

    settled_webhooks(api_server.engine, sandbox)  # nothing writes to the trail from here on
    with Session(api_server.engine) as db:
        everything = db.exec(
            select(AuditLog.id, AuditLog.actor).order_by(col(AuditLog.at).desc(),
                                                         col(AuditLog.id).desc())
        ).all()  # fmt: skip
        admins = {f"user:{i}" for i in db.exec(select(User.id).where(User.role == "admin"))}
        others = {f"user:{i}" for i in db.exec(select(User.id).where(User.role != "patient"))}
    page1 = _get(api_server, admin_token, "/audit", limit=3).json()
    page2 = _get(api_server, admin_token, "/audit", limit=3, offset=3).json()
    assert page1["count"] == page2["count"] >= len(everything)
    assert [r["id"] for r in page1["data"] + page2["data"]] == [i for i, _ in everything[:6]]
    expect = {
        "stripe": lambda a: a.startswith("stripe:"),
        "system": lambda a: a.startswith("system:"),
        "admin": lambda a: a in admins,
        "patient": lambda a: a.startswith("user:") and a not in others,
    }
    for kind, matches in expect.items():
        got = _get(api_server, admin_token, "/audit", actor=kind, limit=200).json()
        wanted = [i for i, a in everything if matches(a)]
        assert got["count"] == len(wanted), kind
        assert [r["id"] for r in got["data"]] == wanted[:200], kind
    assert _get(api_server, admin_token, "/audit", actor="admin").json()["data"][0]["action"] == (
        "webhook_replayed"
    )
    today = utcnow().date()  # the test server's clinic is UTC
    day = _get(api_server, admin_token, "/audit", date_from=str(today), date_to=str(today),
               object=f"booking {booking['id']}").json()  # fmt: skip
    assert day["count"] == one["count"]
    old = _get(api_server, admin_token, "/audit", date_from="2001-01-01", date_to="2001-01-31")
    assert old.json() == {"data": [], "count": 0}

    for params in (
        {"actor": "robot"},
        {"object": "invoice 12"},
        {"object_type": "invoice"},
        {"date_from": "2026-12-02", "date_to": "2026-12-01"},
        {"date_from": "yesterday"},
        {"limit": 0},
        {"offset": -1},
        {"object_id": 2**63},
    ):
        r = _get(api_server, admin_token, "/audit", **params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] == "validation_error", params
    huge = _get(api_server, admin_token, "/audit", object=f"booking {2**70}")
    assert huge.json() == {"data": [], "count": 0}


def test_replay_refuses_unknown_and_unbounded_ids(api_server, admin_token):
    missing = _replay(api_server, admin_token, 999_999)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    for bad in (2**63, 2**64, "abc", 0, -1, "1e3"):
        r = _replay(api_server, admin_token, bad)
        assert 400 <= r.status_code < 500, (bad, r.text)
        assert r.json()["error"]["code"] in ("validation_error", "not_found"), bad


def test_new_admin_routes_are_401_anonymous_and_403_for_patients(
    api_server, patient_token, make_patient
):
    calls = [("POST", "/webhooks/1/replay"), ("GET", "/alerts"), ("GET", "/audit")]
    for method, path in calls:
        url = f"{api_server.url}{ADMIN}{path}"
        for token in (patient_token, make_patient()):
            r = httpx.request(method, url, headers=auth(token), timeout=30)
            assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden"), path
        r = httpx.request(method, url, timeout=30)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthorized"), path


def test_five_replays_at_once_of_a_failed_completion_confirm_once(
    api_server, sandbox, webhook_secret, admin_token, make_patient
):
    from concurrent.futures import ThreadPoolExecutor

    token = make_patient()
    booking = book_slot(api_server.url, token, doctor_index=2)
    with sandbox.webhooks_paused():
        checkout = start_checkout(api_server.url, token, booking["id"])
        assert pay_session(sandbox, checkout["sessionId"])["outcome"] == "succeeded"
        event = sandbox.find_event("checkout.session.completed", checkout["sessionId"])
        body = json.dumps(event).encode()
        sandbox.control("/faults/api", {"count": 3, "status": 500, "path_prefix": "/v1/checkout"})
        try:
            signature = {"Stripe-Signature": sign(body, webhook_secret)}
            first = httpx.post(api_server.url + WEBHOOK_PATH, content=body, headers=signature,
                               timeout=30)  # fmt: skip
            applied_event(api_server.engine, event["id"])
        finally:
            sandbox.control("/faults/clear")
        assert first.status_code == 200
        row = _stored(api_server, "checkout.session.completed", checkout["sessionId"])
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda _: _replay(api_server, admin_token, row.id), range(5)))
        assert [a.status_code for a in answers] == [200] * 5
        assert {a.json()["status"] for a in answers} == {"processed"}
        assert sum(1 for a in answers if a.json()["changes"] > 0) == 1
    state = _books(api_server, booking["id"])
    assert (state["booking"], [p[0] for p in state["payments"]], state["refunds"]) == (
        "confirmed",
        ["paid"],
        [],
    )
    confirmations = [t for t in state["trail"] if t[0] == "booking" and t[3] == "confirmed"]
    assert len(confirmations) == 1
