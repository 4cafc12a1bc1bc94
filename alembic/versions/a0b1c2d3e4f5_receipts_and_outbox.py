"""receipts and a real outbox: receipt and refund-note numbers, counters, outbox delivery columns

`document_counters` holds the last number of each series and year, incremented in the
transaction that gives one out (so numbers are gapless and concurrent confirmations queue on
its row); `payments.receipt_number` and `refunds.note_number` carry them, each under a unique
index (added, not a constraint, so SQLite keeps the payments table and its totals triggers).
`outbox_emails` gains what a sender needs (kind, HTML body, Message-ID, attempts, next attempt,
claim, a once-only key, the booking and payment it is about) and loses `attachment_name`, which
nothing wrote: attachments live in `outbox_attachments`, bytes and all. Written by hand.

Revision ID: a0b1c2d3e4f5
Revises: f9a0b1c2d3e4
Create Date: 2026-12-01 16:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'a0b1c2d3e4f5'
down_revision: Union[str, Sequence[str], None] = 'f9a0b1c2d3e4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'document_counters',
        sa.Column('series', sa.String(length=20), nullable=False),
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last_seq', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('series', 'year'),
    )
    op.add_column('payments', sa.Column('receipt_number', sa.String(length=32), nullable=True))
    op.add_column(
        'payments', sa.Column('receipt_issued_at', sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index('uq_payments_receipt_number', 'payments', ['receipt_number'], unique=True)
    op.add_column('refunds', sa.Column('note_number', sa.String(length=32), nullable=True))
    op.add_column(
        'refunds', sa.Column('note_issued_at', sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index('uq_refunds_note_number', 'refunds', ['note_number'], unique=True)

    with op.batch_alter_table('outbox_emails') as batch:
        batch.add_column(
            sa.Column('kind', sa.String(length=30), nullable=False, server_default='notice')
        )
        batch.add_column(sa.Column('html_body', sa.Text(), nullable=True))
        batch.add_column(
            sa.Column('message_id', sa.String(length=255), nullable=False, server_default='')
        )
        batch.add_column(sa.Column('dedupe_key', sa.String(length=120), nullable=True))
        batch.add_column(
            sa.Column('booking_id', sa.Integer(), sa.ForeignKey('bookings.id', name='fk_outbox_emails_booking_id'), nullable=True)
        )
        batch.add_column(
            sa.Column('payment_id', sa.Integer(), sa.ForeignKey('payments.id', name='fk_outbox_emails_payment_id'), nullable=True)
        )
        batch.add_column(
            sa.Column('attempts', sa.Integer(), nullable=False, server_default='0')
        )
        batch.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch.drop_column('attachment_name')
    op.execute('UPDATE outbox_emails SET next_attempt_at = created_at')
    with op.batch_alter_table('outbox_emails') as batch:
        batch.alter_column('kind', server_default=None)
        batch.alter_column('message_id', server_default=None)
        batch.alter_column('attempts', server_default=None)
        batch.alter_column(
            'next_attempt_at', existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch.create_index('ix_outbox_emails_due', ['status', 'next_attempt_at', 'id'])
        batch.create_index('uq_outbox_emails_dedupe_key', ['dedupe_key'], unique=True)
        batch.create_index('ix_outbox_emails_booking_id', ['booking_id'])
        batch.create_index('ix_outbox_emails_payment_id', ['payment_id'])

    op.create_table(
        'outbox_attachments',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column(
            'email_id', sa.Integer(), sa.ForeignKey('outbox_emails.id'), nullable=False
        ),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
    )
    op.create_index('ix_outbox_attachments_email_id', 'outbox_attachments', ['email_id'])


def downgrade() -> None:
    op.drop_index('ix_outbox_attachments_email_id', table_name='outbox_attachments')
    op.drop_table('outbox_attachments')
    with op.batch_alter_table('outbox_emails') as batch:
        batch.drop_index('ix_outbox_emails_payment_id')
        batch.drop_index('ix_outbox_emails_booking_id')
        batch.drop_index('uq_outbox_emails_dedupe_key')
        batch.drop_index('ix_outbox_emails_due')
        for name in (
            'claimed_until', 'next_attempt_at', 'attempts', 'payment_id', 'booking_id',
            'dedupe_key', 'message_id', 'html_body', 'kind',
        ):  # fmt: skip
            batch.drop_column(name)
        batch.add_column(sa.Column('attachment_name', sa.String(length=200), nullable=True))
    op.drop_index('uq_refunds_note_number', table_name='refunds')
    op.drop_column('refunds', 'note_issued_at')
    op.drop_column('refunds', 'note_number')
    op.drop_index('uq_payments_receipt_number', table_name='payments')
    op.drop_column('payments', 'receipt_issued_at')
    op.drop_column('payments', 'receipt_number')
    op.drop_table('document_counters')
