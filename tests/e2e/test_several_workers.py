"""Production shape: Reflex state in Redis and several workers (Reflex starts one per core once
`REFLEX_REDIS_URL` is set). A patient pays; events land on whichever worker, the webhook on
another, and every worker runs reconciliation: still one confirmation."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect
from sqlmodel import select

from efoy_app.domain.auth import register_patient
from efoy_app.models import AuditLog, Booking, Doctor
from tests.e2e.conftest import AppServer, worker_count
from tests.e2e.ui import choose_a_time_days_away, log_in


def test_pay_now_with_redis_and_several_workers(redis_server: AppServer, page: Page) -> None:
    assert worker_count(redis_server) >= 3  # the parent and at least two workers
    email = f"workers-{uuid.uuid4().hex[:10]}@example.com"
    with redis_server.session() as s:
        register_patient(s, email=email, password="workers-pass-1", full_name="Haile G.")
        doctor = s.exec(select(Doctor).where(Doctor.currency == "EUR")).one()
    log_in(page, redis_server.url, email, "workers-pass-1")
    page.goto(f"{redis_server.url}/doctors/{doctor.id}")
    choose_a_time_days_away(page)
    page.get_by_role("button", name="Book appointment").click()
    expect(page).to_have_url(re.compile(r"/payment/\d+/?$"))
    booking_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.goto(f"{redis_server.url}/payment/{booking_id}")
    page.get_by_role("button", name="Pay now").click()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Cardholder name").fill("Haile G.")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_text("Payment received: your appointment is confirmed.")).to_be_visible()
    with redis_server.session() as s:
        assert s.get(Booking, booking_id).status == "confirmed"
        confirmations = s.exec(
            select(AuditLog).where(
                AuditLog.entity_type == "booking",
                AuditLog.entity_id == booking_id,
                AuditLog.to_status == "confirmed",
            )
        ).all()
        assert len(confirmations) == 1
