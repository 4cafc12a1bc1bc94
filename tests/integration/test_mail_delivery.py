"""The outbox sender against a real SMTP server (aiosmtpd on a free port) and real SQL, on
SQLite and PostgreSQL: what arrives, what happens while SMTP is down, when a message gives up,
a crashed sender's claim, two sender processes at once, a message queued twice, and the TLS
paths (STARTTLS with a login, implicit TLS, an untrusted certificate)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from efoy_app.db import get_engine, make_engine
from efoy_app.demo_smtp import FreePortController
from efoy_app.domain.mail_delivery import claim_due, send_due
from efoy_app.domain.mailer import Attachment, queue_email
from efoy_app.models import (
    EMAIL_FAILED,
    EMAIL_QUEUED,
    EMAIL_RECEIPT,
    EMAIL_SENDING,
    EMAIL_SENT,
    OutboxEmail,
)
from efoy_app.settings import get_settings
from tests.conftest import free_port
from tests.integration.support import BACKENDS, postgres_url

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + bytes(range(256))
SMTP_LOGIN = "efoy-relay"
SMTP_SECRET = "relay-password-for-tests"


# --- the database ---------------------------------------------------------------------------


@dataclass
class Outbox:
    url: str
    engine: Engine

    def rows(self) -> list[OutboxEmail]:
        with Session(self.engine) as s:
            return list(s.exec(select(OutboxEmail).order_by(col(OutboxEmail.id))))

    def row(self, email_id: int) -> OutboxEmail:
        with Session(self.engine) as s:
            found = s.get(OutboxEmail, email_id)
            assert found is not None
            return found


def use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> Outbox:
    """The app's own engine (`get_engine`, what `send_due` uses) on `url`."""
    monkeypatch.setenv("REFLEX_DB_URL", url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    return Outbox(url, get_engine())


@pytest.fixture(params=BACKENDS)
def outbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Outbox]:
    """An empty database of each kind with every table, set as the app's REFLEX_DB_URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'outbox.db'}"
        schema_engine = make_engine(url)
        SQLModel.metadata.create_all(schema_engine)
        schema_engine.dispose()
        yield use_database(monkeypatch, url)
        get_engine().dispose()
        get_engine.cache_clear()
        return
    base = postgres_url()
    schema = f"efoy_mail_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    try:
        schema_engine = make_engine(url)
        SQLModel.metadata.create_all(schema_engine)
        schema_engine.dispose()
        yield use_database(monkeypatch, url)
    finally:
        get_engine().dispose()
        get_engine.cache_clear()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Outbox]:
    """For the TLS paths, which do not depend on the database."""
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    schema_engine = make_engine(url)
    SQLModel.metadata.create_all(schema_engine)
    schema_engine.dispose()
    yield use_database(monkeypatch, url)
    get_engine().dispose()
    get_engine.cache_clear()


def queue(outbox: Outbox, n: int = 1, **kw: Any) -> list[int]:
    """`n` messages queued and committed at T0 (or `now=`); their ids."""
    ids = []
    with Session(outbox.engine) as s:
        for i in range(n):
            fields = {
                "to_address": f"patient{i}@example.com",
                "subject": f"Message {i}",
                "body": f"Body {i}\n",
                "now": T0,
            }
            email = queue_email(s, **(fields | kw))
            assert email is not None
            ids.append(email.id)
        s.commit()
    return ids


# --- the SMTP server ------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: bytes | None


class Recorder:
    """An aiosmtpd handler keeping what it accepts; refuses the recipients in `refuse` with
    the given answer; with `wait_for_connections`, holds every DATA until that many
    connections have sent one (so two senders are provably at work at once)."""

    def __init__(
        self,
        refuse: dict[str, str] | None = None,
        wait_for_connections: int = 0,
        on_data: Callable[[], None] | None = None,
    ):
        self.on_data = on_data
        self.received: list[Received] = []
        self.refuse = refuse or {}
        self.wait_for = wait_for_connections
        self.connections: set[int] = set()
        self._all_here: asyncio.Event | None = None

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.wait_for:
            if self._all_here is None:
                self._all_here = asyncio.Event()
            self.connections.add(id(session))
            if len(self.connections) >= self.wait_for:
                self._all_here.set()
            # On a time-out, the test's own assertion says only one sender was at work.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_here.wait(), 30)
        if self.on_data is not None:
            self.on_data()
        raw = envelope.original_content or envelope.content
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                message=BytesParser(policy=default_policy).parsebytes(raw),
                # STARTTLS sets session.ssl; implicit TLS shows on the transport.
                tls=session.ssl is not None
                or server.transport.get_extra_info("sslcontext") is not None,
                login=session.auth_data,
            )
        )
        return "250 Message accepted"


class SmtpServer:
    def __init__(self, handler: Recorder, **kwargs: Any) -> None:
        self.handler = handler
        self.controller = FreePortController(handler, hostname="127.0.0.1", port=0, **kwargs)
        self.controller.start()
        self.port: int = self.controller.port

    def stop(self) -> None:
        self.controller.stop()


def point_at(monkeypatch: pytest.MonkeyPatch, port: int, **more: str) -> None:
    values = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_FROM": "Efoy Clinic <no-reply@clinic.example>",
        "SMTP_TIMEOUT_SECONDS": "5",
        "EFOY_MAIL_RETRY_SECONDS": "30",
        "EFOY_MAIL_MAX_ATTEMPTS": "3",
        "SMTP_SSL": "false",
        "SMTP_USER": "",
        "SMTP_PASSWORD": "",
    }
    for key, value in (values | more).items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A plain SMTP server the settings point at."""
    monkeypatch.setenv("SMTP_FROM", "Efoy Clinic <no-reply@clinic.example>")
    get_settings.cache_clear()
    server = SmtpServer(Recorder())
    point_at(monkeypatch, server.port)
    try:
        yield server
    finally:
        server.stop()


