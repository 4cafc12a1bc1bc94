"""`EFOY_LOG_FORMAT=json`: one JSON object a line, for a log shipper (python-json-logger).

Each line carries `timestamp` (UTC, ISO 8601), `level`, `logger` and `message`; a `log_kv` line
also has `event` (its name, which is then the message) and its fields as keys of their own
(`{"event": "webhook.processed", "type": "charge.refunded", "duration_ms": 3.1, ...}`).

Callers never log secrets; as a second guard, every string value is scrubbed of what looks like
one (Stripe keys, webhook signing secrets, client secrets, bearer tokens and JWTs) and a field
named like a secret (password, token, secret, authorization) is replaced whole.
"""

from __future__ import annotations

import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from efoy_app.domain.redaction import REDACTED, SECRET_PATTERN
from efoy_app.logs import EVENT_KEY, FIELDS_KEY

SECRET_LOOKING = re.compile(
    r"\b[sr]k_(?:live|test)_[0-9A-Za-z_]+"
    r"|\bwhsec_[0-9A-Za-z+/=_-]+"
    r"|\beyJ[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+"
    r"|(?i:bearer\s+)[0-9A-Za-z._~+/=-]+"
    r"|(?<=://)[^/\s:@]*:[^/\s@]+(?=@)"  # user:password@ in a URL
)
SECRET_NAMES = re.compile(r"password|passwd|secret|token|authorization|api_key", re.IGNORECASE)
STANDARD = ("timestamp", "level", "logger", "message")


def scrub(text: str) -> str:
    """`text` with anything that looks like a secret replaced by "[redacted]"."""
    return SECRET_LOOKING.sub(REDACTED, SECRET_PATTERN.sub(REDACTED, text))


def _clean(key: str, value: Any) -> Any:
    if SECRET_NAMES.search(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {str(k): _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(key, v) for v in value]
    return value


class EfoyJsonFormatter(JsonFormatter):
    """python-json-logger's formatter with Efoy's key names, `log_kv` fields and the scrub."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        event = log_data.pop(EVENT_KEY, None)
        fields = log_data.pop(FIELDS_KEY, None) or {}
        out: dict[str, Any] = {key: log_data.pop(key) for key in STANDARD if key in log_data}
        if event is not None:
            out["message"] = event
            out["event"] = event
        for key, value in [*fields.items(), *log_data.items()]:
            name = f"field_{key}" if key in out else key  # never overwrite the standard keys
            out[name] = value
        return {
            key: _clean(key, value) if key not in ("timestamp",) else value
            for key, value in out.items()
        }
