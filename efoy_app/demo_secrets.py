"""Per-install demo secrets: made once, at random, into `var/demo.env`, readable by the owner only.

A demo install must not share a key with every other copy of the source: a JWT key written in the
code would let anyone who can reach the app sign an admin token. So the webhook secret the
sandbox signs with and the JWT key the app signs with are generated on first use and kept in
`var/demo.env` (git-ignored, mode 0600, in a 0700 folder); the launcher passes them to the app
and the sandbox through the environment, never on a command line.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
DEMO_ENV_NAME = "demo.env"
WEBHOOK_SECRET_NAME = "STRIPE_WEBHOOK_SECRET"
JWT_SECRET_NAME = "EFOY_JWT_SECRET"


@dataclass(frozen=True)
class DemoSecrets:
    webhook_secret: str
    jwt_secret: str


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) and make it 0700: var/ holds secrets and the sandbox's data."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def read_demo_env(var_dir: Path = VAR, name: str = DEMO_ENV_NAME) -> dict[str, str]:
    """NAME=value lines of var/demo.env ({} when it does not exist yet)."""
    values: dict[str, str] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in (var_dir / name).read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() and value.strip():
                values[key.strip()] = value.strip()
    return values


def _generate(name: str) -> str:
    if name == WEBHOOK_SECRET_NAME:
        return "whsec_" + secrets.token_hex(24)
    return secrets.token_urlsafe(48)  # 64 characters, 384 random bits


def ensure_demo_secrets(var_dir: Path = VAR, name: str = DEMO_ENV_NAME) -> DemoSecrets:
    """The install's demo secrets, generating whichever is missing (kept across restarts).

    Under an exclusive lock, and written to a 0600 temp file then renamed, so processes that
    start at once (the launcher, several workers) all end with the same complete file. `name`:
    the file under `var_dir` (`make run-prod` keeps its own, `prod.env`)."""
    private_dir(var_dir)
    path = var_dir / name
    lock_fd = os.open(var_dir / f".{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        values = read_demo_env(var_dir, name)
        missing = [n for n in (WEBHOOK_SECRET_NAME, JWT_SECRET_NAME) if n not in values]
        if missing:
            values.update({name: _generate(name) for name in missing})
            tmp = var_dir / f".{name}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write("".join(f"{k}={v}\n" for k, v in values.items()))
            os.replace(tmp, path)
        path.chmod(0o600)
    finally:
        os.close(lock_fd)
    return DemoSecrets(values[WEBHOOK_SECRET_NAME], values[JWT_SECRET_NAME])
