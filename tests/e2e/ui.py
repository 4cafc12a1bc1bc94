"""Steps a person takes in the browser, shared by the end-to-end tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Page, expect

DEMO_PATIENT = ("patient@example.com", "patient-demo-pass")
DEMO_ADMIN = ("admin@example.com", "admin-demo-pass")


def log_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Log in through the form and wait for the navbar to show the account."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/doctors/?$"))
    with account_shown(page):
        expect(page.get_by_role("button", name="Log out")).to_be_visible()


@contextmanager
def account_shown(page: Page) -> Iterator[None]:
    """On a phone the account area sits in the navbar's menu: open it for the block, then close."""
    menu = page.get_by_role("navigation").get_by_role("button", name="Menu")
    on_phone = menu.is_visible()
    if on_phone and menu.get_attribute("aria-expanded") != "true":
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
    yield
    if on_phone and menu.get_attribute("aria-expanded") == "true":
        page.keyboard.press("Escape")


def log_out(page: Page) -> None:
    with account_shown(page):
        page.get_by_role("button", name="Log out").click()
    with account_shown(page):
        expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()


def stored_token(page: Page) -> str:
    """The JWT the app keeps in localStorage ("" when signed out)."""
    return page.evaluate("() => window.localStorage.getItem('efoy_auth_token') || ''")


def show_a_day_away(page: Page) -> None:
    """On a doctor page, show the last open day of the row: days away, so all its times are
    still free whatever the hour the suite runs at (today may have none left, or only two)."""
    open_days = page.locator("input[name=day]:not([disabled])")
    expect(open_days.first).to_be_attached()
    open_days.last.dispatch_event("click")
    expect(open_days.last).to_be_checked()
    # The times shown are that day's once the first one's name carries its date ("Tue 15 Dec").
    # (Comparing with the times shown before raced the page's hydration on a second visit,
    # which may reopen on the day chosen before.)
    day = page.locator("label.slot-day:has(input[name=day]:not([disabled]))").last.locator("span")
    date = " ".join(day.nth(i).inner_text().strip() for i in range(3))
    first_time = page.locator("[data-slot]").first.get_by_role("radio")
    expect(first_time).to_have_accessible_name(re.compile(rf"^{re.escape(date)}\b", re.I))


def choose_a_time_days_away(page: Page) -> None:
    """Choose the last time of the last open day, so Stripe's hosted page (which needs 31
    minutes before the start) is offered whatever the hour."""
    show_a_day_away(page)
    page.locator("[data-slot]").last.click()
