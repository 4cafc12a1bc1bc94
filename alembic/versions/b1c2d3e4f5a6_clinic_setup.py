"""clinic set-up by admins: one-off extra hours by date, doctors' photos

`extra_hours` holds hours a doctor works on one date beside the weekly plan; `doctor_photos`
holds the re-encoded photo an admin uploaded, and `doctors.photo_updated_at` says whether there
is one (and versions its URL). Written by hand.

Revision ID: b1c2d3e4f5a6
Revises: a0b1c2d3e4f5
Create Date: 2026-12-01 20:05:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'b1c2d3e4f5a6'
down_revision: Union[str, Sequence[str], None] = 'a0b1c2d3e4f5'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'extra_hours',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('doctor_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('start_time', sa.Time(), nullable=False),
        sa.Column('end_time', sa.Time(), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_extra_hours_doctor_day', 'extra_hours', ['doctor_id', 'day'])
    op.create_table(
        'doctor_photos',
        sa.Column('doctor_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id']),
        sa.PrimaryKeyConstraint('doctor_id'),
    )
    op.add_column(
        'doctors', sa.Column('photo_updated_at', sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table('doctors') as batch:
        batch.drop_column('photo_updated_at')
    op.drop_table('doctor_photos')
    op.drop_index('ix_extra_hours_doctor_day', table_name='extra_hours')
    op.drop_table('extra_hours')
