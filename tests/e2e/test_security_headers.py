"""CORS, security headers, CSP and trusted hosts on the real prod app, as `make run` starts it
(issue 7, item 5): over HTTP for the headers, in Chromium for the CSP on every route.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from efoy_app.models import Payment
from tests.e2e.conftest import AppServer
from tests.e2e.ui import DEMO_ADMIN, DEMO_PATIENT, log_in
from tests.integration.payments.helpers import auth, book_slot, start_checkout

EVIL = "https://evil.example"
# Records every CSP violation the page reports, from the first script on.
COLLECT_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
});
"""


def _api_token(server: AppServer, email: str, password: str) -> str:
    r = httpx.post(
        f"{server.url}/api/v1/auth/token", json={"email": email, "password": password}, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()["accessToken"]


# --- CORS ---


def test_api_cors_allows_only_the_frontend_origin(app_server: AppServer) -> None:
    evil = httpx.get(f"{app_server.url}/api/v1/doctors", headers={"Origin": EVIL}, timeout=30)
    assert evil.status_code == 200
    assert "access-control-allow-origin" not in evil.headers
    own = httpx.get(
        f"{app_server.url}/api/v1/doctors", headers={"Origin": app_server.url}, timeout=30
    )
    assert own.headers["access-control-allow-origin"] == app_server.url
    assert own.headers["access-control-allow-credentials"] == "true"
    preflight = httpx.options(
        f"{app_server.url}/api/v1/bookings",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers


def _websocket_status(server: AppServer, origin: str) -> str:
    """The status line the server answers a Socket.IO websocket upgrade with."""
    port = urlsplit(server.url).port
    request = (
        "GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: localhost:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        return s.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_event_socket_refuses_other_origins(app_server: AppServer) -> None:
    assert " 101 " in _websocket_status(app_server, app_server.url)
    assert " 101 " not in _websocket_status(app_server, EVIL)
    polling = httpx.get(
        f"{app_server.url}/_event/", params={"EIO": "4", "transport": "polling"},
        headers={"Origin": EVIL}, timeout=30,
    )  # fmt: skip
    assert "access-control-allow-origin" not in polling.headers


# --- headers and hosts ---


@pytest.mark.parametrize("path", ["/doctors/", "/api/v1/doctors", "/api/v1/nope", "/favicon.svg"])
def test_security_headers_on_pages_and_api(app_server: AppServer, path: str) -> None:
    r = httpx.get(f"{app_server.url}{path}", timeout=30)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "strict-transport-security" not in r.headers  # FRONTEND_URL is http here


def test_page_csp_hashes_exactly_the_pages_inline_scripts(app_server: AppServer) -> None:
    r = httpx.get(f"{app_server.url}/doctors/", timeout=30)
    csp = r.headers["content-security-policy"]
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src "))
    assert "'unsafe-inline'" not in script_src
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", r.text)
    assert len(inline) >= 3
    assert script_src.count("'sha256-") == len(set(re.findall(r"'sha256-[^']+'", script_src)))
    assert script_src.count("'sha256-") >= 3
    # The sandbox replaces Stripe.js here: no Stripe domains in the policy.
    assert "stripe.com" not in csp


def test_forged_host_is_refused_and_never_redirected_to(app_server: AppServer) -> None:
    port = urlsplit(app_server.url).port
    for path in ("/doctors", "/api/v1/doctors", "/"):
        r = httpx.get(
            f"http://127.0.0.1:{port}{path}", headers={"Host": "evil.example"}, timeout=30
        )
        assert r.status_code == 400, (path, r.status_code)
        assert r.json()["error"]["code"] == "invalid_host"
        assert "evil" not in r.headers.get("location", "")
    ok = httpx.get(f"{app_server.url}/doctors", timeout=30)
    assert ok.status_code == 307
    assert ok.headers["location"] == f"{app_server.url}/doctors/"


# --- CSP in Chromium, on every route ---


@pytest.fixture
def watched_page(page: Page) -> Iterator[tuple[Page, list[str]]]:
    """A page whose console CSP errors and `securitypolicyviolation` events are kept."""
    console: list[str] = []
    page.add_init_script(COLLECT_VIOLATIONS)
    page.on(
        "console",
        lambda m: (
            console.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text
            else None
        ),
    )
    yield page, console


def _visit(page: Page, console: list[str], url: str, ready: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status < 500, url
    assert "content-security-policy" in response.headers, url
    expect(page.locator(ready).first).to_be_visible()
    page.wait_for_load_state("networkidle")
    violations = page.evaluate("() => window.__csp")
    assert violations == [] and console == [], (url, violations, console)


def _held_booking(app_server: AppServer) -> tuple[int, int]:
    """A held booking of the demo patient with a Checkout Session, and its payment id."""
    token = _api_token(app_server, *DEMO_PATIENT)
    booking = book_slot(app_server.url, token, doctor_index=2)
    start_checkout(app_server.url, token, booking["id"])
    with app_server.session() as s:
        payment = s.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
    assert httpx.get(f"{app_server.url}/api/v1/bookings", headers=auth(token), timeout=30)
    return booking["id"], payment.id


def test_no_csp_violation_on_any_route(app_server: AppServer, watched_page, browser) -> None:
    page, console = watched_page
    base = app_server.url
    booking_id, payment_id = _held_booking(app_server)
    for path in ("/", "/login", "/register", "/doctors", "/doctors/1", "/policy",
                 "/payment/success", "/payment/cancel"):  # fmt: skip
        _visit(page, console, f"{base}{path}", "body")
    log_in(page, base, *DEMO_PATIENT)
    _visit(page, console, f"{base}/appointments", ".booking-card")
    _visit(page, console, f"{base}/payment/{booking_id}", "#payment-price")
    # Paying still leaves for the sandbox's hosted page: a navigation, not a fetch.
    page.get_by_role("button", name="Pay now").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(app_server.sandbox_url)}/"))
    admin = browser.new_page()
    admin.add_init_script(COLLECT_VIOLATIONS)
    admin.on(
        "console",
        lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    log_in(admin, base, *DEMO_ADMIN)
    for path in ("/admin", f"/admin/payments/{payment_id}", "/admin/webhooks", "/admin/outbox"):
        _visit(admin, console, f"{base}{path}", "body")
    admin.close()


def test_an_injected_inline_script_is_blocked(app_server: AppServer, watched_page) -> None:
    """The policy is enforced, not decorative: a script the page did not ship does not run."""
    page, _console = watched_page
    page.goto(f"{app_server.url}/doctors")
    expect(page.locator("body")).to_be_visible()
    ran = page.evaluate(
        """() => {
            window.__ran = false;
            const s = document.createElement('script');
            s.textContent = 'window.__ran = true';
            document.body.appendChild(s);
            return window.__ran;
        }"""
    )
    assert ran is False
    assert any("script-src" in v for v in page.evaluate("() => window.__csp"))
