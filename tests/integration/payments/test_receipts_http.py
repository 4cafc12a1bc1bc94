"""Receipts, refund notes and the messages around them, over HTTP against the real API and the
real sandbox: a booking paid on the hosted page gets a numbered receipt (by Checkout Session and
by PaymentIntent id), a confirmation email with the PDF and a calendar file; cancelling it
refunds, numbers a refund note, emails it and sends the calendar's cancellation. Only the patient
who paid and admins see any of it: another patient and a doctor get 404.
"""

from __future__ import annotations

import io
import re
from datetime import datetime

import httpx
from icalendar import Calendar
from pypdf import PdfReader
from sqlmodel import Session, select

from efoy_app.domain.auth import hash_password
from efoy_app.models import OutboxAttachment, OutboxEmail, Payment, Refund, User
from tests.integration.conftest import login
from tests.integration.payments.helpers import auth, book_from_day, doctor_in, pay_and_confirm

NUMBER = re.compile(r"EFOY-\d{4}-\d{6}")
NOTE_NUMBER = re.compile(r"EFOY-RN-\d{4}-\d{6}")


def get(api_server, path: str, token: str | None) -> httpx.Response:
    return httpx.get(
        f"{api_server.url}/api/v1/payment/{path}",
        headers=auth(token) if token else None,
        timeout=30,
    )


def email_again(api_server, reference: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{api_server.url}/api/v1/payment/receipt/{reference}/email",
        headers=auth(token),
        timeout=30,
    )


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def mail_of(api_server, booking_id: int, kind: str) -> tuple[OutboxEmail, list[OutboxAttachment]]:
    with Session(api_server.engine) as db:
        email = db.exec(
            select(OutboxEmail).where(
                OutboxEmail.booking_id == booking_id, OutboxEmail.kind == kind
            )
        ).one()
        files = db.exec(
            select(OutboxAttachment)
            .where(OutboxAttachment.email_id == email.id)
            .order_by(OutboxAttachment.id)
        ).all()
        return email, list(files)


def paid(api_server, sandbox, token: str) -> tuple[dict, Payment]:
    booking = book_from_day(api_server, token, doctor_in(api_server, "EUR")["id"], 5)
    pay_and_confirm(api_server, sandbox, token, booking)
    with Session(api_server.engine) as db:
        payment = db.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
    return booking, payment


def a_doctor_token(api_server) -> str:
    email = f"doctor-{datetime.now().timestamp()}@example.com"
    with Session(api_server.engine) as db:
        db.add(User(email=email, password_hash=hash_password("doctor-pass-123"),
                    role="doctor", full_name="Dr. Test"))  # fmt: skip
        db.commit()
    return login(api_server.url, email, "doctor-pass-123")


def test_a_paid_booking_has_a_numbered_receipt_and_a_confirmation_with_pdf_and_calendar(
    api_server, sandbox, make_patient, admin_token
):
    token = make_patient()
    booking, payment = paid(api_server, sandbox, token)
    assert NUMBER.fullmatch(payment.receipt_number)

    r = get(api_server, f"receipt/{payment.stripe_checkout_session_id}", token)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == (
        f'attachment; filename="{payment.receipt_number}.pdf"'
    )
    assert r.headers["cache-control"] == "private, no-store"
    text = pdf_text(r.content)
    assert payment.receipt_number in text and "Paid €90.00" in text.splitlines()
    by_intent = get(api_server, f"receipt/{payment.stripe_payment_intent_id}", token)
    assert by_intent.status_code == 200
    assert payment.receipt_number in pdf_text(by_intent.content)
    assert (
        get(api_server, f"receipt/{payment.stripe_checkout_session_id}", admin_token).status_code
        == 200
    )

    email, (pdf, ics) = mail_of(api_server, booking["id"], "confirmation")
    assert email.subject.endswith(f"is confirmed (receipt {payment.receipt_number})")
    assert email.payment_id == payment.id and email.status == "queued" and email.message_id
    assert "Dear Patient" in email.body and "&" not in email.body
    assert email.html_body.startswith("<!doctype html>")
    assert (pdf.filename, pdf.content_type) == (f"{payment.receipt_number}.pdf", "application/pdf")
    assert payment.receipt_number in pdf_text(pdf.data)
    assert ics.content_type == "text/calendar; method=REQUEST"
    cal = Calendar.from_ical(ics.data)
    [event] = cal.walk("VEVENT")
    assert str(cal["method"]) == "REQUEST"
    assert event["dtstart"].dt == datetime.fromisoformat(booking["startsAt"])
    assert str(event["uid"]) == f"efoy-booking-{booking['id']}@localhost"


