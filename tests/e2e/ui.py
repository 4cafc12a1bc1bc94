"""Steps a person takes in the browser, shared by the end-to-end tests."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

DEMO_PATIENT = ("patient@example.com", "patient-demo-pass")
DEMO_ADMIN = ("admin@example.com", "admin-demo-pass")


def log_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Log in through the form and wait for the navbar to show the account."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/doctors/?$"))


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()


def stored_token(page: Page) -> str:
    """The JWT the app keeps in localStorage ("" when signed out)."""
    return page.evaluate("() => window.localStorage.getItem('efoy_auth_token') || ''")
