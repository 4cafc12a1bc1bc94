"""The security middleware's decisions that depend on configuration the e2e server does not use:
https (HSTS), a real Stripe publishable key (Stripe.js domains in the CSP), extra origins and
hosts. Driven through a small ASGI app, so no network is needed."""

from __future__ import annotations

import asyncio
import gzip
import threading

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from efoy_app.http_security import SecurityMiddleware, inline_script_hashes, page_csp
from efoy_app.settings import Settings, get_settings

PAGE = b"<html><head><script>var a = 1;</script><script src='/x.js'></script></head></html>"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    def apply(**values: str | None) -> Settings:
        for key, value in values.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        return get_settings()

    yield apply
    get_settings.cache_clear()


def _app() -> SecurityMiddleware:
    async def page(_request) -> Response:
        return HTMLResponse(PAGE)

    async def zipped(_request) -> Response:
        return Response(
            gzip.compress(PAGE),
            media_type="text/html",
            headers={"content-encoding": "gzip"},
        )

    async def data(_request) -> Response:
        return JSONResponse({"ok": True})

    inner = Starlette(
        routes=[Route("/page", page), Route("/zipped", zipped), Route("/api/v1/x", data)]
    )
    return SecurityMiddleware(inner)


def _get(path: str, host: str = "localhost:3000") -> tuple[int, dict[str, str], bytes]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 3000),
        "headers": [(b"host", host.encode()), (b"accept-encoding", b"gzip")],
    }
    # A thread of its own: another test may have left an event loop running in this one.
    worker = threading.Thread(target=asyncio.run, args=(_app()(scope, receive, send),))
    worker.start()
    worker.join(timeout=10)
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers, body


def test_hsts_only_when_the_frontend_is_https(env) -> None:
    env(FRONTEND_URL="http://localhost:3000")
    assert "strict-transport-security" not in _get("/page")[1]
    env(FRONTEND_URL="https://efoy.example.org")
    status, headers, _ = _get("/api/v1/x", host="efoy.example.org")
    assert status == 200
    assert headers["strict-transport-security"] == "max-age=31536000"


def test_stripe_domains_only_with_a_real_publishable_key(env) -> None:
    settings = env(STRIPE_PUBLISHABLE_KEY="pk_test_123", STRIPE_API_BASE=None)
    csp = page_csp(settings, [])
    assert "script-src 'self' 'unsafe-eval' https://js.stripe.com https://*.js.stripe.com" in csp
    assert "frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com" in csp
    assert "https://api.stripe.com" in csp
    settings = env(STRIPE_API_BASE="http://127.0.0.1:12111")  # the sandbox: no Stripe.js
    csp = page_csp(settings, [])
    assert "stripe.com" not in csp and "frame-src 'none'" in csp


def test_page_csp_carries_the_hash_of_each_inline_script(env) -> None:
    env(FRONTEND_URL="http://localhost:3000")
    [expected] = inline_script_hashes(PAGE)
    for path in ("/page", "/zipped"):
        status, headers, body = _get(path)
        assert status == 200
        assert body == PAGE  # a gzipped page is sent decoded, with its real length
        assert headers["content-length"] == str(len(PAGE))
        assert "content-encoding" not in headers
        assert f"'unsafe-eval' {expected};" in headers["content-security-policy"]
    assert _get("/api/v1/x")[1]["content-security-policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )


def test_hosts_and_origins_from_settings(env) -> None:
    settings = env(
        FRONTEND_URL="https://efoy.example.org",
        EFOY_CORS_ORIGINS="https://admin.example.org/, http://localhost:5173",
        EFOY_ALLOWED_HOSTS="efoy-internal",
    )
    assert settings.cors_origins == [
        "https://efoy.example.org",
        "https://admin.example.org",
        "http://localhost:5173",
    ]
    assert settings.allowed_hosts == ["efoy.example.org", "efoy-internal"]
    assert _get("/page", host="efoy-internal:8080")[0] == 200
    assert _get("/page", host="efoy.example.org")[0] == 200
    assert _get("/page", host="localhost:3000")[0] == 400
    assert _get("/page", host="evil.example")[0] == 400
    settings = env(
        FRONTEND_URL="http://localhost:3000", EFOY_CORS_ORIGINS="", EFOY_ALLOWED_HOSTS=""
    )
    assert settings.allowed_hosts == ["localhost", "127.0.0.1", "[::1]"]
    assert _get("/page", host="127.0.0.1:3000")[0] == 200
    assert _get("/page", host="[::1]:3000")[0] == 200
