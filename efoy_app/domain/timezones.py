"""How a timezone is named to people: the city and the zone's name, never the raw IANA id.

"Africa/Addis_Ababa" reads as "Addis Ababa (East Africa Time)" wherever a page names a zone, and
as "Addis Ababa — East Africa Time (UTC+03:00)" in the register page's list. The names come from
CLDR through Babel (already a dependency for money formats); the list of zones is the canonical
one of `zone_table` (legacy aliases such as Asia/Calcutta map to Asia/Kolkata and appear once).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.core import get_global
from babel.dates import get_timezone_location

from efoy_app.domain.zone_table import ZONE_COUNTRIES

LOCALE = Locale.parse("en")
UTC_ZONE = "UTC"
_UTC_ALIASES = frozenset(
    {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"}
    | {"GMT", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "GMT0", "GMT+0", "GMT-0"}
    | {"Etc/Greenwich", "Greenwich"}
)
# The first part of an IANA id, as a heading people read.
REGION_NAMES = {
    "Africa": "Africa",
    "America": "Americas",
    "Antarctica": "Antarctica",
    "Arctic": "Arctic",
    "Asia": "Asia",
    "Atlantic": "Atlantic Ocean",
    "Australia": "Australia",
    "Europe": "Europe",
    "Indian": "Indian Ocean",
    "Pacific": "Pacific Ocean",
}


def canonical_zone(tz: str) -> str | None:
    """The canonical name of `tz` ("Asia/Calcutta" -> "Asia/Kolkata"), or None if unknown."""
    tz = (tz or "").strip()
    if tz in _UTC_ALIASES:
        return UTC_ZONE
    if tz in ZONE_COUNTRIES:
        return tz
    alias = get_global("zone_aliases").get(tz)
    if alias in ZONE_COUNTRIES:
        return alias
    return None


def _city(tz: str) -> str:
    try:
        return get_timezone_location(tz, locale=LOCALE, return_city=True)
    except (LookupError, ValueError):
        return tz.rsplit("/", 1)[-1].replace("_", " ")


@cache
def _zone_name(tz: str) -> str | None:
    """CLDR's long name of the zone ("East Africa Time"), generic if there is one."""
    metazone = get_global("meta_zones").get(tz)
    names = LOCALE.meta_zones.get(metazone, {}).get("long", {}) if metazone else {}
    return names.get("generic") or names.get("standard")


def utc_offset_label(tz: str, at: datetime | None = None) -> str:
    """`tz`'s offset from UTC at `at` (default now), e.g. "UTC+03:00", "UTC-09:30"."""
    moment = at or datetime.now(UTC)
    try:
        offset = moment.astimezone(ZoneInfo(tz)).utcoffset() or timedelta(0)
    except (ZoneInfoNotFoundError, ValueError):
        offset = timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def _unlisted_name(tz: str) -> str:
    """A zone outside the list: its offset for fixed ones (Etc/GMT+3), else the id made readable."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return (tz or "").replace("_", " ")
    return utc_offset_label(tz) if tz.startswith("Etc/") else tz.replace("_", " ")


def zone_display_name(tz: str) -> str:
    """The zone as people say it: "Addis Ababa (East Africa Time)"; "UTC" for UTC.

    An alias is named as its canonical zone; an id we do not know is shown with its underscores
    turned into spaces rather than refused (a stored value must always display).
    """
    zone = canonical_zone(tz)
    if zone == UTC_ZONE:
        return "UTC"
    if zone is None:
        return _unlisted_name(tz)
    name = _zone_name(zone)
    city = _city(zone)
    return f"{city} ({name})" if name else city


@dataclasses.dataclass(frozen=True)
class ZoneChoice:
    """One entry of the timezone list: its id, the label people read, and what search matches."""

    zone: str
    label: str
    search_text: str


def zone_label(tz: str, at: datetime | None = None) -> str:
    """ "Addis Ababa — East Africa Time (UTC+03:00)": the list entry for `tz`."""
    zone = canonical_zone(tz) or tz
    offset = utc_offset_label(zone, at)
    if zone == UTC_ZONE:
        return f"UTC — Coordinated Universal Time ({offset})"
    name = _zone_name(zone)
    city = _city(zone)
    return f"{city} — {name} ({offset})" if name else f"{city} ({offset})"


def _choice(zone: str, at: datetime | None) -> ZoneChoice:
    label = zone_label(zone, at)
    country = LOCALE.territories.get(ZONE_COUNTRIES.get(zone, ""), "")
    search = " ".join((label, country, zone.replace("_", " "))).casefold()
    return ZoneChoice(zone=zone, label=label, search_text=search)


def zone_groups(at: datetime | None = None) -> list[tuple[str, list[ZoneChoice]]]:
    """Every canonical zone once, grouped by region (UTC first), cities in alphabetical order."""
    groups: dict[str, list[ZoneChoice]] = {}
    for zone in ZONE_COUNTRIES:
        region = REGION_NAMES.get(zone.split("/", 1)[0], "Other")
        groups.setdefault(region, []).append(_choice(zone, at))
    ordered = [("Universal", [_choice(UTC_ZONE, at)])]
    for region in sorted(groups):
        ordered.append((region, sorted(groups[region], key=lambda c: c.label.casefold())))
    return ordered


def filter_zone_groups(
    groups: list[tuple[str, list[ZoneChoice]]], query: str, keep: str = ""
) -> list[tuple[str, list[ZoneChoice]]]:
    """The groups narrowed to entries whose label, country or id contain every word of `query`.

    `keep` (the zone currently chosen) always stays, so filtering never changes the choice.
    """
    words = query.casefold().split()
    if not words:
        return groups
    narrowed = []
    for region, choices in groups:
        hits = [c for c in choices if c.zone == keep or all(w in c.search_text for w in words)]
        if hits:
            narrowed.append((region, hits))
    return narrowed
