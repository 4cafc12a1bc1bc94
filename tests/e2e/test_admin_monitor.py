"""The webhook monitor and the audit tab in Chromium: `Replay`, the alert banner, /admin/audit.

Payments are made as a patient's client makes them (REST, then the sandbox's Checkout form); a
failing event is signed and sent as Stripe would send it. The rows behind each page are checked
in the server's database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import update
from sqlmodel import Session, func, select

from efoy_app.models import AuditLog, Booking, Doctor, Payment, Refund, User, WebhookEvent
from efoy_app.routes import ADMIN_AUDIT, ADMIN_PENDING_PAYMENTS
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, DEMO_PATIENT, log_in
from tests.integration.payments.helpers import applied_event

PASSWORD = "e2e-monitor-pass"


def _patient(server: AppServer) -> dict[str, str]:
    api = f"{server.url}/api/v1"
    email = f"monitor-e2e-{uuid.uuid4().hex[:10]}@example.com"
    r = httpx.post(f"{api}/auth/register", json={"email": email, "password": PASSWORD,
                   "fullName": "Derartu Tulu"}, timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text
    r = httpx.post(f"{api}/auth/token", json={"email": email, "password": PASSWORD}, timeout=30)
    return {"Authorization": f"Bearer {r.json()['accessToken']}"}


def _paid_booking(server: AppServer) -> tuple[int, str]:
    """A booking days away, paid through hosted Checkout with 4242: (booking id, session id)."""
    headers = _patient(server)
    api = f"{server.url}/api/v1"
    with server.session() as s:
        doctor = s.exec(select(Doctor).where(Doctor.currency == "EUR")).first()
        assert doctor is not None
    booking_id = None
    for day in range(2, 14):
        date = time.strftime("%Y-%m-%d", time.gmtime(time.time() + day * 86400))
        slots = httpx.get(f"{api}/doctors/{doctor.id}/slots", params={"date": date},
                          timeout=30).json()["slots"]  # fmt: skip
        for slot in reversed(slots):
            r = httpx.post(f"{api}/bookings", json={"doctorId": doctor.id,
                           "startsAt": slot["startsAt"]}, headers=headers, timeout=30)  # fmt: skip
            if r.status_code == 201:
                booking_id = int(r.json()["id"])
                break
        if booking_id:
            break
    assert booking_id is not None, "no free slot"
    r = httpx.post(f"{api}/payment/create-checkout-session", json={"bookingId": booking_id},
                   headers=headers, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    session_id = r.json()["sessionId"]
    paid = httpx.post(f"{server.sandbox_url}/_sandbox/checkout/sessions/{session_id}/pay",
                      json={"card": "4242424242424242"}, timeout=30)  # fmt: skip
    assert paid.json()["outcome"] == "succeeded", paid.text
    deadline = time.monotonic() + 30
    while True:
        with server.session() as s:
            if s.get(Booking, booking_id).status == "confirmed":
                return booking_id, session_id
        assert time.monotonic() < deadline, "booking not confirmed"
        time.sleep(0.2)


def _sign(body: bytes, secret: str) -> str:
    t = int(time.time())
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def _completion_event(server: AppServer, session_id: str) -> WebhookEvent:
    """The stored checkout.session.completed of this session, once processed (the booking may
    be confirmed by payment_intent.succeeded before it arrives)."""
    deadline = time.monotonic() + 20
    while True:
        with server.session() as s:
            for e in s.exec(
                select(WebhookEvent).where(WebhookEvent.type == "checkout.session.completed")
            ):
                ours = json.loads(e.payload)["data"]["object"]["id"] == session_id
                if ours and e.status == "processed":
                    return e
        assert time.monotonic() < deadline, "checkout.session.completed not processed"
        time.sleep(0.2)


def _trail(s: Session, booking_id: int, payment_id: int) -> list[tuple]:
    """The booking's and the payment's audit rows."""
    rows = s.exec(
        select(AuditLog.id, AuditLog.action, AuditLog.to_status).where(
            ((AuditLog.entity_type == "booking") & (AuditLog.entity_id == booking_id))
            | ((AuditLog.entity_type == "payment") & (AuditLog.entity_id == payment_id))
        )
    ).all()
    return sorted(tuple(r) for r in rows)


def test_admin_presses_replay_and_sees_that_nothing_changed(
    app_server: AppServer, page: Page
) -> None:
    booking_id, session_id = _paid_booking(app_server)
    event = _completion_event(app_server, session_id)
    with app_server.session() as s:
        payment = s.exec(select(Payment).where(Payment.booking_id == booking_id)).one()
        trail_before = _trail(s, booking_id, payment.id)
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin/webhooks?status=processed")
    row = page.locator(f'tr[data-event-id="{event.stripe_event_id}"]')
    expect(row).to_have_attribute("data-status", "processed")
    row.get_by_role("button", name="Replay").click()
    expect(page.locator("#replay-notice")).to_have_text(
        f"Replayed checkout.session.completed ({event.stripe_event_id}): processed; nothing "
        "changed (it had been applied already)."
    )
    expect(row.locator(".attempts")).to_have_text(str(event.attempts + 1))
    with app_server.session() as s:
        after = s.get(Payment, payment.id)
        assert (after.status, after.amount_refunded_minor) == ("paid", 0)
        assert s.exec(select(Refund).where(Refund.payment_id == payment.id)).all() == []
        confirmations = s.exec(
            select(AuditLog).where(
                AuditLog.entity_type == "booking",
                AuditLog.entity_id == booking_id,
                AuditLog.to_status == "confirmed",
            )
        ).all()
        assert len(confirmations) == 1
        admin = s.exec(select(User).where(User.email == DEMO_ADMIN[0])).one()
        [replay] = s.exec(
            select(AuditLog).where(
                AuditLog.entity_type == "webhook_event", AuditLog.entity_id == event.id
            )
        ).all()
        assert (replay.actor, replay.action) == (f"user:{admin.id}", "webhook_replayed")
    # The replay is in the audit tab, in words, by the admin.
    page.get_by_role("link", name="Audit", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/audit/?$"))
    page.get_by_label("Object", exact=True).fill(f"webhook event {event.id}")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"object=webhook\+event\+" + str(event.id)))
    expect(page.locator("tr[data-audit-id] .sentence")).to_have_text(
        [f"Demo Admin: Webhook replayed, webhook event #{event.id}, now Processed."]
    )
    expect(page.locator("tr[data-audit-id] .why")).to_have_text(
        [
            "Replayed by an admin; processed again and nothing changed. Stripe id: "
            f"{event.stripe_event_id}"
        ]
    )
    with app_server.session() as s:
        assert _trail(s, booking_id, payment.id) == trail_before


def _failed_count(server: AppServer) -> int:
    since = datetime.now(UTC) - timedelta(hours=24)
    with server.session() as s:
        return s.exec(
            select(func.count())
            .select_from(WebhookEvent)
            .where(WebhookEvent.status == "failed", WebhookEvent.received_at >= since)
        ).one()


def _events_text(n: int) -> str:
    return f"{n} webhook event has failed" if n == 1 else f"{n} webhook events have failed"


def test_the_banner_shows_a_failed_event_links_to_it_and_clears(
    app_server: AppServer, page: Page
) -> None:
    bad_id = f"evt_banner_{uuid.uuid4().hex[:12]}"
    body = json.dumps({"id": bad_id, "object": "event", "type": "charge.refunded",
                       "data": {"object": {"object": "charge", "id": None}}}).encode()  # fmt: skip
    assert app_server.webhook_secret
    signature = {"Stripe-Signature": _sign(body, app_server.webhook_secret)}
    r = httpx.post(f"{app_server.url}/api/v1/payment/webhook", content=body, headers=signature,
                   timeout=30)  # fmt: skip
    assert (r.status_code, r.json()["outcome"]) == (200, "stored")  # stored; applied after
    assert applied_event(app_server.engine, bad_id).status == "failed"
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin")
    banner = page.locator("#admin-alerts")
    expect(banner).to_contain_text("Needs attention")
    expect(banner).to_contain_text(_events_text(_failed_count(app_server)))
    pending = banner.get_by_role("link", name="Show pending payments")
    if pending.count():
        expect(pending).to_have_attribute("href", ADMIN_PENDING_PAYMENTS)
    banner.get_by_role("link", name="Show failed events").click()
    expect(page).to_have_url(re.compile(r"/admin/webhooks\?status=failed$"))
    expect(page.get_by_label("Status")).to_have_value("failed")
    bad_row = page.locator(f'tr[data-event-id="{bad_id}"]')
    expect(bad_row).to_have_attribute("data-status", "failed")
    # The same banner on every admin page.
    expect(page.locator("#admin-alerts")).to_contain_text("Needs attention")
    # A day later it is no longer news: the banner counts one event fewer (none: no line).
    with app_server.session() as s:
        s.exec(
            update(WebhookEvent)
            .where(WebhookEvent.stripe_event_id == bad_id)
            .values(received_at=datetime.now(UTC) - timedelta(hours=25))
        )
        s.commit()
    left = _failed_count(app_server)
    page.goto(f"{app_server.url}{ADMIN_AUDIT}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit")
    if left:
        expect(page.locator("#admin-alerts")).to_contain_text(_events_text(left))
    else:
        expect(page.locator("#admin-alerts")).not_to_contain_text("webhook event")


def test_the_audit_tab_filters_by_actor_object_and_clinic_days_and_pages(
    app_server: AppServer, page: Page
) -> None:
    # 60 changes on one day long ago (noon UTC: the same day in the clinic's zone, UTC+3).
    day = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
    booking_id = 900_000 + int(time.time()) % 10_000
    with app_server.session() as s:
        for i in range(60):
            s.add(AuditLog(at=day + timedelta(minutes=i), actor="system:reconcile",
                           entity_type="booking", entity_id=booking_id, action="status_changed",
                           from_status="held", to_status="expired",
                           reason="hold lapsed"))  # fmt: skip
        s.commit()
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}{ADMIN_AUDIT}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit")
    page.get_by_label("Actor", exact=True).select_option("system")
    page.get_by_label("From", exact=True).fill("2025-03-04")
    page.get_by_label("To", exact=True).fill("2025-03-04")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"actor=system.*date_from=2025-03-04&date_to=2025-03-04"))
    summary = page.locator(".audit-summary").first
    expect(summary).to_have_text("60 changes · page 1 of 2")
    rows = page.locator("tr[data-audit-id]")
    expect(rows).to_have_count(50)
    expect(rows.first.locator(".sentence")).to_have_text(
        f"Reconciliation moved booking #{booking_id} from Held, awaiting payment to Expired."
    )
    expect(rows.first.locator(".why")).to_have_text("The hold lapsed before the payment arrived.")
    page.get_by_role("navigation", name="Audit pages (top)").get_by_role(
        "link", name="Next"
    ).click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(summary).to_have_text("60 changes · page 2 of 2")
    expect(rows).to_have_count(10)
    page.get_by_role("navigation", name="Audit pages (top)").get_by_role(
        "link", name="Previous"
    ).click()
    expect(rows).to_have_count(50)
    # Another actor kind on that day: nothing.
    page.get_by_label("Actor", exact=True).select_option("stripe")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"actor=stripe"))
    expect(page.get_by_text("No changes match these filters.")).to_be_visible()
    # One object, typed as "#id", all actors and days.
    page.get_by_role("button", name="Clear").click()
    expect(page).to_have_url(re.compile(r"/admin/audit/?$"))
    page.get_by_label("Object", exact=True).fill(f"#{booking_id}")
    page.get_by_role("button", name="Filter").click()
    expect(summary).to_have_text("60 changes · page 1 of 2")
    # A bad filter says what to write.
    page.get_by_label("Object", exact=True).fill("invoice 3")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-error")).to_contain_text('Write an object as "booking 12"')


def test_patients_see_nothing_of_the_audit_tab_or_the_banner(
    app_server: AppServer, page: Page
) -> None:
    log_in(page, app_server.url, *DEMO_PATIENT)
    for path in (ADMIN_AUDIT, "/admin/webhooks"):
        page.goto(f"{app_server.url}{path}")
        expect(page.locator("#forbidden-message")).to_have_text(
            "You do not have access to this page."
        )
        expect(page.get_by_role("table")).to_have_count(0)
        expect(page.locator("#admin-alerts")).to_have_count(0)
        expect(page.get_by_role("button", name="Replay")).to_have_count(0)
