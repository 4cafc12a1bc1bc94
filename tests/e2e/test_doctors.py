"""The doctor directory: every active doctor, fees in their own currency, search (name or
speciality) and filter, both in the URL."""

from __future__ import annotations

import re
from urllib.parse import quote_plus

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import col, select

from efoy_app.models import Doctor, User
from tests.e2e.axe import report, serious_violations
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
        # Where they practise by its city, not the IANA id.
        city = doctor.timezone.rsplit("/", 1)[-1].replace("_", " ")
        expect(card.locator(".doctor-zone")).to_contain_text(city)
        expect(card.locator(".doctor-zone")).not_to_contain_text("/")
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
    page.get_by_label("Search doctors by name or speciality").fill("zzz-nobody")
    expect(cards).to_have_count(0)
    expect(page.get_by_text("No doctor matches your search.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(cards).to_have_count(len(rows))
    expect(page).to_have_url(re.compile(r"/doctors/?$"))


def _matching(server: AppServer, text: str, speciality: str | None = None) -> set[int]:
    with server.session() as s:
        rows = s.exec(
            select(Doctor, User)
            .join(User, col(User.id) == col(Doctor.user_id))
            .where(Doctor.active)
        ).all()
    return {
        d.id
        for d, u in rows
        if (text in u.full_name.lower() or text in d.speciality.lower())
        and (speciality is None or d.speciality == speciality)
    }


def _shown(page: Page) -> set[int]:
    cards = page.locator(".doctor-card")
    return {int(cards.nth(i).get_attribute("data-doctor-id") or 0) for i in range(cards.count())}


def test_search_and_filter_live_in_the_url(app_server: AppServer, page: Page) -> None:
    base = app_server.url
    search = page.get_by_label("Search doctors by name or speciality")
    # A shared link: the speciality matches as well as the name.
    page.goto(f"{base}/doctors?q=cardio")
    expect(search).to_have_value("cardio")
    cardio = _matching(app_server, "cardio")
    assert cardio
    expect(page.locator(".doctor-card")).to_have_count(len(cardio))
    assert _shown(page) == cardio

    # Typing puts the search in the address bar.
    search.fill("derma")
    expect(page).to_have_url(re.compile(r"/doctors/?\?q=derma$"))
    derma = _matching(app_server, "derma")
    expect(page.locator(".doctor-card")).to_have_count(len(derma))
    assert _shown(page) == derma

    # The filter too, beside the search.
    search.fill("")
    expect(page).to_have_url(re.compile(r"/doctors/?$"))
    with app_server.session() as s:
        speciality = s.exec(select(Doctor.speciality).where(Doctor.active)).first()
    assert speciality is not None
    page.get_by_role("combobox", name="Speciality").click()
    page.get_by_role("option", name=speciality, exact=True).click()
    expect(page).to_have_url(
        re.compile(rf"/doctors/?\?speciality={re.escape(quote_plus(speciality))}$")
    )
    same = _matching(app_server, "", speciality)
    expect(page.locator(".doctor-card")).to_have_count(len(same))

    # Off to a doctor and back: the list comes back as it was left.
    doctor_id = min(same)
    page.locator(f'.doctor-card[data-doctor-id="{doctor_id}"]').get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/doctors/{doctor_id}/?$"))
    page.go_back()
    expect(page).to_have_url(
        re.compile(rf"/doctors/?\?speciality={re.escape(quote_plus(speciality))}$")
    )
    expect(page.get_by_role("combobox", name="Speciality")).to_have_text(speciality)
    expect(page.locator(".doctor-card")).to_have_count(len(same))
    assert _shown(page) == same

    # A made-up speciality in a link shows everyone rather than nobody.
    page.goto(f"{base}/doctors?speciality=Astrology")
    expect(page.locator(".doctor-card")).to_have_count(len(_matching(app_server, "")))


@pytest.mark.parametrize("width", [1280, 390])
def test_directory_content_passes_axe(app_server: AppServer, page: Page, width: int) -> None:
    """The page's own content (main): no serious or critical axe-core violation."""
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{app_server.url}/doctors?q=a")
    expect(page.locator(".doctor-card").first).to_be_visible()
    bad = serious_violations(page, "main")
    assert bad == [], report(bad)
