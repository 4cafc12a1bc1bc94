"""What Efoy writes to patients, and when: each message is composed here from its templates
(`efoy_app/templates/email/`, Jinja2, HTML autoescaped) and queued in the outbox in the
transaction of the change it reports, so a rolled-back change sends nothing and a committed one
is never forgotten.

A message that must go once (a confirmation, a refund note, a reminder, a cancellation) carries a
once-only key, so a webhook delivered twice or two workers' reminder passes queue it once. Each
kind can be switched off by a setting (EFOY_EMAIL_*).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session, col, select

from efoy_app.domain import audit, calendar_file, receipts
from efoy_app.domain.errors import NotFound, TooSoon
from efoy_app.domain.mailer import Attachment, queue_email
from efoy_app.domain.money import format_money
from efoy_app.domain.times import when_label
from efoy_app.models import (
    EMAIL_CANCELLATION,
    EMAIL_CONFIRMATION,
    EMAIL_LATE_PAYMENT,
    EMAIL_QUEUED,
    EMAIL_RECEIPT,
    EMAIL_REFUND_NOTE,
    EMAIL_REMINDER,
    EMAIL_WITHDRAWN,
    Booking,
    Doctor,
    OutboxEmail,
    Payment,
    Refund,
    User,
    utcnow,
)
from efoy_app.settings import get_settings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,  # a misspelt field fails the test, never sends "Dear ,"
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Parties:
    """The people an appointment message is about."""

    booking: Booking
    patient: User
    doctor: Doctor
    doctor_user: User

    @property
    def when(self) -> str:
        """The appointment in the patient's own timezone, zone named."""
        return when_label(self.booking.starts_at, self.patient.timezone)


def parties(db: Session, booking: Booking) -> Parties | None:
    patient = db.get(User, booking.patient_id)
    doctor = db.get(Doctor, booking.doctor_id)
    doctor_user = db.get(User, doctor.user_id) if doctor is not None else None
    if patient is None or doctor is None or doctor_user is None:
        return None
    return Parties(booking, patient, doctor, doctor_user)


def render(kind: str, subject: str, who: Parties, **fields: Any) -> tuple[str, str]:
    """The text and HTML bodies of one message."""
    settings = get_settings()
    context = {
        "subject": subject,
        "clinic_name": settings.clinic_name,
        "clinic_address": ", ".join(
            part.strip() for part in settings.clinic_address.replace("|", "\n").splitlines()
        ),
        "appointments_url": f"{settings.frontend_url.rstrip('/')}/appointments",
        "patient_name": who.patient.full_name,
        "doctor_name": who.doctor_user.full_name,
        "speciality": who.doctor.speciality,
        "when": who.when,
        "booking_id": who.booking.id,
        **fields,
    }
    env = _templates()
    return (
        env.get_template(f"{kind}.txt").render(context),
        env.get_template(f"{kind}.html").render(context),
    )


def _ics(who: Parties, *, cancelled: bool) -> Attachment:
    data = calendar_file.appointment_ics(
        who.booking,
        patient=who.patient,
        doctor=who.doctor,
        doctor_user=who.doctor_user,
        cancelled=cancelled,
    )
    name = "appointment-cancelled.ics" if cancelled else "appointment.ics"
    method = "CANCEL" if cancelled else "REQUEST"
    return Attachment(name, f"{calendar_file.ICS_TYPE}; method={method}", data)


def _pdf(file: receipts.PdfFile) -> Attachment:
    return Attachment(file.filename, file.content_type, file.data)


def _queue(
    db: Session,
    kind: str,
    who: Parties,
    subject: str,
    fields: dict[str, Any] | None = None,
    *,
    attachments: tuple[Attachment, ...] = (),
    payment_id: int | None = None,
    once_key: str | None = None,
    now: datetime | None = None,
) -> OutboxEmail | None:
    """Render the kind's templates (named as the kind) and queue the message to the patient;
    with `once_key` ("reminder:42") the database keeps it to one such message."""
    text, html = render(kind, subject, who, **(fields or {}))
    return queue_email(
        db,
        kind=kind,
        to_address=who.patient.email,
        subject=subject,
        body=text,
        html_body=html,
        attachments=attachments,
        booking_id=who.booking.id,
        payment_id=payment_id,
        dedupe_key=once_key,
        now=now,
    )


def payment_confirmed(db: Session, payment: Payment, booking: Booking) -> OutboxEmail | None:
    """The confirmation, with the receipt PDF and the calendar file (no commit)."""
    who = parties(db, booking)
    if not get_settings().email_confirmation or who is None:
        return None
    number = payment.receipt_number
    return _queue(
        db,
        EMAIL_CONFIRMATION,
        who,
        f"Your appointment on {who.when} is confirmed (receipt {number})",
        {"amount": format_money(payment.amount_minor, payment.currency), "receipt_number": number},
        attachments=(_pdf(receipts.receipt_pdf_of(db, payment)), _ics(who, cancelled=False)),
        payment_id=payment.id,
        once_key=f"confirmation:{payment.id}",
    )


