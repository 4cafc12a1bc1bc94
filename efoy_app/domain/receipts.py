"""Receipts and refund notes: who may have one, and the facts printed on it.

A receipt exists for a payment that took money (paid, partly or wholly refunded); a refund note
for a refund that succeeded. Only the patient who paid and admins get them; anyone else is told
"not found", the same answer as for an id that does not exist. Payments paid before numbering
existed get their number the first time someone asks (still gapless: the counter's turn).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from efoy_app.domain import receipt_pdf
from efoy_app.domain.errors import NotFound
from efoy_app.domain.payment_views import payment_by_intent_for, payment_by_session_for
from efoy_app.domain.receipt_doc import ReceiptDoc, RefundLine, RefundNoteDoc
from efoy_app.domain.receipt_numbers import issue_note_number, issue_receipt_number
from efoy_app.models import (
    PAID_STATUSES,
    REFUND_SUCCEEDED,
    ROLE_ADMIN,
    Booking,
    Doctor,
    Payment,
    Refund,
    User,
)
from efoy_app.settings import get_settings

PDF = "application/pdf"


@dataclass(frozen=True)
class PdfFile:
    """A rendered document and the name it is downloaded or attached as."""

    filename: str
    data: bytes
    content_type: str = PDF


def _people(db: Session, booking: Booking) -> tuple[User, Doctor, User]:
    patient = db.get(User, booking.patient_id)
    doctor = db.get(Doctor, booking.doctor_id)
    doctor_user = db.get(User, doctor.user_id) if doctor is not None else None
    if patient is None or doctor is None or doctor_user is None:
        raise NotFound("Receipt not found.")
    return patient, doctor, doctor_user


def succeeded_refunds(db: Session, payment_id: int) -> list[Refund]:
    return list(
        db.exec(
            select(Refund)
            .where(Refund.payment_id == payment_id, Refund.status == REFUND_SUCCEEDED)
            .order_by(col(Refund.note_issued_at), col(Refund.id))
        ).all()
    )


def _refunded_at(refund: Refund) -> datetime:
    return refund.note_issued_at or refund.updated_at


def receipt_doc(db: Session, payment: Payment) -> ReceiptDoc:
    """The receipt of a paid payment that has its number (see `issue_receipt_number`)."""
    if payment.receipt_number is None or payment.paid_at is None:
        raise NotFound("There is no receipt for this payment: it has not been paid.")
    booking = db.get(Booking, payment.booking_id)
    if booking is None:
        raise NotFound("Receipt not found.")
    patient, doctor, doctor_user = _people(db, booking)
    minutes = round((booking.ends_at - booking.starts_at).total_seconds() / 60)
    return ReceiptDoc(
        clinic=receipt_pdf.clinic_info(get_settings()),
        number=payment.receipt_number,
        issued_at=payment.receipt_issued_at or payment.paid_at,
        patient_name=patient.full_name,
        patient_email=patient.email,
        doctor_name=doctor_user.full_name,
        speciality=doctor.speciality,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        patient_timezone=patient.timezone,
        line_item=f"Consultation with {doctor_user.full_name}, {doctor.speciality} "
        f"({minutes} minutes)",
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
        payment_intent_id=payment.stripe_payment_intent_id,
        paid_at=payment.paid_at,
        refunds=tuple(
            RefundLine(
                note_number=r.note_number,
                refunded_at=_refunded_at(r),
                amount_minor=r.amount_minor,
                reason=r.reason,
            )
            for r in succeeded_refunds(db, payment.id)
        ),
    )


def refund_note_doc(db: Session, refund: Refund) -> RefundNoteDoc:
    """The note of a succeeded refund that has its number (see `issue_note_number`)."""
    payment = db.get(Payment, refund.payment_id)
    if refund.note_number is None or payment is None or payment.receipt_number is None:
        raise NotFound("There is no refund note for this refund: it has not gone through.")
    booking = db.get(Booking, payment.booking_id)
    if booking is None:
        raise NotFound("Refund note not found.")
    patient, _doctor, doctor_user = _people(db, booking)
    mine = _refunded_at(refund)
    so_far = sum(
        r.amount_minor
        for r in succeeded_refunds(db, payment.id)
        if r.id == refund.id or (_refunded_at(r), r.id) < (mine, refund.id)
    )
    return RefundNoteDoc(
        clinic=receipt_pdf.clinic_info(get_settings()),
        number=refund.note_number,
        issued_at=_refunded_at(refund),
        receipt_number=payment.receipt_number,
        patient_name=patient.full_name,
        patient_email=patient.email,
        doctor_name=doctor_user.full_name,
        starts_at=booking.starts_at,
        patient_timezone=patient.timezone,
        amount_minor=refund.amount_minor,
        currency=refund.currency,
        reason=refund.reason,
        stripe_refund_id=refund.stripe_refund_id,
        payment_intent_id=payment.stripe_payment_intent_id,
        paid_minor=payment.amount_minor,
        refunded_total_minor=so_far,
    )


def receipt_file(doc: ReceiptDoc) -> PdfFile:
    """Rendered without the database, so no transaction waits on reportlab."""
    return PdfFile(f"{doc.number}.pdf", receipt_pdf.render_receipt(doc))


def refund_note_file(doc: RefundNoteDoc) -> PdfFile:
    return PdfFile(f"{doc.number}.pdf", receipt_pdf.render_refund_note(doc))


def receipt_pdf_of(db: Session, payment: Payment) -> PdfFile:
    return receipt_file(receipt_doc(db, payment))


def refund_note_pdf_of(db: Session, refund: Refund) -> PdfFile:
    return refund_note_file(refund_note_doc(db, refund))


def paid_payment_for(db: Session, reference: str, user: User) -> Payment:
    """The payment of a Checkout Session (cs_…) or PaymentIntent (pi_…) with a receipt, if the
    user paid it or is an admin; numbered now if it was paid before numbering existed
    (commits)."""
    find = payment_by_intent_for if reference.startswith("pi_") else payment_by_session_for
    payment = find(db, reference, user)
    if payment.status not in PAID_STATUSES:
        raise NotFound("There is no receipt for this payment: it has not been paid.")
    if payment.receipt_number is None:
        locked = db.exec(select(Payment).where(Payment.id == payment.id).with_for_update()).one()
        issue_receipt_number(db, locked)
        db.commit()
        db.refresh(payment)
    return payment


def payment_receipt_for(db: Session, payment_id: int, user: User) -> Payment:
    """As `paid_payment_for`, by our own payment id (the pages know that one)."""
    payment = db.get(Payment, payment_id)
    if payment is None:
        raise NotFound("Payment not found.")
    reference = payment.stripe_checkout_session_id or payment.stripe_payment_intent_id
    if reference is None:
        raise NotFound("There is no receipt for this payment: it has not been paid.")
    return paid_payment_for(db, reference, user)


def succeeded_refund_for(db: Session, reference: str, user: User) -> Refund:
    """A succeeded refund by Stripe id (re_…) or our id, if its payment is the user's."""
    if reference.isdigit() and len(reference) <= 18:
        refund = db.get(Refund, int(reference))
    else:
        refund = db.exec(select(Refund).where(Refund.stripe_refund_id == reference)).first()
    if refund is None or refund.status != REFUND_SUCCEEDED:
        raise NotFound("Refund note not found.")
    payment = db.get(Payment, refund.payment_id)
    booking = db.get(Booking, payment.booking_id) if payment is not None else None
    if booking is None or (user.role != ROLE_ADMIN and booking.patient_id != user.id):
        raise NotFound("Refund note not found.")
    if refund.note_number is None or payment.receipt_number is None:
        locked = db.exec(select(Payment).where(Payment.id == payment.id).with_for_update()).one()
        issue_receipt_number(db, locked)
        issue_note_number(
            db, db.exec(select(Refund).where(Refund.id == refund.id).with_for_update()).one()
        )
        db.commit()
        db.refresh(refund)
    return refund
