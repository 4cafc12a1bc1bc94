"""Receipts in Chromium: `Download receipt (PDF)` and `Email receipt` on the confirmation page,
on My appointments (with the refund note after a cancellation) and on the admin's payment page.

The payment goes through the sandbox's hosted Checkout page as a patient would pay; the PDFs are
the files the browser downloads, read back with pypdf; the emailed receipt is the `.eml` the
demo SMTP server wrote after the app's outbox sender delivered it. Each state is photographed at
a phone's and a desktop's width and checked with axe-core.
"""

from __future__ import annotations

import email
import email.policy
import io
import re
import time
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pypdf
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from efoy_app.domain.bookings import expire_lapsed_holds
from efoy_app.domain.money import format_money
from efoy_app.models import EMAIL_RECEIPT, Booking, OutboxEmail, Payment, Refund, User, utcnow
from tests.e2e.axe import report, serious_violations
from tests.e2e.bookings import PASSWORD, new_patient
from tests.e2e.conftest import AppServer
from tests.e2e.test_admin import _book, _pay, _start_checkout
from tests.e2e.test_payments import CONFIRMED, _fill_card, _patient_with_booking
from tests.e2e.ui import DEMO_ADMIN, log_in

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
MAIL_WAIT_SECONDS = 30
RECEIPT = re.compile(r"^EFOY-\d{4}-\d{6}$")
NOTE = re.compile(r"^EFOY-RN-\d{4}-\d{6}$")


def _pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def _download(page: Page, button) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    """Click `button`; the downloaded file's suggested name and its bytes."""
    with page.expect_download() as info:
        button.click()
    download = info.value
    path = download.path()
    return download.suggested_filename, Path(path).read_bytes()


def _look(page: Page, shots: Path, name: str, *within: str) -> None:
    """Photograph the page at a phone's and a desktop's width; no serious axe violation and
    nothing wider than the screen at either."""
    for width, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        page.wait_for_timeout(300)
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
        bad = serious_violations(page, *within)
        assert bad == [], f"{name} at {width}:\n{report(bad)}"
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} at {width} is {overflow}px wider than the screen"
    page.set_viewport_size(DESKTOP)


def _receipt_mail(mail_dir: Path, number: str, since: float) -> EmailMessage:
    """The `.eml` of receipt `number`, written after `since`; waits for the outbox sender."""
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    while True:
        for path in sorted(mail_dir.glob("**/*.eml")) if mail_dir.exists() else []:
            if path.stat().st_mtime < since:
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if str(message["Subject"]).startswith(f"Your receipt {number} from "):
                return message  # type: ignore[return-value]
        assert time.monotonic() < deadline, f"no receipt email in {mail_dir} after 30 s"
        time.sleep(0.5)


def _pdf_attachments(message: EmailMessage) -> list[tuple[str, bytes]]:
    return [
        (part.get_filename() or "", part.get_content())
        for part in message.iter_attachments()
        if part.get_content_type() == "application/pdf"
    ]


def _payment(server: AppServer, booking_id: int) -> Payment:
    with server.session() as s:
        [payment] = s.exec(select(Payment).where(Payment.booking_id == booking_id)).all()
        return payment


def _succeeded_refund(server: AppServer, payment_id: int) -> Refund:
    deadline = time.monotonic() + 30
    while True:
        with server.session() as s:
            refunds = s.exec(select(Refund).where(Refund.payment_id == payment_id)).all()
        done = [r for r in refunds if r.status == "succeeded" and r.note_number]
        if done:
            assert len(refunds) == 1, refunds
            return done[0]
        assert time.monotonic() < deadline, refunds
        time.sleep(0.2)


