"""The API killed (SIGKILL) with webhook events stored but not applied, and while Stripe keeps
delivering, then restarted: the sandbox's retries and reconciliation finish the job, and every
payment Stripe took is one confirmed booking, nothing applied twice, nothing half-written.

The API runs as its own process (uvicorn, as in production) on a SQLite file, beside the Stripe
sandbox as its own process, so that the kill is real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, SQLModel, func, select

from efoy_app.db import make_engine
from efoy_app.models import AuditLog, Booking, Payment, WebhookEvent
from efoy_app.seed import load_demo_data
from stripe_sandbox.testing import SandboxProcess
from tests.conftest import free_port
from tests.integration.payments.helpers import book_slot, pay_session, start_checkout, wait_for

ROOT = Path(__file__).resolve().parents[2]
PAID_BEFORE_KILL = 4
PAID_WHILE_DOWN = 3


class Api:
    """`uvicorn efoy_app.api:api` on a fixed port, which can be killed and started again."""

    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.port, self.env, self.log = port, env, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "efoy_app.api:api", "--port", str(self.port),
                 "--log-level", "warning"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

        def answers() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            try:
                return httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout=60)

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Api, SandboxProcess, object]]:
    db_url = f"sqlite:///{tmp_path / 'faults.db'}"
    engine = make_engine(db_url)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as s:
        load_demo_data(s)
    port = free_port()
    secret = "whsec_faults_" + os.urandom(12).hex()
    with SandboxProcess.start(
        webhook_url=f"http://127.0.0.1:{port}/api/v1/payment/webhook",
        webhook_secret=secret,
        retry_base=0.2,
        extra_args=["--retry-cap", "1"],
    ) as sandbox:
        env = {
            **os.environ,
            "REFLEX_DB_URL": db_url,
            "EFOY_ENV": "demo",
            "STRIPE_SECRET_KEY": sandbox.api_key,
            "STRIPE_API_BASE": sandbox.url,
            "STRIPE_WEBHOOK_SECRET": secret,
            "FRONTEND_URL": f"http://127.0.0.1:{port}",
        }
        api = Api(port, env, tmp_path / "api.log")
        api.start()
        try:
            yield api, sandbox, engine
        finally:
            if api.proc is not None and api.proc.poll() is None:
                api.kill()
            engine.dispose()


def register(api: Api) -> str:
    email = f"faults-{os.urandom(4).hex()}@example.com"
    account = {"email": email, "password": "faults-pass-1"}
    r = httpx.post(f"{api.url}/api/v1/auth/register", json={**account, "fullName": "F. Ault"})
    assert r.status_code == 201, r.text
    return httpx.post(f"{api.url}/api/v1/auth/token", json=account).json()["accessToken"]


def completions_stored(engine, sessions: list[str]) -> int:
    with Session(engine) as db:
        rows = db.exec(
            select(WebhookEvent).where(WebhookEvent.type == "checkout.session.completed")
        ).all()
        return sum(1 for r in rows if any(s in r.payload for s in sessions))


def test_a_kill_with_events_stored_and_deliveries_on_the_way_loses_and_repeats_nothing(world):
    api, sandbox, engine = world
    token = register(api)
    bookings = [book_slot(api.url, token, doctor_index=i % 6) for i in range(PAID_BEFORE_KILL)]
    checkouts = [start_checkout(api.url, token, b["id"]) for b in bookings]
    # Applying an event asks Stripe first; make those reads hang, so the events are stored and
    # answered but cannot be applied before the kill.
    for prefix in ("/v1/checkout/sessions", "/v1/payment_intents", "/v1/charges"):
        sandbox.control("/faults/api", {"count": 1000, "status": 503, "hang_seconds": 60,
                                        "path_prefix": prefix, "method": "GET"})  # fmt: skip
    sessions = [c["sessionId"] for c in checkouts]
    for session_id in sessions:
        assert pay_session(sandbox, session_id)["outcome"] == "succeeded"
    wait_for(lambda: completions_stored(engine, sessions) == PAID_BEFORE_KILL, timeout=60)
    with Session(engine) as db:
        unapplied = db.exec(
            select(func.count()).select_from(WebhookEvent).where(WebhookEvent.status == "received")
        ).one()
    assert unapplied >= PAID_BEFORE_KILL  # acknowledged to Stripe, not yet applied

    api.kill()
    sandbox.control("/faults/clear")
    # Stripe goes on: more payments while the API is down; their deliveries fail and are retried.
    api.start()
    late = [book_slot(api.url, token, doctor_index=i % 6) for i in range(PAID_WHILE_DOWN)]
    late_checkouts = [start_checkout(api.url, token, b["id"]) for b in late]
    api.kill()
    for c in late_checkouts:
        assert pay_session(sandbox, c["sessionId"])["outcome"] == "succeeded"
    api.start()

    # Reconciliation (every worker runs it; here the CLI, with no grace) applies what the dead
    # process had stored; the sandbox's retries bring what was sent while it was down.
    result = subprocess.run(
        [sys.executable, "-m", "efoy_app.reconcile", "--grace", "0"],
        cwd=ROOT, env=api.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    every = bookings + late

    def settled() -> bool:
        with Session(engine) as db:
            left = db.exec(
                select(func.count())
                .select_from(WebhookEvent)
                .where(WebhookEvent.status.in_(("received", "failed")))
            ).one()
            confirmed = all(db.get(Booking, b["id"]).status == "confirmed" for b in every)
        return left == 0 and confirmed

    wait_for(settled, timeout=90, interval=0.5)
    # The payments made while the API was down reached it by the sandbox's retries.
    late_sessions = [c["sessionId"] for c in late_checkouts]
    wait_for(lambda: completions_stored(engine, late_sessions) == PAID_WHILE_DOWN, timeout=60)
    with Session(engine) as db:
        for b in every:
            payments = db.exec(select(Payment).where(Payment.booking_id == b["id"])).all()
            assert [p.status for p in payments] == ["paid"], b
            confirmations = db.exec(
                select(AuditLog).where(
                    AuditLog.entity_type == "booking",
                    AuditLog.entity_id == b["id"],
                    AuditLog.to_status == "confirmed",
                )
            ).all()
            assert len(confirmations) == 1, b
        ids = db.exec(select(WebhookEvent.stripe_event_id)).all()
        assert len(ids) == len(set(ids))
