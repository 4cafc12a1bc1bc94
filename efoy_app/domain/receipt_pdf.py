"""TEMPORARY stub until helper-pdf's renderer lands."""

from __future__ import annotations

import io
from pathlib import Path

from reportlab.pdfgen import canvas

from efoy_app.domain.receipt_doc import ClinicInfo, ReceiptDoc, RefundNoteDoc
from efoy_app.settings import Settings


def clinic_info(settings: Settings) -> ClinicInfo:
    return ClinicInfo(settings.clinic_name, settings.clinic_address, None, settings.receipt_paper)


def _pdf(lines: list[str]) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for i, line in enumerate(lines):
        c.drawString(50, 800 - 14 * i, line)
    c.save()
    return buf.getvalue()


def render_receipt(doc: ReceiptDoc) -> bytes:
    return _pdf(["Receipt", doc.number, str(doc.amount_minor)])


def render_refund_note(doc: RefundNoteDoc) -> bytes:
    return _pdf(["Refund note", doc.number, doc.receipt_number])


_ = Path
