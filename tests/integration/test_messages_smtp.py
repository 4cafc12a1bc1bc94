"""The messages patients get, delivered through a real SMTP server (aiosmtpd on a free port) on
SQLite and PostgreSQL: a confirmed payment's email carries its receipt (a valid PDF with the
right number) and a calendar file that parses with the right start; a refund that succeeds
sends its refund note.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from icalendar import Calendar
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from efoy_app.domain import payment_fulfil, refund_sync, refunds
from efoy_app.domain.mail_delivery import send_due
from efoy_app.models import Booking, Payment, Refund, User
from tests.integration.test_mail_delivery import Recorder, SmtpServer, point_at
from tests.integration.test_receipt_numbers import pending_payments, succeeded_intent
from tests.integration.test_reminders import engine  # noqa: F401 - the fixture, both databases


def pdf_lines(data: bytes) -> list[str]:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).splitlines()


def test_confirmation_and_refund_note_arrive_with_their_pdfs_and_calendar(
    engine: Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [payment_id] = pending_payments(engine, 1)
    with Session(engine) as s:
        payment = s.exec(select(Payment).where(Payment.id == payment_id).with_for_update()).one()
        assert payment_fulfil.apply_paid(s, payment, succeeded_intent(payment), "test") == []
        s.commit()
        number = payment.receipt_number
        booking = s.get(Booking, payment.booking_id)
        patient = s.get(User, booking.patient_id)

    server = SmtpServer(Recorder())
    try:
        point_at(monkeypatch, server.port)
        assert send_due(now=datetime.now(UTC)).sent == 1
        [confirmation] = server.handler.received
        with Session(engine) as s:  # a refund of part of it goes through at Stripe
            payment = s.exec(
                select(Payment).where(Payment.id == payment_id).with_for_update()
            ).one()
            row = refunds.create_refund_row(
                s, payment=payment, amount_minor=payment.amount_minor // 2,
                reason="Partly refunded", requested_by_user_id=None, actor="test",
            )  # fmt: skip
            refund_sync.apply_stripe_refund(
                s, row, {"id": "re_test_1", "status": "succeeded"}, actor="test"
            )
            refund_sync.recompute_payment(s, payment, actor="test")
            s.commit()
        assert send_due(now=datetime.now(UTC)).sent == 1
        [_, note_message] = server.handler.received
    finally:
        server.stop()

    message = confirmation.message
    assert confirmation.rcpt_tos == [patient.email] and message["To"] == patient.email
    assert message["Subject"].endswith(f"is confirmed (receipt {number})")
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert sorted(files) == [f"{number}.pdf", "appointment.ics"]
    pdf = files[f"{number}.pdf"]
    assert pdf.get_content_type() == "application/pdf"
    lines = pdf_lines(pdf.get_content())
    assert f"No. {number}" in lines and "Zoë Ñúñez" in lines
    cal = Calendar.from_ical(files["appointment.ics"].get_content())
    [event] = cal.walk("VEVENT")
    assert event["dtstart"].dt == booking.starts_at and str(cal["method"]) == "REQUEST"

    with Session(engine) as s:
        refund = s.exec(select(Refund).where(Refund.payment_id == payment_id)).one()
    assert note_message.message["Subject"].endswith(f"refund note {refund.note_number}")
    [note] = list(note_message.message.iter_attachments())
    lines = pdf_lines(note.get_content())
    assert any(refund.note_number in line for line in lines)
    assert any(number in line for line in lines)
