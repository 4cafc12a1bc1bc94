"""What `make run` executes: migrate, seed the demo, start the Stripe sandbox, serve the app.

Written in Python rather than as a long Makefile recipe so that the end-to-end tests can start the
app exactly as `make run` does (`serve_command()` and `reflex_env()` are shared with them).

    python -m efoy_app.launcher [--port 3000] [--no-sandbox] [--no-seed] [--var-dir var]

Demo mode (no STRIPE_SECRET_KEY and EFOY_ENV not "production") loads the demo data and starts the
project's Stripe sandbox on loopback; the webhook secret they share and the app's JWT key are
generated once per install into `var/demo.env` (0600, in a 0700 `var/`) and handed over by
environment, never on a command line. A demo listens on 127.0.0.1 only, unless EFOY_HOST says
otherwise. Production refuses to start without a strong EFOY_JWT_SECRET.

Demo mode without SMTP_HOST also starts the demo SMTP server (`python -m efoy_app.demo_smtp`) on
loopback (EFOY_DEMO_SMTP_PORT, default a free port) and points the app's SMTP_HOST/SMTP_PORT at
it: every email the app sends is written as an `.eml` file under `var/mail/`.

The sandbox, the SMTP server and the app die with the launcher however it ends (Ctrl-C, SIGTERM,
SIGHUP, SIGKILL, `kill -- -PGID`): the sandbox and the SMTP server watch their parent
(`--parent-pid`), the app gets the kernel's parent-death signal, and a clean exit stops all.
Everything Reflex would otherwise fetch from the internet is kept inside the project (`.tools/`),
so the app starts on a machine that reaches only PyPI and npm.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from pydantic import ValidationError

from efoy_app import routes
from efoy_app.db import private_sqlite_file
from efoy_app.demo_secrets import (
    DEMO_ENV_NAME,
    JWT_SECRET_NAME,
    ROOT,
    VAR,
    DemoSecrets,
    ensure_demo_secrets,
    private_dir,
)
from efoy_app.settings import Settings

TOOLS = ROOT / ".tools"
DEMO_ENV_FILE = VAR / DEMO_ENV_NAME
SANDBOX_SECRET_ENV = "STRIPE_SANDBOX_WEBHOOK_SECRET"  # read by `python -m stripe_sandbox`
PR_SET_PDEATHSIG = 1
DEFAULT_PORT = 3000
DEFAULT_SANDBOX_PORT = 12111
DEFAULT_FRONTEND_URL = "http://localhost:3000"
# The demo clinic's clock when EFOY_CLINIC_TIMEZONE is not set: its patient and two of its
# doctors are in Addis Ababa, so the admin pages read as the demo patient's own pages do.
DEMO_CLINIC_TIMEZONE = "Africa/Addis_Ababa"
DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org/"
SANDBOX_SECRET_KEY = "sk_test_sandbox"
SANDBOX_PUBLISHABLE_KEY = "pk_test_sandbox"


def npm_registry() -> str:
    """The npm registry this machine uses; asking npm once spares Reflex probing others."""
    if os.environ.get("NPM_CONFIG_REGISTRY"):
        return os.environ["NPM_CONFIG_REGISTRY"]
    npm = shutil.which("npm")
    if npm:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [npm, "config", "get", "registry"], capture_output=True, text=True, timeout=20
            ).stdout.strip()
            if out.startswith("http"):
                return out
    return DEFAULT_NPM_REGISTRY


def reflex_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment that keeps Reflex off the network and its downloads inside the project."""
    env = dict(os.environ if base is None else base)
    bun_bin = TOOLS / "node_modules" / ".bin"
    env["PATH"] = (
        f"{bun_bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    )
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    env.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")
    env.setdefault("REFLEX_SHOW_BUILT_WITH_REFLEX", "false")
    env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    env.setdefault("REFLEX_DIR", str(TOOLS / "reflex"))
    env.setdefault("BUN_INSTALL_CACHE_DIR", str(TOOLS / "bun-cache"))
    env["NPM_CONFIG_REGISTRY"] = env.get("NPM_CONFIG_REGISTRY") or npm_registry()
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def configured() -> Settings:
    """Settings as the app will see them (environment first, then `.env`)."""
    return Settings()


def demo_webhook_secret(var_dir: Path = VAR) -> str:
    """The sandbox's webhook secret, made once and kept in var/demo.env (git-ignored)."""
    return ensure_demo_secrets(var_dir).webhook_secret


def run_step(args: list[str], env: Mapping[str, str]) -> None:
    """Run one set-up step in the project folder; stop everything if it fails."""
    subprocess.run(args, cwd=ROOT, env=dict(env), check=True)


def migrate(env: Mapping[str, str], db_url: str) -> None:
    """Bring the database (REFLEX_DB_URL) to the newest migration; a new SQLite file is 0600."""
    with contextlib.chdir(ROOT):  # a relative sqlite:/// path is relative to where reflex runs
        private_sqlite_file(db_url)
    run_step([sys.executable, "-m", "reflex", "db", "migrate"], env)


def seed(env: Mapping[str, str]) -> None:
    """Load the demo doctors and accounts (idempotent) and print the demo accounts."""
    run_step([sys.executable, "-m", "efoy_app.seed"], env)


def serve_command(port: int, host: str) -> list[str]:
    """`reflex run --env prod`: one port for pages, `/_event` and `/api/*`, bound to `host`.

    Reflex 0.10 binds `--backend-host` (default `rx.Config.backend_host`, 0.0.0.0) in prod.
    Run through `efoy_app.reflex_build`, which reuses the last frontend build if nothing it is
    built from changed."""
    return [
        sys.executable, "-m", "efoy_app.reflex_build", "run", "--env", "prod",
        "--single-port", "--frontend-port", str(port), "--backend-port", str(port),
        "--backend-host", host,
    ]  # fmt: skip


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook giving the child SIGTERM when the launcher dies, even by SIGKILL.

    Linux's PR_SET_PDEATHSIG; None elsewhere (a clean exit still stops the app there)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the launcher died before the line above
            os._exit(1)

    return hook


def start_app(env: Mapping[str, str], port: int, host: str) -> subprocess.Popen:
    """Serve the app in its own process group (stop() ends it with all its workers)."""
    return subprocess.Popen(
        serve_command(port, host),
        cwd=ROOT,
        env=dict(env),
        start_new_session=True,
        preexec_fn=_parent_death_signal(),  # noqa: PLW1509 (the launcher runs no threads)
    )


def wait_for_http(
    url: str, timeout: float, proc: subprocess.Popen | None = None, host: str | None = None
) -> None:
    """Poll `url` until it answers 2xx; fail early if `proc` dies meanwhile.

    `host`: the Host header to send (the app refuses names other than FRONTEND_URL's)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(request, timeout=2) as resp:
                if 200 <= resp.status < 300:
                    return
        except OSError as exc:
            last_error = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s ({last_error})")


READY_TIMEOUT = 600  # a first production build on a slow machine takes minutes


def ready_line(frontend_url: str) -> str:
    """What the launcher prints once pages answer: the address people open (FRONTEND_URL).

    Reflex itself prints "App running at http://0.0.0.0:3000", the address it binds; Stripe
    sends patients back to FRONTEND_URL, so a patient who opened another name (0.0.0.0, an IP)
    would come back signed out."""
    return f"Efoy is ready: open {frontend_url.rstrip('/')}"


def announce_when_ready(app: subprocess.Popen, port: int, host: str, frontend_url: str) -> None:
    """Wait until the app answers on its port, then print `ready_line` (or why not)."""
    probe = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)
    probe = f"[{probe}]" if ":" in probe and not probe.startswith("[") else probe
    public = urllib.parse.urlsplit(frontend_url).netloc or None
    try:
        wait_for_http(f"http://{probe}:{port}/ping", READY_TIMEOUT, app, host=public)
    except TimeoutError as exc:
        print(f"efoy: the app is not answering yet ({exc})", flush=True)
        return
    except RuntimeError:
        return  # the app exited; its own output says why
    print(f"efoy: {ready_line(frontend_url)}", flush=True)


def start_sandbox(
    env: Mapping[str, str], sandbox_port: int, app_port: int, secret: str, var_dir: Path = VAR
) -> subprocess.Popen | None:
    """Start the project's Stripe sandbox in the background, if this checkout has it.

    The secret goes by environment (arguments are visible to every user in `ps`); the sandbox
    exits by itself once this launcher is gone (`--parent-pid`). Returns once it answers."""
    if importlib.util.find_spec("stripe_sandbox") is None:
        print("efoy: stripe_sandbox is not available; payments are disabled in this demo.")
        return None
    private_dir(var_dir)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "stripe_sandbox",
            "--port", str(sandbox_port),
            "--state", str(var_dir / "sandbox.db"),
            "--webhook", f"http://127.0.0.1:{app_port}{routes.API_WEBHOOK}",
            "--parent-pid", str(os.getpid()),
        ],
        cwd=ROOT,
        env={**env, SANDBOX_SECRET_ENV: secret},
        start_new_session=True,
    )  # fmt: skip
    wait_for_http(f"http://127.0.0.1:{sandbox_port}/_sandbox/health", 30, proc)
    return proc


DEMO_SMTP_ANNOUNCE = "efoy-demo-smtp: listening on"  # efoy_app.demo_smtp.ANNOUNCE


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The child's first line of output, waiting at most `timeout` seconds ("" if none)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().strip() if ready else ""


def start_demo_smtp(
    env: Mapping[str, str], port: int, var_dir: Path = VAR
) -> tuple[subprocess.Popen, int] | None:
    """Start the demo SMTP server writing into `var_dir/mail`; returns it and the port it
    listens on (port 0: a free one) once it listens, or None (said why) if it could not start:
    the demo then runs on, its emails waiting in the outbox."""
    private_dir(var_dir)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "efoy_app.demo_smtp",
            "--dir", str(var_dir / "mail"),
            "--port", str(port),
            "--parent-pid", str(os.getpid()),
        ],
        cwd=ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    line = _first_line(proc, 30)
    if not line.startswith(DEMO_SMTP_ANNOUNCE):
        stop(proc)
        print("efoy: the demo SMTP server did not start; emails wait in the outbox", flush=True)
        return None
    return proc, int(line.rsplit(":", 1)[1])


def shown_path(path: Path) -> str:
    """`var/mail/` for a folder inside the project, else the absolute path."""
    try:
        return f"{path.resolve().relative_to(ROOT)}/"
    except ValueError:
        return f"{path.resolve()}/"


def stop(proc: subprocess.Popen | None, timeout: float = 10) -> None:
    """Stop a child and everything it started (it runs in its own process group)."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _signals_as_exit() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit so `finally` blocks stop the children."""

    def _handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, _handler) for sig in EXIT_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore_signals_while_stopping() -> None:
    """A second Ctrl-C or SIGTERM must not cut the clean-up short and strand the sandbox."""
    for sig in (*EXIT_SIGNALS, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)


