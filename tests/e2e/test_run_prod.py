"""`make run-prod` as a person runs it: production settings on PostgreSQL and Redis with three
workers and the Stripe sandbox. A patient pays in Chromium; the same signed webhook sent to the
server a dozen times at the same moment (separate connections, so several workers) has one
effect; a payment whose webhooks never come is confirmed, and its email sent, exactly once
while reconciliation and the email sender run on every worker.

One server for the module, started with the Makefile's own command on free ports, with its own
PostgreSQL database (created by run-prod itself, dropped here), Redis database, var dir and
Reflex build folder under /tmp, so it never disturbs a `make run` or `make run-prod`.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from efoy_app.demo_secrets import read_demo_env
from efoy_app.launcher import ROOT, SANDBOX_SECRET_KEY, reflex_env, wait_for_http
from efoy_app.models import (
    BOOKING_CONFIRMED,
    EMAIL_CONFIRMATION,
    EMAIL_SENT,
    AuditLog,
    Booking,
    OutboxEmail,
    Payment,
    WebhookEvent,
)
from efoy_app.run_prod import PROD_ENV_NAME
from tests.conftest import free_port
from tests.e2e.conftest import START_TIMEOUT, AppServer, stop_app_server
from tests.e2e.ui import choose_a_time_days_away, log_in
from tests.integration.payments.helpers import applied_event, auth, sign, wait_for
from tests.log_scan import run_log_path

WORKERS = 3
REDIS_DB = 13  # the several-workers modules take 7, 8, ... (tests/e2e/conftest.py)
CARD = "4242424242424242"
SIMULTANEOUS = 12
PASSWORD = "run-prod-patient-1"
ADMIN_EMAIL = "first.admin@clinic.example"
ADMIN_PASSWORD = "first-admin-pass-1"
DEFAULT_TEST_DB = "postgresql+psycopg://root@127.0.0.1:5432/test"
# What a developer's shell or .env may hold that would change what run-prod chooses.
UNSET = (
    "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET",
    "EFOY_ENV", "EFOY_JWT_SECRET", "EFOY_HOST", "EFOY_ALLOW_TEST_KEYS", "SMTP_HOST",
    "GRANIAN_WORKERS", "EFOY_WORKERS",
)  # fmt: skip
SANDBOX_KEY_HEADER = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}


def make_run_prod_command() -> list[str]:
    """The Makefile's `run-prod` recipe, as argv (so the test runs what `make run-prod` runs)."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    recipe = lines[lines.index("run-prod: setup redis") + 1].strip()
    argv = shlex.split(recipe.replace("$(BIN)/python", str(Path(sys.executable))))
    assert argv[1:] == ["-m", "efoy_app.run_prod"], recipe
    return argv


def _server_url(db_url: str) -> str:
    return make_url(db_url).set(database="postgres").render_as_string(hide_password=False)


