"""Admin pages in Chromium: payments, one payment's detail and `Refund`, webhook events.

Payments are made the way a patient's client makes them (the app's REST API, then the sandbox's
Checkout form through its control route); the refund goes through the page, Stripe-shaped HTTP and
the signed webhooks, and the rows behind every page are checked in the server's database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import col, select

from efoy_app.domain.bookings import expire_lapsed_holds
from efoy_app.domain.money import format_money, to_major
from efoy_app.models import Booking, Doctor, Payment, Refund, WebhookEvent, utcnow
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, DEMO_PATIENT, log_in, log_out
from tests.integration.payments.helpers import applied_event

PASSWORD = "e2e-admin-pass"


@dataclass(frozen=True)
class Paid:
    payment: Payment
    patient_email: str


def _patient(server: AppServer) -> tuple[str, dict[str, str]]:
    """A fresh patient registered over REST: (email, bearer headers)."""
    api = f"{server.url}/api/v1"
    email = f"admin-e2e-{uuid.uuid4().hex[:10]}@example.com"
    r = httpx.post(f"{api}/auth/register", json={"email": email, "password": PASSWORD,
                   "fullName": "Tirunesh Dibaba"}, timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text
    r = httpx.post(f"{api}/auth/token", json={"email": email, "password": PASSWORD}, timeout=30)
    return email, {"Authorization": f"Bearer {r.json()['accessToken']}"}


@pytest.fixture(scope="module")
def paid_eur(app_server: AppServer) -> Paid:
    """A booking with the EUR doctor, paid through hosted Checkout by a fresh patient."""
    email, headers = _patient(app_server)
    booking = _book(app_server, headers, "EUR")
    return Paid(_checkout_paid(app_server, headers, booking["id"]), email)


def _book(server: AppServer, headers: dict[str, str], currency: str) -> dict:
    api = f"{server.url}/api/v1"
    with server.session() as s:
        doctor = s.exec(select(Doctor).where(Doctor.currency == currency)).first()
        assert doctor is not None
    for day in range(1, 14):
        date = time.strftime("%Y-%m-%d", time.gmtime(time.time() + day * 86400))
        slots = httpx.get(f"{api}/doctors/{doctor.id}/slots", params={"date": date},
                          timeout=30).json()["slots"]  # fmt: skip
        for slot in reversed(slots):
            r = httpx.post(f"{api}/bookings", json={"doctorId": doctor.id,
                           "startsAt": slot["startsAt"]}, headers=headers, timeout=30)  # fmt: skip
            if r.status_code == 201:
                return r.json()
    raise AssertionError("no free slot")


def _start_checkout(server: AppServer, headers: dict[str, str], booking_id: int) -> str:
    r = httpx.post(f"{server.url}/api/v1/payment/create-checkout-session",
                   json={"bookingId": booking_id}, headers=headers, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()["sessionId"]


def _pay(server: AppServer, session_id: str) -> None:
    """The sandbox's hosted Checkout form, submitted with 4242 (same code path as the page)."""
    paid = httpx.post(f"{server.sandbox_url}/_sandbox/checkout/sessions/{session_id}/pay",
                      json={"card": "4242424242424242"}, timeout=30)  # fmt: skip
    assert paid.json()["outcome"] == "succeeded", paid.text


def _checkout_paid(server: AppServer, headers: dict[str, str], booking_id: int) -> Payment:
    """Hosted Checkout for the booking, paid with 4242 on the sandbox; waits for `paid`."""
    session_id = _start_checkout(server, headers, booking_id)
    _pay(server, session_id)
    return _wait_payment(server, lambda p: p.stripe_checkout_session_id == session_id, "paid")


def _wait_payment(
    server: AppServer, match: Callable[[Payment], bool], status: str, timeout: float = 20
) -> Payment:
    deadline = time.monotonic() + timeout
    while True:
        with server.session() as s:
            found = [p for p in s.exec(select(Payment)).all() if match(p)]
        if found and found[0].status == status:
            return found[0]
        assert time.monotonic() < deadline, f"payment not {status}: {found}"
        time.sleep(0.2)


def _refunds(server: AppServer, payment_id: int) -> list[Refund]:
    with server.session() as s:
        return list(s.exec(select(Refund).where(Refund.payment_id == payment_id)).all())