def refund_succeeded(db: Session, refund: Refund) -> OutboxEmail | None:
    """The refund note email for a refund that has just succeeded (no commit)."""
    payment = db.get(Payment, refund.payment_id)
    booking = db.get(Booking, payment.booking_id) if payment is not None else None
    who = parties(db, booking) if booking is not None else None
    if not get_settings().email_refund_note or who is None or payment is None:
        return None
    amount = format_money(refund.amount_minor, refund.currency)
    return _queue(
        db,
        EMAIL_REFUND_NOTE,
        who,
        f"{amount} refunded: refund note {refund.note_number}",
        {
            "amount": amount,
            "note_number": refund.note_number,
            "receipt_number": payment.receipt_number,
        },
        attachments=(_pdf(receipts.refund_note_pdf_of(db, refund)),),
        payment_id=payment.id,
        once_key=f"refund_note:{refund.id}",
    )


def was_confirmed_by_email(db: Session, booking_id: int) -> bool:
    """Whether a calendar entry went out for this booking (so a cancellation must follow)."""
    return (
        db.exec(
            select(OutboxEmail.id).where(
                OutboxEmail.booking_id == booking_id, OutboxEmail.kind == EMAIL_CONFIRMATION
            )
        ).first()
        is not None
    )


def withdraw_reminders(db: Session, booking_id: int) -> int:
    """A cancelled booking's reminder that has not gone yet never goes (no commit)."""
    waiting = db.exec(
        select(OutboxEmail)
        .where(
            OutboxEmail.booking_id == booking_id,
            OutboxEmail.kind == EMAIL_REMINDER,
            OutboxEmail.status == EMAIL_QUEUED,
        )
        .with_for_update(skip_locked=True)  # one a sender holds right now is already going
    ).all()
    for email in waiting:
        audit.set_email_status(db, email, EMAIL_WITHDRAWN)
        email.error = "Not sent: the booking was cancelled."
    return len(waiting)


def booking_cancelled(
    db: Session, booking: Booking, *, by_clinic: bool, reason: str, refund_line: str
) -> OutboxEmail | None:
    """The cancellation, with the calendar file that removes the entry (no commit).

    The clinic's cancellation is always told; a patient's own is confirmed when a calendar
    entry had been sent, so the entry leaves their calendar too."""
    withdraw_reminders(db, booking.id)
    who = parties(db, booking)
    if not get_settings().email_cancellation or who is None:
        return None
    if not by_clinic and not was_confirmed_by_email(db, booking.id):
        return None
    return _queue(
        db,
        EMAIL_CANCELLATION,
        who,
        f"Your appointment on {who.when} is cancelled",
        {"by_clinic": by_clinic, "reason": reason, "refund_line": refund_line},
        attachments=(_ics(who, cancelled=True),),
        once_key=f"cancellation:{booking.id}",
    )


def late_payment_refunded(
    db: Session, payment: Payment, booking: Booking, problem: str
) -> OutboxEmail | None:
    """A payment we could not honour is going back: the patient hears why (no commit)."""
    who = parties(db, booking)
    if not get_settings().email_late_payment or who is None:
        return None
    return _queue(
        db,
        EMAIL_LATE_PAYMENT,
        who,
        "Your payment to Efoy is being refunded",
        {"amount": format_money(payment.amount_minor, payment.currency), "problem": problem},
        payment_id=payment.id,
        once_key=f"late_payment:{payment.id}",
    )


def reminder(db: Session, booking: Booking) -> OutboxEmail | None:
    """The reminder before an appointment, once per booking (no commit)."""
    who = parties(db, booking)
    if who is None:
        return None
    subject = f"Reminder: your appointment on {who.when}"
    return _queue(db, EMAIL_REMINDER, who, subject, once_key=f"reminder:{booking.id}")


def email_receipt(
    db: Session, payment: Payment, now: datetime | None = None
) -> tuple[OutboxEmail, str]:
    """Queue the receipt again for its patient (commits), at most once per cooldown.

    Returns the message and what to tell the person who asked."""
    now = now or utcnow()
    cooldown = get_settings().receipt_email_cooldown_seconds
    locked = db.exec(select(Payment).where(Payment.id == payment.id).with_for_update()).one()
    last = db.exec(
        select(OutboxEmail.created_at)
        .where(OutboxEmail.payment_id == locked.id, OutboxEmail.kind == EMAIL_RECEIPT)
        .order_by(col(OutboxEmail.created_at).desc())
    ).first()
    if last is not None and now - last < timedelta(seconds=cooldown):
        wait = max(1, int((last + timedelta(seconds=cooldown) - now).total_seconds()) + 1)
        db.rollback()
        raise TooSoon(
            f"The receipt was emailed moments ago; you can ask again in {wait} seconds.",
            retry_after_seconds=wait,
        )
    booking = db.get(Booking, locked.booking_id)
    who = parties(db, booking) if booking is not None else None
    if who is None:
        db.rollback()
        raise NotFound("Receipt not found.")
    doc = receipts.receipt_doc(db, locked)
    email = _queue(
        db,
        EMAIL_RECEIPT,
        who,
        f"Your receipt {doc.number} from {get_settings().clinic_name}",
        {
            "receipt_number": doc.number,
            "amount": format_money(doc.amount_minor, doc.currency),
            "refunded_amount": format_money(doc.refunded_minor, doc.currency)
            if doc.refunds
            else "",
            "net": format_money(doc.net_minor, doc.currency),
        },
        attachments=(_pdf(receipts.receipt_file(doc)),),
        payment_id=locked.id,  # a resend, as often as the cooldown allows: no once-key
        now=now,
    )
    db.commit()
    return email, f"Receipt {doc.number} is on its way to {who.patient.email}."
