"""An Efoy server for end-to-end tests, started exactly as `make run` starts it.

`app_server` runs `python -m efoy_app.launcher` (start the Stripe sandbox, migrate, seed the demo
data, `reflex run --env prod` on one port) on free ports, with its own database, its own Reflex
build folder (`REFLEX_WEB_WORKDIR`), its own state folder and its own sandbox state and webhook
secret (`--var-dir`), so it never disturbs a `make run` serving from the same checkout. Its
database is a SQLite file in its folder, or with `--db=postgresql` a PostgreSQL database of its
own on TEST_DATABASE_URL's server (the launcher migrates it as any), dropped at the end. Extra
environment comes from the `app_server_extra_env` fixture, which a conftest closer to the tests
may override; setting STRIPE_API_BASE there (with STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET)
replaces the launcher's sandbox by one of the test's own.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from efoy_app.db import make_engine
from efoy_app.launcher import ROOT, demo_webhook_secret, reflex_env, wait_for_http
from tests.conftest import free_port
from tests.integration.support import postgres_database, postgres_url
from tests.log_scan import LOG_DIR_ENV, run_log_path

SCREENSHOTS = ROOT / "docs" / "screenshots"
START_TIMEOUT = 240


@dataclass
class AppServer:
    """A running Efoy server: where it answers and which database it uses."""

    url: str
    db_url: str
    port: int
    workdir: Path
    sandbox_url: str | None
    webhook_secret: str | None
    log_path: Path
    start_seconds: float
    proc: subprocess.Popen = field(repr=False)
    _engine: Engine | None = field(default=None, repr=False)
    _cleanup: ExitStack = field(default_factory=ExitStack, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.db_url)
        return self._engine

    def session(self) -> Session:
        """A session on the server's database, to assert the rows behind what a page shows."""
        return Session(self.engine, expire_on_commit=False)

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start_app_server(
    extra_env: dict[str, str] | None = None, db_backend: str = "sqlite"
) -> AppServer:
    """Migrate, seed and serve the app on a free port; returns once pages answer."""
    workdir = Path(tempfile.mkdtemp(prefix="efoy-e2e-"))
    port = free_port()
    sandbox_port = free_port()
    cleanup = ExitStack()
    if db_backend == "postgresql":
        db_url = cleanup.enter_context(postgres_database(postgres_url()))
    else:
        db_url = f"sqlite:///{workdir / 'efoy.db'}"
    env = reflex_env()
    # EFOY_JWT_SECRET too: the launcher makes this install's own key, as on a fresh `make run`.
    for name in (
        "STRIPE_SECRET_KEY",
        "STRIPE_API_BASE",
        "STRIPE_WEBHOOK_SECRET",
        "EFOY_ENV",
        "EFOY_JWT_SECRET",
        "EFOY_HOST",
    ):
        env.pop(name, None)
    env.update(
        {
            "EFOY_PORT": str(port),
            "REFLEX_DB_URL": db_url,
            "REFLEX_WEB_WORKDIR": str(workdir / ".web"),
            "REFLEX_STATES_WORKDIR": str(workdir / ".states"),
            "REFLEX_UPLOADED_FILES_DIR": str(workdir / "uploaded_files"),
            "EFOY_ENV": "demo",
            # Reconciliation runs in the app's lifespan; quick passes let a test see it work.
            "EFOY_RECONCILE_INTERVAL_SECONDS": "2",
            "EFOY_RECONCILE_GRACE_SECONDS": "3",
            "FRONTEND_URL": f"http://localhost:{port}",
        }
    )
    env.update(extra_env or {})
    own_sandbox = not env.get("STRIPE_API_BASE")
    var_dir = workdir / "var"
    command = [sys.executable, "-m", "efoy_app.launcher", "--port", str(port)]
    command += ["--sandbox-port", str(sandbox_port), "--var-dir", str(var_dir)]
    # In the run's log folder, kept after the workdir is removed and scanned for secrets.
    log_path = run_log_path(f"e2e-server-{port}.log") or workdir / "server.log"
    started = time.monotonic()
    try:
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except BaseException:
        cleanup.close()  # no server to stop: drop its database now
        raise
    server = AppServer(
        url=f"http://localhost:{port}",
        db_url=db_url,
        port=port,
        workdir=workdir,
        sandbox_url=f"http://127.0.0.1:{sandbox_port}" if own_sandbox else env["STRIPE_API_BASE"],
        webhook_secret=None,
        log_path=log_path,
        start_seconds=0.0,
        proc=proc,
        _cleanup=cleanup,
    )
    try:
        wait_for_http(f"{server.url}/ping", START_TIMEOUT, proc)
        wait_for_http(f"{server.url}/doctors", 30, proc)
        if own_sandbox:
            wait_for_http(f"{server.sandbox_url}/_sandbox/health", 30, proc)
            server.webhook_secret = demo_webhook_secret(var_dir)
        else:
            server.webhook_secret = env.get("STRIPE_WEBHOOK_SECRET")
    except (RuntimeError, TimeoutError) as exc:
        stop_app_server(server, keep_files=True)
        raise RuntimeError(f"Efoy did not start: {exc}\n{server.log_tail()}") from exc
    server.start_seconds = time.monotonic() - started
    return server


