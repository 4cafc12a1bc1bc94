"""Production refuses to start with a setting that would lose money or safety, and each refusal
names the setting to fix (issue 12's guard rails); demo is not affected."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from efoy_app.settings import Settings
from tests.conftest import PRODUCTION_ENV

LIVE = {
    **PRODUCTION_ENV,
    "STRIPE_SECRET_KEY": "sk_live_" + "x" * 24,
    "EFOY_ALLOW_TEST_KEYS": "0",
    "FRONTEND_URL": "https://clinic.example",
    "REFLEX_DB_URL": "postgresql+psycopg://efoy@db.internal:5432/efoy",
    "EFOY_ALLOW_SQLITE": "0",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def use(values: dict[str, str], *, drop: tuple[str, ...] = ()) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        for name in drop:
            monkeypatch.delenv(name, raising=False)

    return use


def refusal() -> str:
    with pytest.raises(ValidationError) as refused:
        Settings()
    return str(refused.value)


def test_a_live_install_on_postgresql_over_https_starts(env) -> None:  # type: ignore[no-untyped-def]
    env(LIVE)
    assert Settings().env == "production"


@pytest.mark.parametrize(
    ("change", "drop", "named"),
    [
        ({}, ("STRIPE_WEBHOOK_SECRET",), "STRIPE_WEBHOOK_SECRET is not set"),
        ({"STRIPE_WEBHOOK_SECRET": ""}, (), "STRIPE_WEBHOOK_SECRET is not set"),
        ({"STRIPE_SECRET_KEY": "sk_test_abc"}, (), "STRIPE_SECRET_KEY is a test key"),
        ({}, ("STRIPE_SECRET_KEY",), "STRIPE_SECRET_KEY is not set"),
        ({"FRONTEND_URL": "http://clinic.example"}, (), "FRONTEND_URL is 'http://clinic.example'"),
        ({"REFLEX_DB_URL": "sqlite:///efoy.db"}, (), "REFLEX_DB_URL is SQLite"),
        ({"EFOY_JWT_SECRET": "short"}, (), "EFOY_JWT_SECRET"),
    ],
)
def test_each_unsafe_setting_is_refused_by_name(  # type: ignore[no-untyped-def]
    env, change: dict[str, str], drop: tuple[str, ...], named: str
) -> None:
    env({**LIVE, **change}, drop=drop)
    assert named in refusal()


def test_every_problem_is_named_at_once(env) -> None:  # type: ignore[no-untyped-def]
    env({**LIVE, "STRIPE_SECRET_KEY": "sk_test_abc", "REFLEX_DB_URL": "sqlite:///e.db"},
        drop=("STRIPE_WEBHOOK_SECRET",))  # fmt: skip
    said = refusal()
    for name in ("STRIPE_SECRET_KEY is a test key", "STRIPE_WEBHOOK_SECRET", "REFLEX_DB_URL"):
        assert name in said


def test_test_keys_and_sqlite_only_when_told(env) -> None:  # type: ignore[no-untyped-def]
    env({**LIVE, "STRIPE_SECRET_KEY": "sk_test_abc", "EFOY_ALLOW_TEST_KEYS": "1",
         "REFLEX_DB_URL": "sqlite:///e.db", "EFOY_ALLOW_SQLITE": "1",
         "FRONTEND_URL": "http://localhost:3000"})  # fmt: skip
    assert Settings().env == "production"  # a staging install: test keys, so http is allowed


def test_demo_needs_none_of_it(env) -> None:  # type: ignore[no-untyped-def]
    env({"EFOY_ENV": "demo", "REFLEX_DB_URL": "sqlite:///e.db"},
        drop=("STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY"))  # fmt: skip
    assert Settings().env == "demo"
