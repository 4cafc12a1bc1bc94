"""One typed Settings object, read from the environment and `.env`.

Everything configurable lives here so that the README's configuration table and `.env.example`
have a single source. Secrets are `SecretStr` so they never end up in a repr or a log line.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_URL = "sqlite:///efoy.db"
MIN_JWT_SECRET_BYTES = 32
# SHA-256 of the demo key earlier versions shipped in this file: it is public, so never accepted.
RETIRED_JWT_SECRET_SHA256 = "2abdad6677e5666ba18daa531321c2bde84ecfdea99a4823c877f307e7d2105b"
LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"


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
    # Browsers may call the API and open /_event from FRONTEND_URL's origin and these only.
    extra_cors_origins: str = Field(default="", alias="EFOY_CORS_ORIGINS")
    # Host headers accepted besides FRONTEND_URL's host (e.g. a proxy's internal name).
    extra_allowed_hosts: str = Field(default="", alias="EFOY_ALLOWED_HOSTS")

    # No default: production refuses to start without one; demo uses this install's own key.
    jwt_secret: SecretStr | None = Field(default=None, alias="EFOY_JWT_SECRET")
    # Production refuses Stripe test keys and SQLite unless told (a staging install, one small
    # clinic on one machine): see `production_problems`.
    allow_test_keys: bool = Field(default=False, alias="EFOY_ALLOW_TEST_KEYS")
    allow_sqlite: bool = Field(default=False, alias="EFOY_ALLOW_SQLITE")
    host: str | None = Field(default=None, alias="EFOY_HOST")
    _demo_jwt_key: str | None = PrivateAttr(default=None)
    jwt_ttl_seconds: int = Field(default=3600, alias="EFOY_JWT_TTL_SECONDS")
    hold_minutes: int = Field(default=30, alias="EFOY_HOLD_MINUTES", ge=30, le=24 * 60)
    booking_horizon_days: int = Field(default=14, alias="EFOY_BOOKING_HORIZON_DAYS")
    reconcile_interval_seconds: float = Field(default=60.0, alias="EFOY_RECONCILE_INTERVAL_SECONDS")
    reconcile_grace_seconds: int = Field(default=120, alias="EFOY_RECONCILE_GRACE_SECONDS")
    log_level: str = Field(default="INFO", alias="EFOY_LOG_LEVEL")
    # "text" (logfmt lines) or "json" (one JSON object a line, for a log shipper): logs.py.
    log_format: Literal["text", "json"] = Field(default="text", alias="EFOY_LOG_FORMAT")
    # GET /api/v1/metrics wants `Authorization: Bearer <this>`; unset, it answers the machine
    # itself only (127.0.0.1 / ::1, not through a proxy): api/monitoring.py.
    metrics_token: SecretStr | None = Field(default=None, alias="EFOY_METRICS_TOKEN")
    # GET /api/v1/health: how long each check may take, and how old the oldest unsent email may
    # grow (with SMTP_HOST set) before the sender counts as down; 0 never.
    health_timeout_seconds: float = Field(
        default=2.0, alias="EFOY_HEALTH_TIMEOUT_SECONDS", gt=0, le=30
    )
    health_mail_max_age_seconds: int = Field(
        default=900, alias="EFOY_HEALTH_MAIL_MAX_AGE_SECONDS", ge=0
    )
    # The clinic's clock: admin pages show every time in it (patients see their own timezone).
    clinic_timezone: str = Field(default="UTC", alias="EFOY_CLINIC_TIMEZONE")
    # How long one Stripe request may take before it counts as unanswered (then retried twice).
    stripe_timeout_seconds: float = Field(
        default=10.0, alias="EFOY_STRIPE_TIMEOUT_SECONDS", gt=0, le=80
    )

    # Refund tiers by hours before the appointment ("hours:percent,..."), see
    # domain/cancellation_policy.py; a malformed policy stops the start.
    cancellation_policy: str = Field(default="48:100,24:50,0:0", alias="EFOY_CANCELLATION_POLICY")
    # When a patient cancels a paid booking: refund at once ("automatic"), or wait for an
    # admin's approval in the dashboard's Cancellation requests ("approval").
    cancellation_refunds: Literal["automatic", "approval"] = Field(
        default="automatic", alias="EFOY_CANCELLATION_REFUNDS"
    )

    smtp_host: str | None = Field(default=None, alias="SMTP_HOST")
    smtp_port: int = Field(default=25, alias="SMTP_PORT")
    smtp_user: str | None = Field(default=None, alias="SMTP_USER")
    smtp_password: SecretStr | None = Field(default=None, alias="SMTP_PASSWORD")
    smtp_from: str = Field(default="Efoy <no-reply@efoy.example>", alias="SMTP_FROM")
    # Implicit TLS from the first byte (port 465); otherwise STARTTLS whenever the server offers it.
    smtp_ssl: bool = Field(default=False, alias="SMTP_SSL")
    smtp_timeout_seconds: float = Field(default=15.0, alias="SMTP_TIMEOUT_SECONDS", gt=0, le=120)
    # The sender's pass: how often it looks for due messages, and the first retry's wait (doubled
    # on each later attempt, capped at an hour) before it gives a message up as failed.
    mail_interval_seconds: float = Field(default=5.0, alias="EFOY_MAIL_INTERVAL_SECONDS", gt=0)
    mail_retry_seconds: float = Field(default=30.0, alias="EFOY_MAIL_RETRY_SECONDS", gt=0)
    mail_max_attempts: int = Field(default=8, alias="EFOY_MAIL_MAX_ATTEMPTS", ge=1, le=50)
    # Which messages Efoy sends (each can be switched off).
    email_confirmation: bool = Field(default=True, alias="EFOY_EMAIL_CONFIRMATION")
    email_refund_note: bool = Field(default=True, alias="EFOY_EMAIL_REFUND_NOTE")
    email_reminder: bool = Field(default=True, alias="EFOY_EMAIL_REMINDER")
    email_cancellation: bool = Field(default=True, alias="EFOY_EMAIL_CANCELLATION")
    email_late_payment: bool = Field(default=True, alias="EFOY_EMAIL_LATE_PAYMENT")
    reminder_hours: int = Field(default=24, alias="EFOY_REMINDER_HOURS", ge=1, le=24 * 14)
    # A patient may ask for their receipt again once per this many seconds.
    receipt_email_cooldown_seconds: int = Field(
        default=60, alias="EFOY_RECEIPT_EMAIL_COOLDOWN_SECONDS", ge=0
    )
    # `make run`'s local SMTP server (demo only, when SMTP_HOST is not set): 0 takes a free port.
    demo_smtp_port: int = Field(default=0, alias="EFOY_DEMO_SMTP_PORT", ge=0, le=65535)

    # The issuer printed on receipts and refund notes.
    clinic_name: str = Field(default="Efoy Clinic", alias="EFOY_CLINIC_NAME", max_length=120)
    # Lines separated by "\n" or "|" ("Bole Road 12|Addis Ababa|Ethiopia").
    clinic_address: str = Field(
        default="Bole Road 12|Addis Ababa|Ethiopia", alias="EFOY_CLINIC_ADDRESS", max_length=400
    )
    # A PNG or JPEG under assets/ (or an absolute path); empty for none.
    clinic_logo: str = Field(default="efoy-logo.png", alias="EFOY_CLINIC_LOGO")
    receipt_paper: Literal["A4", "Letter"] = Field(default="A4", alias="EFOY_RECEIPT_PAPER")

    @property
    def env(self) -> Literal["demo", "production"]:
        """Demo unless told otherwise or a real Stripe key is configured."""
        if self.efoy_env is not None:
            return self.efoy_env
        return "production" if self.stripe_secret_key is not None else "demo"

    @property
    def is_demo(self) -> bool:
        return self.env == "demo"

    @property
    def bind_host(self) -> str:
        """Where the app listens: a demo (known accounts, fake money) only on loopback."""
        if self.host:
            return self.host
        return LOOPBACK if self.is_demo else ALL_INTERFACES

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: object) -> object:
        """ "JSON" is meant as "json"; anything else still stops the start."""
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("clinic_timezone")
    @classmethod
    def _an_iana_zone(cls, value: str) -> str:
        """A typo ("Africa/Adis_Ababa") must stop the start, not show admins UTC silently."""
        name = value.strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"EFOY_CLINIC_TIMEZONE {value!r} is not an IANA timezone name; use one such as "
                "Africa/Addis_Ababa or Europe/Berlin"
            ) from None
        return name

    @field_validator("cancellation_policy")
    @classmethod
    def _a_readable_policy(cls, value: str) -> str:
        """A typo ("48:100,24;50") must stop the start, not refund by a policy nobody wrote."""
        from efoy_app.domain.cancellation_policy import parse_policy
        from efoy_app.domain.errors import ValidationFailed

        try:
            return parse_policy(value).text
        except ValidationFailed as exc:
            raise ValueError(f"EFOY_CANCELLATION_POLICY {value!r}: {exc.message}") from None

    @model_validator(mode="after")
    def _refuse_a_weak_jwt_secret(self) -> Settings:
        """Fail at start (rxconfig, the launcher and the API all build Settings) on a bad key."""
        problem = jwt_secret_problem(self.jwt_secret, production=self.env == "production")
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _refuse_an_unsafe_production(self) -> Settings:
        """Production with a setting that would lose money or safety stops at start, naming
        every setting to fix at once (the JWT key is checked first, above)."""
        if self.env == "production":
            problems = production_problems(self)
            if problems:
                raise ValueError("not safe for production: " + "; ".join(problems))
        return self

    def jwt_key(self) -> str:
        """The HS256 key; in demo without EFOY_JWT_SECRET, this install's own from var/demo.env."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        if self._demo_jwt_key is None:
            from efoy_app.demo_secrets import VAR, ensure_demo_secrets

            self._demo_jwt_key = ensure_demo_secrets(VAR).jwt_secret
        return self._demo_jwt_key

    @property
    def cors_origins(self) -> list[str]:
        """FRONTEND_URL's origin (with its loopback aliases) and EFOY_CORS_ORIGINS."""
        scheme, host, port = _split_url(self.frontend_url)
        origins = [f"{scheme}://{h}{port}" for h in _with_loopback_aliases(host)]
        for extra in _comma_list(self.extra_cors_origins):
            origins.append(extra.rstrip("/"))
        return list(dict.fromkeys(origins))

    @property
    def allowed_hosts(self) -> list[str]:
        """Host names a request may name: FRONTEND_URL's (with its loopback aliases) and
        EFOY_ALLOWED_HOSTS. A forged Host is refused, so it never reaches a redirect."""
        hosts = _with_loopback_aliases(_split_url(self.frontend_url)[1])
        hosts += [h.lower() for h in _comma_list(self.extra_allowed_hosts)]
        return list(dict.fromkeys(hosts))

    @property
    def is_https(self) -> bool:
        return self.frontend_url.lower().startswith("https://")


