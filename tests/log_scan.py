"""After the suite, read every log it produced and fail the run if a secret is in one.

Each run writes its logs to one folder, `test-logs/<run>/` (the path is in
`EFOY_TEST_LOG_DIR`, so child processes find it): Python logging of the test process, the
in-process uvicorn servers, every sandbox process and every e2e server. The scan looks for what
must never be logged: Stripe secret keys, webhook signing secrets, JWTs, PaymentIntent client
secrets, card numbers (Luhn-valid, 13-19 digits, spaced or not) and the passwords the tests used
(the demo ones, every string literal the tests pass as a password, and what fixtures add with
`remember_secret`). A finding fails the run with file:line, the kind of secret and a masked
value, never the secret itself.

Registered from tests/conftest.py (`LogScanPlugin`); `scan_paths` is also used by its own tests.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stripe_sandbox.cards import luhn_ok

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR_ENV = "EFOY_TEST_LOG_DIR"
LOGS_ROOT = ROOT / "test-logs"  # not test-results/: pytest-playwright empties that one
LOGS_ROOT_ENV = "EFOY_TEST_LOGS_ROOT"  # where run folders go, if not LOGS_ROOT
KEEP_RUNS = 3
KEEP_SECONDS = 6 * 3600  # never remove a folder this young: another run may be writing to it
MIN_PASSWORD_LENGTH = 8  # the app refuses shorter ones, so shorter literals are not passwords

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("Stripe secret key", re.compile(r"\b[sr]k_(?:live|test)_[0-9A-Za-z_]{4,}")),
    ("webhook signing secret", re.compile(r"\bwhsec_[0-9A-Za-z+/=_-]{4,}")),
    ("client secret", re.compile(r"\b(?:pi|seti|cs)_[0-9A-Za-z_]+?_secret_[0-9A-Za-z]+")),
    ("JWT", re.compile(r"\beyJ[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+")),
]
# 13-19 digits, optionally one space or dash between them; first digit of a card brand (2-6),
# so millisecond timestamps (17...) and most ids do not look like cards.
CARD_CANDIDATE = re.compile(r"(?<![\d.])[2-6](?:[ -]?\d){12,18}(?![\d])")


def mask(value: str) -> str:
    """Enough to recognise which secret it was, not enough to use it."""
    digits = re.sub(r"\D", "", value)
    if digits and len(digits) >= 13 and not re.search(r"[A-Za-z]", value):
        return f"{digits[:4]}…{digits[-4:]} ({len(digits)} digits)"
    keep = 6 if len(value) > 12 else 2
    return f"{value[:keep]}…({len(value)} chars)"


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    kind: str
    masked: str

    def __str__(self) -> str:
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}: {self.kind}: {self.masked}"


class SecretRegistry:
    """Exact strings (passwords, keys) a run used, to find them verbatim in logs."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def add(self, value: str | None, kind: str = "password") -> None:
        if isinstance(value, str) and len(value) >= MIN_PASSWORD_LENGTH:
            self._known.setdefault(value, kind)

    def items(self) -> list[tuple[str, str]]:
        return sorted(self._known.items())

    def clear(self) -> None:
        self._known.clear()


KNOWN_SECRETS = SecretRegistry()


def remember_secret(value: str | None, kind: str = "password") -> None:
    """For fixtures: a password (or key) made at run time that must not appear in any log."""
    KNOWN_SECRETS.add(value, kind)


def scan_line(text: str, known: Iterable[tuple[str, str]] = ()) -> Iterator[tuple[str, str]]:
    """(kind, masked value) for every secret in one line of log."""
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            yield kind, mask(match.group(0))
    for match in CARD_CANDIDATE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            yield "card number", mask(match.group(0))
    for value, kind in known:
        if re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text):
            yield kind, mask(value)


