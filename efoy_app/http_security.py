"""Security headers and trusted hosts for everything the app serves: pages, /_event and /api.

Wraps the whole ASGI app (`rx.App(api_transformer=[api, secure])`), so the static pages Reflex
serves in prod get the same treatment as the API. CORS itself is Reflex's middleware, configured
with `Settings.cors_origins` in rxconfig.py.

- A request whose Host is not FRONTEND_URL's (or EFOY_ALLOWED_HOSTS) is refused with 400, so a
  forged Host never reaches a redirect (Reflex answers /doctors with a redirect built from Host).
- Every answer gets nosniff, X-Frame-Options DENY, a Referrer-Policy, HSTS when FRONTEND_URL is
  https, and a Content-Security-Policy: `default-src 'none'` for data, and for HTML pages a
  policy that allows exactly the page's own inline scripts, by their SHA-256 hashes computed
  from the page being sent (Reflex's build inlines a handful per page; none can be injected).
- `'unsafe-eval'` stays in script-src: Reflex runs `rx.call_script` and event callbacks with
  `eval` (the register page reads the browser's timezone that way).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from collections.abc import Callable

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from efoy_app import routes
from efoy_app.api.errors import send_error
from efoy_app.domain.card_page import payment_element_enabled
from efoy_app.settings import Settings, get_settings

# Stripe's documented CSP for Stripe.js and the Payment Element (3-D Secure frames included).
STRIPE_SCRIPT = ["https://js.stripe.com", "https://*.js.stripe.com"]
STRIPE_FRAME = ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"]
STRIPE_CONNECT = ["https://api.stripe.com"]
STRIPE_IMG = ["https://*.stripe.com"]

DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
_INLINE_SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)
_SRC_ATTR = re.compile(rb"\bsrc\s*=", re.I)
# Requests for these never get HTML back; everything else may be a page.
_NOT_PAGES = (routes.API_AREA, "/_event", "/assets/", "/ping", "/_health")
_OURS = {
    b"x-content-type-options",
    b"x-frame-options",
    b"referrer-policy",
    b"strict-transport-security",
    b"content-security-policy",
}
_PATHSEND = "http.response.pathsend"
_CONDITIONAL = {b"accept-encoding", b"if-none-match", b"if-modified-since"}


def inline_script_hashes(html: bytes) -> list[str]:
    """CSP source expressions for each inline <script> of the page, in order, no duplicates."""
    hashes: list[str] = []
    for match in _INLINE_SCRIPT.finditer(html):
        if _SRC_ATTR.search(match.group(1)):
            continue
        digest = base64.b64encode(hashlib.sha256(match.group(2)).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return list(dict.fromkeys(hashes))


def page_csp(settings: Settings, script_hashes: list[str]) -> str:
    """The Content-Security-Policy of an HTML page."""
    stripe = payment_element_enabled()  # Stripe.js is on the page only then
    # CSP has no syntax for IPv6 literals ('self' still covers a page opened at [::1]).
    origins = [o for o in settings.cors_origins if "[" not in o]
    sockets = [o.replace("http", "ws", 1) for o in origins]
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-eval'", *script_hashes, *(STRIPE_SCRIPT * stripe)],
        # Emotion and Radix set styles at run time (style elements and attributes).
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *(STRIPE_IMG * stripe)],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'", *origins, *sockets, *(STRIPE_CONNECT * stripe)],
        "frame-src": STRIPE_FRAME if stripe else ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _host_name(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value.decode("latin-1").strip().lower()
            if host.startswith("["):
                return host.split("]", 1)[0] + "]"
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


class SecurityMiddleware:
    """Trusted hosts, security headers and the pages' CSP, around the whole app."""

    def __init__(self, app: ASGIApp, settings: Callable[[], Settings] = get_settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        settings = self.settings()
        if _host_name(scope) not in settings.allowed_hosts:
            await _refuse_host(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if not path.startswith(_NOT_PAGES):
            # Pages are small: ask for them whole and fresh (never a 304, whose headers would
            # replace the cached page's CSP), so their inline scripts can be hashed.
            extensions = {k: v for k, v in scope.get("extensions", {}).items() if k != _PATHSEND}
            scope = {
                **scope,
                "headers": [(k, v) for k, v in scope["headers"] if k not in _CONDITIONAL],
                "extensions": extensions,  # the body comes through us, not as a file path
            }
        hold_html = scope.get("method") != "HEAD"
        await self.app(scope, receive, _SecuredSend(send, settings, hold_html))


class _SecuredSend:
    """Adds the headers to the response; holds an HTML body back to hash its inline scripts."""

    def __init__(self, send: Send, settings: Settings, hold_html: bool) -> None:
        self.send = send
        self.settings = settings
        self.hold_html = hold_html
        self.start: Message | None = None
        self.body = bytearray()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
            headers += self._common()
            message = {**message, "headers": headers}
            if _is_html(headers) and self.hold_html:
                self.start = message
                return
            csp = page_csp(self.settings, []) if _is_html(headers) else DATA_CSP
            headers.append((b"content-security-policy", csp.encode()))
            await self.send({**message, "headers": headers})
            return
        if message["type"] == _PATHSEND and self.start is not None:
            self.body.extend(await anyio.Path(message["path"]).read_bytes())
            await self._send_page()
            return
        if message["type"] == "http.response.body" and self.start is not None:
            self.body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._send_page()
            return
        await self.send(message)

    def _common(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
        ]
        if self.settings.is_https:
            headers.append((b"strict-transport-security", b"max-age=31536000"))
        return headers

    async def _send_page(self) -> None:
        assert self.start is not None
        headers = list(self.start["headers"])
        body = bytes(self.body)
        encoding = _header(headers, b"content-encoding")
        if encoding == b"gzip":
            body = gzip.decompress(body)
        elif encoding not in (None, b"identity"):
            body = b""  # cannot read it: send no scripts rather than an unchecked page
        csp = page_csp(self.settings, inline_script_hashes(body))
        drop = {b"content-length", b"content-encoding", b"etag", b"last-modified"}
        headers = [(k, v) for k, v in headers if k.lower() not in drop]
        headers += [
            (b"content-length", str(len(body)).encode()),
            (b"content-security-policy", csp.encode()),
        ]
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value.strip().lower()
    return None


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return (_header(headers, b"content-type") or b"").startswith(b"text/html")


async def _refuse_host(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})
        return
    nosniff = [(b"x-content-type-options", b"nosniff")]
    await send_error(send, 400, "invalid_host", "Unknown Host header.", nosniff)


def secure(app: ASGIApp) -> ASGIApp:
    """The `api_transformer` step that wraps everything Reflex serves."""
    return SecurityMiddleware(app)
