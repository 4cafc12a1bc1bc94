"""Helpers shared by the sandbox tests: a webhook receiver that verifies every delivery, polling."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import stripe

T = TypeVar("T")

WEBHOOK_SECRET = "whsec_sandboxtestsecret0123456789abcdef"


def wait_for(check: Callable[[], T], timeout: float = 5.0, interval: float = 0.02) -> T:
    """Poll until `check()` is truthy (bounded); returns its value or fails with the last one."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")
        time.sleep(interval)
        value = check()
    return value


class Receiver:
    """A threaded HTTP server standing in for Efoy's webhook route.

    Every POST is verified with `stripe.Webhook.construct_event` against the secret of the
    endpoint its path names; answers follow `plan` (status codes, or "slow" to sleep past the
    sandbox's webhook timeout), then 200.
    """

    def __init__(self, port: int = 0) -> None:
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self.plan: list[int | str] = []
        self.secrets: dict[str, str] = {"/hook": WEBHOOK_SECRET}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.handle(self, raw)

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<!doctype html><title>landing</title><h1>landing</h1>")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, request: BaseHTTPRequestHandler, raw: bytes) -> None:
        path = request.path
        signature = request.headers.get("Stripe-Signature", "")
        record: dict[str, Any] = {
            "path": path,
            "raw": raw,
            "signature": signature,
            "time": time.monotonic(),
        }
        try:
            event = stripe.Webhook.construct_event(raw, signature, self.secrets[path])
            record.update(
                valid=True, id=event.id, type=event.type, object_id=event.data.object["id"]
            )
        except (stripe.SignatureVerificationError, ValueError, KeyError) as exc:
            record.update(valid=False, error=repr(exc), id=None, type=None, object_id=None)
        with self.lock:
            answer = self.plan.pop(0) if self.plan else 200
            record["answered"] = answer
            self.received.append(record)
        if answer == "slow":
            time.sleep(1.5)
            answer = 200
        request.send_response(int(answer))
        request.end_headers()
        with contextlib.suppress(OSError):  # the sandbox may have timed out and left
            request.wfile.write(b"{}")

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.plan.clear()
            self.secrets = {"/hook": WEBHOOK_SECRET}

    def records(
        self, *, object_id: str | None = None, type_: str | None = None, path: str = "/hook"
    ) -> list[dict[str, Any]]:
        with self.lock:
            rows = [r for r in self.received if r["path"] == path]
        if object_id is not None:
            rows = [r for r in rows if r["object_id"] == object_id]
        if type_ is not None:
            rows = [r for r in rows if r["type"] == type_]
        return rows

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def line_item(
    amount: int = 5000,
    currency: str = "usd",
    quantity: int = 1,
    name: str = "Consultation with Dr. Rossi",
) -> dict[str, Any]:
    return {
        "price_data": {"currency": currency, "unit_amount": amount, "product_data": {"name": name}},
        "quantity": quantity,
    }
