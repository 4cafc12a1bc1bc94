"""How times are shown to a person: in their own timezone, with the zone's name beside them.

Presentation only: which slots exist and what they cost is decided in domain/.
"""

from __future__ import annotations

from datetime import datetime

# One format for people and for the text sent to Stripe: written once, in the domain.
from efoy_app.domain.times import when_label as when_label
from efoy_app.domain.times import zone as zone
from efoy_app.settings import get_settings


def clinic_timezone() -> str:
    """The zone admin pages show times in (EFOY_CLINIC_TIMEZONE), whoever the admin is."""
    return get_settings().clinic_timezone


def day_label(moment: datetime, tz: str) -> str:
    """The local day of `moment` in `tz`, as "Monday 1 December 2025"."""
    local = moment.astimezone(zone(tz))
    return f"{local:%A} {local.day} {local:%B %Y}"


def time_label(moment: datetime, tz: str) -> str:
    """The clock time in `tz`, as "09:30"."""
    return moment.astimezone(zone(tz)).strftime("%H:%M")


def when_exact_label(moment: datetime | None, tz: str) -> str:
    """`when_label` with seconds, for a tooltip: "Mon 1 Dec 2025, 09:30:12 EAT"; "" for None."""
    if moment is None:
        return ""
    local = moment.astimezone(zone(tz))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M:%S} {local.tzname()}"


def card_label(brand: str | None, last4: str | None, unknown_brand: str = "") -> str:
    """A card as "Visa •••• 4242"; "" when no card is known."""
    if not last4:
        return ""
    return f"{(brand or unknown_brand).title()} •••• {last4}"
