"""Live slots: a time held or booked by someone else leaves every open doctor page within 2 s,
on one worker and across several (Reflex state in Redis); a patient who clicks a time that was
just taken is told at once and holds nothing.

How each page learns it: its own background task polls `domain.scheduling.slots_version` about
once a second (the server logs `live_slots_start ... pid=<worker>`, which is how the test below
sees on which worker each page's task runs).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime

from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import col, select

from efoy_app.domain.auth import register_patient
from efoy_app.domain.bookings import hold_slot
from efoy_app.models import Booking, Doctor, User
from tests.e2e.conftest import AppServer, worker_count
from tests.e2e.ui import log_in, show_a_day_away

TAKEN = "That time was just taken — pick another."
PASSWORD = "live-slots-pass-1"
LIVE_START = re.compile(r"live_slots_start doctor=(\d+) pid=(\d+)")


def _doctor_ids(server: AppServer) -> list[int]:
    with server.session() as s:
        return list(s.exec(select(Doctor.id).where(Doctor.active).order_by(col(Doctor.id))))


def _patient(server: AppServer, name: str) -> tuple[int, str]:
    email = f"live-{uuid.uuid4().hex[:10]}@example.com"
    with server.session() as s:
        user = register_patient(s, email=email, password=PASSWORD, full_name=name)
        assert user.id is not None
        return user.id, email


def _open_doctor_page(
    browser: Browser, server: AppServer, name: str, doctor_id: int
) -> tuple[BrowserContext, Page, int]:
    """A new patient in a browser context of their own, on the doctor's page, shown the last
    open day (all its times free at any hour; every page of a test shows the same day)."""
    patient_id, email = _patient(server, name)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, server.url, email, PASSWORD)
    page.goto(f"{server.url}/doctors/{doctor_id}")
    expect(page.locator("[data-slot]").first).to_be_visible()
    show_a_day_away(page)
    return context, page, patient_id


def _active_bookings(server: AppServer, doctor_id: int, slot_iso: str) -> list[Booking]:
    with server.session() as s:
        return list(
            s.exec(
                select(Booking).where(
                    Booking.doctor_id == doctor_id,
                    Booking.starts_at == datetime.fromisoformat(slot_iso).astimezone(UTC),
                    col(Booking.status).in_(["held", "confirmed"]),
                )
            )
        )


def _book_and_watch_it_vanish(server: AppServer, one: Page, two: Page, doctor_id: int) -> float:
    """Patient one books a time both pages show; returns how long until page two drops it."""
    slot = one.locator("[data-slot]").nth(2)
    slot_iso = slot.get_attribute("data-slot")
    assert slot_iso is not None
    expect(two.locator(f'[data-slot="{slot_iso}"]')).to_be_visible()
    slot.click()
    one.get_by_role("button", name="Book appointment").click()
    expect(one).to_have_url(re.compile(r"/payment/\d+/?$"))
    held_at = time.monotonic()
    expect(two.locator(f'[data-slot="{slot_iso}"]')).to_have_count(0, timeout=2_000)
    elapsed = time.monotonic() - held_at
    booking_id = int(one.url.rstrip("/").rsplit("/", 1)[1])
    assert [b.id for b in _active_bookings(server, doctor_id, slot_iso)] == [booking_id]
    return elapsed


def _wait_for_log(server: AppServer, pattern: re.Pattern[str], after: int, timeout: float = 10):
    """The first match of `pattern` in the server log past character `after`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = server.log_path.read_text(errors="replace")
        if match := pattern.search(text, after):
            return match
        time.sleep(0.2)
    raise AssertionError(f"no {pattern.pattern!r} in the log\n{server.log_tail()}")


def _log_size(server: AppServer) -> int:
    return len(server.log_path.read_text(errors="replace"))