def production_problems(settings: Settings) -> list[str]:
    """What must change before this configuration may take real patients' money, each naming
    its setting; empty when none."""
    problems = []
    key = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
    if not key:
        problems.append("STRIPE_SECRET_KEY is not set (your secret key from the Stripe Dashboard)")
    elif key.startswith("sk_test_") and not settings.allow_test_keys:
        problems.append(
            "STRIPE_SECRET_KEY is a test key (sk_test_...): set a live key, or "
            "EFOY_ALLOW_TEST_KEYS=1 for a staging install that takes no real money"
        )
    elif key.startswith("sk_live_") and not settings.is_https:
        problems.append(
            f"FRONTEND_URL is {settings.frontend_url!r}: live payments need an https:// address"
        )
    if (
        settings.stripe_webhook_secret is None
        or not settings.stripe_webhook_secret.get_secret_value()
    ):
        problems.append(
            "STRIPE_WEBHOOK_SECRET is not set: production verifies every webhook with it (the "
            "whsec_... of your endpoint in the Stripe Dashboard)"
        )
    if settings.db_url.lower().startswith("sqlite") and not settings.allow_sqlite:
        problems.append(
            "REFLEX_DB_URL is SQLite: production runs on PostgreSQL "
            "(postgresql+psycopg://user:pass@host:5432/efoy), or set EFOY_ALLOW_SQLITE=1 for one "
            "small install on one machine"
        )
    return problems


