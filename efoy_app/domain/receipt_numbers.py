"""Receipt and refund-note numbers: sequential per year, unique and gapless.

A number is taken from `document_counters` in the transaction that issues the document (the
payment turning paid, the refund succeeding). The counter's upsert locks its row until that
transaction ends, so concurrent confirmations take turns on PostgreSQL (SQLite has one writer
anyway), and a transaction that rolls back gives its number back: no gaps, no duplicates.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from efoy_app.domain.times import zone
from efoy_app.models import SERIES_RECEIPT, SERIES_REFUND_NOTE, Payment, Refund, utcnow
from efoy_app.settings import get_settings

PREFIXES = {SERIES_RECEIPT: "EFOY", SERIES_REFUND_NOTE: "EFOY-RN"}

_NEXT = sa.text(
    "INSERT INTO document_counters (series, year, last_seq) VALUES (:series, :year, 1) "
    "ON CONFLICT (series, year) DO UPDATE SET last_seq = document_counters.last_seq + 1 "
    "RETURNING last_seq"
)


def next_number(db: Session, series: str, year: int) -> str:
    """The next number of a series ("EFOY-2026-000123"), held by the caller's transaction."""
    seq = db.execute(_NEXT, {"series": series, "year": year}).scalar_one()
    return f"{PREFIXES[series]}-{year}-{seq:06d}"


def _year(now: datetime) -> int:
    """The year of issue on the clinic's calendar (a receipt of 31 Dec 23:30 EAT is that year's)."""
    return now.astimezone(zone(get_settings().clinic_timezone)).year


def issue_receipt_number(db: Session, payment: Payment, now: datetime | None = None) -> str:
    """Give a paid payment its receipt number once (the caller holds the payment's row lock)."""
    if payment.receipt_number is None:
        now = now or utcnow()
        payment.receipt_number = next_number(db, SERIES_RECEIPT, _year(now))
        payment.receipt_issued_at = now
        db.add(payment)
    return payment.receipt_number


def issue_note_number(db: Session, refund: Refund, now: datetime | None = None) -> str:
    """Give a succeeded refund its note number once (the caller holds the refund's row lock)."""
    if refund.note_number is None:
        now = now or utcnow()
        refund.note_number = next_number(db, SERIES_REFUND_NOTE, _year(now))
        refund.note_issued_at = now
        db.add(refund)
    return refund.note_number
