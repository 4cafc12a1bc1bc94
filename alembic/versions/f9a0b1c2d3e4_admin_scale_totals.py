"""admin lists at scale: payments carry their doctor; per-currency totals kept by triggers

`payments.doctor_id` (the booking's, backfilled) with an index ending in (created_at, id), so the
doctor filter needs no join; `payment_totals`, the payments grouped by (currency, status,
flagged, doctor_id) with their count and sums, backfilled here and kept by triggers on
`payments` in the transaction of every insert, update and delete; a covering index for the
chart's days; bookings by (status, hold_expires_at) for the bookings tab's counts;
`audit_log.actor_kind` (stripe, system, admin, doctor, patient) with an index ending in (at, id). Written by
hand; the trigger SQL is a frozen copy of `models.PAYMENT_TOTALS_SQL` at this revision.

Revision ID: f9a0b1c2d3e4
Revises: e8f9a0b1c2d3
Create Date: 2026-12-01 15:20:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'f9a0b1c2d3e4'
down_revision: Union[str, Sequence[str], None] = 'e8f9a0b1c2d3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TRIGGERS = {
    'sqlite': [
        'CREATE TRIGGER payment_totals_insert AFTER INSERT ON payments BEGIN INSERT INTO payment_totals (currency, status, flagged, doctor_id, n, amount_minor, refunded_minor) VALUES (NEW.currency, NEW.status, NEW.flagged, COALESCE(NEW.doctor_id, 0), 0, 0, 0) ON CONFLICT DO NOTHING; UPDATE payment_totals SET n = n + 1, amount_minor = amount_minor + NEW.amount_minor, refunded_minor = refunded_minor + NEW.amount_refunded_minor WHERE currency = NEW.currency AND status = NEW.status AND flagged = NEW.flagged AND doctor_id = COALESCE(NEW.doctor_id, 0); END',
        'CREATE TRIGGER payment_totals_delete AFTER DELETE ON payments BEGIN UPDATE payment_totals SET n = n - 1, amount_minor = amount_minor - OLD.amount_minor, refunded_minor = refunded_minor - OLD.amount_refunded_minor WHERE currency = OLD.currency AND status = OLD.status AND flagged = OLD.flagged AND doctor_id = COALESCE(OLD.doctor_id, 0); END',
        'CREATE TRIGGER payment_totals_update AFTER UPDATE OF currency, status, flagged, doctor_id, amount_minor, amount_refunded_minor ON payments BEGIN UPDATE payment_totals SET n = n - 1, amount_minor = amount_minor - OLD.amount_minor, refunded_minor = refunded_minor - OLD.amount_refunded_minor WHERE currency = OLD.currency AND status = OLD.status AND flagged = OLD.flagged AND doctor_id = COALESCE(OLD.doctor_id, 0); INSERT INTO payment_totals (currency, status, flagged, doctor_id, n, amount_minor, refunded_minor) VALUES (NEW.currency, NEW.status, NEW.flagged, COALESCE(NEW.doctor_id, 0), 0, 0, 0) ON CONFLICT DO NOTHING; UPDATE payment_totals SET n = n + 1, amount_minor = amount_minor + NEW.amount_minor, refunded_minor = refunded_minor + NEW.amount_refunded_minor WHERE currency = NEW.currency AND status = NEW.status AND flagged = NEW.flagged AND doctor_id = COALESCE(NEW.doctor_id, 0); END',
    ],
    'postgresql': [
        "CREATE FUNCTION payment_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN UPDATE payment_totals SET n = n - 1, amount_minor = amount_minor - OLD.amount_minor, refunded_minor = refunded_minor - OLD.amount_refunded_minor WHERE currency = OLD.currency AND status = OLD.status AND flagged = OLD.flagged AND doctor_id = COALESCE(OLD.doctor_id, 0); ELSIF TG_OP = 'INSERT' THEN INSERT INTO payment_totals (currency, status, flagged, doctor_id, n, amount_minor, refunded_minor) VALUES (NEW.currency, NEW.status, NEW.flagged, COALESCE(NEW.doctor_id, 0), 0, 0, 0) ON CONFLICT DO NOTHING; UPDATE payment_totals SET n = n + 1, amount_minor = amount_minor + NEW.amount_minor, refunded_minor = refunded_minor + NEW.amount_refunded_minor WHERE currency = NEW.currency AND status = NEW.status AND flagged = NEW.flagged AND doctor_id = COALESCE(NEW.doctor_id, 0); ELSIF (OLD.currency, OLD.status, OLD.flagged, COALESCE(OLD.doctor_id, 0)) < (NEW.currency, NEW.status, NEW.flagged, COALESCE(NEW.doctor_id, 0)) THEN UPDATE payment_totals SET n = n - 1, amount_minor = amount_minor - OLD.amount_minor, refunded_minor = refunded_minor - OLD.amount_refunded_minor WHERE currency = OLD.currency AND status = OLD.status AND flagged = OLD.flagged AND doctor_id = COALESCE(OLD.doctor_id, 0); INSERT INTO payment_totals (currency, status, flagged, doctor_id, n, amount_minor, refunded_minor) VALUES (NEW.currency, NEW.status, NEW.flagged, COALESCE(NEW.doctor_id, 0), 0, 0, 0) ON CONFLICT DO NOTHING; UPDATE payment_totals SET n = n + 1, amount_minor = amount_minor + NEW.amount_minor, refunded_minor = refunded_minor + NEW.amount_refunded_minor WHERE currency = NEW.currency AND status = NEW.status AND flagged = NEW.flagged AND doctor_id = COALESCE(NEW.doctor_id, 0); ELSE INSERT INTO payment_totals (currency, status, flagged, doctor_id, n, amount_minor, refunded_minor) VALUES (NEW.currency, NEW.status, NEW.flagged, COALESCE(NEW.doctor_id, 0), 0, 0, 0) ON CONFLICT DO NOTHING; UPDATE payment_totals SET n = n + 1, amount_minor = amount_minor + NEW.amount_minor, refunded_minor = refunded_minor + NEW.amount_refunded_minor WHERE currency = NEW.currency AND status = NEW.status AND flagged = NEW.flagged AND doctor_id = COALESCE(NEW.doctor_id, 0); UPDATE payment_totals SET n = n - 1, amount_minor = amount_minor - OLD.amount_minor, refunded_minor = refunded_minor - OLD.amount_refunded_minor WHERE currency = OLD.currency AND status = OLD.status AND flagged = OLD.flagged AND doctor_id = COALESCE(OLD.doctor_id, 0); END IF; RETURN NULL; END $$",
        'CREATE TRIGGER payment_totals_change AFTER INSERT OR DELETE OR UPDATE OF currency, status, flagged, doctor_id, amount_minor, amount_refunded_minor ON payments FOR EACH ROW EXECUTE FUNCTION payment_totals_apply()',
    ],
}
DROP = {
    'sqlite': [
        'DROP TRIGGER IF EXISTS payment_totals_insert',
        'DROP TRIGGER IF EXISTS payment_totals_delete',
        'DROP TRIGGER IF EXISTS payment_totals_update',
    ],
    'postgresql': [
        'DROP TRIGGER IF EXISTS payment_totals_change ON payments',
        'DROP FUNCTION IF EXISTS payment_totals_apply()',
    ],
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        # ADD COLUMN ... REFERENCES keeps the table (a batch copy would rebuild its indexes).
        op.execute('ALTER TABLE payments ADD COLUMN doctor_id INTEGER REFERENCES doctors (id)')
    else:
        op.add_column('payments', sa.Column('doctor_id', sa.Integer(), nullable=True))
        op.create_foreign_key(None, 'payments', 'doctors', ['doctor_id'], ['id'])
    op.execute(
        'UPDATE payments SET doctor_id = '
        '(SELECT bookings.doctor_id FROM bookings WHERE bookings.id = payments.booking_id)'
    )
    op.create_index(
        'ix_payments_doctor_created', 'payments', ['doctor_id', 'created_at', 'id']
    )
    op.create_index(
        'ix_payments_chart',
        'payments',
        ['currency', 'paid_at', 'status', 'doctor_id', 'amount_minor'],
    )
    op.create_index('ix_bookings_status_hold', 'bookings', ['status', 'hold_expires_at'])
    op.create_table(
        'payment_totals',
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('flagged', sa.Boolean(), nullable=False),
        sa.Column('doctor_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('currency', 'status', 'flagged', 'doctor_id'),
    )
    op.execute(
        'INSERT INTO payment_totals '
        '(currency, status, flagged, doctor_id, n, amount_minor, refunded_minor) '
        'SELECT currency, status, flagged, COALESCE(doctor_id, 0), COUNT(*), '
        'SUM(amount_minor), SUM(amount_refunded_minor) FROM payments '
        'GROUP BY currency, status, flagged, COALESCE(doctor_id, 0)'
    )
    for statement in TRIGGERS.get(dialect, []):
        op.execute(statement)
    # The audit rows' kind of actor, as `models._actor_kind` writes it from now on: by prefix,
    # and each admin's or doctor's own rows (a few users) by their role.
    op.add_column('audit_log', sa.Column('actor_kind', sa.String(length=16), nullable=True))
    for prefix, kind in (('stripe:', 'stripe'), ('system:', 'system'), ('user:', 'patient')):
        after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        op.execute(
            sa.text(
                'UPDATE audit_log SET actor_kind = :kind WHERE actor >= :prefix AND actor < :after'
            ).bindparams(kind=kind, prefix=prefix, after=after)
        )
    staff = op.get_bind().execute(
        sa.text("SELECT id, role FROM users WHERE role IN ('admin', 'doctor')")
    ).all()
    for user_id, role in staff:
        op.execute(
            sa.text('UPDATE audit_log SET actor_kind = :role WHERE actor = :actor').bindparams(
                role=role, actor=f'user:{user_id}'
            )
        )
    op.create_index('ix_audit_kind_at', 'audit_log', ['actor_kind', 'at', 'id'])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index('ix_audit_kind_at', table_name='audit_log')
    with op.batch_alter_table('audit_log') as batch:
        batch.drop_column('actor_kind')
    for statement in DROP.get(dialect, []):
        op.execute(statement)
    op.drop_table('payment_totals')
    op.drop_index('ix_bookings_status_hold', table_name='bookings')
    op.drop_index('ix_payments_chart', table_name='payments')
    op.drop_index('ix_payments_doctor_created', table_name='payments')
    with op.batch_alter_table('payments') as batch:
        batch.drop_column('doctor_id')
