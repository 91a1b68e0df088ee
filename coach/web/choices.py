"""Choices the subscriber's pages offer: time zones and languages, by the names people read."""

from functools import cache
from zoneinfo import available_timezones

LANGUAGE_NAMES = {"en": "English", "es": "Español"}
# Aliases and legacy names: valid, but a list of 600 zones is long enough without them.
LEGACY_ZONES = ("Etc/", "SystemV/", "US/", "posix/", "right/")


@cache
def time_zones() -> list[str]:
    return sorted(zone for zone in available_timezones()
                  if "/" in zone and not zone.startswith(LEGACY_ZONES))
