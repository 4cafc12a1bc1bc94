"""One typed Settings object, read from the environment and `.env`.

Everything configurable lives here so that the README's configuration table and `.env.example`
have a single source. Secrets are `SecretStr` so they never end up in a repr or a log line.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_URL = "sqlite:///efoy.db"
DEMO_JWT_SECRET = "demo-only-jwt-secret-change-me-in-production-0123456789"


class Settings(BaseSettings):
    """Efoy's configuration; env names are part of the contract in shared/design.md."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    efoy_env: Literal["demo", "production"] | None = Field(default=None, alias="EFOY_ENV")
    db_url: str = Field(default=DEFAULT_DB_URL, alias="REFLEX_DB_URL")
    redis_url: str | None = Field(default=None, alias="REFLEX_REDIS_URL")

    stripe_secret_key: SecretStr | None = Field(default=None, alias="STRIPE_SECRET_KEY")
    stripe_publishable_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("STRIPE_PUBLISHABLE_KEY", "VITE_STRIPE_PUBLISHABLE_KEY"),
    )
    stripe_webhook_secret: SecretStr | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET")
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")
    frontend_url: str = Field(default="http://localhost:3000", alias="FRONTEND_URL")

    jwt_secret: SecretStr = Field(default=SecretStr(DEMO_JWT_SECRET), alias="EFOY_JWT_SECRET")
    jwt_ttl_seconds: int = Field(default=3600, alias="EFOY_JWT_TTL_SECONDS")
    hold_minutes: int = Field(default=30, alias="EFOY_HOLD_MINUTES", ge=30, le=24 * 60)
    booking_horizon_days: int = Field(default=14, alias="EFOY_BOOKING_HORIZON_DAYS")
    reconcile_interval_seconds: float = Field(default=60.0, alias="EFOY_RECONCILE_INTERVAL_SECONDS")
    reconcile_grace_seconds: int = Field(default=120, alias="EFOY_RECONCILE_GRACE_SECONDS")
    log_level: str = Field(default="INFO", alias="EFOY_LOG_LEVEL")
    # How long one Stripe request may take before it counts as unanswered (then retried twice).
    stripe_timeout_seconds: float = Field(
        default=10.0, alias="EFOY_STRIPE_TIMEOUT_SECONDS", gt=0, le=80
    )

    smtp_host: str | None = Field(default=None, alias="SMTP_HOST")
    smtp_port: int = Field(default=25, alias="SMTP_PORT")
    smtp_user: str | None = Field(default=None, alias="SMTP_USER")
    smtp_password: SecretStr | None = Field(default=None, alias="SMTP_PASSWORD")
    smtp_from: str = Field(default="Efoy <no-reply@efoy.example>", alias="SMTP_FROM")

    @property
    def env(self) -> Literal["demo", "production"]:
        """Demo unless told otherwise or a real Stripe key is configured."""
        if self.efoy_env is not None:
            return self.efoy_env
        return "production" if self.stripe_secret_key is not None else "demo"

    @property
    def is_demo(self) -> bool:
        return self.env == "demo"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
