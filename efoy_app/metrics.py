"""What `GET /api/v1/metrics` exposes to Prometheus.

Most figures are read from the database at scrape time (`DatabaseCollector`), so every worker
answers the same numbers whichever one the scrape reaches: webhook events by type and status,
failed events, processing latency, payments by status, refunds, the email outbox's backlog and
age. Only the reconciliation passes are counted in process (nothing stores a pass): Counters that
`efoy_app/reconcile.py` increments. With several workers set PROMETHEUS_MULTIPROC_DIR to an empty
folder shared by them, and prometheus_client adds up every worker's counts.

Labels are statuses, currencies and Stripe event types only: never an id, an email or a secret.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col, func, select

from efoy_app.domain import alerts
from efoy_app.health import read_backlog
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import (
    EMAIL_FAILED,
    EMAIL_QUEUED,
    EMAIL_SENDING,
    REFUND_PENDING,
    OutboxEmail,
    Payment,
    PaymentTotal,
    Refund,
    WebhookEvent,
    utcnow,
)

log = get_logger("metrics")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_SAMPLE = 1000  # the most recent processed events the latency quantiles are taken over
QUANTILES = (0.5, 0.9, 0.99, 1.0)
OUTBOX_WATCHED = (EMAIL_QUEUED, EMAIL_SENDING, EMAIL_FAILED)
RECONCILE_FIXES = ("payments_fulfilled", "holds_released", "events_retried", "refunds_submitted")
RECONCILE_OUTCOMES = ("completed", "skipped", "error")

# --- counted in process: reconciliation passes ------------------------------------------------

disable_created_metrics()  # no `*_created` twin of every counter: nothing here reads them
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=PROCESS_REGISTRY)  # process_* (memory, CPU, start time): Linux only
RECONCILE_RUNS = Counter(
    "efoy_reconcile_runs",
    "Reconciliation passes by outcome (skipped: another worker held the lock).",
    ["outcome"],
    registry=PROCESS_REGISTRY,
)
RECONCILE_FIXED = Counter(
    "efoy_reconcile_fixed",
    "What reconciliation passes set right: payments fulfilled, holds released, failed webhook "
    "events processed again, refunds sent to Stripe again.",
    ["what"],
    registry=PROCESS_REGISTRY,
)
RECONCILE_PROBLEMS = Counter(
    "efoy_reconcile_problems",
    "Items a reconciliation pass could not settle (still failing events, refunds still queued).",
    registry=PROCESS_REGISTRY,
)
RECONCILE_LAST = Gauge(
    "efoy_reconcile_last_completed_timestamp_seconds",
    "When the last completed reconciliation pass ended (Unix time).",
    registry=PROCESS_REGISTRY,
    multiprocess_mode="max",
)
for _outcome in RECONCILE_OUTCOMES:
    RECONCILE_RUNS.labels(_outcome)
for _what in RECONCILE_FIXES:
    RECONCILE_FIXED.labels(_what)


def record_reconcile(
    *,
    skipped: bool,
    fulfilled: int = 0,
    holds_released: int = 0,
    events_retried: int = 0,
    refunds_submitted: int = 0,
    problems: int = 0,
) -> None:
    """Count one pass that ran to its end (or was skipped) and what it fixed."""
    if skipped:
        RECONCILE_RUNS.labels("skipped").inc()
        return
    RECONCILE_RUNS.labels("completed").inc()
    for what, n in zip(
        RECONCILE_FIXES,
        (fulfilled, holds_released, events_retried, refunds_submitted),
        strict=True,
    ):
        if n:
            RECONCILE_FIXED.labels(what).inc(n)
    if problems:
        RECONCILE_PROBLEMS.inc(problems)
    RECONCILE_LAST.set(utcnow().timestamp())


def record_reconcile_error() -> None:
    """Count a pass that raised (the loop logs it and tries again next interval)."""
    RECONCILE_RUNS.labels("error").inc()


# --- read from the database at scrape time ----------------------------------------------------


def quantiles(values: Sequence[float], qs: Iterable[float] = QUANTILES) -> dict[float, float]:
    """Nearest-rank quantiles of `values` (empty: none)."""
    ordered = sorted(values)
    if not ordered:
        return {}
    n = len(ordered)
    return {q: ordered[min(n - 1, max(0, math.ceil(q * n) - 1))] for q in qs}


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


class DatabaseCollector(Collector):
    """Gauges computed from the tables on each scrape: a handful of GROUP BY / COUNT queries on
    one connection. When the database cannot be read, `efoy_database_up` is 0 and the other
    database figures are left out (a scrape still answers)."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        grace_seconds: Callable[[], int] = lambda: 120,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._grace_seconds = grace_seconds
        self._now = now

    def describe(self) -> list[Metric]:
        return []  # figures depend on the data; nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        now = self._now()
        up = GaugeMetricFamily("efoy_database_up", "1 when the database answered this scrape.")
        try:
            with self._engine().connect() as conn:
                families = list(self._families(conn, now))
        except Exception as exc:
            log_kv(log, "metrics.database_error", level=logging.WARNING, error=type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, conn: Connection, now: datetime) -> Iterable[Metric]:
        yield from self._webhooks(conn, now)
        yield from self._payments(conn, now)
        yield from self._refunds(conn, now)
        yield from self._outbox(conn, now)

    def _webhooks(self, conn: Connection, now: datetime) -> Iterable[Metric]:
        events = GaugeMetricFamily(
            "efoy_webhook_events",
            "Stored Stripe webhook events by type and status (received, processed, ignored, "
            "failed).",
            labels=["type", "status"],
        )
        rows = conn.execute(
            select(WebhookEvent.type, WebhookEvent.status, func.count()).group_by(
                WebhookEvent.type, WebhookEvent.status
            )
        ).all()
        for event_type, status, n in sorted(rows, key=lambda r: (r[0], r[1])):
            events.add_metric([event_type, status], n)
        yield events

        failed = GaugeMetricFamily(
            "efoy_webhook_events_failed_recent",
            "Webhook events whose processing failed, received in the last 24 hours (the admin "
            "banner's alert).",
        )
        failed.add_metric(
            [],
            conn.execute(
                select(func.count())
                .select_from(WebhookEvent)
                .where(*alerts.failed_event_terms(now))
            ).scalar_one(),
        )
        yield failed

        timings = conn.execute(
            select(WebhookEvent.received_at, WebhookEvent.processed_at)
            .where(col(WebhookEvent.processed_at).is_not(None))
            .order_by(col(WebhookEvent.id).desc())
            .limit(LATENCY_SAMPLE)
        ).all()
        seconds = [max(0.0, (done - got).total_seconds()) for got, done in timings]
        latency = GaugeMetricFamily(
            "efoy_webhook_processing_seconds",
            f"From an event's arrival to the end of its processing, over the last "
            f"{LATENCY_SAMPLE} processed events (quantile 1 is the slowest).",
            labels=["quantile"],
        )
        for q, value in quantiles(seconds).items():
            latency.add_metric([_q(q)], value)
        yield latency
        sample = GaugeMetricFamily(
            "efoy_webhook_processing_sample_events",
            "How many processed events the latency quantiles are taken over.",
        )
        sample.add_metric([], len(seconds))
        yield sample

    def _payments(self, conn: Connection, now: datetime) -> Iterable[Metric]:
        payments = GaugeMetricFamily(
            "efoy_payments",
            "Payments by status and currency (from the trigger-kept payment_totals table).",
            labels=["status", "currency"],
        )
        rows = conn.execute(
            select(PaymentTotal.status, PaymentTotal.currency, func.sum(PaymentTotal.n))
            .group_by(PaymentTotal.status, PaymentTotal.currency)
            .order_by(PaymentTotal.status, PaymentTotal.currency)
        ).all()
        flagged_n = conn.execute(
            select(func.coalesce(func.sum(PaymentTotal.n), 0)).where(
                col(PaymentTotal.flagged).is_(True)
            )
        ).scalar_one()
        for status, currency, n in rows:
            if n:
                payments.add_metric([status, currency], int(n))
        yield payments
        flagged = GaugeMetricFamily(
            "efoy_payments_flagged",
            "Payments flagged for an admin (e.g. paid after the slot went).",
        )
        flagged.add_metric([], int(flagged_n))
        yield flagged
        stale = GaugeMetricFamily(
            "efoy_payments_stale",
            "Payments still pending past the reconciliation grace after their hold ended (the "
            "admin banner's alert).",
        )
        stale.add_metric(
            [],
            conn.execute(
                select(func.count())
                .select_from(Payment)
                .where(*alerts.stale_payment_terms(now, self._grace_seconds()))
            ).scalar_one(),
        )
        yield stale

    def _refunds(self, conn: Connection, now: datetime) -> Iterable[Metric]:
        refunds = GaugeMetricFamily(
            "efoy_refunds",
            "Refunds by status (pending, succeeded, failed, canceled).",
            labels=["status"],
        )
        rows = conn.execute(
            select(Refund.status, func.count(), func.min(Refund.created_at))
            .group_by(Refund.status)
            .order_by(Refund.status)
        ).all()
        oldest_pending = None
        for status, n, oldest in rows:
            refunds.add_metric([status], n)
            if status == REFUND_PENDING:
                oldest_pending = oldest
        yield refunds
        age = GaugeMetricFamily(
            "efoy_refunds_pending_oldest_age_seconds",
            "How long the oldest pending refund has waited for Stripe's answer (0: none).",
        )
        age.add_metric([], _age(now, oldest_pending))
        yield age

    def _outbox(self, conn: Connection, now: datetime) -> Iterable[Metric]:
        by_status = GaugeMetricFamily(
            "efoy_outbox_emails",
            "Outbox emails not sent: queued, sending (claimed by a sender) and failed (given up).",
            labels=["status"],
        )
        counts = dict(
            conn.execute(
                select(OutboxEmail.status, func.count())
                .where(col(OutboxEmail.status).in_(OUTBOX_WATCHED))
                .group_by(OutboxEmail.status)
            ).all()
        )
        for status in OUTBOX_WATCHED:
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        backlog = read_backlog(conn)
        size = GaugeMetricFamily(
            "efoy_outbox_backlog", "Emails waiting to be sent (queued+sending)."
        )
        size.add_metric([], backlog.count)
        yield size
        age = GaugeMetricFamily(
            "efoy_outbox_oldest_age_seconds",
            "How long the oldest unsent email has waited (0: none).",
        )
        age.add_metric([], backlog.oldest_age_seconds(now))
        yield age


def _q(q: float) -> str:
    return "1" if q == 1.0 else str(q)


def exposition(collector: Collector) -> bytes:
    """The text format: the database figures and the reconciliation counters (every worker's,
    added up, when PROMETHEUS_MULTIPROC_DIR is set)."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    registry.register(collector)
    return generate_latest(registry)


class _ProcessMetrics(Collector):
    """This process's own registry, read through (a registry cannot be registered in another)."""

    def collect(self) -> Iterable[Metric]:
        yield from PROCESS_REGISTRY.collect()
