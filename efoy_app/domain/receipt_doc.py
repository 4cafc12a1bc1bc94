"""What a receipt or a refund note says, gathered once, so the PDF, the email and the tests read
the same facts (the PDF renderer in `receipt_pdf.py` touches no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

Paper = Literal["A4", "Letter"]


@dataclass(frozen=True)
class ClinicInfo:
    """The issuer printed at the top of every document (settings EFOY_CLINIC_*)."""

    name: str
    address: str  # one or more lines, "\n" between them
    logo_path: Path | None
    paper: Paper = "A4"


@dataclass(frozen=True)
class RefundLine:
    """A succeeded refund, as listed under the receipt's line item."""

    note_number: str | None
    refunded_at: datetime
    amount_minor: int
    reason: str


@dataclass(frozen=True)
class ReceiptDoc:
    """Everything a receipt for one paid payment shows; times are aware, money minor units."""

    clinic: ClinicInfo
    number: str  # "EFOY-2026-000123"
    issued_at: datetime
    patient_name: str
    patient_email: str
    doctor_name: str
    speciality: str
    starts_at: datetime
    ends_at: datetime
    patient_timezone: str  # IANA name; the appointment is printed in it, with the zone named
    line_item: str  # "Consultation with Dr. … (30 minutes)"
    amount_minor: int
    currency: str
    card_brand: str | None
    card_last4: str | None
    payment_intent_id: str | None
    paid_at: datetime
    refunds: tuple[RefundLine, ...] = ()

    @property
    def refunded_minor(self) -> int:
        return sum(line.amount_minor for line in self.refunds)

    @property
    def net_minor(self) -> int:
        return self.amount_minor - self.refunded_minor


@dataclass(frozen=True)
class RefundNoteDoc:
    """A note for one succeeded refund, pointing at the receipt it reduces."""

    clinic: ClinicInfo
    number: str  # "EFOY-RN-2026-000007"
    issued_at: datetime
    receipt_number: str
    patient_name: str
    patient_email: str
    doctor_name: str
    starts_at: datetime
    patient_timezone: str
    amount_minor: int
    currency: str
    reason: str
    stripe_refund_id: str | None
    payment_intent_id: str | None
    paid_minor: int  # what the receipt says was paid
    refunded_total_minor: int  # all succeeded refunds of that payment so far, this one included
