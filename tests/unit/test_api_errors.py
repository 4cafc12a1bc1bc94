"""The API's error contract for failures no real route produces on purpose: an unexpected
exception (500, no traceback to the client, traceback in the log) and a busy database (503).
The routes raising them are added to a real `create_api()` app, served in-process over ASGI."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError

from efoy_app.api.app import create_api


def _boom() -> None:
    raise RuntimeError("secret internals: /srv/efoy/db.py line 42")


def _locked() -> None:
    raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))


def _broken_sql() -> None:
    raise OperationalError("SELECT ...", {}, sqlite3.OperationalError("no such table: x"))


class Client:
    """Requests to an ASGI app in-process (httpx's ASGI transport is async-only)."""

    def __init__(self, app: object) -> None:
        self.transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def get(self, path: str) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self.transport, base_url="http://testserver"
            ) as c:
                return await c.get(path)

        # Its own thread: after a Playwright test, pytest-playwright leaves an event loop
        # running in the main thread and asyncio.run() would refuse to start there.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, go()).result()


@pytest.fixture
def client() -> Client:
    app = create_api()
    for path, endpoint in (
        ("/api/v1/test/boom", _boom),
        ("/api/v1/test/locked", _locked),
        ("/api/v1/test/broken-sql", _broken_sql),
        ("/outside/boom", _boom),
    ):
        app.router.routes.insert(0, APIRoute(path, endpoint, methods=["GET"]))
    return Client(app)


def test_unexpected_exception_is_a_json_500_with_the_traceback_only_in_the_log(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="efoy.api"):
        r = client.get("/api/v1/test/boom")
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "message": "Internal error"}}
    assert "secret internals" not in r.text
    (record,) = [rec for rec in caplog.records if rec.name == "efoy.api"]
    assert record.exc_info is not None and "secret internals" in str(record.exc_info[1])
    assert "GET /api/v1/test/boom" in record.getMessage()


def test_outside_the_api_a_500_stays_plain(client: Client) -> None:
    r = client.get("/outside/boom")
    assert (r.status_code, r.text) == (500, "Internal Server Error")


def test_a_locked_database_is_a_503_not_a_500(client: Client) -> None:
    r = client.get("/api/v1/test/locked")
    assert r.status_code == 503
    assert r.json() == {
        "error": {"code": "busy", "message": "The service is busy. Please try again."}
    }
    assert r.headers["retry-after"] == "1"
    other = client.get("/api/v1/test/broken-sql")
    assert other.status_code == 500 and other.json()["error"]["code"] == "internal_error"
    assert "no such table" not in other.text