def lines(part: EmailMessage) -> str:
    """A text part's content with the wire's CRLF line ends read as a mail program does."""
    return part.get_content().replace("\r\n", "\n")


# --- what arrives ---------------------------------------------------------------------------


def test_a_message_with_html_and_a_pdf_arrives_as_queued(outbox: Outbox, smtp: SmtpServer) -> None:
    with Session(outbox.engine) as s:
        email = queue_email(
            s,
            to_address="abebe@example.com",
            subject="Your receipt R-2026-000042 (Efoy)",
            body="Dear Abebe,\n\nYour receipt is attached: 1 500,00 ETB.\n",
            html_body="<p>Dear Abebe,</p><p>Your receipt is attached: 1\u202f500,00 ETB.</p>",
            kind=EMAIL_RECEIPT,
            attachments=[Attachment("receipt-R-2026-000042.pdf", "application/pdf", PDF)],
            now=T0,
        )
        assert email is not None
        s.commit()
        email_id, message_id = email.id, email.message_id
    assert message_id.startswith("<") and message_id.endswith("@clinic.example>")

    report = send_due(now=T0 + timedelta(seconds=1))

    assert (report.claimed, report.sent, report.retried, report.failed) == (1, 1, 0, 0)
    [got] = smtp.handler.received
    assert got.mail_from == "no-reply@clinic.example"
    assert got.rcpt_tos == ["abebe@example.com"]
    msg = got.message
    assert msg["To"] == "abebe@example.com"
    assert msg["From"] == "Efoy Clinic <no-reply@clinic.example>"
    assert msg["Subject"] == "Your receipt R-2026-000042 (Efoy)"
    assert msg["Message-ID"] == message_id
    assert msg["Date"] == "Tue, 01 Dec 2026 09:00:00 +0000"
    assert msg.get_content_type() == "multipart/mixed"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and lines(text) == (
        "Dear Abebe,\n\nYour receipt is attached: 1 500,00 ETB.\n"
    )
    assert html is not None and lines(html) == (
        "<p>Dear Abebe,</p><p>Your receipt is attached: 1\u202f500,00 ETB.</p>\n"
    )
    [pdf] = list(msg.iter_attachments())
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == "receipt-R-2026-000042.pdf"
    assert pdf.get_content() == PDF
    row = outbox.row(email_id)
    assert (row.status, row.attempts, row.error) == (EMAIL_SENT, 1, None)
    assert row.sent_at == T0 + timedelta(seconds=1)
    assert row.claimed_until is None


