"""A new patient registers, finds a doctor, books (straight to the payment page), cancels from
My appointments after a confirm step, and the slot is free again; the doctor page by keyboard
and on a phone; My appointments' sections."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import col, select

from efoy_app.domain.auth import register_patient
from efoy_app.domain.bookings import cancel_booking, hold_slot
from efoy_app.domain.scheduling import upcoming_free_slots
from efoy_app.models import AuditLog, Booking, Doctor, User, utcnow
from efoy_app.state.display import when_label
from tests.e2e.axe import report, serious_violations
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_PATIENT, log_in, log_out, show_a_day_away

PATIENT_TZ = "Asia/Tokyo"
TAKEN = "That time was just taken — pick another."


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
    page.get_by_label("Search doctors by name or speciality").fill(surname.lower())
    cards = page.locator(".doctor-card")
    expect(cards).to_have_count(1)
    expect(cards.first.get_by_role("heading")).to_have_text(doctor_name)
    expect(cards.first.locator(".doctor-fee")).to_have_text(f"€{doctor.fee_minor / 100:,.2f}")
    cards.first.get_by_role("link", name=f"See available times with {doctor_name}").click()
    expect(page).to_have_url(re.compile(rf"/doctors/{doctor.id}/?$"))
    # The zone by its city, not its IANA id.
    expect(page.locator("#timezone-note")).to_contain_text("Tokyo")
    expect(page.locator("#timezone-note")).not_to_contain_text("Asia/")

    # --- pick the first free slot; its label is the Tokyo clock time ----------------------
    first = page.locator("[data-slot]").first
    expect(first).to_be_visible()
    slot_iso = first.get_attribute("data-slot")
    assert slot_iso is not None
    starts_at = datetime.fromisoformat(slot_iso)
    assert starts_at.tzinfo is not None and starts_at.utcoffset().total_seconds() == 0
    expect(first).to_have_text(_local(starts_at, PATIENT_TZ).strftime("%H:%M"))
    first.click()
    expect(first.locator("input")).to_be_checked()
    page.get_by_label("Reason for the visit (optional)").fill("Annual check-up")
    page.screenshot(path=str(screenshots_dir / "booking.png"))
    page.get_by_role("button", name="Book appointment").click()

    # --- straight to the payment page of the held booking -----------------------------------
    expect(page).to_have_url(re.compile(r"/payment/\d+/?$"))
    booking_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    local = _local(starts_at, PATIENT_TZ)
    when = f"{local:%a} {local.day} {local:%b %Y, %H:%M} JST"
    expect(page.locator("#payment-when")).to_contain_text(when)
    with app_server.session() as s:
        bookings = s.exec(select(Booking).where(Booking.patient_id == patient.id)).all()
        assert [b.id for b in bookings] == [booking_id]
        booking = bookings[0]
        assert booking.status == "held"
        assert booking.doctor_id == doctor.id
        assert booking.starts_at == starts_at
        assert (booking.price_minor, booking.currency) == (doctor.fee_minor, "EUR")
        assert booking.reason == "Annual check-up"
        assert booking.hold_expires_at is not None
        # 30 minutes, capped at the appointment's start (the first slot may start sooner).
        held_for = (booking.hold_expires_at - booking.created_at).total_seconds()
        if booking.starts_at - booking.created_at >= timedelta(minutes=31):
            assert 29 * 60 <= held_for <= 31 * 60
        else:
            assert booking.hold_expires_at == booking.starts_at
        audit = s.exec(
            select(AuditLog).where(
                AuditLog.entity_type == "booking", AuditLog.entity_id == booking.id
            )
        ).all()
        assert [a.to_status for a in audit] == ["held"]

    # --- the held booking in My appointments, upcoming ----------------------------------------
    page.goto(f"{base}/appointments")
    card = page.locator("#upcoming .booking-card")
    expect(card).to_have_count(1)
    expect(card).to_have_attribute("data-status", "held")
    expect(card).to_contain_text(doctor_name)
    expect(card).to_contain_text("Held, awaiting payment")
    expect(card.locator(".price")).to_have_text(f"€{doctor.fee_minor / 100:,.2f}")
    expect(card.locator(".when")).to_have_text(when)
    expect(card.get_by_role("link", name="Pay")).to_have_attribute("href", f"/payment/{booking.id}")

    # --- cancel it: a confirm step first; "Keep it" changes nothing -------------------------
    card.get_by_role("button", name="Cancel").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Cancel this appointment?")
    expect(dialog).to_contain_text(f"{doctor_name}, {when}.")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_have_count(0)
    assert _status(app_server, booking.id) == "held"
    card.get_by_role("button", name="Cancel").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Cancel appointment").click()
    expect(page.get_by_role("status")).to_have_text(
        "The appointment is cancelled and the time is free again."
    )
    expect(page.locator("#upcoming .booking-card")).to_have_count(0)
    closed = page.locator("#closed .booking-card")
    expect(closed).to_have_count(1)
    expect(closed).to_have_attribute("data-status", "cancelled")
    expect(closed.locator(".status")).to_have_text("Cancelled")
    expect(closed.get_by_role("link", name="Pay")).to_have_count(0)
    expect(closed.get_by_role("button", name="Cancel")).to_have_count(0)
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


def _status(server: AppServer, booking_id: int) -> str:
    with server.session() as s:
        booking = s.get(Booking, booking_id)
        assert booking is not None
        return booking.status


def test_slot_taken_while_choosing_shows_message_and_refreshes(
    app_server: AppServer, page: Page
) -> None:
    """Another patient holds the chosen slot before `Book appointment`: the page says so by
    itself (live slots), the time leaves the list and nothing can be booked."""
    base = app_server.url
    doctor, _name = _doctor(app_server, "JPY")
    log_in(page, base, *DEMO_PATIENT)
    page.goto(f"{base}/doctors/{doctor.id}")
    show_a_day_away(page)
    # A slot late in the day's list, so the other tests' bookings never collide with it.
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

    expect(page.get_by_role("alert")).to_have_text(TAKEN, timeout=2_000)
    expect(page.locator(f'[data-slot="{slot_iso}"]')).to_have_count(0)
    expect(page.locator("#selected-slot")).to_have_count(0)
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


def _focused(page: Page) -> str:
    """What has the keyboard focus: a slot's start, a day, or the element's name."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el) return '';
            if (el.name === 'slot') return 'slot:' + el.value;
            if (el.name === 'day') return 'day:' + el.value;
            return el.id || el.getAttribute('aria-label') || el.textContent.trim();
        }"""
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_keyboard_days_and_times_are_one_tab_stop_each(
    app_server: AppServer, page: Page, width: int
) -> None:
    """Arrow keys move within the days and within the times; from a chosen time the reason box
    and `Book appointment` are a Tab each (146 Tabs before)."""
    page.set_viewport_size({"width": width, "height": 844})
    doctor, _name = _doctor(app_server, "GBP")
    log_in(page, app_server.url, *DEMO_PATIENT)
    page.goto(f"{app_server.url}/doctors/{doctor.id}")
    days = page.locator("input[name=day]:not([disabled])")
    expect(days.first).to_be_checked()
    assert days.count() >= 3
    # Days without a free time stand in the row as closed, and the arrows skip them.
    for closed in page.locator("input[name=day][disabled]").all():
        assert (closed.get_attribute("aria-label") or "").endswith(", None free")

    # The days: one Tab stop; the right arrow chooses the next day and shows its times.
    days.first.focus()
    first_day_times = page.locator("[data-slot]").first.get_attribute("data-slot")
    page.keyboard.press("ArrowRight")
    expect(days.nth(1)).to_be_checked()
    expect(days.nth(1)).to_be_focused()
    expect(page.locator("[data-slot]").first).not_to_have_attribute(
        "data-slot", first_day_times or ""
    )
    page.keyboard.press("Tab")
    # Straight into the times (the one tab stop of the group is its first time).
    slots = page.locator("input[name=slot]")
    expect(slots.first).to_be_focused()
    page.keyboard.press("Space")
    expect(slots.first).to_be_checked()
    page.keyboard.press("ArrowRight")
    expect(slots.nth(1)).to_be_checked()
    chosen = slots.nth(1).get_attribute("value")
    assert chosen is not None
    expect(page.locator("#selected-slot")).to_be_visible()
    assert _focused(page) == f"slot:{chosen}"

    tabs = 0
    while _focused(page) != "Book appointment" and tabs < 10:
        page.keyboard.press("Tab")
        tabs += 1
        if tabs == 1:
            expect(page.get_by_label("Reason for the visit (optional)")).to_be_focused()
    assert tabs == 2
    assert tabs <= 5

    book = page.get_by_role("button", name="Book appointment")
    if width == 390:
        # On a phone the summary and the button follow the day's times, not 3,000 px below.
        slot_box = page.locator(f'[data-slot="{chosen}"]').bounding_box()
        book_box = book.bounding_box()
        assert slot_box is not None and book_box is not None
        assert 0 < book_box["y"] - slot_box["y"] < 700
    else:
        # On a desktop the summary is a sticky column beside the times, in view as they scroll.
        page.mouse.wheel(0, 400)
        expect(book).to_be_in_viewport()
        expect(page.locator("#selected-slot")).to_be_in_viewport()


def test_phone_doctor_page_shows_the_whole_fee(app_server: AppServer, page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    doctor, _name = _doctor(app_server, "EUR")
    page.goto(f"{app_server.url}/doctors/{doctor.id}")
    fee = page.locator(".doctor-fee")
    expect(fee).to_have_text(f"€{doctor.fee_minor / 100:,.2f}")
    box = fee.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    clipped = fee.evaluate("el => el.scrollWidth > el.clientWidth")
    assert clipped is False
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390


def test_my_appointments_sections_and_order(app_server: AppServer, page: Page) -> None:
    """Upcoming first, soonest first; then cancelled and expired; statuses in words."""
    email = f"sections-{uuid.uuid4().hex[:10]}@example.com"
    doctor, doctor_name = _doctor(app_server, "USD")
    with app_server.session() as s:
        patient = register_patient(
            s, email=email, password="sections-pass-1", full_name="Tirunesh D.",
            timezone="Africa/Addis_Ababa",
        )  # fmt: skip
        free = upcoming_free_slots(s, doctor.id)
        late, early, cancelled, lapsed = free[-1], free[-3], free[-5], free[-7]
        ids = {}
        for name, slot in (("late", late), ("early", early), ("cancelled", cancelled)):
            ids[name] = hold_slot(
                s, patient=patient, doctor_id=doctor.id, starts_at=slot.starts_at
            ).id
        cancel_booking(s, booking_id=ids["cancelled"], actor=patient)
        gone = hold_slot(s, patient=patient, doctor_id=doctor.id, starts_at=lapsed.starts_at)
        ids["lapsed"] = gone.id
        gone.hold_expires_at = utcnow() - timedelta(minutes=1)  # reads "expired" from now on
        s.add(gone)
        s.commit()
    log_in(page, app_server.url, email, "sections-pass-1")
    page.goto(f"{app_server.url}/appointments")
    upcoming = page.locator("#upcoming .booking-card")
    expect(upcoming).to_have_count(2)
    assert [upcoming.nth(i).get_attribute("data-booking-id") for i in range(2)] == [
        str(ids["early"]),
        str(ids["late"]),
    ]
    expect(upcoming.first.locator(".when")).to_have_text(
        when_label(early.starts_at, "Africa/Addis_Ababa")
    )
    expect(upcoming.first.locator(".status")).to_have_text("Held, awaiting payment")
    closed = page.locator("#closed .booking-card")
    expect(closed).to_have_count(2)
    assert [closed.nth(i).get_attribute("data-booking-id") for i in range(2)] == [
        str(ids["cancelled"]),
        str(ids["lapsed"]),
    ]
    expect(closed.locator(".status")).to_have_text(["Cancelled", "Expired"])
    expect(page.locator("#past")).to_have_count(0)
    expect(page.get_by_text("Times are in Addis Ababa")).to_be_visible()
    headings = page.get_by_role("heading", level=2)
    expect(headings).to_have_text(["Upcoming", "Cancelled and expired"])
    assert doctor_name


@pytest.mark.parametrize("width", [1280, 390])
def test_day_and_time_pickers_pass_axe(app_server: AppServer, page: Page, width: int) -> None:
    """The page's own widgets (days, times, the summary with a chosen time) have no serious or
    critical axe-core violation; the layout frame and the theme are checked by tests/e2e/axe.py."""
    page.set_viewport_size({"width": width, "height": 844})
    doctor, _name = _doctor(app_server, "EUR")
    log_in(page, app_server.url, *DEMO_PATIENT)
    page.goto(f"{app_server.url}/doctors/{doctor.id}")
    show_a_day_away(page)
    page.locator("[data-slot]").nth(1).click()
    expect(page.locator("#selected-slot")).to_be_visible()
    bad = serious_violations(page, "#day-picker", "#time-picker", "#times-heading")
    assert bad == [], report(bad)
    # Each radio has a name a screen reader can read out.
    assert page.get_by_role("radiogroup", name="Day").get_by_role("radio").count() >= 3
    assert (
        page.get_by_role("radio", name=re.compile(r"^\w{3} \d+ \w{3} \d{4}, \d\d:\d\d ")).count()
        > 0
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_my_appointments_and_the_cancel_dialog_pass_axe(
    app_server: AppServer, page: Page, width: int
) -> None:
    """The page's own content (main) and its confirm dialog: no serious or critical violation."""
    page.set_viewport_size({"width": width, "height": 844})
    email = f"axe-{uuid.uuid4().hex[:10]}@example.com"
    doctor, _name = _doctor(app_server, "EUR")
    with app_server.session() as s:
        patient = register_patient(s, email=email, password="axe-pass-12", full_name="Axe P.")
        free = upcoming_free_slots(s, doctor.id)
        hold_slot(
            s, patient=patient, doctor_id=doctor.id, starts_at=free[-2 - (width == 390)].starts_at
        )
        gone = hold_slot(
            s, patient=patient, doctor_id=doctor.id, starts_at=free[-4 - (width == 390)].starts_at
        )
        cancel_booking(s, booking_id=gone.id, actor=patient)
    log_in(page, app_server.url, email, "axe-pass-12")
    page.goto(f"{app_server.url}/appointments")
    expect(page.locator("#upcoming .booking-card")).to_have_count(1)
    expect(page.locator("#closed .booking-card")).to_have_count(1)
    bad = serious_violations(page, "main")
    assert bad == [], report(bad)
    page.locator("#upcoming").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alertdialog")).to_be_visible()
    bad = serious_violations(page, "[role=alertdialog]")
    assert bad == [], report(bad)
