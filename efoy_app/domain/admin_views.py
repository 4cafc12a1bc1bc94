"""What admins read in lists: recent bookings, payments (flagged ones first to the eye) and the
stored Stripe webhook events. One payment with its ledger and audit trail is
`admin_payment_detail`.

A list that pages (`payment_list`, `webhook_event_list`) says how many rows match its filters,
counted by one query over the same filters, so a page of 50 still knows the whole is 1,234.

Read models only: nothing here changes a row. Every function takes the viewer and checks the admin
role itself, so a page or route that forgets its own check still shows nothing. Money is shown
with `format_money`, never formatted by a caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, case, col, func, select

from efoy_app.domain.auth import require_role
from efoy_app.domain.bookings import BookingView, booking_view_of
from efoy_app.domain.errors import ValidationFailed
from efoy_app.domain.money import format_money
from efoy_app.domain.paging import page_of_ids
from efoy_app.domain.read_models import build
from efoy_app.domain.text import escape_like
from efoy_app.models import (
    BOOKING_EXPIRED,
    BOOKING_HELD,
    EVENT_FAILED,
    EVENT_IGNORED,
    EVENT_PROCESSED,
    EVENT_RECEIVED,
    PAID_STATUSES,
    PAYMENT_EXPIRED,
    PAYMENT_FAILED,
    PAYMENT_PAID,
    PAYMENT_PARTIALLY_REFUNDED,
    PAYMENT_PENDING,
    PAYMENT_REFUNDED,
    REFUND_CANCELED,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUND_SUCCEEDED,
    ROLE_ADMIN,
    Booking,
    Doctor,
    Payment,
    PaymentTotal,
    User,
    WebhookEvent,
    utcnow,
)
from efoy_app.routes import MAX_ID

PAYMENT_STATUSES = (
    PAYMENT_PENDING,
    PAYMENT_PAID,
    PAYMENT_PARTIALLY_REFUNDED,
    PAYMENT_REFUNDED,
    PAYMENT_FAILED,
    PAYMENT_EXPIRED,
)
EVENT_STATUSES = (EVENT_PROCESSED, EVENT_IGNORED, EVENT_FAILED, EVENT_RECEIVED)
REFUND_STATUSES = (REFUND_PENDING, REFUND_SUCCEEDED, REFUND_FAILED, REFUND_CANCELED)
DEFAULT_LIMIT = 200


@dataclass(frozen=True)
class AdminBookingView:
    """A booking with the patient an admin needs to recognise."""

    booking: BookingView
    patient_name: str
    patient_email: str


@dataclass(frozen=True)
class AdminPaymentRow:
    """One payment as the admin list shows it."""

    id: int
    booking_id: int
    kind: str
    status: str
    amount_minor: int
    currency: str
    amount_display: str
    refunded_minor: int
    refunded_display: str
    flagged: bool
    flag_reason: str | None
    patient_id: int
    patient_name: str
    patient_email: str
    doctor_name: str
    starts_at: datetime
    paid_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class CurrencyTotal:
    """The payments of one currency among those a filter matches; currencies are never added."""

    currency: str
    count: int
    paid_minor: int  # what was taken: payments paid, whether refunded since or not
    paid_display: str
    refunded_minor: int
    refunded_display: str
    net_minor: int  # collected less refunded
    net_display: str


@dataclass(frozen=True)
class PaymentList:
    """One page of payments, how many match the filters in all, and their totals per currency."""

    data: list[AdminPaymentRow]
    count: int
    totals: list[CurrencyTotal]


@dataclass(frozen=True)
class WebhookEventRow:
    """A stored Stripe event and what became of it (the payload stays in the database)."""

    id: int
    stripe_event_id: str
    type: str
    status: str
    attempts: int
    error: str | None
    received_at: datetime
    processed_at: datetime | None


@dataclass(frozen=True)
class WebhookEventList:
    """One page of stored events and how many match the filter in all."""

    data: list[WebhookEventRow]
    count: int


def _admin(viewer: User) -> None:
    require_role(viewer, ROLE_ADMIN)


# --- bookings ---


@dataclass(frozen=True)
class BookingFilter:
    """What an admin narrows the bookings list to. `status` is the status a person sees: a
    held booking whose hold has lapsed counts as expired (as `effective_status` shows it)."""

    status: str | None = None
    doctor_id: int | None = None


def booking_conditions(f: BookingFilter) -> list[Any]:
    """The WHERE terms of `f` (a held/expired filter splits held bookings at their hold's end)."""
    terms: list[Any] = []
    if f.status == BOOKING_HELD:
        terms.append(col(Booking.status) == BOOKING_HELD)
        terms.append(
            sa.or_(col(Booking.hold_expires_at).is_(None), col(Booking.hold_expires_at) > utcnow())
        )
    elif f.status == BOOKING_EXPIRED:
        terms.append(
            sa.or_(
                col(Booking.status) == BOOKING_EXPIRED,
                sa.and_(
                    col(Booking.status) == BOOKING_HELD,
                    col(Booking.hold_expires_at).is_not(None),
                    col(Booking.hold_expires_at) <= utcnow(),
                ),
            )
        )
    elif f.status:
        terms.append(col(Booking.status) == f.status)
    if f.doctor_id is not None:
        terms.append(col(Booking.doctor_id) == f.doctor_id)
    return terms


def recent_bookings(
    session: Session,
    viewer: User,
    *,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    filters: BookingFilter | None = None,
    count: int | None = None,
) -> list[AdminBookingView]:
    """Newest bookings first, with their effective status (a lapsed hold shows expired).

    The page's ids come from the (created_at, id) index first (a deep page from its other end,
    when `count` is known); only those rows are joined.
    """
    _admin(viewer)
    page = page_of_ids(
        session,
        select(Booking.id).where(*booking_conditions(filters or BookingFilter())),
        newest_first=(col(Booking.created_at).desc(), col(Booking.id).desc()),
        oldest_first=(col(Booking.created_at).asc(), col(Booking.id).asc()),
        offset=offset,
        limit=limit,
        count=count,
    )
    if not page:
        return []
    doctor_user = sa.orm.aliased(User)
    patient = sa.orm.aliased(User)
    rows = session.exec(
        select(Booking, patient, Doctor, doctor_user)
        .join(patient, patient.id == Booking.patient_id)
        .join(Doctor, col(Doctor.id) == col(Booking.doctor_id))
        .join(doctor_user, doctor_user.id == Doctor.user_id)
        .where(col(Booking.id).in_(page))
    ).all()
    by_id = {row[0].id: row for row in rows}
    now = utcnow()
    return [
        AdminBookingView(booking_view_of(b, d, du, now), p.full_name, p.email)
        for b, p, d, du in (by_id[i] for i in page if i in by_id)
    ]


@dataclass(frozen=True)
class BookingList:
    """One page of bookings, newest first, and how many match the filter in all."""

    data: list[AdminBookingView]
    count: int


def booking_count(session: Session, viewer: User, filters: BookingFilter | None = None) -> int:
    """How many bookings match `filters`."""
    _admin(viewer)
    terms = booking_conditions(filters or BookingFilter())
    return int(session.exec(select(func.count()).select_from(Booking).where(*terms)).one())


def booking_list(
    session: Session,
    viewer: User,
    *,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    filters: BookingFilter | None = None,
) -> BookingList:
    """A page of `recent_bookings` and the number of bookings the filter matches (the list once
    had no limit)."""
    count = booking_count(session, viewer, filters)
    data = recent_bookings(
        session, viewer, limit=limit, offset=offset, filters=filters, count=count
    )
    return BookingList(data=data, count=count)


def booking_status_counts(session: Session, viewer: User) -> dict[str, int]:
    """How many bookings are in each status as shown (lapsed holds as expired), one grouped
    query; statuses without bookings are left out."""
    _admin(viewer)
    now = utcnow()
    rows = session.exec(select(Booking.status, func.count()).group_by(Booking.status)).all()
    counts = {str(status): int(n) for status, n in rows}
    # Stored status first (an index alone), then the few held ones whose hold has lapsed.
    lapsed = int(
        session.exec(
            select(func.count())
            .select_from(Booking)
            .where(
                col(Booking.status) == BOOKING_HELD,
                col(Booking.hold_expires_at).is_not(None),
                col(Booking.hold_expires_at) <= now,
            )
        ).one()
    )
    if lapsed:
        lapsed = min(lapsed, counts.get(BOOKING_HELD, 0))
        counts[BOOKING_HELD] = counts.get(BOOKING_HELD, 0) - lapsed
        counts[BOOKING_EXPIRED] = counts.get(BOOKING_EXPIRED, 0) + lapsed
    return {status: n for status, n in counts.items() if n}


PAGE_SIZE = 50  # rows a page of the /admin lists shows


def page_count(count: int, per_page: int = PAGE_SIZE) -> int:
    """Pages needed for `count` rows (one, empty, when there are none)."""
    return max(1, -(-count // per_page))


def clamp_page(page: int, count: int, per_page: int = PAGE_SIZE) -> tuple[int, str]:
    """`page` if it exists, else the last page and a sentence saying so."""
    last = page_count(count, per_page)
    if page <= last:
        return page, ""
    shown = str(page) if page < 10**12 else "that far"
    return last, f"There is no page {shown}; showing page {last} of {last}."


@dataclass(frozen=True)
class BookingPage:
    """The bookings a page of /admin shows: rows, how many match, which page of how many."""

    data: list[AdminBookingView]
    count: int
    page: int
    pages: int
    notice: str  # "" or why another page than the one asked is shown


def booking_page(
    session: Session,
    viewer: User,
    filters: BookingFilter,
    page: int,
    per_page: int = PAGE_SIZE,
) -> BookingPage:
    """Page `page` (from 1) of the bookings `filters` match; past the end, the last page. The
    count comes first, so an offset is never past the rows (nor past an integer column)."""
    count = booking_count(session, viewer, filters)
    page, notice = clamp_page(page, count, per_page)
    data = recent_bookings(
        session, viewer, limit=per_page, offset=(page - 1) * per_page, filters=filters,
        count=count,
    )  # fmt: skip
    return BookingPage(data, count, page, page_count(count, per_page), notice)


# --- payments ---


def payment_query() -> Any:
    doctor_user = sa.orm.aliased(User)
    patient = sa.orm.aliased(User)
    return (
        select(Payment, Booking, patient, doctor_user)
        .select_from(Payment)
        .join(Booking, col(Booking.id) == col(Payment.booking_id))
        .join(patient, patient.id == Booking.patient_id)
        .join(Doctor, col(Doctor.id) == col(Booking.doctor_id))
        .join(doctor_user, doctor_user.id == Doctor.user_id)
    )


def payment_row(
    payment: Payment, booking: Booking, patient: User, doctor_user: User
) -> AdminPaymentRow:
    return build(
        AdminPaymentRow,
        payment,
        booking_id=booking.id,
        amount_display=format_money(payment.amount_minor, payment.currency),
        refunded_minor=payment.amount_refunded_minor,
        refunded_display=format_money(payment.amount_refunded_minor, payment.currency),
        patient_id=patient.id,
        patient_name=patient.full_name,
        patient_email=patient.email,
        doctor_name=doctor_user.full_name,
        starts_at=booking.starts_at,
    )


DATE_CREATED, DATE_PAID = "created_at", "paid_at"  # what a date range applies to
SEARCH_MAX = 200  # characters of a search; longer cannot be an email or a Stripe id
SEARCH_PATIENTS_MAX = 100  # addresses an email search may match; more is refused as too vague


@dataclass(frozen=True)
class PaymentFilter:
    """What an admin narrows the payment list to; every field optional, all of them ANDed.

    `date_from`/`date_to` are whole days in `tz` (the clinic's), both included, applied to
    `created_at` or, with `date_field="paid_at"`, to `paid_at`. `q` is one search box: `cs_...` is a
    Checkout Session id, `pi_...` a PaymentIntent id (both exact), digits (or `#12`) a booking id,
    anything else a part of the patient's email (case-insensitive; a part of more than
    SEARCH_PATIENTS_MAX addresses is refused, see `check_search`).
    """

    status: str | None = None
    doctor_id: int | None = None
    currency: str | None = None
    date_field: str = DATE_CREATED
    date_from: date | None = None
    date_to: date | None = None
    flagged: bool = False
    q: str | None = None
    tz: str = "UTC"


DATE_FIELDS = (DATE_CREATED, DATE_PAID)
# Days a filter may name: far enough for any clinic, near enough that midnight in any zone exists.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2199, 12, 31)


def _day_start(day: date, tz: str) -> datetime:
    """Midnight of `day` in `tz`, in UTC (a DST day has 23 or 25 hours, so not day * 24 h)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def payment_conditions(f: PaymentFilter) -> tuple[list[Any], bool]:
    """The WHERE terms of `f`, and whether they need the booking (and patient) joined."""
    terms: list[Any] = []
    needs_booking = False
    if f.flagged:
        terms.append(col(Payment.flagged).is_(True))
    if f.status:
        if f.status not in PAYMENT_STATUSES:
            raise ValidationFailed(
                f"Unknown payment status {f.status!r}; use one of {', '.join(PAYMENT_STATUSES)}."
            )
        terms.append(Payment.status == f.status)
    if f.currency:
        terms.append(Payment.currency == f.currency.upper())
    if f.doctor_id is not None:
        terms.append(col(Payment.doctor_id) == f.doctor_id)
    if f.date_field not in DATE_FIELDS:
        raise ValidationFailed(f"Unknown date field {f.date_field!r}; use created_at or paid_at.")
    for day in (f.date_from, f.date_to):
        if day and not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationFailed(f"Dates run from {FIRST_DAY} to {LAST_DAY}; {day} is outside.")
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise ValidationFailed("The date range ends before it starts.")
    column = col(Payment.paid_at) if f.date_field == DATE_PAID else col(Payment.created_at)
    if f.date_from:
        terms.append(column >= _day_start(f.date_from, f.tz))
    if f.date_to:
        terms.append(column < _day_start(f.date_to + timedelta(days=1), f.tz))
    q = (f.q or "").strip()
    if len(q) > SEARCH_MAX:
        raise ValidationFailed(f"A search has at most {SEARCH_MAX} characters.")
    if q:
        digits = q.removeprefix("#")
        if q.startswith("cs_"):
            terms.append(Payment.stripe_checkout_session_id == q)
        elif q.startswith("pi_"):
            terms.append(Payment.stripe_payment_intent_id == q)
        elif digits.isascii() and digits.isdigit():
            booking_id = int(digits)
            terms.append(Payment.booking_id == (booking_id if booking_id <= MAX_ID else -1))
        else:
            pattern = _email_pattern(q)
            patients = select(User.id).where(func.lower(User.email).like(pattern, escape="\\"))
            terms.append(col(Booking.patient_id).in_(patients))
            needs_booking = True
    return terms, needs_booking


def _email_pattern(q: str) -> str:
    return f"%{escape_like(q.lower())}%"


def check_search(session: Session, f: PaymentFilter) -> None:
    """An email search must name a few patients: a part of more than SEARCH_PATIENTS_MAX
    addresses ("example.com") is refused with a 4xx before any payment is read, as it would join
    every booking (0.8 s at 100 000 payments). Ids and booking numbers are always fine."""
    q = (f.q or "").strip()
    digits = q.removeprefix("#")
    if not q or q.startswith(("cs_", "pi_")) or (digits.isascii() and digits.isdigit()):
        return
    matched = (
        select(User.id)
        .where(func.lower(User.email).like(_email_pattern(q), escape="\\"))
        .limit(SEARCH_PATIENTS_MAX + 1)
        .subquery()
    )
    if session.exec(select(func.count()).select_from(matched)).one() > SEARCH_PATIENTS_MAX:
        raise ValidationFailed(
            f"The search is part of more than {SEARCH_PATIENTS_MAX} email addresses; "
            "type more of the patient's email (or a booking, Checkout Session or PaymentIntent id)."
        )


def list_payments(
    session: Session,
    viewer: User,
    filters: PaymentFilter | None = None,
    *,
    flagged_only: bool = False,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    count: int | None = None,
) -> list[AdminPaymentRow]:
    """Payments, newest first; `flagged_only` keeps those refunded automatically or mismatched.

    The page's ids are found first on the payments' own index (created_at, id), then only those
    50 rows are joined: a deep page (offset 50 000) skips index entries, not joined rows. When
    the caller knows how many match (`count`), a page in the older half is read from the other
    end of the index (`paging.page_of_ids`).
    """
    _admin(viewer)
    f = filters or PaymentFilter(flagged=flagged_only, status=status)
    terms, needs_booking = payment_conditions(f)
    check_search(session, f)
    ids = select(Payment.id)
    if needs_booking:
        ids = ids.join(Booking, col(Booking.id) == col(Payment.booking_id))
    page = page_of_ids(
        session,
        ids.where(*terms),
        newest_first=(col(Payment.created_at).desc(), col(Payment.id).desc()),
        oldest_first=(col(Payment.created_at).asc(), col(Payment.id).asc()),
        offset=offset,
        limit=limit,
        count=count,
    )
    if not page:
        return []
    found = session.exec(payment_query().where(col(Payment.id).in_(page))).all()
    by_id = {row[0].id: row for row in found}
    return [payment_row(*by_id[i]) for i in page if i in by_id]


def _summary_terms(f: PaymentFilter) -> list[Any] | None:
    """`f` as terms on `payment_totals`, or None when it filters on more than that table holds
    (dates, a search)."""
    if f.date_from or f.date_to or (f.q or "").strip():
        return None
    terms: list[Any] = []
    if f.flagged:
        terms.append(col(PaymentTotal.flagged).is_(True))
    if f.status:
        terms.append(col(PaymentTotal.status) == f.status)
    if f.currency:
        terms.append(col(PaymentTotal.currency) == f.currency.upper())
    if f.doctor_id is not None:
        terms.append(col(PaymentTotal.doctor_id) == f.doctor_id)
    return terms


def payment_totals(
    session: Session, viewer: User, filters: PaymentFilter
) -> tuple[int, list[CurrencyTotal]]:
    """How many payments match and their sums per currency, in one grouped query (the count is
    the sum of the groups', so the rows are not counted by a second scan). A filter of status,
    currency, doctor and flag alone reads the few rows of `payment_totals` (kept by triggers in
    every payment's transaction) instead of the payments; with dates or a search, the payments."""
    _admin(viewer)
    terms, needs_booking = payment_conditions(filters)
    check_search(session, filters)
    summary = _summary_terms(filters)
    if summary is not None:
        took = case(
            (col(PaymentTotal.status).in_(PAID_STATUSES), PaymentTotal.amount_minor), else_=0
        )
        query = (
            select(
                PaymentTotal.currency,
                func.coalesce(func.sum(PaymentTotal.n), 0),
                func.coalesce(func.sum(took), 0),
                func.coalesce(func.sum(PaymentTotal.refunded_minor), 0),
            )
            .where(*summary)
            .group_by(PaymentTotal.currency)
            .having(func.sum(PaymentTotal.n) > 0)
            .order_by(PaymentTotal.currency)
        )
    else:
        took = case((col(Payment.status).in_(PAID_STATUSES), Payment.amount_minor), else_=0)
        query = select(
            Payment.currency,
            func.count(),
            func.coalesce(func.sum(took), 0),
            func.coalesce(func.sum(Payment.amount_refunded_minor), 0),
        ).select_from(Payment)
        if needs_booking:
            query = query.join(Booking, col(Booking.id) == col(Payment.booking_id))
        query = query.where(*terms).group_by(Payment.currency).order_by(Payment.currency)
    sums = session.exec(query).all()
    totals = [
        CurrencyTotal(
            currency=currency,
            count=int(n),
            paid_minor=int(paid),
            paid_display=format_money(int(paid), currency),
            refunded_minor=int(refunded),
            refunded_display=format_money(int(refunded), currency),
            net_minor=int(paid) - int(refunded),
            net_display=format_money(int(paid) - int(refunded), currency),
        )
        for currency, n, paid, refunded in sums
    ]
    return sum(t.count for t in totals), totals


def payment_list(
    session: Session,
    viewer: User,
    filters: PaymentFilter | None = None,
    *,
    flagged_only: bool = False,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> PaymentList:
    """A page of `list_payments`, with the count and the per-currency totals of all it matches."""
    f = filters or PaymentFilter(flagged=flagged_only, status=status)
    count, totals = payment_totals(session, viewer, f)
    rows = list_payments(session, viewer, f, limit=limit, offset=offset, count=count)
    return PaymentList(data=rows, count=count, totals=totals)


@dataclass(frozen=True)
class PaymentPage:
    """The payments a page of /admin shows: rows, count and totals, which page of how many."""

    data: list[AdminPaymentRow]
    count: int
    totals: list[CurrencyTotal]
    page: int
    pages: int
    notice: str  # "" or why another page than the one asked is shown


def payment_page(
    session: Session,
    viewer: User,
    filters: PaymentFilter,
    page: int,
    per_page: int = PAGE_SIZE,
) -> PaymentPage:
    """Page `page` (from 1) of `payment_list`; past the end, the last page (totals first, so the
    offset asked of the database is always one that exists)."""
    count, totals = payment_totals(session, viewer, filters)
    page, notice = clamp_page(page, count, per_page)
    rows = list_payments(
        session, viewer, filters, limit=per_page, offset=(page - 1) * per_page, count=count
    )
    return PaymentPage(rows, count, totals, page, page_count(count, per_page), notice)


# --- webhooks ---


def _event_filters(status: str | None) -> list[Any]:
    if not status:
        return []
    if status not in EVENT_STATUSES:
        raise ValidationFailed(
            f"Unknown event status {status!r}; use one of {', '.join(EVENT_STATUSES)}."
        )
    return [WebhookEvent.status == status]


def list_webhook_events(
    session: Session,
    viewer: User,
    *,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> list[WebhookEventRow]:
    """Stored Stripe events, newest first, optionally only processed / ignored / failed ones."""
    _admin(viewer)
    query = (
        select(WebhookEvent)
        .where(*_event_filters(status))
        .order_by(col(WebhookEvent.received_at).desc(), col(WebhookEvent.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return [
        WebhookEventRow(
            id=e.id,
            stripe_event_id=e.stripe_event_id,
            type=e.type,
            status=e.status,
            attempts=e.attempts,
            error=e.error,
            received_at=e.received_at,
            processed_at=e.processed_at,
        )
        for e in session.exec(query).all()
    ]


def webhook_event_list(
    session: Session,
    viewer: User,
    *,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> WebhookEventList:
    """A page of `list_webhook_events`, with how many events match the filter in all."""
    rows = list_webhook_events(session, viewer, status=status, limit=limit, offset=offset)
    count = session.exec(
        select(func.count()).select_from(WebhookEvent).where(*_event_filters(status))
    ).one()
    return WebhookEventList(data=rows, count=int(count))


def webhook_status_counts(session: Session, viewer: User) -> dict[str, int]:
    """How many stored events are in each status (every status present, zeros included)."""
    _admin(viewer)
    counts = dict.fromkeys(EVENT_STATUSES, 0)
    rows = session.exec(
        select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
    ).all()
    for status, n in rows:
        counts[status] = int(n)
    return counts