def jwt_secret_problem(secret: SecretStr | None, *, production: bool) -> str | None:
    """Why this EFOY_JWT_SECRET must not be used, or None when it is fine."""
    value = secret.get_secret_value() if secret is not None else None
    digest = hashlib.sha256(value.encode()).hexdigest() if value is not None else None
    if digest == RETIRED_JWT_SECRET_SHA256:
        return "EFOY_JWT_SECRET is the old published demo key; set a random one of your own"
    if production and (value is None or len(value.encode()) < MIN_JWT_SECRET_BYTES):
        state = "is not set" if value is None else f"is shorter than {MIN_JWT_SECRET_BYTES} bytes"
        return (
            f"EFOY_JWT_SECRET {state}; production needs a random key of at least "
            f"{MIN_JWT_SECRET_BYTES} bytes, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )
    return None


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _split_url(url: str) -> tuple[str, str, str]:
    """("http", "localhost", ":3000") from "http://localhost:3000/anything"."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return parts.scheme.lower(), host, f":{parts.port}" if parts.port else ""


def _with_loopback_aliases(host: str) -> list[str]:
    """localhost, 127.0.0.1 and ::1 are one machine: a demo opened at any of them works."""
    return list(LOOPBACK_HOSTS) if host in LOOPBACK_HOSTS else [host]


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
