"""Delivering the outbox over SMTP: claim due rows, send them through one connection, mark them.

A pass (`send_due`) runs on every worker at once (the app's lifespan task) and from
`python -m efoy_app.mail_sender`; the claim makes them share the work:

1. reminders that have fallen due are queued (`reminders.queue_due_reminders`);
2. `claim_due` marks up to `limit` due rows `sending` with a lease (`claimed_until`) and
   counts the attempt, and commits, before any network call; two senders never claim one row
   (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one `UPDATE ... RETURNING` under the write
   lock that `BEGIN IMMEDIATE` takes);
3. each message is sent and marked at once in its own short transaction: `sent`, or `queued`
   again with a back-off (`backoff_seconds`) and the error, or `failed` after
   EFOY_MAIL_MAX_ATTEMPTS attempts. A recipient the server refuses permanently (5xx to RCPT)
   fails at once: retrying cannot change that answer. A message that cannot even be built
   fails at once too.

Delivery is exactly once in normal operation and at least once across a crash: a sender killed
after the server accepted a message but before it marked the row leaves the row `sending`; once
its lease ends another sender claims it and sends it again. The Message-ID is made when the row
is queued and reused on every attempt, so a receiving server (or person) can drop the duplicate.
A sender whose pass runs past its lease stops and hands the rest back rather than race the
sender that would reclaim them; each mark is guarded by the claim (its attempt number), so a
stale sender never overwrites a newer claim's outcome.

Nothing here logs a body, an address or the SMTP password; errors stored on the row are
short, one line, with the password removed should a server ever echo it.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import sqlalchemy as sa
from sqlmodel import Session, col, select

from efoy_app.db import get_engine
from efoy_app.domain import reminders
from efoy_app.domain.mailer import sender_domain
from efoy_app.logs import get_logger, log_kv
from efoy_app.models import (
    EMAIL_FAILED,
    EMAIL_QUEUED,
    EMAIL_SENDING,
    EMAIL_SENT,
    OutboxAttachment,
    OutboxEmail,
    utcnow,
)
from efoy_app.settings import Settings, get_settings

log = get_logger("mail")

MAX_BACKOFF_SECONDS = 3600.0
ERROR_MAX = 300
MIN_LEASE_SECONDS = 60.0
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@dataclass
class SendReport:
    """What one pass did (`claimed` = sent + retried + failed + released + lost)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0  # handed back unsent: the pass ran out of its lease
    # Outcomes not written: another sender had reclaimed the row after this claim's lease.
    lost: int = 0
    reminders_queued: int = 0


def backoff_seconds(attempts: int, retry_seconds: float, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """How long to wait after the `attempts`-th failed attempt: retry, 2×, 4×, … capped (an
    hour by default), so a long outage is retried hourly, not hammered."""
    exponent = min(max(attempts, 1) - 1, 60)  # 2**60 × anything already exceeds any cap
    return min(cap, retry_seconds * 2**exponent)


def lease_seconds(settings: Settings, limit: int) -> float:
    """How long a claim holds: room for every message of a full batch to use its timeout twice
    (connect + data), and never under a minute."""
    return max(MIN_LEASE_SECONDS, settings.smtp_timeout_seconds * 2 * (limit + 1))


def _due(now: datetime) -> sa.ColumnElement[bool]:
    queued = sa.and_(
        col(OutboxEmail.status) == EMAIL_QUEUED, col(OutboxEmail.next_attempt_at) <= now
    )
    abandoned = sa.and_(
        col(OutboxEmail.status) == EMAIL_SENDING, col(OutboxEmail.claimed_until) < now
    )
    return sa.or_(queued, abandoned)


def claim_due(db: Session, now: datetime, limit: int, lease_seconds: float) -> list[int]:
    """Claims up to `limit` due rows (queued and due, or `sending` under a lapsed lease: a
    crashed sender's) for this sender, counting the attempt; commits. Returns their ids.

    Two senders at once never get the same row: PostgreSQL skips rows another claim has
    locked; SQLite runs the claim as one UPDATE inside BEGIN IMMEDIATE (one writer at a time)."""
    values = {
        "status": EMAIL_SENDING,
        "claimed_until": now + timedelta(seconds=lease_seconds),
        "attempts": col(OutboxEmail.attempts) + 1,
    }
    order = (col(OutboxEmail.next_attempt_at), col(OutboxEmail.id))
    try:
        if db.get_bind().dialect.name == "postgresql":
            ids = list(
                db.exec(
                    select(OutboxEmail.id)
                    .where(_due(now))
                    .order_by(*order)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                ).all()
            )
            if ids:
                db.execute(
                    sa.update(OutboxEmail)
                    .where(col(OutboxEmail.id).in_(ids))
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
        else:
            chosen = select(OutboxEmail.id).where(_due(now)).order_by(*order).limit(limit)
            ids = list(
                db.execute(
                    sa.update(OutboxEmail)
                    .where(col(OutboxEmail.id).in_(chosen.scalar_subquery()))
                    .values(**values)
                    .returning(OutboxEmail.id)
                    .execution_options(synchronize_session=False)
                ).scalars()
            )
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return sorted(int(i) for i in ids if i is not None)


def build_message(
    email: OutboxEmail, attachments: Sequence[OutboxAttachment], settings: Settings
) -> EmailMessage:
    """The message as it goes on the wire: text, an HTML alternative when there is one, the
    attachments; the row's own Message-ID and its queueing time as Date, so a retry is the
    same message."""
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = email.to_address
    msg["Subject"] = email.subject
    msg["Message-ID"] = email.message_id
    msg["Date"] = format_datetime(email.created_at)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(email.body)
    if email.html_body:
        msg.add_alternative(email.html_body, subtype="html")
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        if not maintype or not subtype:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.filename)
    return msg


def describe_error(exc: BaseException, settings: Settings) -> str:
    """A short, one-line account of a failed attempt for the row (and the admin outbox page):
    SMTP's own code and words when the server answered, else what went wrong on the way."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, said = next(iter(exc.recipients.values()))
        text = f"SMTP {code} {_text(said)}"
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
    elif isinstance(exc, TimeoutError | socket.timeout):
        text = f"no answer from {settings.smtp_host}:{settings.smtp_port} within the timeout"
    elif isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        text = f"cannot reach {settings.smtp_host}:{settings.smtp_port}: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    if settings.smtp_password is not None:
        secret = settings.smtp_password.get_secret_value()
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reason(exc: BaseException) -> str:
    """For the log line: a code or a class name, never the server's words (they may carry an
    address)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        return f"smtp_{next(iter(exc.recipients.values()))[0]}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"smtp_{exc.smtp_code}"
    return type(exc).__name__


