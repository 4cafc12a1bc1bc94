"""One structured (logfmt) log line per Stripe call and per webhook.

Callers pass ids, types, outcomes and durations only: never a secret, a client secret, an email
body or card data. `EFOY_LOG_LEVEL=DEBUG` turns on the debug lines. `EFOY_LOG_FORMAT=json` writes
every `efoy.*` line as one JSON object instead (`log_format.py`), fields as keys of their own.
"""

from __future__ import annotations

import logging
from typing import Any

from efoy_app.settings import get_settings

EVENT_KEY = "efoy_event"  # the names `log_format.EfoyJsonFormatter` reads back
FIELDS_KEY = "efoy_fields"

_configured = False


def get_logger(name: str) -> logging.Logger:
    global _configured
    if not _configured:
        configure(get_settings().log_level, get_settings().log_format)
        _configured = True
    return logging.getLogger(f"efoy.{name}")


def configure(level_name: str, log_format: str) -> None:
    """Text: a stderr handler on `efoy` unless logging is already set up (then its handlers
    print our lines). JSON: always our JSON handler on `efoy`, not passed up to the root logger,
    so no other handler prints the same line in another format."""
    root = logging.getLogger("efoy")
    root.setLevel(getattr(logging, level_name.upper(), logging.INFO))
    if log_format == "json":
        from efoy_app.log_format import EfoyJsonFormatter

        for old in [h for h in root.handlers if getattr(h, "efoy_handler", False)]:
            root.removeHandler(old)
        handler = logging.StreamHandler()
        handler.setFormatter(EfoyJsonFormatter())
        handler.efoy_handler = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False
        return
    if not root.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.efoy_handler = True  # type: ignore[attr-defined]
        root.addHandler(handler)


def _fmt(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "='):
        return '"' + text.replace('"', "'") + '"'
    return text


def log_kv(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """`event key=value ...`, skipping None values."""
    if not logger.isEnabledFor(level):
        return
    kept = {k: v for k, v in fields.items() if v is not None}
    parts = [event] + [f"{k}={_fmt(v)}" for k, v in kept.items()]
    logger.log(level, " ".join(parts), extra={EVENT_KEY: event, FIELDS_KEY: kept})
