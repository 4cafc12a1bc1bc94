"""`python -m efoy_app.demo_smtp` as a real process: it says where it listens, writes every
message it receives as a parseable, private `.eml` file in arrival order, and ends with its
parent. The outbox sender delivers into it as into any SMTP server."""

from __future__ import annotations

import os
import signal
import smtplib
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel

from efoy_app.db import get_engine
from efoy_app.demo_smtp import ANNOUNCE, file_name
from efoy_app.domain.mail_delivery import send_due
from efoy_app.domain.mailer import queue_email
from efoy_app.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


def start(folder: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "efoy_app.demo_smtp", "--dir", str(folder), "--port", "0", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith(f"{ANNOUNCE} 127.0.0.1:"), line
    return proc, int(line.rsplit(":", 1)[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    folder = tmp_path / "var" / "mail"
    proc, port = start(folder)
    try:
        yield folder, port
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def message(subject: str, attachment: bytes | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Efoy <no-reply@efoy.example>"
    msg["To"] = "patient@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{abs(hash(subject))}@efoy.example>"
    msg.set_content("Dear patient,\nsee you tomorrow.\n")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="r.pdf")
    return msg


def test_every_message_becomes_a_private_parseable_eml_in_arrival_order(
    server: tuple[Path, int],
) -> None:
    folder, port = server
    pdf = b"%PDF-1.4 receipt\x00\xff" * 50
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message("Your receipt R-2026-000001 (Efoy Clinic)", pdf))
        smtp.send_message(message("Réminder: tomorrow at 09:00"))
        smtp.send_message(message(""))

    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 3
    assert names[0].endswith("-000001-your-receipt-r-2026-000001-efoy-clinic.eml")
    assert names[1].endswith("-000002-reminder-tomorrow-at-09-00.eml")
    assert names[2].endswith("-000003-message.eml")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in names:
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    first = BytesParser(policy=default_policy).parsebytes((folder / names[0]).read_bytes())
    assert first["Subject"] == "Your receipt R-2026-000001 (Efoy Clinic)"
    assert first["To"] == "patient@example.com"
    [attached] = list(first.iter_attachments())
    assert attached.get_filename() == "r.pdf"
    assert attached.get_content() == pdf
    second = BytesParser(policy=default_policy).parsebytes((folder / names[1]).read_bytes())
    assert second["Subject"] == "Réminder: tomorrow at 09:00"


def test_file_names_sort_by_time_then_counter() -> None:
    when = datetime(2026, 12, 1, 16, 22, 33, 123456, tzinfo=UTC)
    assert file_name("Your receipt / #42", 7, when) == (
        "20261201T162233123456Z-000007-your-receipt-42.eml"
    )
    assert file_name("x" * 100, 1, when) == f"20261201T162233123456Z-000001-{'x' * 40}.eml"


def test_it_ends_when_its_parent_dies(tmp_path: Path) -> None:
    """A shell parent starts it with --parent-pid $$ and is killed: the server goes too."""
    script = (
        f"{sys.executable} -m efoy_app.demo_smtp --dir {tmp_path / 'mail'} --port 0 "
        "--parent-pid $$ & echo $!; wait"
    )
    parent = subprocess.Popen(["sh", "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert parent.stdout.readline().startswith(ANNOUNCE)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child), "the demo SMTP server outlived its parent"


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_outbox_sender_delivers_into_it(
    server: tuple[Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, port = server
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    env = {"REFLEX_DB_URL": url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SMTP_USER", raising=False)
    monkeypatch.delenv("SMTP_SSL", raising=False)
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        SQLModel.metadata.create_all(get_engine())
        with Session(get_engine()) as s:
            email = queue_email(
                s, to_address="patient@example.com", subject="Your appointment is confirmed",
                body="See you on Friday.\n",
            )  # fmt: skip
            assert email is not None
            s.commit()
            message_id = email.message_id
        assert send_due().sent == 1
    finally:
        get_engine().dispose()
        get_engine.cache_clear()
        get_settings.cache_clear()
    [eml] = list(folder.iterdir())
    assert eml.name.endswith("-000001-your-appointment-is-confirmed.eml")
    got = BytesParser(policy=default_policy).parsebytes(eml.read_bytes())
    assert got["Message-ID"] == message_id
    assert got.get_content().replace("\r\n", "\n") == "See you on Friday.\n"