def demo_environment(env: dict[str, str], settings: Settings, var_dir: Path) -> DemoSecrets:
    """This install's demo secrets; the JWT key goes to the app unless EFOY_JWT_SECRET is set."""
    demo = ensure_demo_secrets(var_dir)
    if settings.jwt_secret is None:
        env[JWT_SECRET_NAME] = demo.jwt_secret
    return demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("EFOY_PORT", DEFAULT_PORT)))
    parser.add_argument(
        "--sandbox-port",
        type=int,
        default=int(os.environ.get("EFOY_SANDBOX_PORT", DEFAULT_SANDBOX_PORT)),
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=VAR,
        help="where demo.env and the sandbox's state live (default: var/)",
    )
    parser.add_argument("--no-sandbox", action="store_true", help="do not start the sandbox")
    parser.add_argument("--no-seed", action="store_true", help="do not load the demo data")
    args = parser.parse_args(argv)

    env = reflex_env()
    env["EFOY_PORT"] = str(args.port)
    try:
        settings = configured()
    except ValidationError as exc:  # e.g. production without a strong EFOY_JWT_SECRET
        for error in exc.errors():
            print(f"efoy: refusing to start: {error['msg'].removeprefix('Value error, ')}")
        return 2
    demo = settings.is_demo
    sandbox: subprocess.Popen | None = None
    mail: subprocess.Popen | None = None
    app: subprocess.Popen | None = None
    with _signals_as_exit():
        try:
            if settings.frontend_url == DEFAULT_FRONTEND_URL:
                # Links in emails and Stripe's return URLs must point at the port we serve.
                env["FRONTEND_URL"] = f"http://localhost:{args.port}"
            if demo:
                env["EFOY_ENV"] = "demo"
                if "clinic_timezone" not in settings.model_fields_set:
                    env["EFOY_CLINIC_TIMEZONE"] = DEMO_CLINIC_TIMEZONE
                demo_keys = demo_environment(env, settings, args.var_dir)
                if not args.no_sandbox and not settings.stripe_api_base:
                    secret = demo_keys.webhook_secret
                    sandbox = start_sandbox(env, args.sandbox_port, args.port, secret, args.var_dir)
                    if sandbox is not None:
                        env["STRIPE_API_BASE"] = f"http://127.0.0.1:{args.sandbox_port}"
                        env["STRIPE_SECRET_KEY"] = SANDBOX_SECRET_KEY
                        env.setdefault("STRIPE_PUBLISHABLE_KEY", SANDBOX_PUBLISHABLE_KEY)
                        env["STRIPE_WEBHOOK_SECRET"] = secret
                if not settings.smtp_host:
                    started = start_demo_smtp(env, settings.demo_smtp_port, args.var_dir)
                    if started is not None:
                        mail, smtp_port = started
                        # Plain SMTP to loopback, no login: SMTP_* in .env must not apply.
                        env.update(
                            {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port)}
                            | {"SMTP_SSL": "false", "SMTP_USER": "", "SMTP_PASSWORD": ""}
                        )
                        where = shown_path(args.var_dir / "mail")
                        print(f"efoy: demo emails are written to {where}", flush=True)
            migrate(env, settings.db_url)
            if demo and not args.no_seed:
                seed(env)
            host = settings.bind_host
            shown = "localhost" if host == "127.0.0.1" else host
            print(f"efoy: serving on http://{shown}:{args.port} (Ctrl-C stops)", flush=True)
            app = start_app(env, args.port, host)
            announce_when_ready(
                app, args.port, host, env.get("FRONTEND_URL", settings.frontend_url)
            )
            return app.wait()
        except KeyboardInterrupt:
            return 130
        finally:
            _ignore_signals_while_stopping()
            stop(app)
            stop(sandbox)
            stop(mail)


if __name__ == "__main__":
    sys.exit(main())