def scan_paths(paths: Iterable[Path], known: Iterable[tuple[str, str]] = ()) -> list[Finding]:
    known = list(known)
    findings: list[Finding] = []
    for path in sorted(paths):
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                for kind, masked in scan_line(line, known):
                    findings.append(Finding(path, number, kind, masked))
    return findings


def log_files(folder: Path) -> list[Path]:
    """Every text file of the run (screenshots kept beside the logs are images, not logs)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".png")


def passwords_in_tests(folder: Path = ROOT / "tests") -> set[str]:
    """String literals the tests pass as a password: `password=...`, `"password": ...`, and
    constants named *PASSWORD*. Found from the source so no test has to remember to register."""
    found: set[str] = set()
    for source in folder.rglob("*.py"):
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            values: list[ast.AST] = []
            if isinstance(node, ast.keyword) and node.arg and "password" in node.arg.lower():
                values.append(node.value)
            elif isinstance(node, ast.Dict):
                values += [
                    v
                    for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and "password" in str(k.value).lower()
                ]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if any("PASSWORD" in n.upper() for n in names):
                    values.append(node.value)
            for value in values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.add(value.value)
    # "password" itself is a word every login page logs; it cannot tell a leak from a label.
    return {p for p in found if p.lower() != "password" and len(p) >= MIN_PASSWORD_LENGTH}


def new_run_dir() -> Path:
    """A fresh folder for this run's logs; keeps the last few runs for a look afterwards."""
    root = Path(os.environ.get(LOGS_ROOT_ENV) or LOGS_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    runs = sorted(p for p in root.iterdir() if p.is_dir())
    for old in runs[: max(0, len(runs) - (KEEP_RUNS - 1))]:
        if time.time() - old.stat().st_mtime > KEEP_SECONDS:
            shutil.rmtree(old, ignore_errors=True)
    folder = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    folder.mkdir()
    return folder


def run_log_path(name: str) -> Path | None:
    """A new file in this run's log folder (None outside a pytest run that set one up)."""
    folder = os.environ.get(LOG_DIR_ENV)
    if not folder:
        return None
    base = Path(folder) / name
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.stem}-{n}{base.suffix}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


class LogScanPlugin:
    """Sets up the run's log folder at start; scans it after every fixture is torn down."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.folder = new_run_dir()
        self.findings: list[Finding] = []
        self.scanned: list[Path] = []
        os.environ[LOG_DIR_ENV] = str(self.folder)
        # Debug lines of our own loggers too: a secret must not hide behind a log level.
        os.environ.setdefault("EFOY_LOG_LEVEL", "DEBUG")
        self.handler = logging.FileHandler(self.folder / "pytest-python.log", mode="a")
        # mode "a": uvicorn's dictConfig closes every handler; an append handler reopens.
        self.handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        )
        logging.getLogger().addHandler(self.handler)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()
        from efoy_app.seed import DEMO_ADMIN_PASSWORD, DEMO_PATIENT_PASSWORD

        known = SecretRegistry()
        for value, kind in KNOWN_SECRETS.items():
            known.add(value, kind)
        for value in (DEMO_PATIENT_PASSWORD, DEMO_ADMIN_PASSWORD, *passwords_in_tests()):
            known.add(value, "password")
        self.scanned = log_files(self.folder)
        self.findings = scan_paths(self.scanned, known.items())
        if self.findings and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        folder = self.folder.relative_to(ROOT) if self.folder.is_relative_to(ROOT) else self.folder
        if not self.findings:
            terminalreporter.write_line(
                f"log scan: no secret in {len(self.scanned)} log file(s) under {folder}"
            )
            return
        terminalreporter.section("secrets found in logs", sep="=", red=True, bold=True)
        for finding in self.findings[:200]:
            terminalreporter.write_line(str(finding))
        more = len(self.findings) - 200
        if more > 0:
            terminalreporter.write_line(f"... and {more} more")
        terminalreporter.write_line(
            f"log scan: {len(self.findings)} secret(s) in logs under {folder}: the run fails",
            red=True,
        )