def test_a_plain_message_is_text_only(outbox: Outbox, smtp: SmtpServer) -> None:
    [email_id] = queue(outbox, subject="Reminder: tomorrow 09:00", body="See you.\n")
    assert send_due(now=T0).sent == 1
    [got] = smtp.handler.received
    assert got.message.get_content_type() == "text/plain"
    assert lines(got.message) == "See you.\n"
    assert got.message["Message-ID"] == outbox.row(email_id).message_id


# --- SMTP down, back, and giving up ---------------------------------------------------------


def test_smtp_down_keeps_the_message_and_it_is_sent_once_when_back(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = free_port()
    point_at(monkeypatch, closed)
    [email_id] = queue(outbox)

    report = send_due(now=T0)

    assert (report.claimed, report.sent, report.retried, report.failed) == (1, 0, 1, 0)
    row = outbox.row(email_id)
    assert (row.status, row.attempts) == (EMAIL_QUEUED, 1)
    assert row.next_attempt_at == T0 + timedelta(seconds=30)
    assert row.claimed_until is None
    assert row.error is not None
    assert row.error.startswith(f"cannot reach 127.0.0.1:{closed}: ")
    assert "Connection refused" in row.error
    assert send_due(now=T0 + timedelta(seconds=29)).claimed == 0  # not due yet

    server = SmtpServer(Recorder())
    try:
        point_at(monkeypatch, server.port)
        report = send_due(now=T0 + timedelta(seconds=30))
        assert (report.claimed, report.sent) == (1, 1)
        assert send_due(now=T0 + timedelta(hours=5)).claimed == 0
        assert [r.message["Message-ID"] for r in server.handler.received] == [row.message_id]
    finally:
        server.stop()
    row = outbox.row(email_id)
    assert (row.status, row.attempts) == (EMAIL_SENT, 2)
    assert row.sent_at == T0 + timedelta(seconds=30)
    assert row.error is not None and row.error.startswith("cannot reach")  # the record kept


def test_after_the_last_attempt_the_message_fails(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at(monkeypatch, free_port())  # EFOY_MAIL_MAX_ATTEMPTS=3, retry 30 s
    [email_id] = queue(outbox)
    now = T0
    waits = []
    for attempt in (1, 2):
        assert send_due(now=now).retried == 1
        row = outbox.row(email_id)
        assert (row.status, row.attempts) == (EMAIL_QUEUED, attempt)
        waits.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert waits == [timedelta(seconds=30), timedelta(seconds=60)]

    report = send_due(now=now)

    assert (report.claimed, report.retried, report.failed) == (1, 0, 1)
    row = outbox.row(email_id)
    assert (row.status, row.attempts, row.sent_at) == (EMAIL_FAILED, 3, None)
    assert row.error is not None and row.error.startswith("cannot reach")
    assert send_due(now=now + timedelta(days=1)).claimed == 0


def test_a_recipient_refused_for_good_fails_at_once_and_one_refused_for_now_waits(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = SmtpServer(
        Recorder(
            refuse={
                "gone@example.com": "550 5.1.1 No such user here",
                "full@example.com": "452 4.2.2 Mailbox full, try later",
            }
        )
    )
    try:
        point_at(monkeypatch, server.port)
        [gone] = queue(outbox, to_address="gone@example.com")
        [full] = queue(outbox, to_address="full@example.com")
        [fine] = queue(outbox, to_address="fine@example.com")

        report = send_due(now=T0)

        assert (report.claimed, report.sent, report.retried, report.failed) == (3, 1, 1, 1)
        assert [r.rcpt_tos for r in server.handler.received] == [["fine@example.com"]]
    finally:
        server.stop()
    row = outbox.row(gone)
    assert (row.status, row.attempts, row.error) == (
        EMAIL_FAILED, 1, "SMTP 550 5.1.1 No such user here",
    )  # fmt: skip
    row = outbox.row(full)
    assert (row.status, row.attempts, row.error) == (
        EMAIL_QUEUED, 1, "SMTP 452 4.2.2 Mailbox full, try later",
    )  # fmt: skip
    assert row.next_attempt_at == T0 + timedelta(seconds=30)
    assert outbox.row(fine).status == EMAIL_SENT


def test_an_address_the_server_cannot_take_waits_and_the_next_message_still_goes(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-ASCII address needs SMTPUTF8, which this server does not offer."""
    [abroad] = queue(outbox, to_address="abebe@exämple.com")
    [plain] = queue(outbox, to_address="plain@example.com")
    server = SmtpServer(Recorder(), enable_SMTPUTF8=False)
    try:
        point_at(monkeypatch, server.port)
        report = send_due(now=T0)
    finally:
        server.stop()

    assert (report.sent, report.retried) == (1, 1)
    assert [r.rcpt_tos for r in server.handler.received] == [["plain@example.com"]]
    row = outbox.row(abroad)
    assert (row.status, row.attempts) == (EMAIL_QUEUED, 1)
    assert row.error is not None and row.error.startswith("SMTPNotSupportedError: ")
    assert outbox.row(plain).status == EMAIL_SENT


# --- claims -----------------------------------------------------------------------------------


def test_a_crashed_senders_claim_is_taken_over_once_its_lease_ends(
    outbox: Outbox, smtp: SmtpServer
) -> None:
    [email_id] = queue(outbox)
    with Session(outbox.engine) as s:
        assert claim_due(s, T0, limit=10, lease_seconds=60) == [email_id]  # then "crashes"
    row = outbox.row(email_id)
    assert (row.status, row.attempts) == (EMAIL_SENDING, 1)
    assert row.claimed_until == T0 + timedelta(seconds=60)
    assert send_due(now=T0 + timedelta(seconds=59)).claimed == 0  # the lease still holds

    report = send_due(now=T0 + timedelta(seconds=61))

    assert (report.claimed, report.sent) == (1, 1)
    row = outbox.row(email_id)
    assert (row.status, row.attempts) == (EMAIL_SENT, 2)
    assert len(smtp.handler.received) == 1


def test_a_sender_whose_claim_was_taken_over_does_not_overwrite_the_new_claim(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the server takes the message, a second sender reclaims the row (as it would once
    the first one's lease ran out): the first sender's "sent" is not written over its claim."""
    [email_id] = queue(outbox)
    taken_over: list[list[int]] = []

    def second_sender_claims() -> None:
        with Session(outbox.engine) as s:
            taken_over.append(claim_due(s, T0 + timedelta(days=1), limit=5, lease_seconds=60))

    server = SmtpServer(Recorder(on_data=second_sender_claims))
    try:
        point_at(monkeypatch, server.port)
        report = send_due(now=T0)
    finally:
        server.stop()
    assert taken_over == [[email_id]]
    assert (report.claimed, report.sent, report.lost) == (1, 0, 1)
    row = outbox.row(email_id)
    assert (row.status, row.attempts, row.sent_at) == (EMAIL_SENDING, 2, None)
    assert row.claimed_until == T0 + timedelta(days=1, seconds=60)


def test_claims_made_at_once_by_eight_threads_never_overlap(outbox: Outbox) -> None:
    ids = queue(outbox, 60)
    barrier = threading.Barrier(8, timeout=60)
    claimed: list[list[int]] = []
    errors: list[str] = []

    def claimer() -> None:
        try:
            barrier.wait()
            with Session(outbox.engine) as s:
                while batch := claim_due(s, T0, limit=3, lease_seconds=600):
                    claimed.append(batch)
        except Exception as exc:  # noqa: BLE001 - any error fails the test below
            errors.append(repr(exc))

    threads = [threading.Thread(target=claimer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    every = [i for batch in claimed for i in batch]
    assert sorted(every) == ids  # each row claimed exactly once
    assert all(r.status == EMAIL_SENDING and r.attempts == 1 for r in outbox.rows())


def run_sender(outbox: Outbox, limit: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "efoy_app.mail_sender", "--limit", str(limit)],
        cwd=ROOT,
        env={**os.environ, "REFLEX_DB_URL": outbox.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_sender_processes_deliver_fifty_messages_each_exactly_once(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = queue(outbox, 50, now=None)
    server = SmtpServer(Recorder(wait_for_connections=2))
    try:
        point_at(monkeypatch, server.port)
        senders = [run_sender(outbox, limit=5) for _ in range(2)]
        outputs = [p.communicate(timeout=120) for p in senders]
    finally:
        server.stop()
    assert [p.returncode for p in senders] == [0, 0], outputs
    sent = [int(out.split("sent=")[1].split()[0]) for out, _ in outputs]
    assert sum(sent) == 50 and min(sent) > 0, outputs  # both did part of the work
    received = Counter(r.message["Message-ID"] for r in server.handler.received)
    rows = outbox.rows()
    assert [r.id for r in rows] == ids
    assert received == Counter({r.message_id: 1 for r in rows})
    assert {(r.status, r.attempts) for r in rows} == {(EMAIL_SENT, 1)}


# --- queued once ------------------------------------------------------------------------------


def test_a_dedupe_key_queued_twice_makes_one_row_and_the_transaction_goes_on(
    outbox: Outbox,
) -> None:
    with Session(outbox.engine) as s:
        first = queue_email(
            s, to_address="a@example.com", subject="Reminder", body="x", dedupe_key="reminder:7"
        )
        s.commit()
    with Session(outbox.engine) as s:
        again = queue_email(
            s, to_address="a@example.com", subject="Reminder", body="x", dedupe_key="reminder:7"
        )
        other = queue_email(s, to_address="b@example.com", subject="Other", body="y")
        s.commit()
    assert first is not None and again is None and other is not None
    rows = outbox.rows()
    assert [(r.to_address, r.dedupe_key) for r in rows] == [
        ("a@example.com", "reminder:7"),
        ("b@example.com", None),
    ]


def test_a_dedupe_key_queued_by_six_transactions_at_once_makes_one_row(outbox: Outbox) -> None:
    barrier = threading.Barrier(6, timeout=60)
    outcomes: list[str] = []

    def one(n: int) -> None:
        try:
            with Session(outbox.engine) as s:
                barrier.wait()
                got = queue_email(
                    s, to_address=f"p{n}@example.com", subject="Reminder", body="x",
                    dedupe_key="reminder:99",
                )  # fmt: skip
                s.commit()
                outcomes.append("queued" if got is not None else "already")
        except Exception as exc:  # noqa: BLE001 - any other outcome fails the test
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert Counter(outcomes) == Counter({"queued": 1, "already": 5})
    assert [r.dedupe_key for r in outbox.rows()] == ["reminder:99"]


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> Any:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def accept_relay_login(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (
        SMTP_LOGIN.encode(),
        SMTP_SECRET.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


def test_starttls_is_used_when_offered_and_the_login_goes_over_it(
    sqlite_outbox: Outbox, monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]
) -> None:
    server = SmtpServer(
        Recorder(),
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=accept_relay_login,
        auth_require_tls=True,
        auth_required=True,
    )
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        point_at(monkeypatch, server.port, SMTP_USER=SMTP_LOGIN, SMTP_PASSWORD=SMTP_SECRET)
        [email_id] = queue(sqlite_outbox)
        assert send_due(now=T0).sent == 1
        [got] = server.handler.received
        assert (got.tls, got.login) == (True, SMTP_LOGIN.encode())

        point_at(monkeypatch, server.port, SMTP_USER=SMTP_LOGIN, SMTP_PASSWORD="wrong-secret-1")
        [refused] = queue(sqlite_outbox)
        assert send_due(now=T0).retried == 1
    finally:
        server.stop()
    assert sqlite_outbox.row(email_id).status == EMAIL_SENT
    row = sqlite_outbox.row(refused)
    assert row.status == EMAIL_QUEUED
    assert row.error == "SMTP 535 5.7.8 Authentication credentials invalid"


def test_implicit_tls_with_smtp_ssl(
    sqlite_outbox: Outbox, monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]
) -> None:
    server = SmtpServer(Recorder(), ssl_context=server_context(certificate))
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        point_at(monkeypatch, server.port, SMTP_SSL="true")
        queue(sqlite_outbox)
        assert send_due(now=T0).sent == 1
        [got] = server.handler.received
        assert got.tls is True
    finally:
        server.stop()


def test_an_untrusted_certificate_is_not_used_and_the_message_waits(
    sqlite_outbox: Outbox, monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]
) -> None:
    server = SmtpServer(Recorder(), tls_context=server_context(certificate))
    try:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        point_at(monkeypatch, server.port)
        [email_id] = queue(sqlite_outbox)
        assert send_due(now=T0).retried == 1
        assert server.handler.received == []  # no fall-back to clear text
    finally:
        server.stop()
    row = sqlite_outbox.row(email_id)
    assert row.status == EMAIL_QUEUED
    assert row.error is not None and "CERTIFICATE_VERIFY_FAILED" in row.error
