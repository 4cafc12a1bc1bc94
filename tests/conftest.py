"""Fixtures shared by every test folder: Debian's Chromium for Playwright, free ports, and the
database the app under test runs on.

`--db=sqlite` (the default) or `--db=postgresql` (also `EFOY_TEST_DB=postgresql`) chooses the
database of the integration `api_server` and of the e2e servers: with `postgresql` each gets a
database of its own on the server of TEST_DATABASE_URL, migrated with Alembic and dropped after.
That pass runs only the tests that reach the app's database through those servers (they ask for
the `db_backend` fixture), less those marked `sqlite_only` and those that already run on both
databases in the SQLite pass (`both_databases`, see tests/integration/support.py BACKENDS).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


DB_CHOICES = ("sqlite", "postgresql")
DB_ENV = "EFOY_TEST_DB"
PG_URL_ENV = "TEST_DATABASE_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=DB_CHOICES,
        default=None,
        help=f"database of the app under test (default: ${DB_ENV}, else sqlite); postgresql "
        f"needs ${PG_URL_ENV} and runs only the tests that use the app's database",
    )


def chosen_db(config: pytest.Config) -> str:
    """`--db`, else EFOY_TEST_DB, else sqlite (also when this file is loaded as a plugin of a
    run that never registered the option, as `tests/unit/test_log_scan.py` does)."""
    return config.getoption("--db", default=None) or os.environ.get(DB_ENV) or "sqlite"


def pytest_configure(config: pytest.Config) -> None:
    """Every run's logs go to one folder, scanned for secrets at the end (tests/log_scan.py)."""
    from tests.log_scan import LogScanPlugin

    config.pluginmanager.register(LogScanPlugin(config), "efoy-log-scan")
    db = chosen_db(config)
    if db not in DB_CHOICES:
        raise pytest.UsageError(f"{DB_ENV}={db!r}: expected one of {', '.join(DB_CHOICES)}")
    if db == "postgresql" and not os.environ.get(PG_URL_ENV):
        # A pass that quietly ran nothing would look green.
        raise pytest.UsageError(f"--db=postgresql needs {PG_URL_ENV} (a PostgreSQL server URL)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL pass keeps only what runs differently there (see the module docstring)."""
    if chosen_db(config) != "postgresql":
        return
    keep, drop = [], []
    for item in items:
        uses_app_db = "db_backend" in getattr(item, "fixturenames", ())
        marked = item.get_closest_marker("sqlite_only") or item.get_closest_marker("both_databases")
        (keep if uses_app_db and not marked else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def db_backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgresql": what the app servers under test run on (`--db`)."""
    return chosen_db(request.config)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Playwright cannot download browsers here: drive Debian's Chromium instead."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session", autouse=True)
def jwt_secret() -> Iterator[str]:
    """A random JWT key for this run: the source holds none (a demo install makes its own)."""
    saved = os.environ.get("EFOY_JWT_SECRET")
    key = os.environ["EFOY_JWT_SECRET"] = secrets.token_urlsafe(48)
    yield key
    if saved is None:
        os.environ.pop("EFOY_JWT_SECRET", None)
    else:
        os.environ["EFOY_JWT_SECRET"] = saved


def free_port() -> int:
    """A port nobody listens on now, so tests never collide with a running `make run`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StripeWorld:
    """A sandbox process whose webhook points at `api_port`, where the API under test listens."""

    sandbox: Any
    webhook_secret: str
    api_port: int


@pytest.fixture(scope="session")
def stripe_world() -> Iterator[StripeWorld]:
    """Started before any in-process API server, so the app reads these settings at start."""
    from efoy_app.domain.stripe_gateway import get_stripe
    from efoy_app.settings import get_settings
    from stripe_sandbox.testing import SandboxProcess

    api_port = free_port()
    secret = "whsec_" + secrets.token_hex(24)
    process = SandboxProcess.start(
        webhook_url=f"http://127.0.0.1:{api_port}/api/v1/payment/webhook",
        webhook_secret=secret,
        retry_base=0.2,
        # The schedule the suite was written against (the default retries for an hour): events
        # that tests make fail on purpose stop being retried instead of loading later tests.
        extra_args=["--max-attempts", "8", "--retry-cap", "30"],
    )
    saved = {k: os.environ.get(k) for k in STRIPE_ENV}
    os.environ.update(
        {
            "STRIPE_SECRET_KEY": process.api_key,
            "STRIPE_API_BASE": process.url,
            "STRIPE_WEBHOOK_SECRET": secret,
            "EFOY_ENV": "demo",
        }
    )
    get_settings.cache_clear()
    get_stripe.cache_clear()
    try:
        yield StripeWorld(process, secret, api_port)
    finally:
        process.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        get_stripe.cache_clear()


# A production configuration the guard rails accept, for tests that run as production on SQLite
# against the sandbox (settings.production_problems names what each of these stands in for).
PRODUCTION_ENV = {
    "EFOY_ENV": "production",
    "EFOY_JWT_SECRET": "production-test-key-" + "k" * 32,
    "STRIPE_SECRET_KEY": "sk_test_production_tests",
    "EFOY_ALLOW_TEST_KEYS": "1",
    "STRIPE_WEBHOOK_SECRET": "whsec_production_tests",
    "EFOY_ALLOW_SQLITE": "1",
}

STRIPE_ENV = ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET", "EFOY_ENV")
