"""indexes for the admin payments and bookings lists at 100 000 rows

Each filter of the admin payments list (status, currency, flagged, created/paid day range) has an
index ending in the list's order (created_at, id), so a page, even at offset 50 000, walks one
index; `ix_payments_totals` covers the per-currency totals (count, collected, refunded), so they
read an index, not the table. The bookings list pages on (created_at, id). Ids (booking, Checkout
Session, PaymentIntent) and the bookings' doctor_id / patient_id were indexed already. Written by
hand.

Revision ID: 4b8d2e6f1a37
Revises: 7c1e0f3a9b21
Create Date: 2026-12-01 13:00:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = '4b8d2e6f1a37'
down_revision: Union[str, Sequence[str], None] = '7c1e0f3a9b21'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = [
    ('ix_payments_created_id', 'payments', ['created_at', 'id']),
    ('ix_payments_status_created', 'payments', ['status', 'created_at', 'id']),
    ('ix_payments_currency_created', 'payments', ['currency', 'created_at', 'id']),
    ('ix_payments_flagged_created', 'payments', ['flagged', 'created_at', 'id']),
    ('ix_payments_paid_at', 'payments', ['paid_at']),
    (
        'ix_payments_totals',
        'payments',
        ['currency', 'status', 'flagged', 'amount_minor', 'amount_refunded_minor'],
    ),
    ('ix_bookings_created_id', 'bookings', ['created_at', 'id']),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
