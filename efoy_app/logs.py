"""One structured (logfmt) log line per Stripe call and per webhook.

Callers pass ids, types, outcomes and durations only: never a secret, a client secret, an email
body or card data. `EFOY_LOG_LEVEL=DEBUG` turns on the debug lines.
"""

from __future__ import annotations

import logging
from typing import Any

from efoy_app.settings import get_settings

_configured = False


def get_logger(name: str) -> logging.Logger:
    global _configured
    if not _configured:
        level = getattr(logging, get_settings().log_level.upper(), logging.INFO)
        logging.getLogger("efoy").setLevel(level)
        if not logging.getLogger("efoy").handlers and not logging.getLogger().handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
            )
            logging.getLogger("efoy").addHandler(handler)
        _configured = True
    return logging.getLogger(f"efoy.{name}")


def _fmt(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "='):
        return '"' + text.replace('"', "'") + '"'
    return text


def log_kv(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """`event key=value ...`, skipping None values."""
    if not logger.isEnabledFor(level):
        return
    parts = [event] + [f"{k}={_fmt(v)}" for k, v in fields.items() if v is not None]
    logger.log(level, " ".join(parts))
