"""login throttles per (account, client address) and per address; stored events lose client secrets

Reviewed by hand: the lock leaves `users` (failed_login_count, locked_until: a stranger's wrong
passwords must not lock the account itself) for a table of its own; timestamps are plain
`sa.DateTime(timezone=True)` as in the initial revision (UTCDateTime only converts in Python).
The old per-account counters are dropped, not copied: they would lock an owner everywhere, which
is the bug this fixes. Downgrade restores the columns with a server default so existing rows fit.

Data: webhook events stored before this revision kept PaymentIntent client secrets; they are
redacted here the way efoy_app/domain/redaction.py redacts new ones (a frozen copy, so this
script keeps working whatever that module becomes). The downgrade cannot bring them back.

Revision ID: e35b3d1ff986
Revises: 51a2be42a93c
Create Date: 2026-12-01 08:53:19.982663

"""
import json
import re
from typing import Any, Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

# revision identifiers, used by Alembic.
revision: str = 'e35b3d1ff986'
down_revision: Union[str, Sequence[str], None] = '51a2be42a93c'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


_REDACTED = "[redacted]"
_SECRET = re.compile(r"(?:pi|seti|cs|src)_[A-Za-z0-9_]+?_secret_[A-Za-z0-9]+")


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _REDACTED if k == "client_secret" and isinstance(v, str) and v else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str):
        return _SECRET.sub(_REDACTED, value)
    return value


def _redact_stored_events() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, payload FROM webhook_events WHERE payload LIKE '%secret%'")
    ).fetchall()
    for row_id, payload in rows:
        try:
            redacted = json.dumps(_redact(json.loads(payload)))
        except ValueError:
            redacted = _SECRET.sub(_REDACTED, payload)
        if redacted != payload:
            conn.execute(
                sa.text("UPDATE webhook_events SET payload = :p WHERE id = :i"),
                {"p": redacted, "i": row_id},
            )


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

    _redact_stored_events()


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_login_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttles_window_started_at'))
        batch_op.drop_index(batch_op.f('ix_login_throttles_address'))

    op.drop_table('login_throttles')
