"""The payments a filter matches as CSV, newest first, produced in batches as it is sent.

Rows are read `BATCH` at a time by keyset (created_at, id) on the payments' own index, and the
transaction is ended after every batch: a slow download never holds SQLite's lock (every
transaction there takes it) nor a PostgreSQL snapshot for its whole length. A cell that a
spreadsheet would run as a formula (it starts with = + - @, a tab or a carriage return) is
written with a leading apostrophe. Amounts are decimal major units, beside the currency and the
integer minor units they come from; times are ISO 8601 in the clinic's timezone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from efoy_app.domain.admin_views import (
    AdminPaymentRow,
    PaymentFilter,
    _admin,
    payment_conditions,
    payment_query,
    payment_row,
)
from efoy_app.domain.money import to_major
from efoy_app.domain.times import zone
from efoy_app.models import PAID_STATUSES, Booking, Payment, User

BATCH = 500
COLUMNS = (
    "payment_id",
    "created_at",
    "paid_at",
    "status",
    "kind",
    "currency",
    "amount",
    "amount_minor",
    "refunded_amount",
    "refunded_minor",
    "net",
    "net_minor",
    "booking_id",
    "appointment_starts_at",
    "doctor",
    "patient_name",
    "patient_email",
    "flagged",
    "flag_reason",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """`value` as text a spreadsheet shows and never evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _time(moment: datetime | None, tz: str) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone(tz)).isoformat()


def csv_record(row: AdminPaymentRow, tz: str) -> list[str]:
    """One payment as the cells of COLUMNS."""
    collected = row.amount_minor if row.status in PAID_STATUSES else 0
    net = collected - row.refunded_minor
    values = (
        row.id,
        _time(row.created_at, tz),
        _time(row.paid_at, tz),
        row.status,
        row.kind,
        row.currency,
        to_major(row.amount_minor, row.currency),
        row.amount_minor,
        to_major(row.refunded_minor, row.currency),
        row.refunded_minor,
        to_major(net, row.currency),
        net,
        row.booking_id,
        _time(row.starts_at, tz),
        row.doctor_name,
        row.patient_name,
        row.patient_email,
        "yes" if row.flagged else "no",
        row.flag_reason,
    )
    return [csv_cell(v) for v in values]


def _line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


def payment_csv(
    session: Session, viewer: User, f: PaymentFilter, tz: str, batch: int | None = None
) -> Iterator[str]:
    """The header, then one line per matching payment, newest first (a generator: each batch is
    read when the one before it has been sent). `session`'s transaction ends after each batch."""
    _admin(viewer)
    batch = batch or BATCH
    terms, needs_booking = payment_conditions(f)  # a bad filter fails here, before any output
    yield _line(list(COLUMNS))
    after: tuple[Any, int] | None = None
    while True:
        ids = select(Payment.id, Payment.created_at)
        if needs_booking:
            ids = ids.join(Booking, col(Booking.id) == col(Payment.booking_id))
        page_terms = list(terms)
        if after is not None:
            at, last_id = after
            page_terms.append(
                sa.or_(
                    col(Payment.created_at) < at,
                    sa.and_(col(Payment.created_at) == at, col(Payment.id) < last_id),
                )
            )
        keys = session.exec(
            ids.where(*page_terms)
            .order_by(col(Payment.created_at).desc(), col(Payment.id).desc())
            .limit(batch)
        ).all()
        if not keys:
            session.close()
            return
        found = session.exec(payment_query().where(col(Payment.id).in_([k[0] for k in keys])))
        by_id = {r[0].id: payment_row(*r) for r in found.all()}
        session.close()  # ends the transaction before anything is sent
        after = (keys[-1][1], keys[-1][0])
        yield "".join(_line(csv_record(by_id[i], tz)) for i, _ in keys if i in by_id)
        if len(keys) < batch:
            return
