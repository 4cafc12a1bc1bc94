"""The JWT key: never a constant in the source, one per demo install, strong in production."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlmodel import Session

from efoy_app import demo_secrets
from efoy_app.db import make_engine, private_sqlite_file
from efoy_app.domain import auth
from efoy_app.models import ROLE_PATIENT, User
from efoy_app.settings import Settings, get_settings
from tests.conftest import PRODUCTION_ENV

# The key earlier versions shipped in settings.py (public since): it must open nothing.
OLD_PUBLISHED_KEY = "demo-only-jwt-secret-change-me-in-production-0123456789"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "EFOY_JWT_SECRET is not set"),
        ("x" * 31, "EFOY_JWT_SECRET is shorter than 32 bytes"),
        (OLD_PUBLISHED_KEY, "EFOY_JWT_SECRET is the old published demo key"),
    ],
)
def test_production_refuses_to_start_without_a_strong_key(
    monkeypatch: pytest.MonkeyPatch, key: str | None, reason: str
) -> None:
    monkeypatch.setenv("EFOY_ENV", "production")
    if key is None:
        monkeypatch.delenv("EFOY_JWT_SECRET", raising=False)
    else:
        monkeypatch.setenv("EFOY_JWT_SECRET", key)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert reason in str(refused.value)


def test_production_accepts_a_key_of_32_bytes(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = User(email="p@example.com", password_hash="!", role=ROLE_PATIENT, full_name="P")
    session.add(user)
    session.commit()
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EFOY_JWT_SECRET", "k" * 32)
    get_settings.cache_clear()
    token, _ = auth.issue_token(user)
    assert auth.decode_token(token).user_id == user.id


def test_the_old_published_key_is_refused_in_demo_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EFOY_ENV", "demo")
    monkeypatch.setenv("EFOY_JWT_SECRET", OLD_PUBLISHED_KEY)
    with pytest.raises(ValidationError, match="old published demo key"):
        Settings()


def test_two_installs_get_different_keys_that_stay(tmp_path: Path) -> None:
    first = demo_secrets.ensure_demo_secrets(tmp_path / "one" / "var")
    second = demo_secrets.ensure_demo_secrets(tmp_path / "two" / "var")
    assert first.jwt_secret != second.jwt_secret
    assert first.webhook_secret != second.webhook_secret
    assert len(first.jwt_secret) == 64 and first.webhook_secret.startswith("whsec_")
    assert demo_secrets.ensure_demo_secrets(tmp_path / "one" / "var") == first
    assert mode(tmp_path / "one" / "var") == 0o700
    assert mode(tmp_path / "one" / "var" / "demo.env") == 0o600


def test_an_old_demo_env_keeps_its_webhook_secret_and_gains_a_jwt_key(tmp_path: Path) -> None:
    (tmp_path / "demo.env").write_text("STRIPE_WEBHOOK_SECRET=whsec_kept\n")
    (tmp_path / "demo.env").chmod(0o644)
    made = demo_secrets.ensure_demo_secrets(tmp_path)
    assert made.webhook_secret == "whsec_kept"
    assert demo_secrets.read_demo_env(tmp_path) == {
        "STRIPE_WEBHOOK_SECRET": "whsec_kept",
        "EFOY_JWT_SECRET": made.jwt_secret,
    }
    assert mode(tmp_path / "demo.env") == 0o600


def test_processes_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    results: list[demo_secrets.DemoSecrets] = []
    threads = [
        threading.Thread(target=lambda: results.append(demo_secrets.ensure_demo_secrets(tmp_path)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1


def test_demo_without_a_key_uses_the_install_key_from_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`reflex run` by hand in demo mode: the key `make run` made, or a new one kept there."""
    monkeypatch.setattr(demo_secrets, "VAR", tmp_path / "var")
    monkeypatch.setenv("EFOY_ENV", "demo")
    monkeypatch.delenv("EFOY_JWT_SECRET")
    key = Settings().jwt_key()
    assert key == demo_secrets.read_demo_env(tmp_path / "var")["EFOY_JWT_SECRET"]
    assert Settings().jwt_key() == key


def test_demo_binds_loopback_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EFOY_ENV", "demo")
    assert Settings().bind_host == "127.0.0.1"
    monkeypatch.setenv("EFOY_HOST", "0.0.0.0")
    assert Settings().bind_host == "0.0.0.0"
    monkeypatch.delenv("EFOY_HOST")
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    assert Settings().bind_host == "0.0.0.0"


def test_the_sqlite_file_and_its_journals_are_owner_only(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    old.touch(mode=0o644)
    old.chmod(0o644)
    assert private_sqlite_file(f"sqlite:///{old}") == old and mode(old) == 0o600
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        files = sorted(p.name for p in tmp_path.glob("new.db*"))
        assert files == ["new.db", "new.db-shm", "new.db-wal"]
        assert {p.name: mode(p) for p in tmp_path.glob("new.db*")} == dict.fromkeys(files, 0o600)
    engine.dispose()
    assert private_sqlite_file("sqlite://") is None
    assert private_sqlite_file("postgresql+psycopg://root@127.0.0.1/test") is None
