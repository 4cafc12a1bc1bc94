"""A new clinic's first admin, made by `python -m efoy_app.admin_account` on a migrated,
empty production database (no demo data), then able to sign in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select

from efoy_app.db import make_engine
from efoy_app.domain.auth import authenticate
from efoy_app.launcher import ROOT
from efoy_app.models import ROLE_ADMIN, Doctor, User
from tests.conftest import PRODUCTION_ENV
from tests.integration.test_migrations import alembic


def make_admin(db_url: str, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **PRODUCTION_ENV, "REFLEX_DB_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "efoy_app.admin_account", "--password-stdin", *args],
        cwd=ROOT, env=env, input=password + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_first_admin_of_an_empty_clinic_is_made_from_the_command_line(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    alembic(url, "upgrade", "head")
    done = make_admin(
        url, "--email", "Ada@Clinic.example", "--name", "Ada Lovelace",
        "--timezone", "Africa/Addis_Ababa", password="a long enough secret",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "admin ada@clinic.example created" in done.stdout
    assert "a long enough secret" not in done.stdout + done.stderr
    engine = make_engine(url)
    with Session(engine) as s:
        users = s.exec(select(User)).all()
        assert [(u.email, u.role, u.timezone) for u in users] == [
            ("ada@clinic.example", ROLE_ADMIN, "Africa/Addis_Ababa")
        ]
        assert s.exec(select(Doctor)).all() == []  # no demo data
        assert authenticate(
            s, email="ada@clinic.example", password="a long enough secret", client_address="test"
        )
    again = make_admin(url, "--email", "ada@clinic.example", "--name", "Ada",
                       password="a long enough secret")  # fmt: skip
    assert again.returncode == 1 and "already" in again.stderr.lower()
    short = make_admin(url, "--email", "bob@clinic.example", "--name", "Bob", password="short")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    bad = make_admin(url, "--email", "not an email", "--name", "Bob", password="long enough pw")
    assert bad.returncode == 1 and "valid email" in bad.stderr
    engine.dispose()


def test_without_the_apps_settings_it_says_which_and_creates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    env = {**os.environ, "REFLEX_DB_URL": url, "EFOY_ENV": "production"}
    env.pop("EFOY_JWT_SECRET", None)
    done = subprocess.run(
        [sys.executable, "-m", "efoy_app.admin_account", "--password-stdin",
         "--email", "ada@clinic.example", "--name", "Ada"],
        cwd=ROOT, env=env, input="a long enough secret\n", capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "EFOY_JWT_SECRET is not set" in done.stderr and "Traceback" not in done.stderr
