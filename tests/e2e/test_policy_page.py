"""The public /policy page and the way to it from the payment page, as a person sees them, at
1280 px and 390 px: one h1, the tiers of the policy in force in words, no serious axe violation,
nothing wider than the screen; `Cancellation policy` under the pay buttons leads there.

The booking is held through the domain on the server's own database (the booking flow that
leads to the payment page is tested elsewhere).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from efoy_app.domain import bookings
from efoy_app.domain.auth import register_patient
from efoy_app.domain.cancellation_policy import DEFAULT_POLICY, parse_policy
from efoy_app.domain.scheduling import upcoming_free_slots
from efoy_app.models import Doctor, User, utcnow
from efoy_app.pages.policy import how_it_is_counted
from tests.e2e.axe import report, serious_violations
from tests.e2e.conftest import AppServer
from tests.e2e.ui import log_in

PASSWORD = "e2e-policy-page-pass"
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
TIERS = [
    "Cancel 48 hours or more before the appointment starts: everything you paid back (100 %).",
    "Cancel less than 48 hours but 24 hours or more before the start: 50 % of what you paid back.",
    "Cancel less than 24 hours before the start: nothing back.",
]


def _overflow(page: Page) -> int:
    return max(page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"), 0)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_visitor_reads_the_policy_in_words(app_server: AppServer, page: Page, width: str) -> None:
    page.set_viewport_size(WIDTHS[width])
    page.goto(f"{app_server.url}/policy")
    expect(page.locator("main h1")).to_have_text("Cancellation policy")
    expect(page.locator("#policy-tiers li")).to_have_text(TIERS)
    assert parse_policy(DEFAULT_POLICY).sentences() == TIERS
    rules = how_it_is_counted(parse_policy(DEFAULT_POLICY))
    expect(page.locator("#policy-rules li")).to_have_text(rules)
    assert rules[0].endswith("48 hours before is exactly 48 hours before, across a daylight-saving "
                             "change too.")  # fmt: skip
    # The seeded neurologist keeps a policy of their own, listed under the clinic's.
    own = page.locator("#doctor-policies .doctor-policy")
    expect(own).to_have_count(1)
    expect(own.get_by_role("heading")).to_have_text("Dr. Oliver Hughes")
    expect(own.locator("li").first).to_have_text(
        "Cancel 72 hours or more before the appointment starts: everything you paid back (100 %)."
    )
    expect(page.get_by_role("link", name="Find a doctor")).to_have_attribute("href", "/doctors")
    page.wait_for_timeout(300)  # the navbar's signed-out state paints
    violations = serious_violations(page)
    found = {"h1": page.locator("h1").count(), "axe": len(violations), "overflow": _overflow(page)}
    assert found == {"h1": 1, "axe": 0, "overflow": 0}, f"{width}: {found}\n{report(violations)}"


def _held_booking(server: AppServer) -> tuple[User, int]:
    """A fresh patient and a booking of theirs held on a slot more than a day away."""
    with server.session() as s:
        patient = register_patient(
            s,
            email=f"policy-{uuid.uuid4().hex[:10]}@example.com",
            password=PASSWORD,
            full_name="Haile Gebrselassie",
            timezone="Africa/Addis_Ababa",
        )
        doctor = s.exec(select(Doctor).where(Doctor.currency == "EUR")).first()
        assert doctor is not None
        starts_at = next(
            x.starts_at
            for x in upcoming_free_slots(s, doctor.id)
            if x.starts_at > utcnow() + timedelta(days=1)
        )
        booking = bookings.hold_slot(s, patient=patient, doctor_id=doctor.id, starts_at=starts_at)
        return patient, booking.id


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_payment_page_links_to_the_policy_under_the_pay_buttons(
    app_server: AppServer, page: Page, width: str
) -> None:
    patient, booking_id = _held_booking(app_server)
    page.set_viewport_size(WIDTHS[width])
    log_in(page, app_server.url, patient.email, PASSWORD)
    page.goto(f"{app_server.url}/payment/{booking_id}")
    pay_by_card = page.get_by_role("button", name="Pay by card")
    expect(pay_by_card).to_be_enabled()
    line = page.locator("#policy-line")
    expect(line).to_have_text("If you cancel later: Cancellation policy")
    link = line.get_by_role("link", name="Cancellation policy", exact=True)
    expect(link).to_have_attribute("href", "/policy")
    # Under both ways to pay, inside the screen.
    assert line.bounding_box()["y"] > pay_by_card.bounding_box()["y"]
    assert _overflow(page) == 0
    assert serious_violations(page, "#policy-line") == []
    link.click()
    expect(page).to_have_url(re.compile(r"/policy/?$"))
    expect(page.locator("main h1")).to_have_text("Cancellation policy")
    expect(page.locator("#policy-tiers li")).to_have_text(TIERS)


def test_every_page_links_to_the_policy_from_its_footer(app_server: AppServer, page: Page) -> None:
    page.goto(f"{app_server.url}/")
    page.get_by_role("contentinfo").get_by_role("link", name="Cancellation policy").click()
    expect(page).to_have_url(re.compile(r"/policy/?$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
