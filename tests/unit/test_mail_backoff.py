"""The outbox's retry arithmetic and what counts as a permanent refusal (no network, no DB)."""

from __future__ import annotations

import smtplib

import pytest

from efoy_app.domain.mail_delivery import (
    MAX_BACKOFF_SECONDS,
    backoff_seconds,
    describe_error,
    is_permanent,
    lease_seconds,
)
from efoy_app.domain.mailer import one_line, sender_domain
from efoy_app.settings import Settings


@pytest.mark.parametrize(
    ("attempts", "wait"),
    [(0, 30), (1, 30), (2, 60), (3, 120), (4, 240), (7, 1920), (8, 3600), (9, 3600), (50, 3600)],
)
def test_the_wait_doubles_from_the_retry_setting_and_stops_at_an_hour(
    attempts: int, wait: float
) -> None:
    assert backoff_seconds(attempts, 30.0) == wait


def test_the_cap_is_an_hour_and_a_smaller_cap_is_kept() -> None:
    assert MAX_BACKOFF_SECONDS == 3600
    assert backoff_seconds(3, 5.0, cap=12.0) == 12.0
    assert backoff_seconds(10**6, 0.5) == 3600  # no overflow on an absurd count


def test_a_lease_covers_a_full_batch_and_is_never_under_a_minute() -> None:
    assert lease_seconds(Settings(SMTP_TIMEOUT_SECONDS=15), 20) == 630.0
    assert lease_seconds(Settings(SMTP_TIMEOUT_SECONDS=1), 1) == 60.0


def test_only_a_recipient_refused_with_5xx_is_permanent() -> None:
    gone = smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"5.1.1 no such user")})
    later = smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"4.2.1 try later")})
    assert is_permanent(gone) is True
    assert is_permanent(later) is False
    assert is_permanent(smtplib.SMTPDataError(554, b"5.7.1 rejected")) is False
    assert is_permanent(ConnectionRefusedError(111, "Connection refused")) is False


def test_an_error_is_one_short_line_without_the_password() -> None:
    settings = Settings(SMTP_HOST="mail.example", SMTP_PORT=587, SMTP_PASSWORD="hunter2-secret")
    echoed = smtplib.SMTPAuthenticationError(535, b"5.7.8 bad password hunter2-secret\r\nbye")
    assert describe_error(echoed, settings) == "SMTP 535 5.7.8 bad password *** bye"
    refused = ConnectionRefusedError(111, "Connection refused")
    assert describe_error(refused, settings) == (
        "cannot reach mail.example:587: [Errno 111] Connection refused"
    )
    assert describe_error(TimeoutError(), settings) == (
        "no answer from mail.example:587 within the timeout"
    )
    long = smtplib.SMTPDataError(451, b"x" * 1000)
    assert len(describe_error(long, settings)) == 300


def test_message_ids_are_made_in_the_from_address_domain() -> None:
    assert sender_domain("Efoy <no-reply@efoy.example>") == "efoy.example"
    assert sender_domain("clinic@mail.clinic.example") == "mail.clinic.example"
    assert sender_domain("not an address") == "efoy.invalid"


def test_a_header_value_is_one_line_and_bounded() -> None:
    assert one_line("Your receipt\r\nBcc: evil@example.com", 300) == (
        "Your receipt Bcc: evil@example.com"
    )
    assert one_line("x" * 400, 300) == "x" * 299 + "…"
