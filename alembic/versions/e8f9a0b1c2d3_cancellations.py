"""cancellations: one row per cancelled paid booking and the refund it gave; doctors' own policies

The unique booking_id makes "one cancellation, one refund" a rule of the database, so ten
concurrent cancel requests cannot reserve two refunds. `doctors.cancellation_policy` holds a
doctor's own tiers (NULL: the clinic's). Written by hand.

Revision ID: e8f9a0b1c2d3
Revises: d7e8f9a0b1c2
Create Date: 2026-12-01 15:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'e8f9a0b1c2d3'
down_revision: Union[str, Sequence[str], None] = 'd7e8f9a0b1c2'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'cancellations',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('booking_id', sa.Integer(), sa.ForeignKey('bookings.id'), nullable=False),
        sa.Column('payment_id', sa.Integer(), sa.ForeignKey('payments.id'), nullable=False),
        sa.Column('by', sa.String(length=16), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('percent', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('refund_id', sa.Integer(), sa.ForeignKey('refunds.id'), nullable=True),
        sa.Column(
            'requested_by_user_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=False
        ),
        sa.Column('decided_by_user_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decision_note', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('booking_id'),
    )
    op.create_index('ix_cancellations_payment_id', 'cancellations', ['payment_id'])
    op.create_index('ix_cancellations_status_id', 'cancellations', ['status', 'id'])
    with op.batch_alter_table('doctors') as batch:
        batch.add_column(sa.Column('cancellation_policy', sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('doctors') as batch:
        batch.drop_column('cancellation_policy')
    op.drop_index('ix_cancellations_status_id', table_name='cancellations')
    op.drop_index('ix_cancellations_payment_id', table_name='cancellations')
    op.drop_table('cancellations')
