"""alert warnings logged once; indexes for the audit tab at 300 000 rows

`alert_warnings` remembers that a warning was logged for a failed webhook event or a stale pending
payment (kind, object id; unique), so the warning is logged once whichever worker or page sees it
first. The audit tab lists newest first, unfiltered or by a day range (`ix_audit_at`, which also
holds the filtered columns, so a page's ids are found past any offset from the index alone), by
object type (`ix_audit_type_at`) and by actor (`ix_audit_actor_at`).
Written by hand.

Revision ID: d7e8f9a0b1c2
Revises: 4b8d2e6f1a37
Create Date: 2026-12-01 14:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = 'd7e8f9a0b1c2'
down_revision: Union[str, Sequence[str], None] = '4b8d2e6f1a37'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = [
    ('ix_audit_at', 'audit_log', ['at', 'id', 'actor', 'entity_type', 'entity_id']),
    ('ix_audit_type_at', 'audit_log', ['entity_type', 'at', 'id']),
    ('ix_audit_actor_at', 'audit_log', ['actor', 'at', 'id']),
]


def upgrade() -> None:
    op.create_table(
        'alert_warnings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=False),
        sa.Column('warned_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'object_id', name='uq_alert_warning'),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table('alert_warnings')