def stop_app_server(server: AppServer, keep_files: bool = False) -> None:
    """SIGTERM the launcher (it stops reflex and its workers), then clean up."""
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
    if server._engine is not None:
        server._engine.dispose()
    server._cleanup.close()
    if not keep_files:
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def app_server_extra_env() -> dict[str, str]:
    """Environment added to the server's; override to plug in a Stripe sandbox."""
    return {}


@pytest.fixture(scope="session")
def app_server(app_server_extra_env: dict[str, str], db_backend: str) -> Iterator[AppServer]:
    server = start_app_server(app_server_extra_env, db_backend)
    print(f"\nEfoy e2e server on {server.url} started in {server.start_seconds:.1f}s")
    yield server
    stop_app_server(server)


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    """The README's screenshots with `make screenshots` (EFOY_SCREENSHOTS=1); otherwise the run's
    log folder, so a test run never rewrites files the repository keeps."""
    if os.environ.get("EFOY_SCREENSHOTS") == "1":
        folder = SCREENSHOTS
    else:
        folder = Path(os.environ.get(LOG_DIR_ENV) or tempfile.mkdtemp()) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


REDIS = ("127.0.0.1", 6379)
_redis_databases = itertools.count(7)  # each module's server its own Redis database


def redis_answers(address: tuple[str, int] = REDIS) -> bool:
    try:
        with socket.create_connection(address, timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def worker_count(server: AppServer) -> int:
    """Processes serving the app's port: the reflex parent and its workers."""
    out = subprocess.run(["ps", "-ewwo", "args"], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if f"--frontend-port {server.port}" in line)


@pytest.fixture(scope="session")
def redis_address() -> Iterator[tuple[str, int]]:
    """The Redis on 127.0.0.1:6379 if one answers (CI starts it), else one of the tests' own on
    a free port (`make test` installs redis-server), stopped afterwards."""
    if redis_answers():
        yield REDIS
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("These tests need Redis: `make test` installs redis-server (apt), or start "
                    "one on 127.0.0.1:6379.")  # fmt: skip
    address = ("127.0.0.1", free_port())
    proc = subprocess.Popen(
        [binary, "--bind", address[0], "--port", str(address[1]), "--save", "", "--appendonly",
         "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while not redis_answers(address):
        assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.1)
    yield address
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_server(redis_address: tuple[str, int], db_backend: str) -> Iterator[AppServer]:
    """The app as production runs it: several workers sharing their state in Redis."""
    host, port = redis_address
    server = start_app_server(
        {"REFLEX_REDIS_URL": f"redis://{host}:{port}/{next(_redis_databases)}"}, db_backend
    )
    yield server
    stop_app_server(server)
