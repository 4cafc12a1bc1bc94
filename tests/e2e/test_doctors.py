"""The doctor directory: every active doctor, fees in their own currency, search and filter."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlmodel import col, select

from efoy_app.models import Doctor, User
from tests.e2e.conftest import AppServer

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def _expected_fee(fee_minor: int, currency: str) -> str:
    if currency == "JPY":
        return f"¥{fee_minor:,}"
    return f"{SYMBOLS.get(currency, currency)}{fee_minor / 100:,.2f}"


def test_directory_lists_fees_and_filters(
    app_server: AppServer, page: Page, screenshots_dir
) -> None:
    with app_server.session() as s:
        rows = s.exec(
            select(Doctor, User)
            .join(User, col(User.id) == col(Doctor.user_id))
            .where(Doctor.active)
            .order_by(col(User.full_name))
        ).all()
    assert len(rows) >= 6
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{app_server.url}/doctors")
    cards = page.locator(".doctor-card")
    expect(cards).to_have_count(len(rows))
    for doctor, user in rows:
        card = page.locator(f'.doctor-card[data-doctor-id="{doctor.id}"]')
        expect(card.get_by_role("heading")).to_have_text(user.full_name)
        expect(card.locator(".doctor-fee")).to_have_text(
            _expected_fee(doctor.fee_minor, doctor.currency)
        )
    page.screenshot(path=str(screenshots_dir / "doctors.png"), full_page=True)

    # Filter by one speciality.
    speciality = rows[0][0].speciality
    same = [d for d, _ in rows if d.speciality == speciality]
    page.get_by_role("combobox", name="Speciality").click()
    page.get_by_role("option", name=speciality, exact=True).click()
    expect(cards).to_have_count(len(same))
    for doctor in same:
        expect(page.locator(f'.doctor-card[data-doctor-id="{doctor.id}"]')).to_be_visible()

    # A search nobody matches, then back to everyone.
    page.get_by_role("combobox", name="Speciality").click()
    page.get_by_role("option", name="All specialities").click()
    page.get_by_label("Search doctors by name").fill("zzz-nobody")
    expect(cards).to_have_count(0)
    expect(page.get_by_text("No doctor matches your search.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(cards).to_have_count(len(rows))
