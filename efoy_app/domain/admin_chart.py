"""Money per clinic day for the payments a filter matches: what was taken and what was refunded.

One currency at a time (amounts of two currencies are never drawn on one axis): the filter's, or
else the one most of the matching payments are in. Taken is a paid payment's amount on the day it
was paid; refunded is a succeeded refund's amount on the day it was asked. Days are the clinic's
and are cut in SQL at the UTC instants of the clinic's midnights (a daylight-saving day has 23 or
25 hours), the same cut `admin_views` uses for its date filters. At most `MAX_DAYS` are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from efoy_app.domain.admin_views import (
    CurrencyTotal,
    PaymentFilter,
    _admin,
    _day_start,
    payment_conditions,
)
from efoy_app.domain.money import format_money, to_major
from efoy_app.models import PAID_STATUSES, REFUND_SUCCEEDED, Booking, Payment, Refund, User

MAX_DAYS = 92


@dataclass(frozen=True)
class DayAmounts:
    """One clinic day of the chart."""

    day: date
    paid_count: int
    paid_minor: int
    refunded_count: int
    refunded_minor: int


@dataclass(frozen=True)
class PaymentChart:
    """The days from `first` to `last` (both included, every day present, zeros too)."""

    currency: str | None  # None: nothing matches, so there is nothing to draw
    currency_reason: str  # "the filter's currency" / "the most common currency of ..."
    first: date
    last: date
    clipped: bool  # the filter's range was longer than MAX_DAYS: its last days are shown
    days: list[DayAmounts]

    def major(self, minor: int) -> float:
        """An amount in major units for the chart's axis (display only: never summed again)."""
        return float(to_major(minor, self.currency or "USD"))

    def money(self, minor: int) -> str:
        return format_money(minor, self.currency or "USD")


def chart_window(f: PaymentFilter, today: date) -> tuple[date, date, bool]:
    """The days to draw: the filter's range, else the MAX_DAYS up to today; a longer range keeps
    its last MAX_DAYS days (and says it was clipped)."""
    last = f.date_to or max(today, f.date_from or today)
    first = f.date_from or last - timedelta(days=MAX_DAYS - 1)
    clipped = (last - first).days + 1 > MAX_DAYS
    if clipped:
        first = last - timedelta(days=MAX_DAYS - 1)
    return first, last, clipped


def chart_currency(f: PaymentFilter, totals: list[CurrencyTotal]) -> tuple[str | None, str]:
    """The currency to draw and why: the filter's, else the most common among the matches."""
    if f.currency:
        return f.currency.upper(), "the filter's currency"
    if not totals:
        return None, "no payment matches"
    if len(totals) == 1:
        return totals[0].currency, "the only currency of these payments"
    top = max(totals, key=lambda t: (t.count, t.currency))
    return top.currency, f"the most common of {len(totals)} currencies among these payments"


def _bucket(moment: Any, starts: list[Any]) -> Any:
    """Which day of the window `moment` falls on (0 for the first), as a SQL CASE over the UTC
    instants at which each following day begins."""
    if len(starts) == 1:  # a one-day window: a CASE needs at least one WHEN
        return sa.literal_column("0")
    return sa.case(
        *((moment < start, i) for i, start in enumerate(starts[1:])), else_=len(starts) - 1
    )


def payment_chart(
    session: Session,
    viewer: User,
    f: PaymentFilter,
    totals: list[CurrencyTotal],
    today: date,
) -> PaymentChart:
    """Per clinic day of the window: payments taken and refunds succeeded, in one currency."""
    _admin(viewer)
    first, last, clipped = chart_window(f, today)
    currency, reason = chart_currency(f, totals)
    n = (last - first).days + 1
    empty = [DayAmounts(first + timedelta(days=i), 0, 0, 0, 0) for i in range(n)]
    if currency is None:
        return PaymentChart(None, reason, first, last, clipped, empty)
    starts = [_day_start(first + timedelta(days=i), f.tz) for i in range(n + 1)]
    terms, needs_booking = payment_conditions(f)
    terms.append(col(Payment.currency) == currency)

    def grouped(moment: Any, amount: Any, base: Any, extra: list[Any]) -> dict[int, tuple]:
        # Grouped by its name: PostgreSQL would not match two copies of a CASE with parameters.
        day = _bucket(moment, starts[:-1]).label("day_index")
        query = select(day, func.count(), func.coalesce(func.sum(amount), 0)).select_from(base)
        if base is Refund:
            query = query.join(Payment, col(Payment.id) == col(Refund.payment_id))
        if needs_booking:
            query = query.join(Booking, col(Booking.id) == col(Payment.booking_id))
        query = query.where(*terms, *extra, moment >= starts[0], moment < starts[-1])
        rows = session.exec(query.group_by(sa.text("day_index"))).all()
        return {int(i): (int(c), int(s)) for i, c, s in rows}

    paid = grouped(
        col(Payment.paid_at),
        col(Payment.amount_minor),
        Payment,
        [col(Payment.status).in_(PAID_STATUSES)],
    )
    refunded = grouped(
        col(Refund.created_at),
        col(Refund.amount_minor),
        Refund,
        [col(Refund.status) == REFUND_SUCCEEDED],
    )
    days = [
        DayAmounts(d.day, *paid.get(i, (0, 0)), *refunded.get(i, (0, 0)))
        for i, d in enumerate(empty)
    ]
    return PaymentChart(currency, reason, first, last, clipped, days)
