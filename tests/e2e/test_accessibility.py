"""Every page, at a phone's width and a desktop's, has no serious or critical axe-core violation.

Visited as a visitor, as the demo patient and as the demo admin (each signed in once, its
browser storage reused), with real data behind the pages: a held booking, a paid Checkout
Session and its payment (so the confirmation page, My appointments and the admin's payment
page show their receipt buttons). Each page is also photographed (for the README with
`make screenshots`: `<page>-desktop.png` / `<page>-phone.png`). The keyboard checks walk the
frame every page shares: the skip link, the phone menu, focus on the heading after a
client-side navigation.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import select

from efoy_app.models import Doctor, Payment
from tests.e2e.axe import report, serious_violations
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, DEMO_PATIENT, log_in

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
WIDTHS = {"phone": PHONE, "desktop": DESKTOP}
VISITOR, PATIENT, ADMIN = "visitor", "patient", "admin"


@dataclasses.dataclass(frozen=True)
class Data:
    """The ids the pages are opened with."""

    doctor_id: int
    held_booking_id: int
    paid_session_id: str
    paid_booking_id: int
    payment_id: int


def _token(server: AppServer, email: str, password: str) -> dict[str, str]:
    r = httpx.post(f"{server.url}/api/v1/auth/token", json={"email": email, "password": password},
                   timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['accessToken']}"}


def _hold(server: AppServer, headers: dict[str, str], doctor_id: int) -> int:
    api = f"{server.url}/api/v1"
    for day in range(2, 14):
        date = time.strftime("%Y-%m-%d", time.gmtime(time.time() + day * 86400))
        slots = httpx.get(f"{api}/doctors/{doctor_id}/slots", params={"date": date},
                          timeout=30).json()["slots"]  # fmt: skip
        for slot in reversed(slots):
            r = httpx.post(f"{api}/bookings", json={"doctorId": doctor_id,
                           "startsAt": slot["startsAt"]}, headers=headers, timeout=30)  # fmt: skip
            if r.status_code == 201:
                return int(r.json()["id"])
    raise AssertionError("no free slot")


def make_data(app_server: AppServer) -> Data:
    """A held booking and a paid one (hosted Checkout, 4242) of the demo patient."""
    headers = _token(app_server, *DEMO_PATIENT)
    with app_server.session() as s:
        doctor = s.exec(select(Doctor).where(Doctor.currency == "EUR")).first()
        assert doctor is not None and doctor.id is not None
    held = _hold(app_server, headers, doctor.id)
    paid_booking = _hold(app_server, headers, doctor.id)
    r = httpx.post(f"{app_server.url}/api/v1/payment/create-checkout-session",
                   json={"bookingId": paid_booking}, headers=headers, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    session_id = r.json()["sessionId"]
    paid = httpx.post(f"{app_server.sandbox_url}/_sandbox/checkout/sessions/{session_id}/pay",
                      json={"card": "4242424242424242"}, timeout=30)  # fmt: skip
    assert paid.json()["outcome"] == "succeeded", paid.text
    deadline = time.monotonic() + 30
    while True:
        with app_server.session() as s:
            payment = s.exec(
                select(Payment).where(Payment.stripe_checkout_session_id == session_id)
            ).first()
        if payment is not None and payment.status == "paid":
            break
        assert time.monotonic() < deadline, f"payment not paid: {payment}"
        time.sleep(0.2)
    assert payment.id is not None
    return Data(doctor.id, held, session_id, paid_booking, payment.id)


@pytest.fixture(scope="module")
def data(app_server: AppServer) -> Data:
    return make_data(app_server)


def signed_in_storage(browser: Browser, app_server: AppServer) -> dict[str, dict]:
    """Browser storage of a visitor, of the signed-in demo patient and of the demo admin."""
    states: dict[str, dict] = {VISITOR: {"cookies": [], "origins": []}}
    for role, (email, password) in ((PATIENT, DEMO_PATIENT), (ADMIN, DEMO_ADMIN)):
        context = browser.new_context()
        page = context.new_page()
        log_in(page, app_server.url, email, password)
        states[role] = context.storage_state()
        context.close()
    return states


@pytest.fixture(scope="module")
def storage(browser: Browser, app_server: AppServer) -> dict[str, dict]:
    return signed_in_storage(browser, app_server)


@dataclasses.dataclass(frozen=True)
class Visit:
    """One page to check: its screenshot name, who opens it, and its address from the data."""

    name: str
    role: str
    path: Callable[[Data], str]


VISITS = [
    Visit("home", VISITOR, lambda d: "/"),
    Visit("login", VISITOR, lambda d: "/login"),
    Visit("register", VISITOR, lambda d: "/register"),
    Visit("doctors", VISITOR, lambda d: "/doctors"),
    Visit("doctor", VISITOR, lambda d: f"/doctors/{d.doctor_id}"),
    Visit("not-found", VISITOR, lambda d: "/no-such-page"),
    Visit("policy", VISITOR, lambda d: "/policy"),
    Visit("appointments", PATIENT, lambda d: "/appointments"),
    Visit("payment", PATIENT, lambda d: f"/payment/{d.held_booking_id}"),
    Visit("payment-success", PATIENT, lambda d: f"/payment/success?session_id={d.paid_session_id}"),
    Visit("payment-cancel", PATIENT, lambda d: f"/payment/cancel?booking_id={d.held_booking_id}"),
    Visit("admin", ADMIN, lambda d: "/admin"),
    Visit("admin-payments", ADMIN, lambda d: "/admin?tab=payments"),
    # Filtered: one currency's totals and chart, and a notice of what the URL had wrong.
    Visit(
        "admin-payments-filtered",
        ADMIN,
        lambda d: f"/admin?tab=payments&status=paid&currency=EUR&q=%23{d.paid_booking_id}&page=x",
    ),
    Visit("admin-bookings-filtered", ADMIN, lambda d: "/admin?booking_status=held&booking_page=2"),
    Visit("admin-payment", ADMIN, lambda d: f"/admin/payments/{d.payment_id}"),
    Visit("admin-webhooks", ADMIN, lambda d: "/admin/webhooks"),
    Visit("admin-cancellations", ADMIN, lambda d: "/admin/cancellations?status=all"),
    Visit("admin-audit", ADMIN, lambda d: "/admin/audit"),
    Visit("admin-outbox", ADMIN, lambda d: "/admin/outbox"),
    Visit("admin-doctors", ADMIN, lambda d: "/admin/doctors"),
    Visit("admin-doctor", ADMIN, lambda d: f"/admin/doctors/{d.doctor_id}"),
]


@pytest.fixture
def context_for(
    browser: Browser, storage: dict[str, dict]
) -> Iterator[Callable[[str, dict], BrowserContext]]:
    opened: list[BrowserContext] = []

    def make(role: str, viewport: dict) -> BrowserContext:
        context = browser.new_context(storage_state=storage[role], viewport=viewport)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


def open_settled(page: Page, url: str) -> None:
    """Open `url` and wait until its state has loaded: one heading shown, no spinner left."""
    page.goto(url)
    expect(page.locator("main h1").first).to_be_visible(timeout=20_000)
    expect(page.locator("main .rt-Spinner")).to_have_count(0, timeout=20_000)
    page.wait_for_timeout(300)  # the last state delta paints


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("visit", VISITS, ids=[v.name for v in VISITS])
def test_page_has_no_serious_axe_violation_and_one_heading(
    app_server: AppServer,
    data: Data,
    context_for: Callable[[str, dict], BrowserContext],
    screenshots_dir: Path,
    visit: Visit,
    width: str,
) -> None:
    page = context_for(visit.role, WIDTHS[width]).new_page()
    open_settled(page, app_server.url + visit.path(data))
    page.screenshot(path=str(screenshots_dir / f"{visit.name}-{width}.png"), full_page=True)
    violations = serious_violations(page)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    found = {
        "h1": page.locator("h1").count(),
        "main#content": page.locator("main#content").count(),
        "wider than the screen (px)": max(overflow, 0),
        "serious/critical axe violations": len(violations),
    }
    expected = dict.fromkeys(found, 0) | {"h1": 1, "main#content": 1}
    assert found == expected, f"{visit.name} at {width}: {found}\n{report(violations)}"


def test_not_found_page_keeps_the_frame_and_links_home(app_server: AppServer, page: Page) -> None:
    page.set_viewport_size(PHONE)
    response = page.goto(f"{app_server.url}/doctors/99999/nothing-here")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page).to_have_title("Page not found — Efoy")
    main = page.get_by_role("main")
    main.get_by_role("link", name="Find a doctor").click()
    expect(page).to_have_url(re.compile(r"/doctors/?$"))
    page.goto(f"{app_server.url}/no-such-page")
    page.get_by_role("main").get_by_role("link", name="Home").click()
    expect(page).to_have_url(re.compile(rf"{app_server.url}/?$"))
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Doctors")).to_be_visible()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_skip_link_is_the_first_tab_stop_and_moves_focus_into_main(
    app_server: AppServer, page: Page, width: str
) -> None:
    page.set_viewport_size(WIDTHS[width])
    open_settled(page, f"{app_server.url}/doctors")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # shown while focused, off-screen otherwise
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.closest('main#content') !== null")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('main#content') !== null")


def test_phone_menu_opens_with_enter_and_its_links_take_tab(
    app_server: AppServer, browser: Browser, storage: dict[str, dict]
) -> None:
    context = browser.new_context(storage_state=storage[ADMIN], viewport=PHONE)
    try:
        page = context.new_page()
        open_settled(page, f"{app_server.url}/doctors")
        nav = page.get_by_role("navigation", name="Main")
        menu = nav.get_by_role("button", name="Menu")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(nav.get_by_role("link", name="My appointments")).to_be_hidden()
        menu.focus()
        page.keyboard.press("Enter")
        expect(menu).to_have_attribute("aria-expanded", "true")
        page.keyboard.press("Escape")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(menu).to_be_focused()
        expect(nav.get_by_role("link", name="My appointments")).to_be_hidden()
        page.keyboard.press("Enter")
        expect(menu).to_have_attribute("aria-expanded", "true")
        for name in ("Doctors", "My appointments", "Admin"):
            page.keyboard.press("Tab")
            expect(nav.get_by_role("link", name=name)).to_be_focused()
        page.keyboard.press("Tab")
        expect(nav.get_by_role("button", name="Log out")).to_be_focused()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")  # Admin
        expect(page).to_have_url(re.compile(r"/admin/?$"))
        expect(menu).to_have_attribute("aria-expanded", "false")
        heading = page.get_by_role("heading", level=1)
        expect(heading).to_be_focused()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
    finally:
        context.close()


def test_phone_menu_offers_log_in_and_register_to_a_visitor(
    app_server: AppServer, page: Page
) -> None:
    page.set_viewport_size(PHONE)
    open_settled(page, f"{app_server.url}/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Doctors")).to_be_hidden()
    nav.get_by_role("button", name="Menu").click()
    links = nav.get_by_role("link")
    expect(links).to_have_text(["Efoy", "Doctors", "Log in", "Register"])
    nav.get_by_role("link", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login/?$"))
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_focused()


def test_desktop_shows_the_links_without_a_menu(app_server: AppServer, page: Page) -> None:
    page.set_viewport_size(DESKTOP)
    log_in(page, app_server.url, *DEMO_PATIENT)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("button", name="Menu")).to_be_hidden()
    expect(nav.get_by_role("link", name="My appointments")).to_be_visible()
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
    # The links stand apart, not glued into one word ("DoctorsMy appointments"). Measured once
    # both are laid out: the navbar is drawn again as the signed-in account arrives.
    doctors_link = nav.get_by_role("link", name="Doctors", exact=True)
    mine_link = nav.get_by_role("link", name="My appointments")
    deadline = time.monotonic() + 10
    while True:
        expect(doctors_link).to_be_visible()
        expect(mine_link).to_be_visible()
        doctors, mine = doctors_link.bounding_box(), mine_link.bounding_box()
        if (doctors is not None and mine is not None) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(100)
    assert doctors is not None and mine is not None
    assert mine["x"] - (doctors["x"] + doctors["width"]) >= 16
    nav.get_by_role("link", name="My appointments").click()
    expect(page.get_by_role("heading", level=1, name="My appointments")).to_be_focused()


FOCUS_RING = "rgb(13, 61, 56)"  # --efoy-focus, teal 12 #0d3d38: 11.5:1 on the page background
RING_OF_FOCUSED = """() => {
  // The ring of the focused element, or of the field around it (Radix draws a text field's
  // ring on its root): [tag, outline style, width in px, colour].
  let el = document.activeElement;
  for (let i = 0; el && i < 3; i++, el = el.parentElement) {
    const s = getComputedStyle(el);
    if (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) {
      return [document.activeElement.tagName, s.outlineStyle, parseFloat(s.outlineWidth),
              s.outlineColor];
    }
  }
  return [document.activeElement.tagName, "none", 0, ""];
}"""


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_tab_stop_shows_a_dark_focus_ring(
    app_server: AppServer, page: Page, width: str
) -> None:
    """Skip link, navbar, fields, buttons and links of the login page, by keyboard alone."""
    page.set_viewport_size(WIDTHS[width])
    open_settled(page, f"{app_server.url}/login")
    stops = 9 if width == "desktop" else 7
    seen = []
    for _ in range(stops):
        page.keyboard.press("Tab")
        tag, style, px, color = page.evaluate(RING_OF_FOCUSED)
        seen.append(tag)
        assert (style, px >= 2, color) == ("solid", True, FOCUS_RING), (tag, style, px, color)
    assert seen.count("INPUT") == 2 and "BUTTON" in seen and seen[0] == "A"
