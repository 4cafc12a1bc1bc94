"""refunds: the idempotency key every attempt sends, attempts and the last error

A refund that could not reach Stripe stays one reserved row; these columns let it be retried
with the same key and show the admin why it is still queued. Written by hand.

Revision ID: 7c1e0f3a9b21
Revises: e35b3d1ff986
Create Date: 2026-12-01 09:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = '7c1e0f3a9b21'
down_revision: Union[str, Sequence[str], None] = 'e35b3d1ff986'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'stripe_idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
        ))
        batch_op.add_column(
            sa.Column('attempts', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.add_column(
            sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_column('last_error')
        batch_op.drop_column('attempts')
        batch_op.drop_column('stripe_idempotency_key')
