"""login throttles per (account, client address) and per address, not per account

Reviewed by hand: the lock leaves `users` (failed_login_count, locked_until: a stranger's wrong
passwords must not lock the account itself) for a table of its own; timestamps are plain
`sa.DateTime(timezone=True)` as in the initial revision (UTCDateTime only converts in Python).
The old per-account counters are dropped, not copied: they would lock an owner everywhere, which
is the bug this fixes. Downgrade restores the columns with a server default so existing rows fit.

Revision ID: e35b3d1ff986
Revises: 51a2be42a93c
Create Date: 2026-12-01 08:53:19.982663

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

# revision identifiers, used by Alembic.
revision: str = 'e35b3d1ff986'
down_revision: Union[str, Sequence[str], None] = '51a2be42a93c'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('login_throttles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('account', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope', 'account', 'address', name='uq_login_throttle')
    )
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttles_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_throttles_window_started_at'), ['window_started_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_login_count')


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_login_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttles_window_started_at'))
        batch_op.drop_index(batch_op.f('ix_login_throttles_address'))

    op.drop_table('login_throttles')
