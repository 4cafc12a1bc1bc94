"""What `make run-prod` executes: Efoy in production shape on this machine.

    python -m efoy_app.run_prod [--port 3000] [--sandbox-port 12111] [--var-dir var/prod]

EFOY_ENV=production on PostgreSQL (REFLEX_DB_URL, default `efoy` on the local server, created
if missing), Redis (REFLEX_REDIS_URL, default 127.0.0.1:6379/0; a redis-server of its own is
started when none answers there) and EFOY_WORKERS (3) Reflex workers, with every production
guard rail on. Two things differ from a real install, each only while you have not configured
the real one:

- Stripe: without STRIPE_SECRET_KEY it starts the project's Stripe sandbox and runs on its test
  key (EFOY_ALLOW_TEST_KEYS=1): no real money moves. With your keys it uses them, no sandbox.
- Email: without SMTP_HOST the local SMTP server writes every message under `var/prod/mail/`.

Production loads no demo data (`efoy_app.seed` refuses it), so the clinic starts empty: the
launcher prints how to create the first admin (`python -m efoy_app.admin_account`). The JWT key
and the sandbox's webhook secret are generated once into `var/prod/prod.env` (0600) unless
EFOY_JWT_SECRET is set. On the sandbox the app listens on 127.0.0.1 only unless EFOY_HOST says
otherwise. The steps it shares with `make run` (migrate, the sandbox, the SMTP server, serving,
stopping everything however it ends) are `efoy_app.launcher`'s own functions.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from efoy_app import launcher
from efoy_app.demo_secrets import JWT_SECRET_NAME, VAR, ensure_demo_secrets
from efoy_app.models import ROLE_ADMIN
from efoy_app.settings import LOOPBACK, Settings

PROD_VAR = VAR / "prod"
PROD_ENV_NAME = "prod.env"
DEFAULT_DB_URL = "postgresql+psycopg://root@127.0.0.1:5432/efoy"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_WORKERS = 3
# Reflex 0.10.1 serves prod through granian and reads its worker count from GRANIAN_WORKERS
# (reflex/utils/exec.py, run_granian_backend_prod); without it, 2 x cores + 1 once Redis is set.
GRANIAN_WORKERS = "GRANIAN_WORKERS"


def _announce(message: str) -> None:
    print(f"efoy: {message}", flush=True)


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ replaced by `env` for the block: Settings reads the environment only."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def settings_for(env: Mapping[str, str]) -> Settings:
    """The app's settings under `env` (and `.env`), production guard rails included."""
    with _environment(env):
        return Settings()


def given_settings(env: Mapping[str, str]) -> Settings:
    """What the person configured (environment and `.env`), read without production's checks,
    to tell which defaults of run-prod apply."""
    with _environment(env):
        return Settings(efoy_env="demo")


def ensure_database(db_url: str) -> bool:
    """Create the PostgreSQL database of `db_url` if it does not exist; True if it was made.

    Connects to the server's `postgres` database with the same user (trust auth here)."""
    url: URL = make_url(db_url)
    if not url.drivername.startswith("postgresql") or not url.database:
        return False
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            ).scalar()
            if exists:
                return False
            quoted = conn.dialect.identifier_preparer.quote(url.database)
            conn.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        engine.dispose()


def redis_answers(redis_url: str) -> bool:
    """Whether a Redis answers PING at `redis_url`."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def start_redis(redis_url: str) -> subprocess.Popen | None:
    """A redis-server of our own on the loopback address and port of `redis_url`, stopped with
    the launcher (nothing saved to disk); None when none can be started here."""
    url = make_url(redis_url.replace("redis://", "redis+x://", 1))
    host, port = url.host or LOOPBACK, url.port or 6379
    binary = shutil.which("redis-server")
    if host not in (LOOPBACK, "localhost") or binary is None:
        return None
    command = [binary, "--bind", LOOPBACK, "--port", str(port), "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=launcher._parent_death_signal(),  # noqa: PLW1509 (no threads yet)
    )
    deadline = time.monotonic() + 15
    while not redis_answers(redis_url):
        if proc.poll() is not None or time.monotonic() > deadline:
            launcher.stop(proc)
            return None
        time.sleep(0.1)
    return proc


def has_admin(db_url: str) -> bool:
    """Whether the (migrated) database has an admin account yet."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM users WHERE role = :r"), {"r": ROLE_ADMIN})
            return found.first() is not None
    finally:
        engine.dispose()


FIRST_ADMIN_HINT = (
    "no admin account yet (production loads no demo data). Create the first one with:\n"
    "    REFLEX_DB_URL={db_url} .venv/bin/python -m efoy_app.admin_account "
    '--email you@clinic.example --name "Your Name"\n'
    "  then log in at {url}/login and add doctors under /admin."
)


def prod_environment(
    env: dict[str, str], given: Settings, var_dir: Path, workers: int
) -> dict[str, str]:
    """run-prod's settings on top of what was configured: production, PostgreSQL, Redis, the
    worker count and this install's JWT key. Returns what it chose (for the start message)."""
    chosen = {
        "EFOY_ENV": "production",
        "REFLEX_DB_URL": given.db_url if "db_url" in given.model_fields_set else DEFAULT_DB_URL,
        "REFLEX_REDIS_URL": given.redis_url or DEFAULT_REDIS_URL,
        GRANIAN_WORKERS: str(workers),
    }
    env.update(chosen)
    if given.jwt_secret is None:
        env[JWT_SECRET_NAME] = ensure_demo_secrets(var_dir, PROD_ENV_NAME).jwt_secret
    return chosen