def test_receipt_on_every_page_that_shows_a_paid_payment(
    app_server: AppServer, page: Page, browser: Browser, screenshots_dir: Path
) -> None:
    page.set_viewport_size(DESKTOP)
    booking_id, doctor = _patient_with_booking(app_server, page, "EUR")
    with app_server.session() as s:
        booking = s.get(Booking, booking_id)
        assert booking is not None
        patient = s.get(User, booking.patient_id)
        assert patient is not None
        patient_email = patient.email

    # Pay on the sandbox's hosted Checkout, as a patient does.
    page.get_by_role("button", name="Pay now").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(app_server.sandbox_url)}/"))
    _fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page).to_have_url(re.compile(r"/payment/success/?\?session_id=cs_"))
    expect(page.get_by_text(CONFIRMED)).to_be_visible()

    payment = _payment(app_server, booking_id)
    number = payment.receipt_number
    assert number is not None and RECEIPT.match(number), number
    amount = format_money(doctor.fee_minor, doctor.currency)
    assert payment.amount_minor == doctor.fee_minor

    # 1. The confirmation page: download.
    download = page.get_by_role("button", name="Download receipt (PDF)")
    expect(download).to_be_enabled()
    filename, data = _download(page, download)
    assert filename == f"{number}.pdf"
    assert data.startswith(b"%PDF-")
    text = _pdf_text(data)
    assert number in text and amount in text, text

    # Email: the answer in the status line, then the .eml with the PDF attached.
    asked = time.time() - 1
    page.get_by_role("button", name="Email receipt").click()
    status = page.locator("#receipt-status")
    expect(status).to_have_text(f"Receipt {number} is on its way to {patient_email}.")
    expect(status).to_have_attribute("role", "status")
    message = _receipt_mail(app_server.workdir / "var" / "mail", number, asked)
    assert str(message["To"]).endswith(patient_email), message["To"]
    [(attached_name, attached)] = _pdf_attachments(message)
    assert attached_name == f"{number}.pdf"
    assert number in _pdf_text(attached)
    _look(page, screenshots_dir, "receipt-confirmation-sent")
    # At once again: a notice to wait, not an error, and no second email queued.
    page.get_by_role("button", name="Email receipt").click()
    expect(status).to_contain_text("The receipt was emailed moments ago; you can ask again in ")
    expect(status).to_have_text(re.compile(r"ask again in \d+ seconds\.$"))
    expect(page.get_by_role("alert")).to_have_count(0)
    with app_server.session() as s:
        sent = s.exec(
            select(OutboxEmail.id).where(
                OutboxEmail.payment_id == payment.id, OutboxEmail.kind == EMAIL_RECEIPT
            )
        ).all()
        assert len(sent) == 1, sent
    _look(page, screenshots_dir, "receipt-confirmation")

    # 2. My appointments: the same booking, both buttons, the same receipt.
    page.goto(f"{app_server.url}/appointments")
    card = page.locator(f'#upcoming .booking-card[data-booking-id="{booking_id}"]')
    expect(card).to_have_attribute("data-status", "confirmed")
    expect(card.get_by_role("button", name="Email receipt")).to_be_visible()
    filename, data = _download(page, card.get_by_role("button", name="Download receipt (PDF)"))
    assert filename == f"{number}.pdf"
    assert number in _pdf_text(data)
    card.get_by_role("button", name="Email receipt").click()
    expect(card.locator(".receipt-status")).to_contain_text("you can ask again in ")
    _look(page, screenshots_dir, "receipt-appointments")

    # Cancel it (100 % back by the policy, days ahead): its refund note.
    card.get_by_role("button", name="Cancel").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog.locator("#refund-preview")).to_have_text(f"You will get back {amount} (100 %).")
    dialog.get_by_role("button", name="Cancel appointment").click()
    refund = _succeeded_refund(app_server, payment.id)
    page.reload()
    closed = page.locator(f'#closed .booking-card[data-booking-id="{booking_id}"]')
    expect(closed).to_have_attribute("data-status", "cancelled")
    note_button = closed.get_by_role("button", name=f"Refund note {refund.note_number}")
    filename, data = _download(page, note_button)
    assert NOTE.match(refund.note_number or ""), refund.note_number
    assert filename == f"{refund.note_number}.pdf"
    text = _pdf_text(data)
    assert refund.note_number in text and number in text and amount in text, text
    # The receipt of a refunded payment is still there, its refund on it.
    filename, data = _download(page, closed.get_by_role("button", name="Download receipt (PDF)"))
    assert filename == f"{number}.pdf"
    text = _pdf_text(data)
    assert refund.note_number in text, text
    _look(page, screenshots_dir, "receipt-appointments-refunded")

    # 3. The admin's payment page: the same receipt, and the note in the refunds ledger.
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    admin = context.new_page()
    log_in(admin, app_server.url, *DEMO_ADMIN)
    admin.goto(f"{app_server.url}/admin/payments/{payment.id}")
    expect(admin.locator("#payment-receipt-number")).to_have_text(number)
    filename, data = _download(admin, admin.get_by_role("button", name="Download receipt (PDF)"))
    assert filename == f"{number}.pdf"
    assert number in _pdf_text(data)
    ledger = admin.locator("#refunds-ledger")
    filename, data = _download(
        admin, ledger.get_by_role("button", name=f"Refund note {refund.note_number}")
    )
    assert filename == f"{refund.note_number}.pdf"
    assert refund.note_number in _pdf_text(data)
    _look(admin, screenshots_dir, "receipt-admin-payment")
    context.close()