def test_admin_refunds_part_then_is_refused_more_than_is_left(
    app_server: AppServer, page: Page, paid_eur: Paid
) -> None:
    payment = paid_eur.payment
    price = payment.amount_minor
    part = price // 4
    log_in(page, app_server.url, *DEMO_ADMIN)

    page.goto(f"{app_server.url}/admin")
    page.get_by_role("tab", name="Payments").click()
    row = page.locator(f'tr[data-payment-id="{payment.id}"]')
    expect(row).to_contain_text("Tirunesh Dibaba")
    expect(row).to_contain_text(format_money(price, "EUR"))
    expect(row.locator(".payment-status")).to_have_text("Paid")
    row.get_by_role("link", name="Details").click()
    expect(page).to_have_url(re.compile(rf"/admin/payments/{payment.id}/?$"))
    expect(page.get_by_role("heading", name=f"Payment #{payment.id}")).to_be_visible()
    expect(page.locator("#payment-amount")).to_have_text(format_money(price, "EUR"))
    expect(page.locator("#stripe-session-id")).to_have_text(payment.stripe_checkout_session_id)
    expect(page.locator("#stripe-charge-id")).to_have_text(re.compile(r"^ch_"))
    expect(page.locator("#payment-card")).to_have_text("Visa •••• 4242")
    expect(page.locator("#booking-status")).to_have_attribute("data-status", "confirmed")
    expect(page.get_by_text("No refunds.")).to_be_visible()

    # A partial refund, confirmed in the dialog; a double click must not refund twice.
    page.get_by_role("radio", name="Other amount").click()
    page.get_by_label("Amount (EUR)").fill(str(to_major(part, "EUR")))
    page.get_by_label("Reason").fill("Doctor ran 40 minutes late")
    page.get_by_role("button", name="Refund", exact=True).click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text(f"Refund {format_money(part, 'EUR')} to Visa •••• 4242?")
    dialog.get_by_role("button", name="Refund", exact=True).dblclick()
    expect(page.locator("#refund-notice")).to_have_text(
        f"Refund of {format_money(part, 'EUR')} sent to Stripe."
    )
    heading = page.locator("#payment-heading .payment-status")
    expect(heading).to_have_text("Partially refunded")
    expect(heading).to_have_attribute("data-status", "partially_refunded")
    ledger = page.locator("tr[data-refund-id]")
    expect(ledger).to_have_count(1)
    expect(ledger).to_have_attribute("data-status", "succeeded")
    expect(ledger.locator(".amount")).to_have_text(format_money(part, "EUR"))
    expect(ledger.locator(".reason")).to_have_text("Doctor ran 40 minutes late")
    expect(ledger.locator(".asked-by")).to_have_text("Demo Admin")
    expect(ledger.locator(".asked-by > *")).to_have_attribute("title", "admin@example.com")
    expect(page.locator("#payment-refundable")).to_have_text(format_money(price - part, "EUR"))
    expect(page.get_by_label("Amount (EUR)")).to_have_value("")
    time.sleep(0.5)  # a second refund from the double click would have landed by now
    [refund] = _refunds(app_server, payment.id)
    assert (refund.amount_minor, refund.status, refund.reason) == (
        part,
        "succeeded",
        "Doctor ran 40 minutes late",
    )
    with app_server.session() as s:
        paid = s.get(Payment, payment.id)
        assert (paid.status, paid.amount_refunded_minor) == ("partially_refunded", part)

    # More than is left: a clear error before any dialog, and nothing changes.
    page.get_by_label("Amount (EUR)").fill(str(to_major(price, "EUR")))
    page.get_by_label("Reason").fill("Refund it all twice")
    page.get_by_role("button", name="Refund", exact=True).click()
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    expect(page.locator("#refund-error")).to_have_text(
        f"A refund of {format_money(price, 'EUR')} is more than the "
        f"{format_money(price - part, 'EUR')} left to refund on this payment."
    )
    expect(page.get_by_label("Amount (EUR)")).to_have_value(str(to_major(price, "EUR")))
    expect(page.locator("tr[data-refund-id]")).to_have_count(1)
    assert [r.id for r in _refunds(app_server, payment.id)] == [refund.id]
    with app_server.session() as s:
        paid = s.get(Payment, payment.id)
        assert (paid.status, paid.amount_refunded_minor) == ("partially_refunded", part)
    # The audit trail shows the admin's refund request.
    audit = page.locator("#audit-trail")
    expect(audit).to_contain_text("Refund requested")
    expect(audit).to_contain_text(
        f"A refund of {format_money(part, 'EUR')} was asked for: Doctor ran 40 minutes late."
    )


