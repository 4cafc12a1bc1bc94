"""Receipts and refund notes as PDF files, and the receipt emailed again, under /api/v1/payment.

Only the patient who paid and admins; anyone else (another patient, a doctor) gets 404, the
answer for an id that does not exist. Routes are plain `def`: FastAPI runs them in its
threadpool, so rendering a PDF never blocks the event loop that also serves Reflex.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from efoy_app.api.deps import CurrentUser, DbSession, finish
from efoy_app.api.schemas import AUTH_ERRORS, STRIPE_ID_PATTERN, CamelModel, error_responses
from efoy_app.domain import messages, receipts
from efoy_app.routes import API_PAYMENT

router = APIRouter(prefix=API_PAYMENT, tags=["receipts"], responses=AUTH_ERRORS)

PaymentReference = Annotated[
    str, Path(pattern=STRIPE_ID_PATTERN, description="A Checkout Session or PaymentIntent id")
]
RefundReference = Annotated[
    str, Path(pattern=STRIPE_ID_PATTERN, description="A Stripe refund id (re_…) or Efoy's id")
]
PDF_RESPONSE = {200: {"content": {"application/pdf": {}}, "description": "The PDF file"}}


def pdf_response(file: receipts.PdfFile) -> Response:
    """The file as a download; never cached by a shared cache (it names a patient)."""
    return Response(
        content=file.data,
        media_type=file.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/receipt/{session_id}",
    response_class=Response,
    responses={**PDF_RESPONSE, **error_responses(404)},
)
def download_receipt(session_id: PaymentReference, user: CurrentUser, db: DbSession) -> Response:
    """The receipt of a paid payment, by Checkout Session id or PaymentIntent id."""
    payment = receipts.paid_payment_for(db, session_id, user)
    doc = finish(db, receipts.receipt_doc(db, payment))
    return pdf_response(receipts.receipt_file(doc))


@router.get(
    "/refund-note/{refund_id}",
    response_class=Response,
    responses={**PDF_RESPONSE, **error_responses(404)},
)
def download_refund_note(refund_id: RefundReference, user: CurrentUser, db: DbSession) -> Response:
    """The note of a refund that went through, by Stripe refund id or Efoy's refund id."""
    refund = receipts.succeeded_refund_for(db, refund_id, user)
    doc = finish(db, receipts.refund_note_doc(db, refund))
    return pdf_response(receipts.refund_note_file(doc))


class ReceiptEmailedOut(CamelModel):
    email_id: int
    to_address: str
    message: str


@router.post(
    "/receipt/{session_id}/email",
    status_code=202,
    response_model=ReceiptEmailedOut,
    responses=error_responses(404, 429, s429="too_many_requests: emailed moments ago"),
)
def email_receipt(
    session_id: PaymentReference, user: CurrentUser, db: DbSession
) -> ReceiptEmailedOut:
    """Email the receipt again to the patient who paid (queued in the outbox; throttled)."""
    payment = receipts.paid_payment_for(db, session_id, user)
    email, said = messages.email_receipt(db, payment)
    return ReceiptEmailedOut(email_id=email.id, to_address=email.to_address, message=said)