def test_no_receipt_buttons_before_money_is_taken(app_server: AppServer, page: Page) -> None:
    """A held booking has nothing to give a receipt for: no buttons on its row."""
    page.set_viewport_size(DESKTOP)
    booking_id, _doctor = _patient_with_booking(app_server, page, "USD")
    page.goto(f"{app_server.url}/appointments")
    card = page.locator(f'#upcoming .booking-card[data-booking-id="{booking_id}"]')
    expect(card).to_have_attribute("data-status", "held")
    expect(card.get_by_role("link", name="Pay")).to_be_visible()
    expect(card.get_by_role("button", name="Download receipt (PDF)")).to_have_count(0)
    expect(card.get_by_role("button", name="Email receipt")).to_have_count(0)


def test_receipt_of_a_late_payment_that_was_refunded(
    app_server: AppServer, page: Page, screenshots_dir: Path
) -> None:
    """Money taken after the hold lapsed and the slot was retaken: refunded at once, and the
    confirmation page still offers the receipt (with its refund on it) and the email."""
    email_address, headers = new_patient(app_server, name="Derartu Tulu")
    booking = _book(app_server, headers, "USD")
    session_id = _start_checkout(app_server, headers, booking["id"])
    with app_server.session() as s:
        row = s.get(Booking, booking["id"])
        assert row is not None
        row.hold_expires_at = utcnow() - timedelta(seconds=1)
        s.add(row)
        s.flush()
        assert booking["id"] in expire_lapsed_holds(s)
        s.commit()
    _rival, rival = new_patient(app_server, name="Meseret Defar")
    taken = _book_at(app_server, rival, booking)
    assert taken == 201
    _pay(app_server, session_id)
    deadline = time.monotonic() + 30
    while True:
        payment = _payment(app_server, booking["id"])
        if payment.status == "refunded" and payment.flagged:
            break
        assert time.monotonic() < deadline, payment
        time.sleep(0.2)
    refund = _succeeded_refund(app_server, payment.id)
    number = payment.receipt_number
    assert number is not None and RECEIPT.match(number), number

    page.set_viewport_size(DESKTOP)
    log_in(page, app_server.url, email_address, PASSWORD)
    page.goto(f"{app_server.url}/payment/success?session_id={session_id}")
    expect(page.get_by_text("We received your payment but could not confirm")).to_be_visible()
    expect(page.locator("#confirmation-amount")).to_have_text(
        format_money(payment.amount_minor, payment.currency)
    )
    filename, data = _download(page, page.get_by_role("button", name="Download receipt (PDF)"))
    assert filename == f"{number}.pdf"
    text = _pdf_text(data)
    assert number in text and (refund.note_number or "-") in text, text
    page.get_by_role("button", name="Email receipt").click()
    expect(page.locator("#receipt-status")).to_have_text(
        f"Receipt {number} is on its way to {email_address}."
    )
    _look(page, screenshots_dir, "receipt-confirmation-refunded")


def _book_at(server: AppServer, headers: dict[str, str], booking: dict) -> int:
    """Another patient books the same time; the status code."""
    same = {"doctorId": booking["doctorId"], "startsAt": booking["startsAt"]}
    return httpx.post(
        f"{server.url}/api/v1/bookings", headers=headers, json=same, timeout=30
    ).status_code
