"""Every table of Efoy, as SQLModel classes.

Times are stored in UTC and always come back timezone-aware (`UTCDateTime`); money is an integer
amount in minor units beside an ISO 4217 currency code. Status columns are plain strings whose
allowed values are the constants below, so SQLite and PostgreSQL store them the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC; refuses naive ones so no local time sneaks in."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _ts(nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kw)


def _now_ts() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# --- users and doctors -----------------------------------------------------------------------

ROLE_PATIENT, ROLE_DOCTOR, ROLE_ADMIN = "patient", "doctor", "admin"
ROLES = (ROLE_PATIENT, ROLE_DOCTOR, ROLE_ADMIN)


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = {"extend_existing": True}

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True}, index=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(default=ROLE_PATIENT, max_length=16)
    full_name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    timezone: str = Field(default="UTC", max_length=64)
    created_at: datetime = _now_ts()

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """Never hand the password hash to a serializer (Reflex state, JSON)."""
        data = super().model_dump(**kwargs)
        data.pop("password_hash", None)
        return data


THROTTLE_ACCOUNT_ADDRESS = "account_address"
THROTTLE_ADDRESS = "address"


class LoginThrottle(SQLModel, table=True):
    """Failed logins of one bucket: an (account, client address) pair, or a client address.

    Kept apart from `users` so a stranger's failures never lock the account itself, and keyed
    by the email typed (not the user id) so an unknown email is throttled like a known one.
    `account` is "" for the per-address bucket.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (
        sa.UniqueConstraint("scope", "account", "address", name="uq_login_throttle"),
        {"extend_existing": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16)
    account: str = Field(default="", max_length=320)
    address: str = Field(max_length=64, index=True)
    failures: int = Field(default=0)
    window_started_at: datetime = _ts(index=True)
    locked_until: datetime | None = _ts(nullable=True, default=None)


class Doctor(SQLModel, table=True):
    __tablename__ = "doctors"
    __table_args__ = {"extend_existing": True}

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, sa_column_kwargs={"unique": True})
    speciality: str = Field(max_length=100, index=True)
    bio: str = Field(default="", max_length=2000)
    fee_minor: int = Field(ge=0)
    currency: str = Field(max_length=3)
    slot_minutes: int = Field(default=30, ge=5, le=480)
    timezone: str = Field(default="UTC", max_length=64)
    active: bool = Field(default=True)
    # This doctor's own cancellation policy ("hours:percent,..."); None: the clinic's
    # (EFOY_CANCELLATION_POLICY). Read through cancellation_policy.policy_for.
    cancellation_policy: str | None = Field(default=None, max_length=120)
    # When the photo in `doctor_photos` last changed (None: no photo, initials are shown); the
    # photo's URL carries it so browsers fetch a new one only after a change.
    photo_updated_at: datetime | None = _ts(nullable=True, default=None)


