"""How an instant is written for a person: in their own timezone, with the zone's name.

In the domain because text the domain writes (what Stripe shows the payer) uses it too; the pages
reach it through `state.display`.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None) -> ZoneInfo:
    """A timezone by IANA name; UTC when the name is empty or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when_label(moment: datetime, tz: str) -> str:
    """A full appointment time in `tz`, as "Mon 1 Dec 2025, 09:30 EAT"."""
    local = moment.astimezone(zone(tz))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"
