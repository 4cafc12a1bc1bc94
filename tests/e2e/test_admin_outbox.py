"""The outbox in Chromium: /admin/outbox lists the messages written into the server's database,
filters them by recipient and status (in the URL), opens one to read, saves its attachment and
retries it; axe on both pages, on a desktop and a phone; a patient sees none of it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from efoy_app.models import AuditLog, OutboxAttachment, OutboxEmail, User
from efoy_app.routes import ADMIN_OUTBOX
from tests.e2e.axe import report, serious_violations
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, DEMO_PATIENT, log_in

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
BODY = "Dear Ada,\n\n  Your receipt R-2031-0001 is attached.\n\nEfoy clinic"
# Would run if the page rendered it: the page must show it as text.
HTML = '<p>Dear <b>Ada</b></p><img src="x" onerror="window.__pwned = 1"><script>window.__pwned = 2</script>'  # noqa: E501
FAR = datetime(2099, 1, 1, tzinfo=UTC)  # a queued message no sender claims during the test
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _seed(server: AppServer) -> dict[str, int]:
    """Three messages to this test's own addresses, a minute apart: sent, failed (with a PDF
    and an HTML body), queued; newest last."""
    tag = f"obx{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    with server.session() as s:
        sent = OutboxEmail(kind="confirmation", to_address=f"bo.{tag}@example.test",
                           subject="Booking confirmed", body="See you.", status="sent",
                           attempts=1, created_at=now - timedelta(minutes=3),
                           next_attempt_at=now - timedelta(minutes=3),
                           sent_at=now - timedelta(minutes=3))  # fmt: skip
        failed = OutboxEmail(kind="receipt", to_address=f"ada.{tag}@example.test",
                             subject="Your receipt R-2031-0001", body=BODY, html_body=HTML,
                             status="failed", attempts=5, error="550 5.1.1 mailbox unavailable",
                             message_id=f"<{tag}@efoy.test>", created_at=now - timedelta(minutes=2),
                             next_attempt_at=now - timedelta(minutes=2))  # fmt: skip
        queued = OutboxEmail(kind="reminder", to_address=f"ada.{tag}@example.test",
                             subject="Tomorrow at 9:00", body="A reminder.",
                             created_at=now - timedelta(minutes=1),
                             next_attempt_at=FAR)  # fmt: skip
        s.add_all([sent, failed, queued])
        s.flush()
        pdf = OutboxAttachment(email_id=failed.id, filename="receipt-R-2031-0001.pdf",
                               content_type="application/pdf", data=PDF)  # fmt: skip
        s.add(pdf)
        s.commit()
        return {"tag": tag, "sent": sent.id, "failed": failed.id, "queued": queued.id,
                "pdf": pdf.id}  # type: ignore[dict-item]  # fmt: skip


def test_admin_filters_reads_downloads_and_retries_a_failed_email(
    app_server: AppServer, page: Page
) -> None:
    w = _seed(app_server)
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}/admin")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Outbox").click()
    expect(page).to_have_url(re.compile(r"/admin/outbox/?$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Outbox")
    page.get_by_label("Recipient", exact=True).fill(w["tag"])
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"\?to={w['tag']}$"))
    rows = page.locator("tr[data-email-id]")
    expect(rows).to_have_count(3)
    ids = [int(r.get_attribute("data-email-id") or 0) for r in rows.all()]
    assert ids == [w["queued"], w["failed"], w["sent"]]
    expect(rows.locator("[data-status]")).to_have_text(["Queued", "Failed", "Sent"])
    expect(rows.locator(".attempts")).to_have_text(["0", "5", "1"])
    expect(rows.locator(".kind")).to_have_text(["Reminder", "Receipt", "Confirmation"])
    expect(rows.nth(0).locator(".next-or-sent")).to_have_text(re.compile(r"^Due Thu 1 Jan 2099"))
    expect(rows.nth(2).locator(".next-or-sent")).to_have_text(re.compile(r"^Sent "))
    expect(rows.nth(1).locator(".error")).to_have_text("550 5.1.1 mailbox unavailable")
    expect(page.locator(".outbox-summary").first).to_have_text("3 emails · page 1 of 1")

    page.get_by_label("Status", exact=True).select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"\?status=failed&to={w['tag']}$"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-email-id", str(w["failed"]))
    page.reload()  # the filters come back from the URL
    expect(page.get_by_label("Status", exact=True)).to_have_value("failed")
    expect(page.get_by_label("Recipient", exact=True)).to_have_value(w["tag"])
    expect(rows).to_have_count(1)

    rows.first.get_by_role("link", name="Read").click()
    expect(page).to_have_url(re.compile(rf"/admin/outbox/{w['failed']}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Email #{w['failed']}")
    expect(page.locator("#email-to")).to_have_text(f"ada.{w['tag']}@example.test")
    expect(page.locator("#email-subject")).to_have_text("Your receipt R-2031-0001")
    expect(page.locator("#email-message-id")).to_have_text(f"<{w['tag']}@efoy.test>")
    expect(page.locator("#email-status")).to_have_attribute("data-status", "failed")
    expect(page.locator("#email-attempts")).to_have_text("5")
    expect(page.locator("#email-error")).to_have_text("550 5.1.1 mailbox unavailable")
    assert page.locator("#email-body").inner_text() == BODY  # line breaks and indents kept
    # The HTML is shown as its source: nothing of it is an element, nothing of it ran.
    expect(page.locator("#email-html")).to_have_text(HTML)
    expect(page.locator("#email-html *")).to_have_count(0)
    assert page.evaluate("() => window.__pwned") is None
    attachment = page.locator(f'tr[data-attachment-id="{w["pdf"]}"]')
    expect(attachment.locator(".size")).to_have_text(f"{len(PDF)} bytes")
    expect(attachment.locator(".content-type")).to_have_text("application/pdf")
    with page.expect_download() as download:
        attachment.get_by_role("button", name="Download receipt-R-2031-0001.pdf").click()
    saved = download.value
    assert saved.suggested_filename == "receipt-R-2031-0001.pdf"
    assert Path(saved.path()).read_bytes() == PDF

    page.get_by_role("button", name="Retry").click()
    expect(page.locator("#email-notice")).to_have_text(
        "Queued again: the sender tries it now. Its attempts so far are kept."
    )
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    with app_server.session() as s:
        row = s.get(OutboxEmail, w["failed"])
        # A sender may have taken it since: never failed again at once, attempts only grow.
        assert row.status in ("queued", "sending", "sent") and row.attempts >= 5
        admin = s.exec(select(User).where(User.email == DEMO_ADMIN[0])).one()
        trail = s.exec(
            select(AuditLog).where(
                AuditLog.entity_type == "outbox_email", AuditLog.entity_id == w["failed"]
            )
        ).all()
        assert [(a.actor, a.action, a.from_status, a.to_status) for a in trail] == [
            (f"user:{admin.id}", "email_retried", "failed", "queued")
        ]
    page.get_by_role("link", name="← All emails").click()
    expect(page).to_have_url(re.compile(r"/admin/outbox/?$"))
    page.goto(f"{app_server.url}{ADMIN_OUTBOX}?status=failed&to={w['tag']}")
    expect(page.get_by_text("No emails match these filters.")).to_be_visible()
    page.goto(f"{app_server.url}{ADMIN_OUTBOX}/{2**40}")
    expect(page.get_by_role("heading", name="Email not found")).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_outbox_pages_pass_axe(
    app_server: AppServer, browser: Browser, viewport: dict[str, int], screenshots_dir: Path
) -> None:
    w = _seed(app_server)
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    log_in(page, app_server.url, *DEMO_ADMIN)
    for name, path in (
        ("outbox", f"{ADMIN_OUTBOX}?to={w['tag']}"),
        ("outbox-email", f"{ADMIN_OUTBOX}/{w['failed']}"),
    ):
        page.goto(f"{app_server.url}{path}")
        expect(page.locator("table").first).to_be_visible()
        expect(page.locator("h1")).to_have_count(1)
        bad = serious_violations(page)
        page.screenshot(path=str(screenshots_dir / f"{name}-{viewport['width']}.png"),
                        full_page=True)  # fmt: skip
        assert bad == [], (path, report(bad))
        # Nothing wider than the screen but the tables' own scrolling regions.
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= viewport["width"], (path, wide)
    context.close()


def test_the_pager_walks_51_emails_in_pages_of_50(app_server: AppServer, page: Page) -> None:
    tag = f"pg{uuid.uuid4().hex[:8]}"
    start = datetime(2030, 2, 3, 9, 0, tzinfo=UTC)
    with app_server.session() as s:
        s.add_all(
            OutboxEmail(
                kind="notice",
                to_address=f"n{i}.{tag}@example.test",
                subject=f"No. {i}",
                body=".",
                status="sent",
                attempts=1,
                created_at=start + timedelta(minutes=i),
                next_attempt_at=start,
                sent_at=start + timedelta(minutes=i),
            )
            for i in range(51)
        )
        s.commit()
    log_in(page, app_server.url, *DEMO_ADMIN)
    page.goto(f"{app_server.url}{ADMIN_OUTBOX}?kind=notice&to={tag}")
    expect(page.get_by_label("Kind", exact=True)).to_have_value("notice")
    summary = page.locator(".outbox-summary").first
    expect(summary).to_have_text("51 emails · page 1 of 2")
    rows = page.locator("tr[data-email-id]")
    expect(rows).to_have_count(50)
    expect(rows.first.locator(".subject")).to_have_text("No. 50")
    top = page.get_by_role("navigation", name="Outbox pages (top)")
    top.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(rf"\?kind=notice&to={tag}&page=2$"))
    expect(summary).to_have_text("51 emails · page 2 of 2")
    expect(rows.locator(".subject")).to_have_text(["No. 0"])
    top.get_by_role("link", name="Previous").click()
    expect(rows).to_have_count(50)


def test_patients_see_nothing_of_the_outbox(app_server: AppServer, page: Page) -> None:
    w = _seed(app_server)
    log_in(page, app_server.url, *DEMO_PATIENT)
    for path in (ADMIN_OUTBOX, f"{ADMIN_OUTBOX}/{w['failed']}"):
        page.goto(f"{app_server.url}{path}")
        expect(page.locator("#forbidden-message")).to_have_text(
            "You do not have access to this page."
        )
        expect(page.get_by_role("table")).to_have_count(0)
        expect(page.get_by_text("Your receipt R-2031-0001")).to_have_count(0)
