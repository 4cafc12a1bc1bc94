"""`make run-prod`'s own steps (`efoy_app/run_prod.py`), each against the real thing: the database
it creates on the local PostgreSQL, the settings it chooses, the key it keeps in var/, the Redis it
starts when none answers, and the refusals it prints. The whole command, serving three workers,
is `tests/e2e/test_run_prod.py`."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from efoy_app import launcher, run_prod
from efoy_app.demo_secrets import read_demo_env
from tests.conftest import free_port

DEFAULT_TEST_DB = "postgresql+psycopg://root@127.0.0.1:5432/test"
# What a developer's shell may hold that changes run-prod's choices.
CHOSEN_BY_RUN_PROD = (
    "EFOY_ENV", "REFLEX_DB_URL", "REFLEX_REDIS_URL", "EFOY_JWT_SECRET", "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "EFOY_ALLOW_TEST_KEYS", "SMTP_HOST",
)  # fmt: skip


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CHOSEN_BY_RUN_PROD}
    return {**env, **extra}


def _databases(server_url: str, name: str) -> int:
    engine = create_engine(server_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_database_is_created_once_then_found() -> None:
    base = make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DB)
    name = f"efoy_rp_setup_{uuid.uuid4().hex[:8]}"
    url = base.set(database=name).render_as_string(hide_password=False)
    server = base.set(database="postgres").render_as_string(hide_password=False)
    try:
        assert run_prod.ensure_database(url) is True
        assert run_prod.ensure_database(url) is False
        assert _databases(server, name) == 1
    finally:
        engine = create_engine(server, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
    assert run_prod.ensure_database("sqlite:///efoy.db") is False  # not PostgreSQL: not ours


def test_defaults_are_production_postgresql_redis_three_workers_and_a_kept_key(
    tmp_path: Path,
) -> None:
    env = _clean_env()
    chosen = run_prod.prod_environment(env, run_prod.given_settings(env), tmp_path, 3)
    assert chosen == {
        "EFOY_ENV": "production",
        "REFLEX_DB_URL": "postgresql+psycopg://root@127.0.0.1:5432/efoy",
        "REFLEX_REDIS_URL": "redis://127.0.0.1:6379/0",
        "GRANIAN_WORKERS": "3",
    }
    key = env["EFOY_JWT_SECRET"]
    assert len(key) == 64 and read_demo_env(tmp_path, "prod.env")["EFOY_JWT_SECRET"] == key
    assert stat.S_IMODE((tmp_path / "prod.env").stat().st_mode) == 0o600
    again = _clean_env()
    run_prod.prod_environment(again, run_prod.given_settings(again), tmp_path, 3)
    assert again["EFOY_JWT_SECRET"] == key  # generated once, kept across starts


def test_what_you_configure_wins(tmp_path: Path) -> None:
    mine = {
        "REFLEX_DB_URL": "postgresql+psycopg://clinic@db.internal:5432/clinic",
        "REFLEX_REDIS_URL": "redis://cache.internal:6379/2",
        "EFOY_JWT_SECRET": "k" * 48,
    }
    env = _clean_env(**mine)
    chosen = run_prod.prod_environment(env, run_prod.given_settings(env), tmp_path, 5)
    assert chosen["REFLEX_DB_URL"] == mine["REFLEX_DB_URL"]
    assert chosen["REFLEX_REDIS_URL"] == mine["REFLEX_REDIS_URL"]
    assert chosen["GRANIAN_WORKERS"] == "5"
    assert env["EFOY_JWT_SECRET"] == "k" * 48
    assert not (tmp_path / "prod.env").exists()


def test_a_test_key_of_your_own_without_its_webhook_secret_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real keys replace the sandbox, and then every production guard rail applies."""
    for name in CHOSEN_BY_RUN_PROD:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_" + "x" * 24)
    assert run_prod.main(["--var-dir", str(tmp_path), "--port", str(free_port())]) == 2
    said = capsys.readouterr().out
    assert "refusing to start: not safe for production" in said
    assert "STRIPE_WEBHOOK_SECRET is not set" in said and "EFOY_ALLOW_TEST_KEYS=1" in said
    assert not (tmp_path / "sandbox.db").exists()  # no sandbox was started
    assert not (tmp_path / "mail").exists()


def test_no_redis_to_reach_or_start_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in CHOSEN_BY_RUN_PROD:
        monkeypatch.delenv(name, raising=False)
    nobody = f"redis://127.0.0.2:{free_port()}/0"  # not 127.0.0.1: run-prod starts none there
    monkeypatch.setenv("REFLEX_REDIS_URL", nobody)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_" + "x" * 24)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_" + "y" * 24)
    monkeypatch.setenv("EFOY_ALLOW_TEST_KEYS", "1")
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    assert run_prod.main(["--var-dir", str(tmp_path), "--port", str(free_port())]) == 2
    assert f"refusing to start: no Redis answers at {nobody}" in capsys.readouterr().out


def test_a_redis_of_its_own_when_none_answers_on_loopback() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert not run_prod.redis_answers(url)
    proc = run_prod.start_redis(url)
    assert proc is not None, "redis-server is installed by `make redis`"
    try:
        assert run_prod.redis_answers(url)
    finally:
        launcher.stop(proc)
    assert not run_prod.redis_answers(url)
