"""Timezones are named as people read them, once per place, and the list can be searched."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import available_timezones

from efoy_app.domain.timezones import (
    canonical_zone,
    filter_zone_groups,
    utc_offset_label,
    zone_display_name,
    zone_groups,
    zone_label,
)

JANUARY = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
JULY = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)


def test_a_zone_is_named_by_its_city_and_the_zones_name() -> None:
    assert zone_display_name("Africa/Addis_Ababa") == "Addis Ababa (East Africa Time)"
    assert zone_display_name("Asia/Kolkata") == "Kolkata (India Standard Time)"
    assert zone_display_name("Europe/Berlin") == "Berlin (Central European Time)"
    assert zone_display_name("America/New_York") == "New York (Eastern Time)"
    assert zone_display_name("America/Argentina/Buenos_Aires") == "Buenos Aires (Argentina Time)"
    assert zone_display_name("UTC") == "UTC"


def test_legacy_aliases_are_named_as_their_canonical_zone() -> None:
    assert canonical_zone("Asia/Calcutta") == "Asia/Kolkata"
    assert canonical_zone("US/Eastern") == "America/New_York"
    assert canonical_zone("Europe/Kiev") == "Europe/Kyiv"
    assert canonical_zone("Etc/UTC") == "UTC"
    assert canonical_zone("Mars/Olympus_Mons") is None
    assert zone_display_name("Asia/Calcutta") == "Kolkata (India Standard Time)"


def test_a_zone_outside_the_list_still_displays() -> None:
    assert zone_display_name("Etc/GMT+3") == "UTC-03:00"
    assert zone_display_name("Mars/Olympus_Mons") == "Mars/Olympus Mons"
    assert zone_display_name("") == ""


def test_offsets_follow_daylight_saving_and_half_hours() -> None:
    assert utc_offset_label("Europe/London", JANUARY) == "UTC+00:00"
    assert utc_offset_label("Europe/London", JULY) == "UTC+01:00"
    assert utc_offset_label("America/St_Johns", JANUARY) == "UTC-03:30"
    assert utc_offset_label("Asia/Kathmandu", JANUARY) == "UTC+05:45"


def test_list_labels_read_as_city_zone_name_and_offset() -> None:
    assert zone_label("Africa/Addis_Ababa", JANUARY) == "Addis Ababa — East Africa Time (UTC+03:00)"
    assert zone_label("America/New_York", JULY) == "New York — Eastern Time (UTC-04:00)"
    assert zone_label("UTC", JULY) == "UTC — Coordinated Universal Time (UTC+00:00)"


def test_every_place_is_listed_once_under_its_region() -> None:
    groups = zone_groups(JANUARY)
    regions = [region for region, _ in groups]
    assert regions == [
        "Universal",
        "Africa",
        "Americas",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic Ocean",
        "Australia",
        "Europe",
        "Indian Ocean",
        "Pacific Ocean",
    ]
    zones = [c.zone for _, choices in groups for c in choices]
    labels = [c.label for _, choices in groups for c in choices]
    assert len(zones) == len(set(zones)) == 419
    assert len(labels) == len(set(labels))
    assert "Asia/Kolkata" in zones and "Asia/Calcutta" not in zones
    assert "US/Eastern" not in zones and "Etc/UTC" not in zones
    assert set(zones) <= available_timezones()
    africa = dict(groups)["Africa"]
    assert [c.label for c in africa][:2] == [
        "Abidjan — Greenwich Mean Time (UTC+00:00)",
        "Accra — Greenwich Mean Time (UTC+00:00)",
    ]


def test_search_matches_city_country_zone_name_and_keeps_the_choice() -> None:
    groups = zone_groups(JANUARY)
    by_country = filter_zone_groups(groups, "ethiopia")
    assert [(r, [c.zone for c in cs]) for r, cs in by_country] == [
        ("Africa", ["Africa/Addis_Ababa"])
    ]
    by_words = filter_zone_groups(groups, "  Addis  ABABA ")
    assert [c.zone for _, cs in by_words for c in cs] == ["Africa/Addis_Ababa"]
    kept = filter_zone_groups(groups, "kolkata", keep="Europe/Paris")
    assert [(r, [c.zone for c in cs]) for r, cs in kept] == [
        ("Asia", ["Asia/Kolkata"]),
        ("Europe", ["Europe/Paris"]),
    ]
    assert filter_zone_groups(groups, "") == groups
    assert filter_zone_groups(groups, "no such place") == []
