"""A new patient registers, finds a doctor, books, sees the hold, cancels, and the slot is free."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Page, expect
from sqlmodel import col, select

from efoy_app.domain.auth import register_patient
from efoy_app.domain.bookings import hold_slot
from efoy_app.models import AuditLog, Booking, Doctor, User
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_PATIENT, log_in, log_out

PATIENT_TZ = "Asia/Tokyo"


def _doctor(server: AppServer, currency: str) -> tuple[Doctor, str]:
    """A seeded doctor charging in `currency`, with their display name."""
    with server.session() as s:
        doctor, user = s.exec(
            select(Doctor, User)
            .join(User, col(User.id) == col(Doctor.user_id))
            .where(Doctor.currency == currency, Doctor.active)
        ).one()
        return doctor, user.full_name


def _local(starts_at: datetime, tz: str) -> datetime:
    return starts_at.astimezone(ZoneInfo(tz))


def test_register_book_cancel_and_slot_is_free_again(
    app_server: AppServer, browser: Browser, screenshots_dir
) -> None:
    base = app_server.url
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    doctor, doctor_name = _doctor(app_server, "EUR")
    # The browser lives in Tokyo: registration picks that up, and every time is shown in it.
    context = browser.new_context(timezone_id=PATIENT_TZ, viewport={"width": 1280, "height": 900})
    page = context.new_page()

    # --- register -------------------------------------------------------------------------
    page.goto(f"{base}/register")
    expect(page.get_by_label("Your timezone")).to_have_value(PATIENT_TZ)
    page.get_by_label("Full name").fill("Hana Tanaka")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/doctors/?$"))
    expect(page.locator("#navbar-user")).to_have_text("Hana Tanaka")
    with app_server.session() as s:
        users = s.exec(select(User).where(User.email == email)).all()
        assert len(users) == 1
        patient = users[0]
        assert (patient.role, patient.timezone, patient.full_name) == (
            "patient",
            PATIENT_TZ,
            "Hana Tanaka",
        )
        assert patient.password_hash.startswith("$argon2")

    # --- log out and back in ----------------------------------------------------------------
    log_out(page)
    expect(page.locator("#navbar-user")).to_have_count(0)
    log_in(page, base, email, "correct horse battery")

    # --- find the doctor by searching part of their name --------------------------------------
    surname = doctor_name.split()[-1]
    page.get_by_label("Search doctors by name").fill(surname.lower())
    cards = page.locator(".doctor-card")
    expect(cards).to_have_count(1)
    expect(cards.first.get_by_role("heading")).to_have_text(doctor_name)
    expect(cards.first.locator(".doctor-fee")).to_have_text(f"€{doctor.fee_minor / 100:,.2f}")
    cards.first.get_by_role("link", name=f"See available times with {doctor_name}").click()
    expect(page).to_have_url(re.compile(rf"/doctors/{doctor.id}/?$"))
    expect(page.locator("#timezone-note")).to_contain_text(PATIENT_TZ)

    # --- pick the first free slot; its label is the Tokyo clock time ----------------------
    first = page.locator("[data-slot]").first
    expect(first).to_be_visible()
    slot_iso = first.get_attribute("data-slot")
    assert slot_iso is not None
    starts_at = datetime.fromisoformat(slot_iso)
    assert starts_at.tzinfo is not None and starts_at.utcoffset().total_seconds() == 0
    expect(first).to_have_text(_local(starts_at, PATIENT_TZ).strftime("%H:%M"))
    first.click()
    expect(first).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Reason for the visit (optional)").fill("Annual check-up")
    page.screenshot(path=str(screenshots_dir / "booking.png"))
    page.get_by_role("button", name="Book appointment").click()

    # --- the held booking in My appointments -----------------------------------------------
    expect(page).to_have_url(re.compile(r"/appointments/?\?held=\d+$"))
    card = page.locator(".booking-card")
    expect(card).to_have_count(1)
    expect(card).to_have_attribute("data-status", "held")
    expect(card).to_contain_text(doctor_name)
    expect(card).to_contain_text("Held, awaiting payment")
    expect(card.locator(".price")).to_have_text(f"€{doctor.fee_minor / 100:,.2f}")
    local = _local(starts_at, PATIENT_TZ)
    expect(card.locator(".when")).to_have_text(f"{local:%a} {local.day} {local:%b %Y, %H:%M} JST")
    with app_server.session() as s:
        bookings = s.exec(select(Booking).where(Booking.patient_id == patient.id)).all()
        assert len(bookings) == 1
        booking = bookings[0]
        assert booking.status == "held"
        assert booking.doctor_id == doctor.id
        assert booking.starts_at == starts_at
        assert (booking.price_minor, booking.currency) == (doctor.fee_minor, "EUR")
        assert booking.reason == "Annual check-up"
        assert booking.hold_expires_at is not None
        assert 29 * 60 <= (booking.hold_expires_at - booking.created_at).total_seconds() <= 31 * 60
        audit = s.exec(
            select(AuditLog).where(
                AuditLog.entity_type == "booking", AuditLog.entity_id == booking.id
            )
        ).all()
        assert [a.to_status for a in audit] == ["held"]
    expect(page).to_have_url(re.compile(rf"/appointments/?\?held={booking.id}$"))
    expect(card.get_by_role("link", name="Pay")).to_have_attribute("href", f"/payment/{booking.id}")

    # --- cancel it ----------------------------------------------------------------------------
    card.get_by_role("button", name="Cancel").click()
    expect(card).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_role("status")).to_have_text(
        "Your appointment was cancelled and the time is free again."
    )
    expect(card.get_by_role("link", name="Pay")).to_have_count(0)
    expect(card.get_by_role("button", name="Cancel")).to_have_count(0)
    with app_server.session() as s:
        booking = s.get(Booking, booking.id)
        assert booking is not None and booking.status == "cancelled"
        audit = s.exec(
            select(AuditLog)
            .where(AuditLog.entity_type == "booking", AuditLog.entity_id == booking.id)
            .order_by(col(AuditLog.id))
        ).all()
        assert [(a.from_status, a.to_status) for a in audit] == [
            (None, "held"),
            ("held", "cancelled"),
        ]
        assert audit[1].actor == f"user:{patient.id}"

    # --- the slot is offered again ----------------------------------------------------------
    page.goto(f"{base}/doctors/{doctor.id}")
    expect(page.locator(f'[data-slot="{slot_iso}"]')).to_be_visible()
    context.close()


def test_slot_taken_while_choosing_shows_message_and_refreshes(
    app_server: AppServer, page: Page
) -> None:
    """Another patient holds the slot between choosing it and pressing `Book appointment`."""
    base = app_server.url
    doctor, _name = _doctor(app_server, "JPY")
    log_in(page, base, *DEMO_PATIENT)
    page.goto(f"{base}/doctors/{doctor.id}")
    # A slot late in the list, so the other tests' bookings never collide with it.
    chosen = page.locator("[data-slot]").nth(5)
    slot_iso = chosen.get_attribute("data-slot")
    assert slot_iso is not None
    chosen.click()
    expect(page.locator("#selected-slot")).to_be_visible()

    with app_server.session() as s:
        rival = register_patient(
            s,
            email=f"rival-{uuid.uuid4().hex[:8]}@example.com",
            password="rival-password",
            full_name="Rival Patient",
        )
        taken = hold_slot(
            s, patient=rival, doctor_id=doctor.id, starts_at=datetime.fromisoformat(slot_iso)
        )
        taken_id = taken.id

    page.get_by_role("button", name="Book appointment").click()
    expect(page.get_by_role("alert")).to_have_text(
        "This slot was just taken. Please choose another time."
    )
    expect(page.locator(f'[data-slot="{slot_iso}"]')).to_have_count(0)
    expect(page.get_by_role("button", name="Book appointment")).to_be_disabled()
    with app_server.session() as s:
        demo = s.exec(select(User).where(User.email == DEMO_PATIENT[0])).one()
        active = s.exec(
            select(Booking).where(
                Booking.doctor_id == doctor.id,
                Booking.starts_at == datetime.fromisoformat(slot_iso).astimezone(UTC),
                col(Booking.status).in_(["held", "confirmed"]),
            )
        ).all()
        assert [b.id for b in active] == [taken_id]
        assert active[0].patient_id != demo.id