def _drop_database(db_url: str) -> None:
    engine = create_engine(_server_url(db_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            name = make_url(db_url).database
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@dataclass
class ProdServer(AppServer):
    """An AppServer whose var dir holds run-prod's secrets and emails; `doctor_id`: the clinic's
    one doctor, added by its first admin."""

    doctor_id: int = 0

    @property
    def var_dir(self) -> Path:
        return self.workdir / "var"

    def emails_to(self, address: str) -> list[Path]:
        """The .eml files the local SMTP server wrote for `address`."""
        folder = self.var_dir / "mail"
        return [
            p
            for p in sorted(folder.glob("*.eml"))
            if f"To: {address}" in p.read_text(errors="replace")
        ]


def _api(server: AppServer, method: str, path: str, token: str | None = None, **kw) -> dict:
    r = httpx.request(
        method, f"{server.url}/api/v1{path}", headers=auth(token) if token else {}, timeout=60, **kw
    )
    assert 200 <= r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
    return r.json()


def _sandbox(server: AppServer, path: str, body: dict | None = None) -> dict:
    r = httpx.post(f"{server.sandbox_url}/_sandbox{path}", json=body or {}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _first_admin(env: dict[str, str]) -> None:
    """What the launcher tells a new clinic to do: `python -m efoy_app.admin_account`."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "efoy_app.admin_account",
            "--email",
            ADMIN_EMAIL,
            "--name",
            "First Admin",
            "--password-stdin",
        ],
        input=ADMIN_PASSWORD + "\n",
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def _a_doctor(server: AppServer) -> int:
    """A doctor working every day 08:00-20:00 (UTC), added as an admin adds one."""
    token = _api(
        server, "POST", "/auth/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )["accessToken"]
    doctor = _api(
        server,
        "POST",
        "/admin/doctors",
        token,
        json={
            "fullName": "Dr. Prod Worker",
            "email": "dr.prod@clinic.example",
            "speciality": "Cardiology",
            "bio": "Hearts.",
            "feeMinor": 9000,
            "currency": "EUR",
            "slotMinutes": 30,
            "timezone": "UTC",
        },
    )
    day = [{"start": "08:00", "end": "20:00"}]
    _api(server, "PUT", f"/admin/doctors/{doctor['id']}/hours", token, json={"week": [day] * 7})
    return int(doctor["id"])


@pytest.fixture(scope="module")
def prod_server(redis_address: tuple[str, int]) -> Iterator[ProdServer]:
    workdir = Path(tempfile.mkdtemp(prefix="efoy-run-prod-"))
    port, sandbox_port = free_port(), free_port()
    base = make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DB)
    db_url = base.set(database=f"efoy_runprod_{uuid.uuid4().hex[:10]}").render_as_string(
        hide_password=False
    )
    env = reflex_env()
    for name in UNSET:
        env.pop(name, None)
    env.update(
        {
            "REFLEX_DB_URL": db_url,
            "REFLEX_REDIS_URL": f"redis://{redis_address[0]}:{redis_address[1]}/{REDIS_DB}",
            "REFLEX_WEB_WORKDIR": str(workdir / ".web"),
            "REFLEX_STATES_WORKDIR": str(workdir / ".states"),
            "REFLEX_UPLOADED_FILES_DIR": str(workdir / "uploaded_files"),
            # Quick passes, so a test sees reconciliation and the sender work within seconds.
            "EFOY_RECONCILE_INTERVAL_SECONDS": "2",
            "EFOY_RECONCILE_GRACE_SECONDS": "3",
            "EFOY_MAIL_INTERVAL_SECONDS": "1",
            "FRONTEND_URL": f"http://localhost:{port}",
        }
    )
    command = make_run_prod_command()
    command += ["--port", str(port), "--sandbox-port", str(sandbox_port)]
    command += ["--var-dir", str(workdir / "var")]
    log_path = run_log_path(f"e2e-run-prod-{port}.log") or workdir / "server.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = ProdServer(
        url=f"http://localhost:{port}",
        db_url=db_url,
        port=port,
        workdir=workdir,
        sandbox_url=f"http://127.0.0.1:{sandbox_port}",
        webhook_secret=None,
        log_path=log_path,
        start_seconds=0.0,
        proc=proc,
    )
    try:
        try:
            wait_for_http(f"{server.url}/ping", START_TIMEOUT, proc)
            wait_for_http(f"{server.url}/doctors", 30, proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"run-prod did not start: {exc}\n{server.log_tail()}") from exc
        server.start_seconds = time.monotonic() - started
        server.webhook_secret = read_demo_env(server.var_dir, PROD_ENV_NAME)[
            "STRIPE_WEBHOOK_SECRET"
        ]
        print(f"\nmake run-prod's server on {server.url} started in {server.start_seconds:.1f}s")
        _first_admin(env)  # as the start message says: `REFLEX_DB_URL=... admin_account`
        server.doctor_id = _a_doctor(server)
        yield server
    finally:
        stop_app_server(server, keep_files=True)
        _drop_database(db_url)
        shutil.rmtree(workdir, ignore_errors=True)


def _workers(server: AppServer) -> list[int]:
    """The pids of the reflex process's children serving the port (its granian workers)."""
    out = subprocess.run(["ps", "-ewwo", "pid=,ppid=,args="], capture_output=True, text=True)
    rows = [line.split(None, 2) for line in out.stdout.splitlines()]
    serving = {
        int(pid): int(ppid) for pid, ppid, args in rows if f"--frontend-port {server.port}" in args
    }
    return sorted(pid for pid, ppid in serving.items() if ppid in serving)


def _connections_on_workers(server: AppServer, n: int) -> dict[socket.socket, int]:
    """`n` open connections to the server, each with the pid of the worker that accepted it
    (from `ss`), once every one has been accepted."""
    conns = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(n)]
    local_ports = {c.getsockname()[1]: c for c in conns}
    deadline = time.monotonic() + 15
    while True:
        out = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{server.port} )"],
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        owners: dict[socket.socket, int] = {}
        for line in out.splitlines():
            peer = re.search(r"127\.0\.0\.1:(\d+)\s+users:\(\(\"[^\"]*\",pid=(\d+)", line)
            if peer and int(peer.group(1)) in local_ports:
                owners[local_ports[int(peer.group(1))]] = int(peer.group(2))
        if len(owners) == n:
            return owners
        assert time.monotonic() < deadline, f"only {len(owners)} of {n} connections accepted"
        time.sleep(0.1)


def _answer_of(conn: socket.socket) -> tuple[int, str]:
    """The status code and the webhook's `outcome` of the HTTP answer read to its end (the
    request said Connection: close)."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    body = data.split(b"\r\n\r\n", 1)[1]
    if b"chunked" in data.split(b"\r\n\r\n", 1)[0].lower():
        body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
    return int(data.split(b" ", 2)[1]), json.loads(body).get("outcome", "")


def _patient(server: AppServer) -> tuple[str, str]:
    """A new patient (registered over the API): their email and bearer token."""
    email = f"prod-{uuid.uuid4().hex[:10]}@example.com"
    _api(
        server,
        "POST",
        "/auth/register",
        json={"email": email, "password": PASSWORD, "fullName": "Prod Patient"},
    )
    token = _api(server, "POST", "/auth/token", json={"email": email, "password": PASSWORD})
    return email, token["accessToken"]


def _hold(server: ProdServer, token: str) -> int:
    """Hold the first free slot from two days ahead (the browser test books the last ones)."""
    for offset in range(2, 14):
        day = (date.today() + timedelta(days=offset)).isoformat()
        slots = _api(server, "GET", f"/doctors/{server.doctor_id}/slots", params={"date": day})
        for slot in slots["slots"]:
            r = httpx.post(
                f"{server.url}/api/v1/bookings",
                headers=auth(token),
                timeout=30,
                json={
                    "doctorId": server.doctor_id,
                    "startsAt": slot["startsAt"],
                    "reason": "run-prod",
                },
            )
            if r.status_code == 201:
                return int(r.json()["id"])
            assert r.status_code == 409, r.text
    raise AssertionError("no free slot")


def _confirmations(server: AppServer, booking_id: int) -> list[AuditLog]:
    with server.session() as s:
        return list(
            s.exec(
                select(AuditLog).where(
                    AuditLog.entity_type == "booking",
                    AuditLog.entity_id == booking_id,
                    AuditLog.to_status == BOOKING_CONFIRMED,
                )
            ).all()
        )


def _confirmation_emails(server: AppServer, booking_id: int) -> list[OutboxEmail]:
    with server.session() as s:
        return list(
            s.exec(
                select(OutboxEmail).where(
                    OutboxEmail.booking_id == booking_id, OutboxEmail.kind == EMAIL_CONFIRMATION
                )
            ).all()
        )


def _sent_once(server: ProdServer, booking_id: int, email: str) -> None:
    """Exactly one confirmation row, sent, and exactly one message on the SMTP server."""
    wait_for(
        lambda: [m for m in _confirmation_emails(server, booking_id) if m.status == EMAIL_SENT],
        timeout=30,
    )
    time.sleep(3)  # three more sender passes on every worker: still one
    [row] = _confirmation_emails(server, booking_id)
    assert row.status == EMAIL_SENT and row.attempts == 1
    assert len(server.emails_to(email)) == 1


def _settle_webhooks(server: AppServer) -> None:
    """Resume the sandbox's deliveries and wait until none is held or on its way."""
    _sandbox(server, "/webhooks/resume")

    def idle() -> bool:
        status = httpx.get(f"{server.sandbox_url}/_sandbox/webhooks", timeout=30).json()
        return status["held"] == 0 and status["in_flight"] == 0

    wait_for(idle, timeout=30)
    time.sleep(1)


def test_make_run_prod_serves_three_workers_and_a_patient_pays(
    prod_server: ProdServer, page: Page
) -> None:
    assert len(_workers(prod_server)) == WORKERS
    text_log = prod_server.log_path.read_text(errors="replace")
    assert "3 workers" in text_log and "no admin account yet" in text_log
    assert re.search(r"production on postgresql\+psycopg://\S+/efoy_runprod_", text_log)
    email, _token = _patient(prod_server)
    log_in(page, prod_server.url, email, PASSWORD)
    page.goto(f"{prod_server.url}/doctors/{prod_server.doctor_id}")
    choose_a_time_days_away(page)
    page.get_by_role("button", name="Book appointment").click()
    expect(page).to_have_url(re.compile(r"/payment/\d+/?$"))
    booking_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.get_by_role("button", name="Pay now").click()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Cardholder name").fill("Prod Patient")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_text("Payment received: your appointment is confirmed.")).to_be_visible()
    with prod_server.session() as s:
        assert s.get(Booking, booking_id).status == BOOKING_CONFIRMED
    assert len(_confirmations(prod_server, booking_id)) == 1
    _sent_once(prod_server, booking_id, email)


def test_one_webhook_sent_to_every_worker_at_once_has_one_effect(
    prod_server: ProdServer,
) -> None:
    email, token = _patient(prod_server)
    booking_id = _hold(prod_server, token)
    _sandbox(prod_server, "/webhooks/pause")  # Stripe's own deliveries wait: ours come first
    try:
        session_id = _api(
            prod_server,
            "POST",
            "/payment/create-checkout-session",
            token,
            json={"bookingId": booking_id},
        )["sessionId"]
        paid = _sandbox(prod_server, f"/checkout/sessions/{session_id}/pay", {"card": CARD})
        assert paid["outcome"] == "succeeded", paid
        events = httpx.get(
            f"{prod_server.sandbox_url}/v1/events",
            timeout=30,
            params={"type": "checkout.session.completed", "limit": 100},
            headers=SANDBOX_KEY_HEADER,
        ).json()["data"]
        [event] = [e for e in events if e["data"]["object"]["id"] == session_id]
        body = json.dumps(event, indent=2).encode()  # as the sandbox delivers it
        headers = {"Stripe-Signature": sign(body, prod_server.webhook_secret)}
        connections = _connections_on_workers(prod_server, SIMULTANEOUS)
        owners = set(connections.values())
        assert len(owners) >= 2, f"all {SIMULTANEOUS} connections went to one worker"
        assert owners <= set(_workers(prod_server))
        print(
            f"\n{SIMULTANEOUS} deliveries over connections held by workers "
            f"{sorted(collections.Counter(connections.values()).values(), reverse=True)}"
        )
        request = (
            f"POST /api/v1/payment/webhook HTTP/1.1\r\nHost: localhost:{prod_server.port}\r\n"
            f"Content-Type: application/json\r\nStripe-Signature: {headers['Stripe-Signature']}"
            f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        barrier = threading.Barrier(SIMULTANEOUS)
        answers: list[tuple[int, str]] = []

        def deliver(conn: socket.socket) -> None:
            barrier.wait()
            conn.sendall(request)
            answers.append(_answer_of(conn))

        threads = [threading.Thread(target=deliver, args=(c,)) for c in connections]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
        for conn in connections:
            conn.close()
        # Stored by exactly one worker; the others found it stored.
        assert sorted(answers) == [(200, "duplicate")] * (SIMULTANEOUS - 1) + [(200, "stored")]
        applied_event(prod_server.engine, event["id"], timeout=30)
        with prod_server.session() as s:
            [stored] = s.exec(
                select(WebhookEvent).where(WebhookEvent.stripe_event_id == event["id"])
            ).all()
            assert stored.status == "processed"
            [payment] = s.exec(select(Payment).where(Payment.booking_id == booking_id)).all()
            assert payment.status == "paid"
            assert s.get(Booking, booking_id).status == BOOKING_CONFIRMED
        [confirmed] = _confirmations(prod_server, booking_id)
        assert confirmed.actor == f"stripe:{event['id']}"
    finally:
        _settle_webhooks(prod_server)  # Stripe's own copies now arrive too: still one effect
    assert len(_confirmations(prod_server, booking_id)) == 1
    outcomes = re.findall(rf"event_id={event['id']} \S+ outcome=(\w+)", prod_server.log_tail(10**6))
    assert outcomes.count("processed") == 1  # applied once; any later processing saw it done
    _sent_once(prod_server, booking_id, email)


def test_reconciliation_and_the_sender_on_every_worker_act_once(
    prod_server: ProdServer,
) -> None:
    email, token = _patient(prod_server)
    booking_id = _hold(prod_server, token)
    _sandbox(prod_server, "/webhooks/pause")  # paid at Stripe, but no webhook ever arrives
    try:
        session_id = _api(
            prod_server,
            "POST",
            "/payment/create-checkout-session",
            token,
            json={"bookingId": booking_id},
        )["sessionId"]
        paid = _sandbox(prod_server, f"/checkout/sessions/{session_id}/pay", {"card": CARD})
        assert paid["outcome"] == "succeeded", paid
        wait_for(lambda: _confirmations(prod_server, booking_id), timeout=40, interval=0.3)
        time.sleep(5)  # two more passes on each of the three workers
        [confirmed] = _confirmations(prod_server, booking_id)
        assert confirmed.actor == "system:reconcile"
        passes = re.findall(r"reconcile\.pass .*worker=(\d+)", prod_server.log_path.read_text())
        assert {int(pid) for pid in passes} == set(_workers(prod_server))  # on all three
        with prod_server.session() as s:
            [payment] = s.exec(select(Payment).where(Payment.booking_id == booking_id)).all()
            assert payment.status == "paid"
            assert (
                s.exec(select(WebhookEvent).where(WebhookEvent.payload.contains(session_id))).all()
                == []
            )
        _sent_once(prod_server, booking_id, email)
    finally:
        _settle_webhooks(prod_server)
    assert len(_confirmations(prod_server, booking_id)) == 1
    assert len(prod_server.emails_to(email)) == 1


def test_the_launcher_stops_every_worker(prod_server: ProdServer) -> None:
    """Last (it stops the module's server): SIGTERM to run-prod leaves no worker behind."""
    workers = _workers(prod_server)
    assert len(workers) == WORKERS
    os.killpg(prod_server.proc.pid, signal.SIGTERM)
    prod_server.proc.wait(timeout=30)
    wait_for(lambda: not _workers(prod_server), timeout=15)