def test_cancelling_numbers_a_refund_note_emails_it_and_cancels_the_calendar_entry(
    api_server, sandbox, make_patient
):
    token = make_patient()
    booking, payment = paid(api_server, sandbox, token)
    r = httpx.post(
        f"{api_server.url}/api/v1/bookings/{booking['id']}/cancel", headers=auth(token), timeout=60
    )
    assert r.status_code == 200 and r.json()["cancellation"]["refundStatus"] == "succeeded", r.text
    with Session(api_server.engine) as db:
        refund = db.exec(select(Refund).where(Refund.payment_id == payment.id)).one()
    assert NOTE_NUMBER.fullmatch(refund.note_number)

    for reference in (refund.stripe_refund_id, str(refund.id)):
        r = get(api_server, f"refund-note/{reference}", token)
        assert r.status_code == 200, r.text
        assert (
            r.headers["content-disposition"] == f'attachment; filename="{refund.note_number}.pdf"'
        )
        text = pdf_text(r.content)
        assert refund.note_number in text and payment.receipt_number in text

    receipt = get(api_server, f"receipt/{payment.stripe_checkout_session_id}", token)
    lines = pdf_text(receipt.content).splitlines()
    assert "Paid €90.00" in lines and "Refunded −€90.00" in lines and "Net paid €0.00" in lines
    assert any(refund.note_number in line for line in lines)

    note_email, [note_pdf] = mail_of(api_server, booking["id"], "refund_note")
    assert note_email.subject == f"€90.00 refunded: refund note {refund.note_number}"
    assert note_pdf.filename == f"{refund.note_number}.pdf"
    cancelled, [ics] = mail_of(api_server, booking["id"], "cancellation")
    assert cancelled.subject.endswith("is cancelled")
    assert "As you asked" in cancelled.body
    cal = Calendar.from_ical(ics.data)
    [event] = cal.walk("VEVENT")
    assert (str(cal["method"]), str(event["status"]), int(event["sequence"])) == (
        "CANCEL",
        "CANCELLED",
        1,
    )
    assert str(event["uid"]) == f"efoy-booking-{booking['id']}@localhost"


def test_only_the_payer_and_admins_get_receipts_and_bad_references_are_refused(
    api_server, sandbox, make_patient, admin_token
):
    token = make_patient()
    booking, payment = paid(api_server, sandbox, token)
    session_id = payment.stripe_checkout_session_id
    other = make_patient()
    doctor = a_doctor_token(api_server)
    for stranger in (other, doctor):
        for path in (f"receipt/{session_id}", f"receipt/{payment.stripe_payment_intent_id}"):
            r = get(api_server, path, stranger)
            assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
        assert email_again(api_server, session_id, stranger).status_code == 404
    assert get(api_server, f"receipt/{session_id}", None).status_code == 401
    r = get(api_server, "receipt/cs_test_does_not_exist", token)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = get(api_server, "receipt/not%20an%20id", token)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error")
    for reference in ("99999999999999999999999", "9223372036854775808", "re_nothing", "1"):
        r = get(api_server, f"refund-note/{reference}", token)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found"), reference

    # A booking held and not paid has no receipt yet.
    held = book_from_day(api_server, token, doctor_in(api_server, "EUR")["id"], 6)
    checkout = httpx.post(
        f"{api_server.url}/api/v1/payment/create-checkout-session",
        json={"bookingId": held["id"]},
        headers=auth(token),
        timeout=30,
    ).json()
    r = get(api_server, f"receipt/{checkout['sessionId']}", token)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    assert "not been paid" in r.json()["error"]["message"]


def test_email_receipt_queues_it_once_per_cooldown(api_server, sandbox, make_patient, admin_token):
    token = make_patient()
    booking, payment = paid(api_server, sandbox, token)
    r = email_again(api_server, payment.stripe_checkout_session_id, token)
    assert r.status_code == 202, r.text
    body = r.json()
    with Session(api_server.engine) as db:
        user = db.get(User, token.user_id)
    assert body["toAddress"] == user.email
    assert body["message"] == f"Receipt {payment.receipt_number} is on its way to {user.email}."
    email, [pdf] = mail_of(api_server, booking["id"], "receipt")
    assert email.id == body["emailId"] and pdf.filename == f"{payment.receipt_number}.pdf"

    again = email_again(api_server, payment.stripe_payment_intent_id, admin_token)
    assert (again.status_code, again.json()["error"]["code"]) == (429, "too_many_requests")
    assert 1 <= int(again.headers["retry-after"]) <= 61
    with Session(api_server.engine) as db:
        count = len(
            db.exec(select(OutboxEmail).where(OutboxEmail.payment_id == payment.id,
                                              OutboxEmail.kind == "receipt")).all()
        )  # fmt: skip
    assert count == 1