def test_a_booked_slot_vanishes_from_another_patients_open_page(
    app_server: AppServer, browser: Browser
) -> None:
    doctor_id = _doctor_ids(app_server)[3]
    c1, one, _ = _open_doctor_page(browser, app_server, "Patient One", doctor_id)
    mark = _log_size(app_server)
    c2, two, _ = _open_doctor_page(browser, app_server, "Patient Two", doctor_id)
    _wait_for_log(app_server, re.compile(rf"live_slots_start doctor={doctor_id} "), mark)

    mark = _log_size(app_server)
    elapsed = _book_and_watch_it_vanish(app_server, one, two, doctor_id)
    assert elapsed < 2.0
    # Patient two had chosen nothing: no message, the other times are all still there.
    expect(two.get_by_role("alert")).to_have_count(0)
    expect(two.locator("[data-slot]").first).to_be_visible()

    # The task ends when its page is left (Reflex cancels the page load's chain), and when its
    # tab is closed: patient one's ended on going to the payment page, patient two's ends on
    # going back to the list.
    stop = re.compile(rf"live_slots_stop doctor={doctor_id} pid=\d+ reason=(\w+)")
    assert _wait_for_log(app_server, stop, mark).group(1) == "cancelled"
    mark = _log_size(app_server)
    two.get_by_role("link", name="← All doctors").click()
    expect(two).to_have_url(re.compile(r"/doctors/?$"))
    assert _wait_for_log(app_server, stop, mark).group(1) == "cancelled"
    mark = _log_size(app_server)
    one.goto(f"{app_server.url}/doctors/{doctor_id}")
    _wait_for_log(app_server, re.compile(rf"live_slots_start doctor={doctor_id} "), mark)
    mark = _log_size(app_server)
    c1.close()
    assert _wait_for_log(app_server, stop, mark).group(1) in ("cancelled", "disconnected")
    c2.close()


def test_clicking_a_time_just_taken_tells_the_patient_and_holds_nothing(
    app_server: AppServer, browser: Browser
) -> None:
    """The time is taken through the domain, behind the page's back, right before the click.

    The page's own poll may drop the time in the instant between the two; then the click has
    nothing to land on and the test tries the next time (at most three), so the message seen
    is always the answer to the click."""
    doctor_id = _doctor_ids(app_server)[4]
    context, page, patient_id = _open_doctor_page(browser, app_server, "Quick Clicker", doctor_id)
    rival_id, _ = _patient(app_server, "Rival")
    told = False
    for attempt in range(3):
        slot = page.locator("[data-slot]").nth(3 + attempt)
        slot_iso = slot.get_attribute("data-slot")
        assert slot_iso is not None
        with app_server.session() as s:
            rival = s.get(User, rival_id)
            hold_slot(
                s, patient=rival, doctor_id=doctor_id, starts_at=datetime.fromisoformat(slot_iso)
            )
        # A click dispatched at once, without Playwright's waiting for the element.
        clicked = page.evaluate(
            '(iso) => { const el = document.querySelector(`[data-slot="${iso}"]`);'
            " if (!el) return false; el.click(); return true; }",
            slot_iso,
        )
        expect(page.locator(f'[data-slot="{slot_iso}"]')).to_have_count(0, timeout=2_000)
        if clicked:
            try:
                expect(page.get_by_role("alert")).to_have_text(TAKEN, timeout=2_000)
            except AssertionError:
                continue  # the poll won the race: the click met a page without the time
            told = True
            rows = _active_bookings(app_server, doctor_id, slot_iso)
            assert [(b.patient_id, b.status) for b in rows] == [(rival_id, "held")]
            break
    assert told, "the patient was never told the time was taken"
    expect(page.locator("#selected-slot")).to_have_count(0)
    expect(page.get_by_role("button", name="Book appointment")).to_be_disabled()
    with app_server.session() as s:
        mine = s.exec(select(Booking).where(Booking.patient_id == patient_id)).all()
        assert mine == []
    context.close()


def test_across_workers_a_slot_held_on_one_vanishes_on_another(
    redis_server: AppServer, browser: Browser
) -> None:
    """Two patients whose pages are served by different workers (each page's live task logs its
    worker's pid; more tabs are opened until two differ)."""
    assert worker_count(redis_server) >= 3  # the parent and at least two workers
    doctor_id = _doctor_ids(redis_server)[2]
    opened: list[tuple[BrowserContext, Page, str]] = []
    for n in range(8):
        mark = _log_size(redis_server)
        context, page, _ = _open_doctor_page(
            browser, redis_server, f"Worker Patient {n}", doctor_id
        )
        pid = _wait_for_log(redis_server, LIVE_START, mark).group(2)
        opened.append((context, page, pid))
        if len({p for _, _, p in opened}) >= 2:
            break
    pids = [p for _, _, p in opened]
    assert len(set(pids)) >= 2, f"every page landed on one worker: {pids}"
    one = opened[0]
    two = next(o for o in opened if o[2] != one[2])
    elapsed = _book_and_watch_it_vanish(redis_server, one[1], two[1], doctor_id)
    assert elapsed < 2.0
    for context, _, _ in opened:
        context.close()
