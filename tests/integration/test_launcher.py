"""`python -m efoy_app.launcher` (what `make run` runs) as a real process.

Production without a strong JWT key refuses to start, naming the setting; and however the
launcher ends (SIGTERM, Ctrl-C, SIGHUP, SIGKILL, `kill -- -PGID`), the Stripe sandbox, the demo
SMTP server and the Reflex app it started end with it: none is left serving on its port. The
demo's emails reach its own SMTP server and land in var/mail/.
"""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlmodel import Session

from efoy_app.domain.mailer import queue_email
from efoy_app.launcher import ROOT, reflex_env, start_demo_smtp, stop
from efoy_app.models import EMAIL_SENT, OutboxEmail
from tests.e2e.conftest import AppServer, start_app_server, stop_app_server


def launcher(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "efoy_app.launcher", "--var-dir", str(tmp_path / "var")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("key", "said"),
    [
        (None, "EFOY_JWT_SECRET is not set"),
        ("short-key-31-bytes-long-0123456", "EFOY_JWT_SECRET is shorter than 32 bytes"),
    ],
)
def test_production_refuses_to_start_without_a_strong_jwt_key(
    tmp_path: Path, key: str | None, said: str
) -> None:
    env = reflex_env()
    env.pop("EFOY_JWT_SECRET", None)
    env.update({"EFOY_ENV": "production", "REFLEX_DB_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    if key is not None:
        env["EFOY_JWT_SECRET"] = key
    result = launcher(env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"efoy: refusing to start: {said}" in result.stdout
    assert list(tmp_path.iterdir()) == []  # nothing was set up: no database, no var/


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def session_members(sid: int) -> list[int]:
    """Live processes of session `sid` (the app runs its workers in a session of its own)."""
    members = []
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields and fields[0] != "Z" and int(fields[3]) == sid:
            members.append(int(entry.name))
    return members


def children(pid: int) -> dict[str, int]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[1]) == pid:
            cmd = (entry / "cmdline").read_bytes()
            kind = "sandbox" if b"stripe_sandbox" in cmd else "app"
            found["smtp" if b"efoy_app.demo_smtp" in cmd else kind] = int(entry.name)
    return found


def refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


WAYS_OUT: dict[str, Callable[[AppServer], None]] = {
    "SIGTERM": lambda s: os.kill(s.proc.pid, signal.SIGTERM),
    "SIGINT (Ctrl-C)": lambda s: os.kill(s.proc.pid, signal.SIGINT),
    "SIGHUP": lambda s: os.kill(s.proc.pid, signal.SIGHUP),
    "SIGKILL": lambda s: os.kill(s.proc.pid, signal.SIGKILL),
    "kill -- -PGID": lambda s: os.killpg(s.proc.pid, signal.SIGTERM),
}


@pytest.mark.parametrize("way_out", list(WAYS_OUT))
def test_the_sandbox_and_the_app_end_with_the_launcher(way_out: str) -> None:
    server = start_app_server()
    try:
        started = children(server.proc.pid)
        assert set(started) == {"sandbox", "smtp", "app"}
        sandbox_port = int(str(server.sandbox_url).rsplit(":", 1)[1])
        smtp_port = int(app_environ(started["app"])["SMTP_PORT"])
        assert not refused(server.port) and not refused(sandbox_port)
        assert len(session_members(started["app"])) >= 2  # reflex and its server process
        WAYS_OUT[way_out](server)
        server.proc.wait(timeout=30)
        assert wait_until(lambda: not alive(started["sandbox"]), 15), "sandbox left running"
        assert wait_until(lambda: not alive(started["smtp"]), 15), "SMTP server left running"
        assert wait_until(lambda: not session_members(started["app"]), 30), "app left running"
        assert refused(server.port) and refused(sandbox_port) and refused(smtp_port)
    finally:
        stop_app_server(server)


def app_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().partition("=")[::2] for item in raw if b"=" in item)


def test_the_demo_sends_its_emails_to_its_own_smtp_server_into_var_mail() -> None:
    """Without SMTP_HOST the demo starts the SMTP server, points the app at it, and the app's
    own sender (its lifespan task) delivers a queued message there as an .eml file."""
    server = start_app_server({"EFOY_MAIL_INTERVAL_SECONDS": "1"})
    try:
        started = children(server.proc.pid)
        env = app_environ(started["app"])
        port = int(env["SMTP_PORT"])
        assert env["SMTP_HOST"] == "127.0.0.1" and not refused(port)
        mail_dir = server.workdir / "var" / "mail"
        cmd = Path(f"/proc/{started['smtp']}/cmdline").read_bytes().split(b"\0")
        assert cmd[cmd.index(b"--dir") + 1] == str(mail_dir).encode()
        assert f"efoy: demo emails are written to {mail_dir}/" in server.log_path.read_text()
        with Session(server.engine) as s:
            email = queue_email(
                s, to_address="patient@example.com", subject="Launcher mail check", body="Hi\n"
            )
            assert email is not None
            s.commit()
            email_id, message_id = email.id, email.message_id
        assert wait_until(lambda: any(mail_dir.glob("*-launcher-mail-check.eml")), 60)
        [eml] = list(mail_dir.glob("*-launcher-mail-check.eml"))
        got = BytesParser(policy=default_policy).parsebytes(eml.read_bytes())
        assert got["Message-ID"] == message_id
        with Session(server.engine) as s:
            row = s.get(OutboxEmail, email_id)
            assert row is not None and (row.status, row.attempts) == (EMAIL_SENT, 1)
    finally:
        stop_app_server(server)


def test_start_demo_smtp_gives_its_port_or_none_when_it_cannot_listen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = start_demo_smtp(reflex_env(), 0, tmp_path / "var")
    assert started is not None
    proc, port = started
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.sendmail("a@example.com", ["b@example.com"], b"Subject: Port check\r\n\r\nhi\r\n")
        assert [p.name.split("-", 2)[2] for p in (tmp_path / "var" / "mail").iterdir()] == [
            "port-check.eml"
        ]
        assert start_demo_smtp(reflex_env(), port, tmp_path / "var") is None  # port taken
        assert "efoy: the demo SMTP server did not start" in capsys.readouterr().out
    finally:
        stop(proc)
    assert proc.returncode is not None and refused(port)