def _sandbox_refunds(server: AppServer, payment_intent: str) -> list[tuple[int, str]]:
    r = httpx.get(f"{server.sandbox_url}/v1/refunds", params={"payment_intent": payment_intent},
                  headers={"Authorization": "Bearer sk_test_sandbox"}, timeout=30)  # fmt: skip
    r.raise_for_status()
    return [(x["amount"], x["status"]) for x in r.json()["data"]]


def test_a_refund_during_a_stripe_outage_is_queued_sent_once_and_a_retry_adds_nothing(
    app_server: AppServer, page: Page
) -> None:
    _email, headers = _patient(app_server)
    payment = _checkout_paid(app_server, headers, _book(app_server, headers, "EUR")["id"])
    part = payment.amount_minor // 5
    fault = {"count": 3, "status": 500, "path_prefix": "/v1/refunds", "method": "POST"}
    r = httpx.post(f"{app_server.sandbox_url}/_sandbox/faults/api", json=fault, timeout=30)
    assert r.status_code == 200, r.text
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin/payments/{payment.id}")
    page.get_by_role("radio", name="Other amount").click()
    page.get_by_label("Amount (EUR)").fill(str(to_major(part, "EUR")))
    page.get_by_label("Reason").fill("Clinic closed early")
    page.get_by_role("button", name="Refund", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Refund", exact=True).click()
    expect(page.locator("#refund-notice")).to_have_text(
        f"Stripe did not answer; the refund of {format_money(part, 'EUR')} is queued and will "
        "be sent automatically."
    )
    row = page.locator("tr[data-refund-id]")
    expect(row).to_have_count(1)
    expect(row.locator(".status")).to_contain_text("Queued, will be sent")
    expect(page.get_by_label("Amount (EUR)")).to_have_value(str(to_major(part, "EUR")))
    # Reconciliation (every 2 s in these tests) sends the one reserved row with its key.
    deadline = time.monotonic() + 30
    while [(r.status, r.stripe_refund_id is not None) for r in _refunds(app_server, payment.id)
           ] != [("succeeded", True)]:  # fmt: skip
        assert time.monotonic() < deadline, _refunds(app_server, payment.id)
        time.sleep(0.2)
    # The admin, still looking at "queued", sends the same form again: nothing more moves.
    page.get_by_role("button", name="Refund", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Refund", exact=True).click()
    [refund] = _refunds(app_server, payment.id)
    expect(page.locator("#refund-notice")).to_have_text(
        f"The refund of {format_money(part, 'EUR')} asked for earlier has gone through to "
        f"Stripe (refund #{refund.id}); nothing more was refunded."
    )
    expect(page.locator("tr[data-refund-id]")).to_have_attribute("data-status", "succeeded")
    assert _sandbox_refunds(app_server, payment.stripe_payment_intent_id) == [(part, "succeeded")]
    with app_server.session() as s:
        paid = s.get(Payment, payment.id)
        assert (paid.status, paid.amount_refunded_minor) == ("partially_refunded", part)


def _sign(body: bytes, secret: str) -> str:
    t = int(time.time())
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def test_flagged_payment_and_webhook_events(
    app_server: AppServer, page: Page, paid_eur: Paid
) -> None:
    """A payment that lands after its hold lapsed and the slot was retaken: refunded, flagged."""
    _email, headers = _patient(app_server)
    booking = _book(app_server, headers, "USD")
    session_id = _start_checkout(app_server, headers, booking["id"])
    with app_server.session() as s:
        # The hold runs out (its clock moved on) and is released, in one transaction.
        row = s.get(Booking, booking["id"])
        row.hold_expires_at = utcnow() - timedelta(seconds=1)
        s.add(row)
        s.flush()
        assert booking["id"] in expire_lapsed_holds(s)
    _rival_email, rival = _patient(app_server)
    r = httpx.post(f"{app_server.url}/api/v1/bookings", json={"doctorId": booking["doctorId"],
                   "startsAt": booking["startsAt"]}, headers=rival, timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text
    _pay(app_server, session_id)
    flagged = _wait_payment(
        app_server, lambda p: p.stripe_checkout_session_id == session_id, "refunded"
    )
    reason = (
        "Refunded automatically: The payment arrived after the hold lapsed and the slot was "
        "taken by someone else."
    )
    assert (flagged.flagged, flagged.flag_reason) == (True, reason)
    unflagged = paid_eur.payment
    # An event we cannot process, as Stripe would send it: stored as failed, with its error.
    bad_id = f"evt_e2e_{uuid.uuid4().hex[:12]}"
    body = json.dumps({"id": bad_id, "object": "event", "type": "charge.refunded",
                       "data": {"object": {"object": "charge", "id": None}}}).encode()  # fmt: skip
    assert app_server.webhook_secret
    signature = {"Stripe-Signature": _sign(body, app_server.webhook_secret)}
    r = httpx.post(f"{app_server.url}/api/v1/payment/webhook", content=body, headers=signature,
                   timeout=30)  # fmt: skip
    assert (r.status_code, r.json()["outcome"]) == (200, "stored")  # stored; applied after
    assert applied_event(app_server.engine, bad_id).status == "failed"

    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin?tab=payments")
    flagged_row = page.locator(f'tr[data-payment-id="{flagged.id}"]')
    expect(flagged_row.get_by_text("Flagged", exact=True)).to_be_visible()
    expect(flagged_row.locator(".flag-reason")).to_have_text(reason)
    expect(flagged_row.locator(".payment-status")).to_have_text("Refunded")
    expect(page.locator(f'tr[data-payment-id="{unflagged.id}"]')).to_be_visible()
    page.get_by_role("checkbox", name="Flagged only").click()
    expect(page.locator(f'tr[data-payment-id="{unflagged.id}"]')).to_have_count(0)
    with app_server.session() as s:
        n_flagged = len(s.exec(select(Payment).where(col(Payment.flagged).is_(True))).all())
    expect(page.locator("tr[data-payment-id]")).to_have_count(n_flagged)
    expect(page.locator('tr[data-payment-id][data-flagged="false"]')).to_have_count(0)
    flagged_row.get_by_role("link", name="Details").click()
    expect(page.get_by_text("Nothing is left to refund on this payment.")).to_be_visible()
    [auto] = page.locator("tr[data-refund-id]").all()
    expect(auto).to_contain_text("Efoy (automatic)")
    expect(auto).to_have_attribute("data-status", "succeeded")

    page.get_by_role("link", name="Webhook events").click()
    expect(page).to_have_url(re.compile(r"/admin/webhooks/?$"))
    with app_server.session() as s:
        events = s.exec(select(WebhookEvent)).all()
        succeeded = next(
            e for e in events if e.type == "checkout.session.completed" and session_id in e.payload
        )
        n_failed = sum(1 for e in events if e.status == "failed")
    ok_row = page.locator(f'tr[data-event-id="{succeeded.stripe_event_id}"]')
    expect(ok_row).to_have_attribute("data-status", "processed")
    expect(ok_row).to_contain_text("checkout.session.completed")
    bad_row = page.locator(f'tr[data-event-id="{bad_id}"]')
    expect(bad_row.locator(".error")).to_have_text(
        "NotFound: Refund event without a payment intent."
    )
    # Reconciliation retries failed events every few seconds: at least the one delivery.
    expect(bad_row.locator(".attempts")).to_have_text(re.compile(r"^[1-9][0-9]*$"))
    shown = int(bad_row.locator(".attempts").inner_text())
    with app_server.session() as s:
        stored = s.exec(select(WebhookEvent).where(WebhookEvent.stripe_event_id == bad_id)).one()
        assert (stored.status, stored.attempts >= shown) == ("failed", True)
    page.get_by_label("Status").select_option("failed")
    expect(ok_row).to_have_count(0)
    expect(page.locator("tr[data-event-id]")).to_have_count(n_failed)
    expect(bad_row).to_be_visible()


def test_patients_are_kept_out_of_admin_pages(
    app_server: AppServer, page: Page, paid_eur: Paid
) -> None:
    """Neither the payer nor another patient sees anything of the admin pages."""
    payment = paid_eur.payment
    for who in ((paid_eur.patient_email, PASSWORD), DEMO_PATIENT):
        log_in(page, app_server.url, *who)
        for path in (
            "/admin",
            "/admin?tab=payments&status=paid",
            f"/admin/payments/{payment.id}",
            "/admin/webhooks",
            "/admin/cancellations?status=all",
            "/admin/audit",
        ):
            page.goto(f"{app_server.url}{path}")
            expect(page.locator("#forbidden-message")).to_have_text(
                "You do not have access to this page."
            )
            expect(page.get_by_role("table")).to_have_count(0)
            expect(page.get_by_role("button", name="Refund")).to_have_count(0)
            expect(page.get_by_text(payment.stripe_checkout_session_id or "cs_")).to_have_count(0)
            expect(page.get_by_text(format_money(payment.amount_minor, "EUR"))).to_have_count(0)
        log_out(page)
