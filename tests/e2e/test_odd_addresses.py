"""Addresses nobody should type, typed: ids past 2**63, words, other scripts' digits.

Each page says plainly that there is nothing there (never a spinner forever, never a server
error in its log), as the REST API answers 404/422 for the same ids.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, DEMO_PATIENT, log_in

HUGE = str(2**63)
ODD_IDS = [HUGE, "9" * 40, "0", "%D9%A3", "12abc"]


def _no_new_traceback(server: AppServer, before: int) -> None:
    text = server.log_path.read_text(errors="replace")[before:]
    assert "Traceback" not in text, text[-3000:]


@pytest.mark.parametrize("raw", ODD_IDS)
def test_patient_pages_say_not_found_for_odd_ids(
    app_server: AppServer, page: Page, raw: str
) -> None:
    log_in(page, app_server.url, *DEMO_PATIENT)
    before = len(app_server.log_path.read_text(errors="replace"))
    page.goto(f"{app_server.url}/payment/{raw}")
    expect(page.get_by_role("heading", name="Booking not found")).to_be_visible()
    page.goto(f"{app_server.url}/doctors/{raw}")
    expect(page.get_by_role("heading", name="Doctor not found")).to_be_visible()
    page.goto(f"{app_server.url}/payment/cancel?booking_id={raw}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    _no_new_traceback(app_server, before)


def test_admin_payment_page_says_not_found_past_2_63(app_server: AppServer, page: Page) -> None:
    log_in(page, app_server.url, *DEMO_ADMIN)
    before = len(app_server.log_path.read_text(errors="replace"))
    for raw in ODD_IDS:
        page.goto(f"{app_server.url}/admin/payments/{raw}")
        expect(page.get_by_role("heading", name="Payment not found")).to_be_visible()
    _no_new_traceback(app_server, before)
