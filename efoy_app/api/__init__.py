"""The REST API. `from efoy_app.api import api` gives the app Reflex mounts; it is built on
first use so importing `efoy_app.api.deps` (as the payments router does) stays cheap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    api: FastAPI

_api: Any = None


def __getattr__(name: str) -> Any:
    global _api
    if name == "api":
        if _api is None:
            from efoy_app.api.app import create_api

            _api = create_api()
        return _api
    raise AttributeError(name)