def is_permanent(exc: BaseException) -> bool:
    """A recipient refused with 5xx: the address does not exist or is not accepted there, and
    asking again will not change it. Every other failure (4xx, a 5xx to MAIL or DATA, a network
    error) is retried: a misconfigured relay gets fixed, and the message should survive it."""
    return isinstance(exc, smtplib.SMTPRecipientsRefused) and all(
        500 <= code < 600 for code, _ in exc.recipients.values()
    )


def open_smtp(settings: Settings) -> smtplib.SMTP:
    """A connection ready to send: implicit TLS when SMTP_SSL, else STARTTLS whenever the
    server offers it (certificates verified against the system's CAs, or $SSL_CERT_FILE); logged
    in when SMTP_USER is set. Credentials never go in clear text to a host off this machine."""
    host, port = settings.smtp_host or "", settings.smtp_port
    timeout = settings.smtp_timeout_seconds
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_ssl:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        smtp.ehlo()
        encrypted = settings.smtp_ssl
        if not encrypted and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
            encrypted = True
        if settings.smtp_user:
            if not encrypted and host not in LOOPBACK_HOSTS:
                raise smtplib.SMTPException(
                    f"{host} offers no STARTTLS: refusing to send SMTP_USER's password in clear "
                    "text (set SMTP_SSL=true for port 465)"
                )
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
    except BaseException:
        _close(smtp)
        raise
    return smtp


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except OSError:  # smtplib.SMTPException included
        smtp.close()


