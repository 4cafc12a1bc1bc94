"""The sample receipt of the README: an Ethiopic patient name, ETB, one refund; PDF and page 1 PNG.

    .venv/bin/python -m bench.receipt_sample                  # docs/screenshots/receipt-page1.png
    .venv/bin/python -m bench.receipt_sample --pdf var/receipt-sample.pdf --png /tmp/r.png

The PNG comes from poppler's `pdftoppm -png -r 80 -singlefile` (Debian: poppler-utils).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from efoy_app.domain.receipt_doc import ClinicInfo, ReceiptDoc, RefundLine, RefundNoteDoc
from efoy_app.domain.receipt_pdf import ASSETS, render_receipt

ROOT = Path(__file__).resolve().parents[1]
PNG = ROOT / "docs" / "screenshots" / "receipt-page1.png"

CLINIC = ClinicInfo(
    name="Efoy Clinic",
    address="Bole Road 12\nAddis Ababa\nEthiopia",
    logo_path=ASSETS / "efoy-logo.png",
)


def sample_receipt(clinic: ClinicInfo = CLINIC) -> ReceiptDoc:
    """A paid ETB consultation for "አበበ ከበደ" with one partial refund (the README's sample)."""
    return ReceiptDoc(
        clinic=clinic,
        number="EFOY-2026-000123",
        issued_at=datetime(2026, 12, 1, 6, 5, tzinfo=UTC),
        patient_name="አበበ ከበደ",
        patient_email="abebe.kebede@example.com",
        doctor_name="Dr. Hanna Tesfaye",
        speciality="Cardiology",
        starts_at=datetime(2026, 12, 7, 6, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 7, 6, 30, tzinfo=UTC),
        patient_timezone="Africa/Addis_Ababa",
        line_item="Consultation with Dr. Hanna Tesfaye (30 minutes)",
        amount_minor=150_000,
        currency="ETB",
        card_brand="visa",
        card_last4="4242",
        payment_intent_id="pi_3QxEfoySample0000000123",
        paid_at=datetime(2026, 12, 1, 6, 4, 37, tzinfo=UTC),
        refunds=(
            RefundLine(
                note_number="EFOY-RN-2026-000007",
                refunded_at=datetime(2026, 12, 6, 9, 15, tzinfo=UTC),
                amount_minor=75_000,
                reason="Cancelled 24–48 hours before the appointment: 50 % refund",
            ),
        ),
    )


def sample_refund_note(clinic: ClinicInfo = CLINIC) -> RefundNoteDoc:
    """The refund note of the sample receipt's refund."""
    receipt = sample_receipt(clinic)
    line = receipt.refunds[0]
    return RefundNoteDoc(
        clinic=clinic,
        number=line.note_number or "",
        issued_at=line.refunded_at,
        receipt_number=receipt.number,
        patient_name=receipt.patient_name,
        patient_email=receipt.patient_email,
        doctor_name=receipt.doctor_name,
        starts_at=receipt.starts_at,
        patient_timezone=receipt.patient_timezone,
        amount_minor=line.amount_minor,
        currency=receipt.currency,
        reason=line.reason,
        stripe_refund_id="re_3QxEfoySample0000000007",
        payment_intent_id=receipt.payment_intent_id,
        paid_minor=receipt.amount_minor,
        refunded_total_minor=receipt.refunded_minor,
    )


def to_png(pdf: Path, png: Path) -> None:
    """Page 1 of `pdf` as `png` at 80 dpi."""
    if shutil.which("pdftoppm") is None:
        sys.exit("pdftoppm not found: install poppler-utils")
    png.parent.mkdir(parents=True, exist_ok=True)
    stem = png.with_suffix("")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-singlefile", "-f", "1", str(pdf), str(stem)],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf", type=Path, help="also keep the sample PDF here")
    parser.add_argument("--png", type=Path, default=PNG, help=f"default {PNG.relative_to(ROOT)}")
    args = parser.parse_args()
    data = render_receipt(sample_receipt())
    with tempfile.TemporaryDirectory() as tmp:
        pdf = args.pdf or Path(tmp) / "receipt-sample.pdf"
        pdf.parent.mkdir(parents=True, exist_ok=True)
        pdf.write_bytes(data)
        to_png(pdf, args.png)
    print(
        f"wrote {args.png} ({args.png.stat().st_size} bytes)" + (f" and {pdf}" if args.pdf else "")
    )


if __name__ == "__main__":
    main()
