"""A demo install as `make run` starts it: its own JWT key, loopback only, private files.

The probe: anyone who could reach a demo became admin with a token signed by the key that was
written in settings.py, because the app listened on every interface. Now the key is random per
install (var/demo.env), the demo listens on 127.0.0.1, and no secret is on a command line.
"""

from __future__ import annotations

import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx
import jwt
import pytest
from sqlmodel import select

from efoy_app.demo_secrets import read_demo_env
from efoy_app.models import User
from tests.e2e.conftest import AppServer

OLD_PUBLISHED_KEY = "demo-only-jwt-secret-change-me-in-production-0123456789"


def admin_token(server: AppServer, key: str) -> str:
    with server.session() as session:
        admin = session.exec(select(User).where(User.email == "admin@example.com")).one()
    now = int(time.time())
    claims = {"sub": str(admin.id), "role": "admin", "iat": now, "exp": now + 600}
    return jwt.encode(claims, key, algorithm="HS256")


def test_a_token_signed_with_the_old_demo_key_is_refused(app_server: AppServer) -> None:
    url = f"{app_server.url}/api/v1/admin/payments"
    forged = admin_token(app_server, OLD_PUBLISHED_KEY)
    r = httpx.get(url, headers={"Authorization": f"Bearer {forged}"}, timeout=30)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "invalid_token"
    # The install's own key (made by the launcher into its var/demo.env) is the one in use.
    own = read_demo_env(app_server.workdir / "var")["EFOY_JWT_SECRET"]
    r = httpx.get(
        url, headers={"Authorization": f"Bearer {admin_token(app_server, own)}"}, timeout=30
    )
    assert r.status_code == 200, r.text


def listening_addresses(port: int) -> set[str]:
    """Local addresses of TCP sockets listening on `port`, from /proc/net/tcp and tcp6."""
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(address)
            # /proc prints each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found


def test_the_demo_listens_on_loopback_only(app_server: AppServer) -> None:
    assert listening_addresses(app_server.port) == {"127.0.0.1"}
    with socket.create_connection(("127.0.0.1", app_server.port), timeout=5):
        pass
    others = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    for address in others:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            assert s.connect_ex((address, app_server.port)) != 0, address


def children(pid: int) -> list[int]:
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit()
        and (stat_line := _read(p / "stat"))
        and int(stat_line.rsplit(")", 1)[1].split()[1]) == pid
    ]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@pytest.mark.sqlite_only  # the database file's mode is part of what it checks
def test_no_secret_on_a_command_line_and_private_files(app_server: AppServer) -> None:
    var = app_server.workdir / "var"
    secrets = read_demo_env(var)
    assert set(secrets) == {"STRIPE_WEBHOOK_SECRET", "EFOY_JWT_SECRET"}
    launched = children(app_server.proc.pid)
    commands = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in launched}
    sandbox = [pid for pid, cmd in commands.items() if b"stripe_sandbox" in cmd]
    assert len(sandbox) == 1 and any(b"reflex" in cmd for cmd in commands.values())
    for cmd in commands.values():
        assert not any(value.encode() in cmd for value in secrets.values())
    environ = Path(f"/proc/{sandbox[0]}/environ").read_bytes().split(b"\0")
    wanted = f"STRIPE_SANDBOX_WEBHOOK_SECRET={secrets['STRIPE_WEBHOOK_SECRET']}".encode()
    assert wanted in environ

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(var) == 0o700
    assert {p.name: mode(p) for p in var.iterdir() if not p.name.startswith(".")} == {
        "demo.env": 0o600,
        "sandbox.db": 0o600,
        "sandbox.db-wal": 0o600,
        "sandbox.db-shm": 0o600,
        "mail": 0o700,  # the demo SMTP server's messages: patients' names, receipts
    }
    assert {mode(p) for p in (var / "mail").iterdir()} <= {0o600}
    db = Path(app_server.db_url.removeprefix("sqlite:///"))
    files = {p.name: mode(p) for p in db.parent.glob("efoy.db*")}  # -wal/-shm while connected
    assert "efoy.db" in files and set(files.values()) == {0o600}, files


def test_the_launcher_says_which_address_to_open(app_server: AppServer) -> None:
    """Reflex prints the address it binds (0.0.0.0 or 127.0.0.1); people must open FRONTEND_URL,
    where Stripe sends them back, so the launcher names it once the app answers."""
    ready = f"efoy: Efoy is ready: open {app_server.url}\n"
    deadline = time.monotonic() + 30
    while ready not in app_server.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, app_server.log_tail()
        time.sleep(0.2)
    log = app_server.log_path.read_text(errors="replace")
    assert log.count(ready) == 1
    assert log.index("patient@example.com") < log.index(ready)  # the demo accounts come first