class _Marks:
    """Writes each outcome at once, guarded by the claim (status sending, this attempt)."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime], report: SendReport):
        self.settings, self.clock, self.report = settings, clock, report

    def _update(self, email: OutboxEmail, **values: object) -> bool:
        with Session(get_engine()) as db:
            result = db.execute(
                sa.update(OutboxEmail)
                .where(
                    col(OutboxEmail.id) == email.id,
                    col(OutboxEmail.status) == EMAIL_SENDING,
                    col(OutboxEmail.attempts) == email.attempts,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            db.commit()
        return bool(result.rowcount)

    def _lost(self, email: OutboxEmail, outcome: str) -> None:
        self.report.lost += 1
        log_kv(
            log, "mail.claim_lost", level=logging.WARNING, email_id=email.id,
            attempts=email.attempts, outcome=outcome,
        )  # fmt: skip

    def sent(self, email: OutboxEmail) -> None:
        if not self._update(email, status=EMAIL_SENT, sent_at=self.clock(), claimed_until=None):
            self._lost(email, EMAIL_SENT)  # the other sender may send it again: at least once
            return
        self.report.sent += 1
        log_kv(log, "mail.sent", email_id=email.id, kind=email.kind, attempts=email.attempts)

    def failure(self, email: OutboxEmail, exc: BaseException, *, permanent: bool = False) -> None:
        error = describe_error(exc, self.settings)
        if permanent or email.attempts >= self.settings.mail_max_attempts:
            if not self._update(email, status=EMAIL_FAILED, error=error, claimed_until=None):
                self._lost(email, EMAIL_FAILED)
                return
            self.report.failed += 1
            log_kv(
                log, "mail.failed", email_id=email.id, kind=email.kind,
                attempts=email.attempts, reason=_reason(exc), permanent=permanent,
            )  # fmt: skip
            return
        wait = backoff_seconds(email.attempts, self.settings.mail_retry_seconds)
        if not self._update(
            email,
            status=EMAIL_QUEUED,
            error=error,
            claimed_until=None,
            next_attempt_at=self.clock() + timedelta(seconds=wait),
        ):
            self._lost(email, "retry")
            return
        self.report.retried += 1
        log_kv(
            log, "mail.retry", email_id=email.id, kind=email.kind, attempts=email.attempts,
            retry_in_s=round(wait), reason=_reason(exc),
        )  # fmt: skip

    def release(self, email: OutboxEmail) -> None:
        """Hand an unsent claim back: due now, the attempt not counted."""
        if self._update(
            email,
            status=EMAIL_QUEUED,
            claimed_until=None,
            attempts=email.attempts - 1,
            next_attempt_at=self.clock(),
        ):
            self.report.released += 1


def _load(ids: list[int], settings: Settings) -> tuple[list[OutboxEmail], dict[int, list]]:
    """The claimed rows and their attachments; a row from before Message-IDs were stored gets
    its own now, kept for its retries."""
    with Session(get_engine(), expire_on_commit=False) as db:
        emails = list(
            db.exec(
                select(OutboxEmail)
                .where(col(OutboxEmail.id).in_(ids))
                .order_by(col(OutboxEmail.id))
            )
        )
        files: dict[int, list] = {i: [] for i in ids}
        for item in db.exec(
            select(OutboxAttachment)
            .where(col(OutboxAttachment.email_id).in_(ids))
            .order_by(col(OutboxAttachment.id))
        ):
            files[item.email_id].append(item)
        for email in emails:
            if not email.message_id:
                email.message_id = make_msgid(domain=sender_domain(settings.smtp_from))
                db.add(email)
        db.commit()
    return emails, files


def queue_reminders(now: datetime | None = None) -> int:
    """Reminders become outbox rows here, so the pass that sends them is the one that finds
    them due; a failure there must not stop the mail already waiting."""
    try:
        return reminders.queue_due_reminders(now)
    except Exception as exc:  # noqa: BLE001 - logged; the next pass tries again
        log_kv(log, "mail.reminders_error", error=type(exc).__name__)
        return 0


def send_due(
    now: datetime | None = None, settings: Settings | None = None, limit: int = 20
) -> SendReport:
    """One sender's pass: queue due reminders, claim due messages, send them over one SMTP
    connection, mark each. SMTP being down costs an attempt and a back-off, never a message.

    `now` fixes the pass's clock (tests); by default each mark uses the current time."""
    settings = settings or get_settings()
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    start = now or utcnow()
    report = SendReport()
    report.reminders_queued = queue_reminders(start)
    lease = lease_seconds(settings, limit)
    with Session(get_engine(), expire_on_commit=False) as db:
        ids = claim_due(db, start, limit, lease)
    report.claimed = len(ids)
    if not ids:
        return report
    # Past this point a later sender may reclaim what is left: stop and hand it back instead.
    stop_at = time.monotonic() + lease - 2 * settings.smtp_timeout_seconds
    emails, files = _load(ids, settings)
    marks = _Marks(settings, clock, report)
    envelope_from = parseaddr(settings.smtp_from)[1]
    smtp: smtplib.SMTP | None = None
    try:
        for index, email in enumerate(emails):
            if time.monotonic() > stop_at:
                for rest in emails[index:]:
                    marks.release(rest)
                break
            try:
                message = build_message(email, files[email.id], settings)
            except Exception as exc:  # noqa: BLE001 - a message that cannot be built never will
                marks.failure(email, exc, permanent=True)
                continue
            if smtp is None:
                try:
                    smtp = open_smtp(settings)
                except OSError as exc:  # smtplib.SMTPException included
                    for rest in emails[index:]:  # the server is down for all of them alike
                        marks.failure(rest, exc)
                    break
            try:
                smtp.send_message(message, from_addr=envelope_from, to_addrs=[email.to_address])
            except smtplib.SMTPServerDisconnected as exc:
                marks.failure(email, exc)
                _close(smtp)
                smtp = None  # the next message reconnects (and finds out if it is gone)
            except smtplib.SMTPException as exc:  # the server answered no to this message
                marks.failure(email, exc, permanent=is_permanent(exc))
                try:
                    smtp.rset()
                except OSError:  # SMTPException is an OSError too
                    _close(smtp)
                    smtp = None
            except OSError as exc:  # the connection broke (timeout, reset)
                marks.failure(email, exc)
                _close(smtp)
                smtp = None
            except Exception as exc:  # noqa: BLE001 - never leave the rest of the batch claimed
                marks.failure(email, exc)
                _close(smtp)
                smtp = None  # the session's state is unknown: start afresh
            else:
                marks.sent(email)
    finally:
        _close(smtp)
    return report
