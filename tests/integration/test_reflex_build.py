"""`python -m efoy_app.launcher` started three times in one web folder (REFLEX_WEB_WORKDIR):
the first start builds the frontend, the second reuses that build untouched and still serves
working pages, the third, with one input the build reads changed, builds again.

Started as tests/e2e/conftest.py's `start_app_server` starts it (its own database, web folder,
state folder and var/), except that the folder is kept between starts; no wall-clock limits:
tests/e2e and bench figures say how long a start takes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from efoy_app.launcher import ROOT, reflex_env, wait_for_http
from efoy_app.reflex_build import STAMP_NAME, build_line, reuse_line
from tests.conftest import free_port
from tests.log_scan import run_log_path

START_TIMEOUT = 400  # a full build on a loaded 2-core machine


@dataclass
class Started:
    url: str
    proc: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass(frozen=True)
class BuildMarks:
    """What tells one build from another: the stamp and the build folder's times."""

    stamp: str
    static_dir_mtime: int
    index_mtime: int
    doctors_html: bytes


def build_marks(workdir: Path) -> BuildMarks:
    static = workdir / ".web" / "build" / "client"
    return BuildMarks(
        stamp=(workdir / ".web" / STAMP_NAME).read_text(),
        static_dir_mtime=static.stat().st_mtime_ns,
        index_mtime=(static / "index.html").stat().st_mtime_ns,
        doctors_html=(static / "doctors.html").read_bytes(),
    )


def start(workdir: Path, port: int, extra_env: dict[str, str] | None = None) -> Started:
    """One start on `port` (the same one each time: the port is baked into the build)."""
    env = reflex_env()
    for name in (
        "STRIPE_SECRET_KEY",
        "STRIPE_API_BASE",
        "STRIPE_WEBHOOK_SECRET",
        "EFOY_JWT_SECRET",
    ):
        env.pop(name, None)
    env.update(
        {
            "EFOY_ENV": "demo",
            "EFOY_PORT": str(port),
            "REFLEX_DB_URL": f"sqlite:///{workdir / 'efoy.db'}",
            "REFLEX_WEB_WORKDIR": str(workdir / ".web"),
            "REFLEX_STATES_WORKDIR": str(workdir / ".states"),
            "REFLEX_UPLOADED_FILES_DIR": str(workdir / "uploaded_files"),
            "FRONTEND_URL": f"http://localhost:{port}",
            **(extra_env or {}),
        }
    )
    command = [sys.executable, "-m", "efoy_app.launcher", "--port", str(port), "--no-sandbox"]
    command += ["--var-dir", str(workdir / "var")]
    log_path = run_log_path(f"build-reuse-{port}.log") or workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    started = Started(url=f"http://localhost:{port}", proc=proc, log_path=log_path)
    try:
        wait_for_http(f"{started.url}/ping", START_TIMEOUT, proc)
        wait_for_http(f"{started.url}/doctors", 30, proc)
    except (RuntimeError, TimeoutError) as exc:
        stop(started)
        raise AssertionError(f"Efoy did not start: {exc}\n{started.output()[-3000:]}") from exc
    return started


def stop(started: Started) -> None:
    if started.proc.poll() is None:
        os.killpg(started.proc.pid, signal.SIGTERM)
        try:
            started.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(started.proc.pid, signal.SIGKILL)
            started.proc.wait()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build-reuse")


@pytest.fixture
def server() -> Iterator[list[Started]]:
    """The servers a test starts, stopped at its end whatever happens."""
    servers: list[Started] = []
    yield servers
    for started in servers:
        stop(started)


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read()


@pytest.mark.timeout(1500)
def test_a_second_start_reuses_the_build_and_a_changed_input_rebuilds(
    workdir: Path, server: list[Started], page: Page
) -> None:
    web, static = workdir / ".web", workdir / ".web" / "build" / "client"
    port = free_port()

    first = start(workdir, port)
    server.append(first)
    said = first.output()
    assert build_line("no build of these inputs yet") in said
    assert "reusing the frontend build" not in said
    built = build_marks(workdir)
    assert built.stamp.startswith("inputs ")
    stop(first)

    second = start(workdir, port)
    server.append(second)
    said = second.output()
    assert reuse_line(static, web) in said
    assert "efoy: building the frontend" not in said and "Creating Production Build" not in said
    assert build_marks(workdir) == built  # the same files, not a build made again
    assert get(f"{second.url}/doctors") == (200, built.doctors_html)  # the built page
    # A working page: the reused bundle reaches this start's backend and shows its doctors.
    page.goto(f"{second.url}/doctors")
    expect(page.get_by_role("heading", name="Dr. Abebe Kebede")).to_be_visible(timeout=30_000)
    stop(second)

    # Vite hands every VITE_* variable to the bundle: an input the build reads.
    third = start(workdir, port, {"VITE_EFOY_BUILD_CHECK": "1"})
    server.append(third)
    said = third.output()
    assert build_line("what it is built from changed") in said
    assert "reusing the frontend build" not in said
    rebuilt = build_marks(workdir)
    assert rebuilt.stamp != built.stamp
    assert rebuilt.index_mtime != built.index_mtime
    page.goto(f"{third.url}/doctors")
    expect(page.get_by_role("heading", name="Dr. Abebe Kebede")).to_be_visible(timeout=30_000)