class DoctorPhoto(SQLModel, table=True):
    """A doctor's photo as the clinic uploaded it, re-encoded (square JPEG, no metadata)."""

    __tablename__ = "doctor_photos"
    __table_args__ = {"extend_existing": True}

    doctor_id: int = Field(
        foreign_key="doctors.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    content_type: str = Field(max_length=40)
    data: bytes = Field(sa_type=sa.LargeBinary)
    updated_at: datetime = _now_ts()


class WorkingHours(SQLModel, table=True):
    """One weekly working window of a doctor, in the doctor's own timezone (weekday 0 = Monday)."""

    __tablename__ = "working_hours"
    __table_args__ = {"extend_existing": True}

    id: int | None = Field(default=None, primary_key=True)
    doctor_id: int = Field(foreign_key="doctors.id", index=True)
    weekday: int = Field(ge=0, le=6)
    start_time: time
    end_time: time


class DayOff(SQLModel, table=True):
    __tablename__ = "days_off"
    __table_args__ = (
        sa.UniqueConstraint("doctor_id", "day", name="uq_day_off"),
        {"extend_existing": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    doctor_id: int = Field(foreign_key="doctors.id", index=True)
    day: date
    reason: str = Field(default="", max_length=200)


class ExtraHours(SQLModel, table=True):
    """One-off working hours on one date, beside the week's (a Saturday clinic, a late evening),
    in the doctor's timezone; an end of 00:00 is midnight."""

    __tablename__ = "extra_hours"
    __table_args__ = (
        sa.Index("ix_extra_hours_doctor_day", "doctor_id", "day"),
        {"extend_existing": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    doctor_id: int = Field(foreign_key="doctors.id")
    day: date
    start_time: time
    end_time: time
    reason: str = Field(default="", max_length=200)


# --- bookings --------------------------------------------------------------------------------

BOOKING_HELD = "held"
BOOKING_CONFIRMED = "confirmed"
BOOKING_COMPLETED = "completed"
BOOKING_CANCELLED = "cancelled"
BOOKING_EXPIRED = "expired"


class Booking(SQLModel, table=True):
    __tablename__ = "bookings"
    __table_args__ = (
        # No double booking, enforced by the database: one held/confirmed booking per slot.
        sa.Index(
            "uq_booking_active_slot",
            "doctor_id",
            "starts_at",
            unique=True,
            sqlite_where=sa.text("status IN ('held', 'confirmed')"),
            postgresql_where=sa.text("status IN ('held', 'confirmed')"),
        ),
        # The admin list, newest first, pages on this (alembic 4b8d2e6f1a37).
        sa.Index("ix_bookings_created_id", "created_at", "id"),
        # The bookings tab's counts per stored status, and the lapsed holds among the held ones,
        # from this index alone (alembic f9a0b1c2d3e4).
        sa.Index("ix_bookings_status_hold", "status", "hold_expires_at"),
        {"extend_existing": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="users.id", index=True)
    doctor_id: int = Field(foreign_key="doctors.id", index=True)
    starts_at: datetime = _ts()
    ends_at: datetime = _ts()
    status: str = Field(default=BOOKING_HELD, max_length=16, index=True)
    reason: str = Field(default="", max_length=500)
    price_minor: int = Field(ge=0)
    currency: str = Field(max_length=3)
    hold_expires_at: datetime | None = _ts(nullable=True, default=None)
    cancelled_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = _now_ts()
    updated_at: datetime = _now_ts()


# --- payments, refunds, webhooks -----------------------------------------------------------

PAYMENT_PENDING = "pending"
PAYMENT_PAID = "paid"
PAYMENT_PARTIALLY_REFUNDED = "partially_refunded"
PAYMENT_REFUNDED = "refunded"
PAYMENT_FAILED = "failed"
PAYMENT_EXPIRED = "expired"
# Money was taken (some of it may have gone back since).
PAID_STATUSES = (PAYMENT_PAID, PAYMENT_PARTIALLY_REFUNDED, PAYMENT_REFUNDED)
# Not settled yet: a failed card payment can still be retried, so it may still take money.
OPEN_STATUSES = (PAYMENT_PENDING, PAYMENT_FAILED)
# A payment that can still be refunded (something is left of it).
REFUNDABLE_STATUSES = (PAYMENT_PAID, PAYMENT_PARTIALLY_REFUNDED)
PAYMENT_KIND_CHECKOUT = "checkout"
PAYMENT_KIND_INTENT = "payment_intent"

# What Stripe reports of its own objects (we read these; we store our statuses above).
STRIPE_SESSION_COMPLETE = "complete"
STRIPE_SESSION_EXPIRED = "expired"
STRIPE_SESSION_PAID = "paid"  # a Checkout Session's payment_status
STRIPE_INTENT_SUCCEEDED = "succeeded"
STRIPE_INTENT_REQUIRES_PAYMENT_METHOD = "requires_payment_method"
STRIPE_INTENT_CANCELED = "canceled"


def _booking_doctor(context: Any) -> int | None:
    """The doctor of the booking a payment row is inserted for (its column default)."""
    booking_id = context.get_current_parameters().get("booking_id")
    return context.connection.execute(
        sa.text("SELECT doctor_id FROM bookings WHERE id = :id"), {"id": booking_id}
    ).scalar()


class Payment(SQLModel, table=True):
    """One attempt to pay for a booking: a Checkout Session or a PaymentIntent."""

    __tablename__ = "payments"
    __table_args__ = (
        # One open payment of each kind per booking: concurrent "Pay now" clicks share it.
        sa.Index(
            "uq_payment_open_per_booking",
            "booking_id",
            "kind",
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
        # The admin list's filters, each ending in its order (newest first), so a page and a
        # deep offset walk one index; totals read the covering one (alembic 4b8d2e6f1a37).
        sa.Index("ix_payments_created_id", "created_at", "id"),
        sa.Index("ix_payments_status_created", "status", "created_at", "id"),
        sa.Index("ix_payments_currency_created", "currency", "created_at", "id"),
        sa.Index("ix_payments_flagged_created", "flagged", "created_at", "id"),
        sa.Index("ix_payments_paid_at", "paid_at"),
        # By doctor (the booking's, copied on the payment when it is created), newest first; and
        # the chart's days of one currency read from an index alone (alembic f9a0b1c2d3e4).
        sa.Index("ix_payments_doctor_created", "doctor_id", "created_at", "id"),
        sa.Index("ix_payments_chart", "currency", "paid_at", "status", "doctor_id", "amount_minor"),
        # A unique index, not a constraint: SQLite adds it without rebuilding the table (and its
        # totals triggers), alembic a0b1c2d3e4f5.
        sa.Index("uq_payments_receipt_number", "receipt_number", unique=True),
        sa.Index(
            "ix_payments_totals",
            "currency",
            "status",
            "flagged",
            "amount_minor",
            "amount_refunded_minor",
        ),
        {"extend_existing": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="bookings.id", index=True)
    # The booking's doctor (a booking never changes doctor), so filtering and totalling by
    # doctor needs no join. `payment_start` sets it; a row inserted without it gets the
    # booking's from `_booking_doctor`.
    doctor_id: int | None = Field(
        default=None,
        foreign_key="doctors.id",
        sa_column_kwargs={"default": _booking_doctor},
    )
    kind: str = Field(max_length=20)
    status: str = Field(default=PAYMENT_PENDING, max_length=20, index=True)
    amount_minor: int = Field(ge=0)
    currency: str = Field(max_length=3)
    amount_refunded_minor: int = Field(default=0, ge=0)
    stripe_checkout_session_id: str | None = Field(
        default=None, max_length=255, sa_column_kwargs={"unique": True}
    )
    stripe_payment_intent_id: str | None = Field(
        default=None, max_length=255, sa_column_kwargs={"unique": True}
    )
    stripe_charge_id: str | None = Field(default=None, max_length=255, index=True)
    checkout_url: str | None = Field(default=None, max_length=2000)
    card_brand: str | None = Field(default=None, max_length=32)
    card_last4: str | None = Field(default=None, max_length=4)
    failure_code: str | None = Field(default=None, max_length=100)
    failure_message: str | None = Field(default=None, max_length=500)
    flagged: bool = Field(default=False)
    flag_reason: str | None = Field(default=None, max_length=500)
    expires_at: datetime | None = _ts(nullable=True, default=None)
    paid_at: datetime | None = _ts(nullable=True, default=None)
    # "EFOY-2026-000123", given in the transaction that marks the payment paid.
    receipt_number: str | None = Field(default=None, max_length=32)
    receipt_issued_at: datetime | None = _ts(nullable=True, default=None)
    created_at: datetime = _now_ts()
    updated_at: datetime = _now_ts()


class PaymentTotal(SQLModel, table=True):
    """The payments table grouped by what the admin list's totals filter on, kept by triggers
    on `payments` (`PAYMENT_TOTALS_SQL`) in the transaction that changes a payment, whichever
    code (or SQL) changes it. Raw sums only: which statuses count as money taken is decided
    where the totals are read (`admin_views.payment_totals`). `doctor_id` 0: no doctor known."""

    __tablename__ = "payment_totals"
    __table_args__ = {"extend_existing": True}

    currency: str = Field(max_length=3, primary_key=True)
    status: str = Field(max_length=20, primary_key=True)
    flagged: bool = Field(primary_key=True)
    doctor_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    n: int = Field(default=0)
    amount_minor: int = Field(default=0, sa_type=sa.BigInteger)
    refunded_minor: int = Field(default=0, sa_type=sa.BigInteger)


_TOTALS_KEY = ("currency", "status", "flagged", "doctor_id")
_TOTALS_WATCHED = "currency, status, flagged, doctor_id, amount_minor, amount_refunded_minor"


def _totals_where(row: str) -> str:
    return (
        f"currency = {row}.currency AND status = {row}.status AND flagged = {row}.flagged"
        f" AND doctor_id = COALESCE({row}.doctor_id, 0)"
    )


def _totals_add(row: str, sign: str) -> str:
    """An UPDATE that adds (sign "+") or takes away ("-") one payment row's share: `x = x + d`
    under the row's lock, so concurrent transactions on PostgreSQL never lose a change."""
    return (
        f"UPDATE payment_totals SET n = n {sign} 1,"
        f" amount_minor = amount_minor {sign} {row}.amount_minor,"
        f" refunded_minor = refunded_minor {sign} {row}.amount_refunded_minor"
        f" WHERE {_totals_where(row)};"
    )


_TOTALS_ENSURE = (
    "INSERT INTO payment_totals (currency, status, flagged, doctor_id, n, amount_minor,"
    " refunded_minor) VALUES (NEW.currency, NEW.status, NEW.flagged, COALESCE(NEW.doctor_id, 0),"
    " 0, 0, 0) ON CONFLICT DO NOTHING;"
)

# The triggers that keep `payment_totals`, per dialect (the migration f9a0b1c2d3e4 holds a copy).
# PostgreSQL takes the two rows an UPDATE moves a payment between in key order, so two
# transactions moving payments in opposite directions cannot deadlock on them.
PAYMENT_TOTALS_SQL: dict[str, list[str]] = {
    "sqlite": [
        "CREATE TRIGGER payment_totals_insert AFTER INSERT ON payments BEGIN "
        f"{_TOTALS_ENSURE} {_totals_add('NEW', '+')} END",
        "CREATE TRIGGER payment_totals_delete AFTER DELETE ON payments BEGIN "
        f"{_totals_add('OLD', '-')} END",
        f"CREATE TRIGGER payment_totals_update AFTER UPDATE OF {_TOTALS_WATCHED} ON payments "
        f"BEGIN {_totals_add('OLD', '-')} {_TOTALS_ENSURE} {_totals_add('NEW', '+')} END",
    ],
    "postgresql": [
        "CREATE FUNCTION payment_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_OP = 'DELETE' THEN "
        f"{_totals_add('OLD', '-')} "
        "ELSIF TG_OP = 'INSERT' THEN "
        f"{_TOTALS_ENSURE} {_totals_add('NEW', '+')} "
        "ELSIF (OLD.currency, OLD.status, OLD.flagged, COALESCE(OLD.doctor_id, 0)) "
        "< (NEW.currency, NEW.status, NEW.flagged, COALESCE(NEW.doctor_id, 0)) THEN "
        f"{_totals_add('OLD', '-')} {_TOTALS_ENSURE} {_totals_add('NEW', '+')} "
        "ELSE "
        f"{_TOTALS_ENSURE} {_totals_add('NEW', '+')} {_totals_add('OLD', '-')} "
        "END IF; RETURN NULL; END $$",
        f"CREATE TRIGGER payment_totals_change AFTER INSERT OR DELETE OR UPDATE OF "
        f"{_TOTALS_WATCHED} ON payments FOR EACH ROW EXECUTE FUNCTION payment_totals_apply()",
    ],
}


@sa.event.listens_for(Payment.__table__, "after_create")
def _create_totals_triggers(table: sa.Table, connection: Any, **_: Any) -> None:
    for statement in PAYMENT_TOTALS_SQL.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)


REFUND_PENDING = "pending"
REFUND_SUCCEEDED = "succeeded"
REFUND_FAILED = "failed"
REFUND_CANCELED = "canceled"
# Holds part of the payment: it may still be, or has been, paid back.
REFUND_RESERVING = (REFUND_PENDING, REFUND_SUCCEEDED)


class Refund(SQLModel, table=True):
    """A ledger row per Stripe refund; the sum of non-failed rows never exceeds the payment."""

    __tablename__ = "refunds"
    __table_args__ = (
        sa.Index("uq_refunds_note_number", "note_number", unique=True),
        {"extend_existing": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payments.id", index=True)
    stripe_refund_id: str | None = Field(
        default=None, max_length=255, sa_column_kwargs={"unique": True}
    )
    amount_minor: int = Field(gt=0)
    currency: str = Field(max_length=3)
    status: str = Field(default=REFUND_PENDING, max_length=20)
    reason: str = Field(default="", max_length=500)
    requested_by_user_id: int | None = Field(default=None, foreign_key="users.id")
    failure_reason: str | None = Field(default=None, max_length=200)
    # The key every attempt sends Stripe, so a retry after an outage is the same refund.
    stripe_idempotency_key: str | None = Field(default=None, max_length=255)
    # Attempts to reach Stripe, and the last time Stripe did not answer (kept once the refund
    # is through: it marks a refund that was queued, whose retry must not refund again).
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=300)
    # The refund note's number ("EFOY-RN-2026-000007"), given when the refund succeeds.
    note_number: str | None = Field(default=None, max_length=32)
    note_issued_at: datetime | None = _ts(nullable=True, default=None)
    created_at: datetime = _now_ts()
    updated_at: datetime = _now_ts()


EVENT_RECEIVED = "received"
EVENT_PROCESSED = "processed"
EVENT_IGNORED = "ignored"
EVENT_FAILED = "failed"


class WebhookEvent(SQLModel, table=True):
    """Every Stripe event we were sent, keyed by Stripe's id, with what became of it."""

    __tablename__ = "webhook_events"
    __table_args__ = {"extend_existing": True}

    id: int | None = Field(default=None, primary_key=True)
    stripe_event_id: str = Field(max_length=255, sa_column_kwargs={"unique": True})
    type: str = Field(max_length=100, index=True)
    payload: str = Field(sa_type=sa.Text)
    status: str = Field(default=EVENT_RECEIVED, max_length=20, index=True)
    attempts: int = Field(default=0)
    error: str | None = Field(default=None, sa_type=sa.Text)
    received_at: datetime = _now_ts()
    processed_at: datetime | None = _ts(nullable=True, default=None)


class IdempotencyRecord(SQLModel, table=True):
    """The first answer given to an `Idempotency-Key` on our own money-moving endpoints."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "endpoint", "key", name="uq_idempotency"),
        {"extend_existing": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    endpoint: str = Field(max_length=200)
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status_code: int | None = Field(default=None)
    response_json: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _now_ts()


# --- audit and mail ----------------------------------------------------------------------------


# What kind of actor an audit row names (`AuditLog.actor_kind`): the audit tab's actor filter.
ACTOR_KIND_STRIPE, ACTOR_KIND_SYSTEM = "stripe", "system"


def _actor_kind(context: Any) -> str | None:
    """The kind of `actor` when its audit row is written: "stripe:…" and "system:…" by their
    prefix, "user:N" by the user's role then (admin, doctor; anyone else, an unknown id too, is a
    patient); other actors have none. Stored, so the tab's filter and its count read one index."""
    actor = str(context.get_current_parameters().get("actor") or "")
    prefix, _, rest = actor.partition(":")
    if prefix in (ACTOR_KIND_STRIPE, ACTOR_KIND_SYSTEM):
        return prefix
    if prefix != "user":
        return None
    role = None
    if rest.isascii() and rest.isdigit() and len(rest) <= 16:
        role = context.connection.execute(
            sa.text("SELECT role FROM users WHERE id = :id"), {"id": int(rest)}
        ).scalar()
    return role if role in (ROLE_ADMIN, ROLE_DOCTOR) else ROLE_PATIENT


class AuditLog(SQLModel, table=True):
    """Who or what changed a booking, payment or refund, when, and why."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_entity", "entity_type", "entity_id"),
        # The audit tab, newest first (alembic d7e8f9a0b1c2): unfiltered and by day range on
        # one index that also holds what the filters test, so a page's ids are found (past any
        # offset) without reading the table; by object type, by actor.
        sa.Index("ix_audit_at", "at", "id", "actor", "entity_type", "entity_id"),
        sa.Index("ix_audit_type_at", "entity_type", "at", "id"),
        sa.Index("ix_audit_actor_at", "actor", "at", "id"),
        # By kind of actor, newest first (alembic f9a0b1c2d3e4).
        sa.Index("ix_audit_kind_at", "actor_kind", "at", "id"),
        {"extend_existing": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _now_ts()
    actor: str = Field(max_length=200)
    # Set on insert from `actor` (`_actor_kind`), whoever writes the row (`audit.record` does).
    actor_kind: str | None = Field(
        default=None, max_length=16, sa_column_kwargs={"default": _actor_kind}
    )
    entity_type: str = Field(max_length=40)
    entity_id: int
    action: str = Field(max_length=60)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    details: str | None = Field(default=None, sa_type=sa.Text)


CANCELLATION_AWAITING = "awaiting_approval"
CANCELLATION_REFUNDED = "refund_issued"
CANCELLATION_NO_REFUND = "no_refund"
CANCELLATION_DECLINED = "declined"


class Cancellation(SQLModel, table=True):
    """One row per cancelled paid booking: who cancelled, what the policy (or the clinic) gave
    back, and the refund that carries it. Its unique booking_id is the database's guard that a
    booking is cancelled, and refunded for it, once."""

    __tablename__ = "cancellations"
    __table_args__ = (
        sa.Index("ix_cancellations_status_id", "status", "id"),
        {"extend_existing": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="bookings.id", sa_column_kwargs={"unique": True})
    payment_id: int = Field(foreign_key="payments.id", index=True)
    by: str = Field(max_length=16)  # "patient" or "clinic"
    amount_minor: int = Field(ge=0)
    currency: str = Field(max_length=3)
    percent: int = Field(ge=0, le=100)
    reason: str = Field(default="", max_length=500)
    status: str = Field(max_length=20)
    refund_id: int | None = Field(default=None, foreign_key="refunds.id")
    requested_by_user_id: int = Field(foreign_key="users.id")
    decided_by_user_id: int | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = _ts(nullable=True, default=None)
    decision_note: str | None = Field(default=None, max_length=500)
    created_at: datetime = _now_ts()
    updated_at: datetime = _now_ts()


ALERT_FAILED_EVENT = "failed_event"
ALERT_STALE_PAYMENT = "stale_payment"


class AlertWarning(SQLModel, table=True):
    """That a warning was logged for this failed event or stale payment, so it is logged once
    (by whichever worker or page saw it first), not on every admin page load."""

    __tablename__ = "alert_warnings"
    __table_args__ = (
        sa.UniqueConstraint("kind", "object_id", name="uq_alert_warning"),
        {"extend_existing": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    object_id: int
    warned_at: datetime = _now_ts()


EMAIL_QUEUED = "queued"  # waiting for its next attempt (next_attempt_at)
EMAIL_SENDING = "sending"  # claimed by a sender until claimed_until
EMAIL_SENT = "sent"
EMAIL_FAILED = "failed"  # gave up after the last attempt; an admin sees why
EMAIL_WITHDRAWN = "withdrawn"  # no longer true before it went (a cancelled booking's reminder)
EMAIL_STATUSES = (EMAIL_QUEUED, EMAIL_SENDING, EMAIL_SENT, EMAIL_FAILED, EMAIL_WITHDRAWN)
# What a message is, so each kind can be switched off and found again (receipt resends).
EMAIL_CONFIRMATION = "confirmation"
EMAIL_RECEIPT = "receipt"
EMAIL_REFUND_NOTE = "refund_note"
EMAIL_REMINDER = "reminder"
EMAIL_CANCELLATION = "cancellation"
EMAIL_LATE_PAYMENT = "late_payment"
EMAIL_NOTICE = "notice"


class OutboxEmail(SQLModel, table=True):
    """Every email Efoy sends, kept so a developer (and the admin outbox page) can read it.

    The row is written in the transaction that causes it, so nothing is lost when SMTP is down;
    a sender claims it, delivers it and marks it sent, retrying with back-off."""

    __tablename__ = "outbox_emails"
    __table_args__ = (
        # What a sender claims next: the due queued rows, oldest first (alembic a0b1c2d3e4f5).
        sa.Index("ix_outbox_emails_due", "status", "next_attempt_at", "id"),
        sa.Index("uq_outbox_emails_dedupe_key", "dedupe_key", unique=True),
        {"extend_existing": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default=EMAIL_NOTICE, max_length=30)
    to_address: str = Field(max_length=320)
    subject: str = Field(max_length=300)
    body: str = Field(sa_type=sa.Text)
    html_body: str | None = Field(default=None, sa_type=sa.Text)
    # The same id on every attempt, so a receiving server can tell a retry from a new message.
    message_id: str = Field(default="", max_length=255)
    # "reminder:42": a message that must exist once at most (the database refuses a second).
    dedupe_key: str | None = Field(default=None, max_length=120)
    booking_id: int | None = Field(default=None, foreign_key="bookings.id", index=True)
    payment_id: int | None = Field(default=None, foreign_key="payments.id", index=True)
    status: str = Field(default=EMAIL_QUEUED, max_length=20)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _now_ts()
    claimed_until: datetime | None = _ts(nullable=True, default=None)
    # The last attempt's error (SMTP's answer), kept after a later success for the record.
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _now_ts()
    sent_at: datetime | None = _ts(nullable=True, default=None)


class OutboxAttachment(SQLModel, table=True):
    """A file sent with an outbox email, stored with it so a retry sends the same bytes."""

    __tablename__ = "outbox_attachments"
    __table_args__ = {"extend_existing": True}

    id: int | None = Field(default=None, primary_key=True)
    email_id: int = Field(foreign_key="outbox_emails.id", index=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    data: bytes = Field(sa_type=sa.LargeBinary)


# --- receipt numbers ---------------------------------------------------------------------------

SERIES_RECEIPT = "receipt"
SERIES_REFUND_NOTE = "refund_note"


class DocumentCounter(SQLModel, table=True):
    """The last number given in a series and year; incremented in the transaction that issues
    one, so numbers are gapless (a rolled-back payment gives its number back)."""

    __tablename__ = "document_counters"
    __table_args__ = {"extend_existing": True}

    series: str = Field(max_length=20, primary_key=True)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_seq: int = Field(default=0)


ALL_TABLES: tuple[type[SQLModel], ...] = (
    User,
    LoginThrottle,
    Doctor,
    WorkingHours,
    DayOff,
    Booking,
    Payment,
    Refund,
    WebhookEvent,
    IdempotencyRecord,
    AuditLog,
    Cancellation,
    AlertWarning,
    OutboxEmail,
    OutboxAttachment,
    DocumentCounter,
)
