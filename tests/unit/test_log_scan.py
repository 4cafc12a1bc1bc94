"""The secret scan run after the suite (tests/log_scan.py) finds each kind of secret, masked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.log_scan import ROOT, SecretRegistry, luhn_ok, passwords_in_tests, scan_paths

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsInJvbGUiOiJhZG1pbiJ9."
    "c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
)


def test_each_kind_of_secret_is_found_with_file_line_and_a_masked_value(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "\n".join(
            [
                "INFO efoy.stripe stripe.call op=refunds.create status=ok",  # 1: clean
                "DEBUG key=sk_test_sandbox",  # 2
                "WARNING live key sk_live_51HxYzAbCdEf",  # 3
                "INFO secret whsec_0123456789abcdef0123",  # 4
                f"INFO auth header Bearer {JWT}",  # 5
                "INFO pi=pi_3Abc_secret_Xyz123 ok",  # 6
                "INFO card=4242 4242 4242 4242",  # 7
                "INFO card=4000002500003155 declined",  # 8
                "INFO login for alice with hunter2-long-pass",  # 9
                "INFO booking id=4242424242424241 ts=1733050000123 order=4111-1111-1111-1112",  # 10
                "INFO login failed: Wrong email or password.",  # 11: the word is not a password
            ]
        )
        + "\n"
    )
    known = SecretRegistry()
    known.add("hunter2-long-pass")
    known.add("short")  # shorter than any password the app accepts: not searched
    found = scan_paths([log], known.items())
    assert [(f.line, f.kind) for f in found] == [
        (2, "Stripe secret key"),
        (3, "Stripe secret key"),
        (4, "webhook signing secret"),
        (5, "JWT"),
        (6, "client secret"),
        (7, "card number"),
        (8, "card number"),
        (9, "password"),
    ]
    report = "\n".join(str(f) for f in found)
    for secret in ("sk_test_sandbox", "whsec_0123456789abcdef0123", JWT, "4242 4242 4242 4242",
                   "4000002500003155", "hunter2-long-pass", "pi_3Abc_secret_Xyz123"):  # fmt: skip
        assert secret not in report
    assert f"{log}:7: card number: 4242…4242 (16 digits)" in report


def test_luhn() -> None:
    assert luhn_ok("4242424242424242") and luhn_ok("4000002500003155")
    assert luhn_ok("378282246310005")  # Amex, 15 digits
    assert not luhn_ok("4242424242424241")


def test_passwords_the_tests_use_are_collected_from_their_source(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        'login(password="rival-password")\n'
        'client.post("/r", json={"email": "a@b.c", "password": "a-long-password"})\n'
        'ADMIN_PASSWORD = "admin-secret-1"\n'
        'form(password="password")\n'
        'form(password="short")\n'
    )
    assert passwords_in_tests(tmp_path) == {"rival-password", "a-long-password", "admin-secret-1"}


def test_a_run_that_logs_a_secret_fails(tmp_path: Path) -> None:
    """The whole chain: a test logs a webhook secret; pytest exits 1 and names the line."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_configure  # noqa: F401\n"
    )
    (tmp_path / "test_leak.py").write_text(
        "import logging\n\n"
        "def test_leaks():\n"
        "    logging.getLogger('efoy.leak').warning('secret=whsec_leakedleakedleaked')\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "EFOY_TEST_LOG_DIR": "", "EFOY_TEST_LOGS_ROOT": str(tmp_path / "logs")},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "pytest-python.log:1: webhook signing secret: whsec_…(24 chars)" in result.stdout
    assert "whsec_leakedleakedleaked" not in result.stdout