def use_sandbox(
    env: dict[str, str], sandbox_port: int, app_port: int, var_dir: Path
) -> subprocess.Popen | None:
    """Start the Stripe sandbox and point the app at it with its test key (allowed by
    EFOY_ALLOW_TEST_KEYS=1); None when this checkout has no sandbox."""
    secret = ensure_demo_secrets(var_dir, PROD_ENV_NAME).webhook_secret
    sandbox = launcher.start_sandbox(env, sandbox_port, app_port, secret, var_dir)
    if sandbox is None:
        return None
    env.update(
        {
            "STRIPE_API_BASE": f"http://127.0.0.1:{sandbox_port}",
            "STRIPE_SECRET_KEY": launcher.SANDBOX_SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": launcher.SANDBOX_PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": secret,
            "EFOY_ALLOW_TEST_KEYS": "1",
        }
    )
    env.setdefault("EFOY_HOST", LOOPBACK)  # fake money: not for other machines to reach
    return sandbox


def use_local_smtp(env: dict[str, str], port: int, var_dir: Path) -> subprocess.Popen | None:
    """The local SMTP server writing `.eml` files under `var_dir/mail`, as `make run`'s."""
    started = launcher.start_demo_smtp(env, port, var_dir)
    if started is None:
        return None
    mail, smtp_port = started
    env.update(
        {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port)}
        | {"SMTP_SSL": "false", "SMTP_USER": "", "SMTP_PASSWORD": ""}
    )
    _announce(f"emails are written to {launcher.shown_path(var_dir / 'mail')}")
    return mail


def _refusal(exc: ValidationError) -> int:
    for error in exc.errors():
        print(f"efoy: refusing to start: {error['msg'].removeprefix('Value error, ')}")
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("EFOY_PORT", launcher.DEFAULT_PORT))
    )
    parser.add_argument(
        "--sandbox-port",
        type=int,
        default=int(os.environ.get("EFOY_SANDBOX_PORT", launcher.DEFAULT_SANDBOX_PORT)),
    )
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("EFOY_WORKERS", DEFAULT_WORKERS))
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=PROD_VAR,
        help="where prod.env, the sandbox's state and the emails live (default: var/prod/)",
    )
    args = parser.parse_args(argv)

    env = launcher.reflex_env()
    env["EFOY_PORT"] = str(args.port)
    try:
        given = given_settings(env)
    except ValidationError as exc:
        return _refusal(exc)
    chosen = prod_environment(env, given, args.var_dir, max(1, args.workers))
    if given.frontend_url == launcher.DEFAULT_FRONTEND_URL:
        env["FRONTEND_URL"] = f"http://localhost:{args.port}"
    children: list[subprocess.Popen | None] = []
    app: subprocess.Popen | None = None
    with launcher._signals_as_exit():
        try:
            if given.stripe_secret_key is None:
                children.append(use_sandbox(env, args.sandbox_port, args.port, args.var_dir))
                _announce("Stripe: the sandbox (test key, no real money); set STRIPE_SECRET_KEY "
                          "and STRIPE_WEBHOOK_SECRET for real Stripe")  # fmt: skip
            try:
                settings = settings_for(env)
            except ValidationError as exc:
                return _refusal(exc)
            if not given.smtp_host:
                children.append(use_local_smtp(env, given.demo_smtp_port, args.var_dir))
            redis_url = chosen["REFLEX_REDIS_URL"]
            if not redis_answers(redis_url):
                own = start_redis(redis_url)
                if own is None:
                    _announce(f"refusing to start: no Redis answers at {redis_url} (start one, "
                              "or set REFLEX_REDIS_URL)")  # fmt: skip
                    return 2
                children.append(own)
                _announce(f"started redis-server for {redis_url} (stops with Efoy)")
            try:
                if ensure_database(settings.db_url):
                    _announce(f"created the database {make_url(settings.db_url).database}")
            except Exception as exc:  # noqa: BLE001 (any driver error: say it and stop)
                _announce(f"refusing to start: cannot reach PostgreSQL ({type(exc).__name__}: "
                          f"{exc}); start it, or set REFLEX_DB_URL")  # fmt: skip
                return 2
            launcher.migrate(env, settings.db_url)
            frontend_url = env.get("FRONTEND_URL", settings.frontend_url)
            if not has_admin(settings.db_url):
                shown_db = make_url(settings.db_url).render_as_string(hide_password=True)
                _announce(FIRST_ADMIN_HINT.format(db_url=shown_db, url=frontend_url))
            host = settings.bind_host
            _announce(
                f"production on {make_url(settings.db_url).render_as_string(hide_password=True)}"
                f", Redis {redis_url}, {env[GRANIAN_WORKERS]} workers; serving on "
                f"http://{'localhost' if host == LOOPBACK else host}:{args.port} (Ctrl-C stops)"
            )
            app = launcher.start_app(env, args.port, host)
            launcher.announce_when_ready(app, args.port, host, frontend_url)
            return app.wait()
        except KeyboardInterrupt:
            return 130
        finally:
            launcher._ignore_signals_while_stopping()
            launcher.stop(app)
            for child in reversed(children):
                launcher.stop(child)


if __name__ == "__main__":
    sys.exit(main())
