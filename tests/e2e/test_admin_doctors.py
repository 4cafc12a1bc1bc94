"""Clinic set-up in Chromium: an admin adds a doctor and their weekly hours on the pages, a patient
books and pays one of the new doctor's slots (the sandbox's hosted Checkout, its signed webhook),
the admin closes that day, sees the booking listed, cancels it with a full refund, and the patient
sees the cancellation and the refund on My appointments. A deactivated doctor leaves /doctors.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from efoy_app.domain import doctor_admin, working_plan
from efoy_app.domain.money import format_money
from efoy_app.domain.times import when_label, zone
from efoy_app.models import Booking, Doctor, Payment, Refund, User, WorkingHours
from efoy_app.routes import ADMIN_DOCTORS
from tests.e2e.bookings import PASSWORD, new_patient, pay_on_hosted_page
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, DEMO_PATIENT, log_in

DESKTOP = {"width": 1280, "height": 900}
ZONE = "Africa/Nairobi"


def _book_first_slot(server: AppServer, headers: dict[str, str], doctor_id: int, day: str) -> dict:
    slots = httpx.get(f"{server.url}/api/v1/doctors/{doctor_id}/slots", params={"date": day},
                      timeout=30).json()["slots"]  # fmt: skip
    assert len(slots) == 14, slots  # 09:00–12:00 and 13:00–17:00 in 30 minutes
    r = httpx.post(f"{server.url}/api/v1/bookings", headers=headers, timeout=30,
                   json={"doctorId": doctor_id, "startsAt": slots[0]["startsAt"]})  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


def _photograph(page: Page, path: Path) -> None:
    """The whole page from its top (the sticky navbar where it belongs), for the README."""
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(200)
    page.screenshot(path=str(path), full_page=True)


def test_admin_adds_a_doctor_a_patient_books_then_the_day_is_closed_with_a_refund(
    app_server: AppServer, page: Page, browser: Browser, screenshots_dir: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    name, email = "Dr. Selam Tadesse", f"selam.{tag}@clinic.example"
    page.set_viewport_size(DESKTOP)
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Doctors").click()
    expect(page).to_have_url(re.compile(r"/admin/doctors/?$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Doctors")

    form = page.locator("#add-doctor")
    form.get_by_label("Full name").fill(name)
    form.get_by_label("Email").fill(email)
    form.get_by_label("Speciality").fill("Dermatology")
    form.get_by_label("Fee").fill("abc")
    form.get_by_role("button", name="Add doctor").click()
    expect(page.locator("#add-doctor-error")).to_contain_text("amount")
    form.get_by_label("Fee").fill("75.50")
    form.get_by_label("Currency").select_option("KES")
    form.get_by_label("Appointment length").select_option("30")
    form.get_by_label("Search timezones").fill("Nairobi")
    expect(form.get_by_label("Timezone", exact=True)).to_have_value(ZONE)
    form.get_by_role("button", name="Add doctor").click()
    added = page.locator("#doctor-added")
    expect(added).to_contain_text(f"{name} added; give them working hours so patients can book.")
    row = page.locator("tr[data-doctor-id]", has_text=email)
    expect(row).to_contain_text("KES75.50")
    expect(row).to_contain_text(ZONE)
    added.get_by_role("link", name=f"Set {name}'s hours").click()
    expect(page).to_have_url(re.compile(r"/admin/doctors/\d+$"))
    doctor_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    expect(page.get_by_role("heading", level=1)).to_have_text(name)

    # Monday 09:00–12:00 and 13:00–17:00, copied to every day, saved together.
    page.get_by_role("button", name="Add a range on Monday").click()
    page.get_by_label("Monday range 1 from").fill("09:00")
    page.get_by_label("Monday range 1 to").fill("12:00")
    page.get_by_role("button", name="Add a range on Monday").click()
    page.get_by_label("Monday range 2 from").fill("13:00")
    page.get_by_label("Monday range 2 to").fill("11:00")
    page.get_by_role("button", name="Save weekly hours").click()
    expect(page.locator("#week-error")).to_have_text(
        "Monday: 13:00–11:00 crosses midnight. Enter it as two ranges, 13:00–24:00 and "
        "00:00–11:00 of the next day."
    )
    page.get_by_label("Monday range 2 to").fill("17:00")
    page.get_by_role("button", name="Copy Monday's hours to every day").click()
    expect(page.get_by_label("Sunday range 2 to")).to_have_value("17:00")
    page.get_by_role("button", name="Save weekly hours").click()
    expect(page.locator("#weekly-hours")).to_contain_text("Weekly hours saved.")
    with app_server.session() as s:
        hours = s.exec(select(WorkingHours).where(WorkingHours.doctor_id == doctor_id)).all()
        assert len(hours) == 14
    day = (datetime.now(zone(ZONE)) + timedelta(days=3)).date()
    expect(page.locator(f'[data-preview-day="{day}"]')).to_have_attribute("data-slots", "14")

    # A patient books the first slot of that day and pays it on the hosted page.
    patient_email, headers = new_patient(app_server, name="Abebe Bikila")
    booking = _book_first_slot(app_server, headers, doctor_id, day.isoformat())
    assert (booking["priceMinor"], booking["currency"]) == (7550, "KES")
    pay_on_hosted_page(app_server, headers, booking["id"])
    page.reload()
    expect(page.locator(f'[data-preview-day="{day}"]')).to_have_attribute("data-slots", "13")

    # Shorter hours that day of the week leave the 09:00 booking outside: listed, then kept.
    weekday = f"{day:%A}"
    page.get_by_role("button", name=f"Remove {weekday} range 1").click()
    page.get_by_role("button", name="Save weekly hours").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog.locator(f'tr[data-booking-id="{booking["id"]}"]')).to_be_visible()
    dialog.get_by_role("button", name="Change nothing").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#weekly-hours").get_by_role("status")).to_have_text("Nothing was changed.")
    with app_server.session() as s:
        assert (
            len(s.exec(select(WorkingHours).where(WorkingHours.doctor_id == doctor_id)).all()) == 14
        )
    page.get_by_role("button", name="Save weekly hours").click()
    dialog.get_by_role("button", name="Keep these bookings").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#weekly-hours").get_by_role("status")).to_have_text(
        "Weekly hours saved. 1 booking outside the new hours kept as booked."
    )
    expect(page.locator(f'[data-preview-day="{day}"]')).to_have_attribute("data-slots", "8")
    with app_server.session() as s:
        assert s.get(Booking, booking["id"]).status == "confirmed"
        assert (
            len(s.exec(select(WorkingHours).where(WorkingHours.doctor_id == doctor_id)).all()) == 13
        )

    # The admin closes that day: the booking is listed first, nothing saved yet.
    days_off = page.locator("#days-off")
    days_off.get_by_label("Date").fill(day.isoformat())
    days_off.get_by_label("Reason (optional)").fill("Conference")
    days_off.get_by_role("button", name="Add day off").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog.locator("#affected-message")).to_have_text(
        "1 booking falls outside the new hours. Nothing was saved: choose to keep them or to "
        "cancel them with a full refund."
    )
    listed = dialog.locator(f'tr[data-booking-id="{booking["id"]}"]')
    starts = datetime.fromisoformat(booking["startsAt"]).astimezone(UTC)
    expect(listed).to_contain_text("Abebe Bikila")
    expect(listed).to_contain_text(when_label(starts, ZONE))
    expect(listed).to_contain_text("Confirmed")
    expect(listed).to_contain_text("KES75.50")
    with app_server.session() as s:
        assert s.get(Booking, booking["id"]).status == "confirmed"
    dialog.get_by_role("button", name="Cancel them with a full refund").click()
    expect(dialog).to_be_hidden()
    expect(days_off.get_by_role("status")).to_have_text(
        f"{day:%A} {day.day} {day:%B %Y} is a day off. 1 booking cancelled, paid ones refunded."
    )
    expect(days_off.locator(f'[data-day-off="{day}"]')).to_contain_text("Conference")
    expect(page.locator(f'[data-preview-day="{day}"]')).to_contain_text("Day off: Conference")
    _photograph(page, screenshots_dir / "admin-doctor.png")

    deadline = time.monotonic() + 30
    while True:
        with app_server.session() as s:
            refund = s.exec(
                select(Refund).join(Payment).where(Payment.booking_id == booking["id"])
            ).first()
            status = s.get(Booking, booking["id"]).status
        if refund is not None and refund.status == "succeeded":
            break
        assert time.monotonic() < deadline, refund
        time.sleep(0.2)
    assert (status, refund.amount_minor) == ("cancelled", 7550)

    page.goto(f"{app_server.url}/admin/doctors")
    expect(page.locator(f'tr[data-doctor-id="{doctor_id}"] .upcoming')).to_have_text("0")
    _photograph(page, screenshots_dir / "admin-doctors.png")

    context = browser.new_context(viewport=DESKTOP)
    patient = context.new_page()
    log_in(patient, app_server.url, patient_email, PASSWORD)
    patient.goto(f"{app_server.url}/appointments")
    closed = patient.locator(f'#closed .booking-card[data-booking-id="{booking["id"]}"]')
    expect(closed).to_have_attribute("data-status", "cancelled")
    amount = format_money(7550, "KES")
    expect(closed.locator(".refund-note")).to_have_text(f"Refunded {amount} (100 %) to your card.")
    context.close()


def test_a_deactivated_doctor_leaves_the_doctors_page(
    app_server: AppServer, page: Page, browser: Browser
) -> None:
    tag = uuid.uuid4().hex[:8]
    name = "Dr. Hana Girma"
    with app_server.session() as s:
        admin = s.exec(select(User).where(User.email == DEMO_ADMIN[0])).one()
        view, _ = doctor_admin.create_doctor(
            s, doctor_admin.DoctorFields(full_name=name, email=f"hana.{tag}@clinic.example",
                                         speciality="Cardiology", fee_minor=6000,
                                         currency="KES", timezone=ZONE), admin)  # fmt: skip
        nine = working_plan.parse_range("09:00-12:00")
        working_plan.set_week(s, view.id, {d: [nine] for d in range(7)}, admin)
    visitor = browser.new_context(viewport=DESKTOP).new_page()
    visitor.goto(f"{app_server.url}/doctors")
    card = visitor.locator(f'.doctor-card[data-doctor-id="{view.id}"]')
    expect(card).to_contain_text(name)

    page.set_viewport_size(DESKTOP)
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin/doctors/{view.id}")
    profile = page.locator("#profile")
    profile.get_by_label("Fee").fill("65")
    profile.get_by_role("button", name="Save profile").click()
    expect(profile.get_by_role("status")).to_have_text(
        "Saved. New bookings cost KES65.00; no booked appointment changes price."
    )
    expect(profile.get_by_label("Fee")).to_have_value("65.00")

    # One-off evening hours two days ahead appear in the preview, then go again.
    day = (datetime.now(zone(ZONE)) + timedelta(days=2)).date()
    extra = page.locator("#extra-hours")
    extra.get_by_label("Date").fill(day.isoformat())
    extra.get_by_label("From").fill("18:00")
    extra.get_by_label("To").fill("19:00")
    extra.get_by_role("button", name="Add extra hours").click()
    label = f"{day:%A} {day.day} {day:%B %Y}"
    expect(extra.get_by_role("status")).to_have_text(f"Extra hours 18:00–19:00 on {label} added.")
    preview = page.locator(f'[data-preview-day="{day}"]')
    expect(preview).to_have_attribute("data-slots", "8")  # 6 from 09:00–12:00, 2 in the evening
    extra.get_by_role("button", name=re.compile(r"^Remove the extra hours 18:00–19:00")).click()
    expect(extra.get_by_role("status")).to_have_text(f"Extra hours 18:00–19:00 on {label} removed.")
    expect(preview).to_have_attribute("data-slots", "6")

    profile.get_by_role("button", name="Deactivate doctor").click()
    expect(profile.get_by_role("status")).to_have_text(
        "Saved. Patients no longer see this doctor and no new slots are offered."
    )
    expect(profile.get_by_role("button", name="Activate doctor")).to_be_visible()
    with app_server.session() as s:
        assert s.get(Doctor, view.id).active is False

    visitor.reload()
    expect(visitor.locator(".doctor-card").first).to_be_visible()
    expect(card).to_have_count(0)
    page.goto(f"{app_server.url}/admin/doctors")
    page.get_by_label("Search doctors").fill(tag)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tr[data-doctor-id]")).to_have_count(1)
    expect(page.locator(f'tr[data-doctor-id="{view.id}"] [data-status]')).to_have_text("Inactive")
    visitor.context.close()


def test_patients_and_visitors_never_reach_the_doctor_pages(
    app_server: AppServer, page: Page
) -> None:
    with app_server.session() as s:
        doctor_id = s.exec(select(Doctor.id).order_by(Doctor.id)).first()
    page.goto(f"{app_server.url}{ADMIN_DOCTORS}/{doctor_id}")
    expect(page).to_have_url(re.compile(rf"/login\?next=%2Fadmin%2Fdoctors%2F{doctor_id}$"))
    log_in(page, app_server.url, *DEMO_PATIENT)
    for path in (ADMIN_DOCTORS, f"{ADMIN_DOCTORS}/{doctor_id}"):
        page.goto(f"{app_server.url}{path}")
        expect(page.locator("#forbidden-message")).to_have_text(
            "You do not have access to this page."
        )
        expect(page.get_by_role("table")).to_have_count(0)
        expect(page.get_by_role("button", name="Save weekly hours")).to_have_count(0)
