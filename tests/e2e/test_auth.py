"""Login failures are shown on the page; /admin is for admins only."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from efoy_app.domain.auth import register_patient
from efoy_app.domain.bookings import hold_slot
from efoy_app.domain.scheduling import upcoming_free_slots
from efoy_app.models import Doctor, LoginThrottle, User
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, DEMO_PATIENT, log_in, log_out, stored_token

LOOPBACK = ("127.0.0.1", "::1")


def _new_patient(server: AppServer, password: str) -> str:
    email = f"login-{uuid.uuid4().hex[:10]}@example.com"
    with server.session() as s:
        register_patient(s, email=email, password=password, full_name="Login Tester")
    return email


def _failed_count(server: AppServer, email: str) -> int:
    """Failures of this account from the browser's address (the login page passes Reflex's
    client_ip, so the row names the loopback address the browser connected from)."""
    with server.session() as s:
        row = s.exec(
            select(LoginThrottle).where(
                LoginThrottle.scope == "account_address", LoginThrottle.account == email
            )
        ).first()
        if row is None:
            return 0
        assert row.address in LOOPBACK
        return row.failures


def test_wrong_password_shows_message_and_stays_logged_out(
    app_server: AppServer, page: Page
) -> None:
    email = _new_patient(app_server, "right-password")
    page.goto(f"{app_server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page).to_have_url(re.compile(r"/login/?$"))
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    assert stored_token(page) == ""
    assert _failed_count(app_server, email) == 1

    # The right password still works and resets the counter.
    page.get_by_label("Password").fill("right-password")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert stored_token(page) != ""
    assert _failed_count(app_server, email) == 0


def test_repeated_failures_lock_this_browser_out(app_server: AppServer, page: Page) -> None:
    email = _new_patient(app_server, "right-password")
    page.goto(f"{app_server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("wrong-password")
    submit = page.get_by_role("button", name="Log in", exact=True)
    for _ in range(5):
        submit.click()  # events of one tab are handled in order, one after the other
    # Locked now: even the right password is refused until the lock ends.
    page.get_by_label("Password").fill("right-password")
    submit.click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Too many failed attempts. Please try again later."
    )
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    assert stored_token(page) == ""
    with app_server.session() as s:
        row = s.exec(select(LoginThrottle).where(LoginThrottle.account == email)).one()
        assert (row.address in LOOPBACK, row.failures) == (True, 5)
        assert row.locked_until is not None


def test_patient_cannot_open_admin(app_server: AppServer, page: Page) -> None:
    log_in(page, app_server.url, *DEMO_PATIENT)
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="My appointments")).to_be_visible()
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
    page.goto(f"{app_server.url}/admin")
    expect(page.locator("#forbidden-message")).to_have_text("You do not have access to this page.")
    expect(page.get_by_role("table")).to_have_count(0)


def test_admin_sees_recent_bookings(app_server: AppServer, page: Page) -> None:
    with app_server.session() as s:
        patient = register_patient(
            s,
            email=f"admin-view-{uuid.uuid4().hex[:8]}@example.com",
            password="patient-password",
            full_name="Listed Patient",
        )
        doctor = s.exec(select(Doctor).where(Doctor.currency == "USD")).one()
        slot = upcoming_free_slots(s, doctor.id)[-1]
        booking = hold_slot(s, patient=patient, doctor_id=doctor.id, starts_at=slot.starts_at)

    log_in(page, app_server.url, *DEMO_ADMIN)
    page.get_by_role("navigation").get_by_role("link", name="Admin").click()
    expect(page).to_have_url(re.compile(r"/admin/?$"))
    expect(page.get_by_role("heading", name="Admin", exact=True)).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(1)
    row = page.locator(f'tr[data-booking-id="{booking.id}"]')
    expect(row).to_contain_text(patient.email)
    expect(row).to_contain_text("Listed Patient")
    expect(row).to_contain_text("Held, awaiting payment")
    expect(row).to_contain_text(f"${booking.price_minor / 100:,.2f}")
    expect(page.locator("#forbidden-message")).to_have_count(0)


def test_signed_out_visitor_is_sent_to_login_and_back(app_server: AppServer, page: Page) -> None:
    page.goto(f"{app_server.url}/appointments")
    expect(page).to_have_url(re.compile(r"/login/?\?next=%2Fappointments$"))
    page.get_by_label("Email").fill(DEMO_PATIENT[0])
    page.get_by_label("Password").fill(DEMO_PATIENT[1])
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/appointments/?$"))
    expect(page.get_by_role("heading", name="My appointments")).to_be_visible()


def _fill_login(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


def test_login_comes_back_to_the_whole_address_with_its_query(
    app_server: AppServer, page: Page
) -> None:
    """A Checkout return (/payment/success?session_id=...) survives a login on the way."""
    page.goto(f"{app_server.url}/payment/success?session_id=cs_test_kept&x=1")
    expect(page).to_have_url(
        re.compile(r"/login/?\?next=%2Fpayment%2Fsuccess%3Fsession_id%3Dcs_test_kept%26x%3D1$")
    )
    _fill_login(page, *DEMO_PATIENT)
    expect(page).to_have_url(re.compile(r"/payment/success/?\?session_id=cs_test_kept&x=1$"))


def test_admin_deep_links_survive_the_login(app_server: AppServer, page: Page) -> None:
    page.goto(f"{app_server.url}/admin?tab=payments&flagged=1")
    expect(page).to_have_url(re.compile(r"/login/?\?next=%2Fadmin%3Ftab%3Dpayments%26flagged%3D1$"))
    _fill_login(page, *DEMO_ADMIN)
    expect(page).to_have_url(re.compile(r"/admin/?\?tab=payments&flagged=1$"))

    log_out(page)
    page.goto(f"{app_server.url}/admin/payments/3")
    expect(page).to_have_url(re.compile(r"/login/?\?next=%2Fadmin%2Fpayments%2F3$"))
    _fill_login(page, *DEMO_ADMIN)
    expect(page).to_have_url(re.compile(r"/admin/payments/3/?$"))


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/steal",
        "https://evil.example/steal",
        "/\\evil.example/steal",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
    ],
)
def test_login_never_goes_on_to_another_site(
    app_server: AppServer, page: Page, target: str
) -> None:
    page.goto(f"{app_server.url}/login?{urlencode({'next': target})}")
    _fill_login(page, *DEMO_PATIENT)
    expect(page).to_have_url(re.compile(rf"^{re.escape(app_server.url)}/doctors/?$"))


def test_register_keeps_next_from_the_login_page_and_goes_there(
    app_server: AppServer, page: Page
) -> None:
    page.goto(f"{app_server.url}/appointments?held=7")
    expect(page).to_have_url(re.compile(r"/login/?\?next=%2Fappointments%3Fheld%3D7$"))
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/register/?\?next=%2Fappointments%3Fheld%3D7$"))
    expect(page.get_by_role("link", name="Log in", exact=True).last).to_have_attribute(
        "href", "/login?next=%2Fappointments%3Fheld%3D7"
    )
    page.get_by_label("Full name").fill("Next Keeper")
    page.get_by_label("Email").fill(f"next-{uuid.uuid4().hex[:10]}@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/appointments/?\?held=7$"))
    expect(page.get_by_role("heading", name="My appointments")).to_be_visible()


def test_register_lists_each_zone_once_grouped_and_searchable(
    app_server: AppServer, browser: Browser
) -> None:
    """A browser that reports the legacy Asia/Calcutta gets Kolkata, listed once; typing a
    country in the search box chooses its zone, and the keyboard alone can change it."""
    context = browser.new_context(
        timezone_id="Asia/Calcutta", viewport={"width": 390, "height": 844}
    )
    try:
        page = context.new_page()
        page.goto(f"{app_server.url}/register")
        zone_list = page.get_by_label("Your timezone")
        expect(zone_list).to_have_value("Asia/Kolkata")
        expect(zone_list.locator("option[value='Asia/Calcutta']")).to_have_count(0)
        expect(zone_list.locator("option[value='Asia/Kolkata']")).to_have_text(
            "Kolkata — India Standard Time (UTC+05:30)"
        )
        groups = zone_list.locator("optgroup")
        expect(groups.first).to_have_attribute("label", "Universal")
        labels = [groups.nth(i).get_attribute("label") for i in range(groups.count())]
        assert labels == [
            "Universal", "Africa", "Americas", "Antarctica", "Arctic", "Asia",
            "Atlantic Ocean", "Australia", "Europe", "Indian Ocean", "Pacific Ocean",
        ]  # fmt: skip
        assert zone_list.locator("option").count() == 419
        assert zone_list.locator("option[value='Asia/Kolkata']").count() == 1

        search = page.get_by_label("Search timezones")
        search.focus()
        page.keyboard.type("ethiopia")
        expect(zone_list).to_have_value("Africa/Addis_Ababa")
        expect(zone_list.locator("option")).to_have_text(
            ["Addis Ababa — East Africa Time (UTC+03:00)"]
        )
        expect(page.locator("#timezone-matches")).to_have_text("1 timezone listed.")
        page.keyboard.press("Control+A")
        page.keyboard.type("kenya")
        expect(zone_list).to_have_value("Africa/Nairobi")
        page.keyboard.press("Control+A")
        page.keyboard.type("east africa")
        # 12 matches (East Africa Time, and Cairo and Tripoli by their ids); Nairobi still
        # matches, so the choice stays.
        expect(page.locator("#timezone-matches")).to_have_text("12 timezones listed.")
        expect(zone_list).to_have_value("Africa/Nairobi")
        page.keyboard.press("Tab")
        expect(zone_list).to_be_focused()
        # Nairobi is Africa's last East Africa Time city (alphabetical): up goes to Mogadishu.
        page.keyboard.press("ArrowUp")
        expect(zone_list).to_have_value("Africa/Mogadishu")
        page.get_by_label("Full name").fill("Zone Chooser")
        email = f"zone-{uuid.uuid4().hex[:10]}@example.com"
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("correct horse battery")
        page.get_by_role("button", name="Create account").click()
        expect(page).to_have_url(re.compile(r"/doctors/?$"))
        with app_server.session() as s:
            user = s.exec(select(User).where(User.email == email)).one()
        assert user.timezone == "Africa/Mogadishu"
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/login", "/register"])
def test_before_the_page_runs_its_script_no_password_can_reach_a_url(
    app_server: AppServer, browser: Browser, path: str
) -> None:
    """A click or Enter before hydration would submit the plain HTML form natively (a GET with
    the password in the address): the page as served, without JavaScript, cannot do that."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{app_server.url}{path}")
    button = page.locator("form button[type=submit]")
    expect(button).to_be_disabled()
    assert page.locator("form").get_attribute("method") == "post"
    page.get_by_label("Email").fill("someone@example.com")
    page.get_by_label("Password").fill("a-secret-typed-early")
    page.get_by_label("Password").press("Enter")
    page.wait_for_timeout(300)
    assert "a-secret-typed-early" not in page.url
    context.close()
    # Once the page runs, the button works (the log-in helper clicks it).
    hydrated = browser.new_page()
    hydrated.goto(f"{app_server.url}{path}")
    expect(hydrated.locator("form button[type=submit]")).to_be_enabled()
    hydrated.close()
