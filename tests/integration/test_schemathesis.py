"""schemathesis against /api/v1/openapi.json, as a patient and as an admin: no 5xx, and every
answer (status, content type, headers, body) is one the OpenAPI document declares.

The API runs under uvicorn in a process of its own, over a throwaway database with the demo data
(a SQLite file, or with `--db=postgresql` a PostgreSQL database migrated by Alembic) and beside
a sandbox of its own (whose webhook points at this API), so the money-moving calls
schemathesis makes touch nothing another test counts. Generation is derandomized and bounded:
the same cases every run, well under two minutes for both roles.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from efoy_app.launcher import ROOT
from stripe_sandbox.testing import SandboxProcess
from tests.conftest import free_port
from tests.integration.support import alembic_upgrade, postgres_database, postgres_url

MAX_EXAMPLES = 12
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED_SCRIPT = (
    "from sqlmodel import Session, SQLModel\n"
    "import efoy_app.models\n"
    "from efoy_app.db import get_engine\n"
    "from efoy_app.seed import load_demo_data\n"
    "engine = get_engine()\n"
    "SQLModel.metadata.create_all(engine)\n"
    "with Session(engine) as s:\n"
    "    load_demo_data(s)\n"
)


@dataclass
class OwnApi:
    url: str
    tokens: dict[str, str] = field(repr=False)
    log_path: Path = Path()

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def _login(url: str, email: str, password: str) -> str:
    r = httpx.post(
        f"{url}/api/v1/auth/token", json={"email": email, "password": password}, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()["accessToken"]


@pytest.fixture(scope="module")
def own_api(tmp_path_factory: pytest.TempPathFactory, db_backend: str) -> Iterator[OwnApi]:
    """uvicorn serving `create_api()` over a fresh database, with a sandbox of its own."""
    folder = tmp_path_factory.mktemp("schemathesis")
    with ExitStack() as databases:
        if db_backend == "postgresql":
            db_url = databases.enter_context(postgres_database(postgres_url()))
            alembic_upgrade(db_url)
        else:
            db_url = f"sqlite:///{folder / 'efoy.db'}"
        port = free_port()
        webhook_secret = "whsec_" + secrets.token_hex(24)
        sandbox = SandboxProcess.start(
            webhook_url=f"http://127.0.0.1:{port}/api/v1/payment/webhook",
            webhook_secret=webhook_secret,
            retry_base=0.2,
        )
        env = {
            **os.environ,
            "REFLEX_DB_URL": db_url,
            "EFOY_ENV": "demo",
            "EFOY_JWT_SECRET": secrets.token_urlsafe(48),
            "STRIPE_SECRET_KEY": sandbox.api_key,
            "STRIPE_API_BASE": sandbox.url,
            "STRIPE_WEBHOOK_SECRET": webhook_secret,
            "FRONTEND_URL": f"http://127.0.0.1:{port}",
            "PYTHONPATH": str(ROOT),
        }
        log_path = folder / "api.log"
        proc: subprocess.Popen[bytes] | None = None
        try:
            subprocess.run([sys.executable, "-c", SEED_SCRIPT], env=env, cwd=ROOT, check=True)
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "efoy_app.api.app:create_api", "--factory",
                     "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                    env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.1)
            tokens = {
                "patient": _login(url, "patient@example.com", "patient-demo-pass"),
                "admin": _login(url, "admin@example.com", "admin-demo-pass"),
            }
            yield OwnApi(url=url, tokens=tokens, log_path=log_path)
        finally:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
            sandbox.stop()


def run_schemathesis(own_api: OwnApi, role: str) -> subprocess.CompletedProcess[str]:
    """The schemathesis CLI (its pytest plugin does not run under pytest 9), every check on,
    a fixed seed and deterministic generation: the same cases, the same verdict, every run."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(CONFIG),
        "run",
        f"{own_api.url}/api/v1/openapi.json",
        "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", "7",
        "--generation-deterministic",
        "--workers", "1",
        "--request-timeout", "30",
        "--suppress-health-check", "all",
        "--no-color",
        "--header", f"Authorization: Bearer {own_api.tokens[role]}",
    ]  # fmt: skip
    # Run in the fixture's folder: the CLI writes a .schemathesis/ cache where it runs.
    folder = own_api.log_path.parent
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=folder)


@pytest.mark.parametrize("role", ["patient", "admin"])
def test_schemathesis_finds_nothing(own_api: OwnApi, role: str) -> None:
    result = run_schemathesis(own_api, role)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts is not None, result.stdout[-4000:]
    assert int(counts[1]) == int(counts[2]) > 300, counts[0]


def test_no_traceback_in_the_api_log(own_api: OwnApi) -> None:
    """Runs after both: nothing schemathesis sent made the API log an unhandled error."""
    text = own_api.log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]
