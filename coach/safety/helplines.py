"""Helplines by country, from helplines.yaml: what the urgent reply names.

The country is the subscriber's choice, else the one their phone number belongs to; a country
without an entry gets the fallback, which still names the local emergency number.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import phonenumbers
import yaml

DATA = Path(__file__).with_name("helplines.yaml")
FIELDS = ("emergency", "crisis", "abuse", "source", "checked")
LANGUAGES = ("es",)  # languages besides a country's own that the file may give words in
# Violence by someone else: the abuse line; suicide, self-harm and anything else: the crisis line.
ABUSE_CATEGORIES = frozenset({"partner_violence", "sexual_coercion", "stalking_fear"})


@dataclass(frozen=True)
class Helpline:
    country: str | None  # None for the fallback
    emergency: str
    crisis: str
    abuse: str
    source: str
    checked: str

    def line_for(self, category: str | None) -> str:
        return self.abuse if category in ABUSE_CATEGORIES else self.crisis


def helpline_for(country: str | None, language: str = "en") -> Helpline:
    """The country's entry (the fallback for one without), in the person's language where the
    file has its words (an ``es:`` block), else in the country's own."""
    table = _table()
    key = (country or "").upper()
    if key not in table:
        key = "*"
    return table.get(f"{key}/{language}") or table[key]


def country_of(chosen: str | None, phone: str | None) -> str | None:
    """The subscriber's own choice, else their phone number's country. Where a calling code
    serves several places (+44 also Guernsey, Jersey, Man), a place without its own entry
    takes the code's main country, whose lines serve it."""
    if chosen:
        return chosen.upper()
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    if region not in _table():
        region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    return region if region and region != "ZZ" else None


@lru_cache
def _table() -> dict[str, Helpline]:
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    table = {}
    for code, entry in [*data["countries"].items(), ("*", data["fallback"])]:
        country = None if code == "*" else code
        table[code] = _helpline(country, entry)
        for language in LANGUAGES:
            if language in entry:
                table[f"{code}/{language}"] = _helpline(country, {**entry, **entry[language]})
    return table


def _helpline(country: str | None, entry: dict[str, str]) -> Helpline:
    missing = [name for name in FIELDS if not entry.get(name)]
    if missing:
        raise ValueError(f"helplines.yaml: {country or 'fallback'} lacks {', '.join(missing)}")
    return Helpline(country, *(str(entry[name]) for name in FIELDS))
