"""Layer 2: reviewed word lists, one data file per language (``data/en.yaml``, ``es.yaml``).

Every pattern carries examples it must and must not match (checked by the unit tests). Risk
patterns are written over the concepts of :mod:`.concepts` ("@partner ... @violent me"), so one
pattern covers the many ways of saying one thing. Risk
lists and traps of every language are read on every reply: a Spanish speaker may write in
English when it matters. Commands are tried in the subscriber's language first.
"""

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from coach.inbound.understanding.concepts import expand
from coach.inbound.understanding.data import load

LANGUAGES = ("en", "es")
LEVELS = {"none": 0, "concern": 1, "urgent": 2}


@dataclass(frozen=True)
class Pattern:
    language: str
    name: str
    regex: re.Pattern[str]
    must_match: tuple[str, ...]
    must_not_match: tuple[str, ...]
    level: str = "none"
    category: str | None = None
    intent: str | None = None
    reason: str = ""
    softens: tuple[str, ...] = ()  # for a softener: the risk categories whose matches it undoes
    guard: re.Pattern[str] | None = None  # a cheap test the reply must pass first (speed only)

    def search(self, normalised: str) -> bool:
        if self.guard is not None and self.guard.search(normalised) is None:
            return False
        return self.regex.search(normalised) is not None

    def describe(self) -> str:
        where = f"word list {self.language}/{self.name}"
        return f"{where}: matched {self.reason}" if self.reason else where


@dataclass(frozen=True)
class WordList:
    language: str
    risk: tuple[Pattern, ...]
    traps: tuple[Pattern, ...]
    commands: tuple[Pattern, ...]
    softeners: tuple[Pattern, ...]
    hyperbole: re.Pattern[str]
    past: re.Pattern[str]
    unclear: re.Pattern[str]

    def patterns(self) -> tuple[Pattern, ...]:
        return self.risk + self.traps + self.commands + self.softeners


@cache
def word_list(language: str) -> WordList:
    raw = load(f"{language}.yaml")
    return WordList(
        language=language,
        risk=tuple(_pattern(language, entry) for entry in raw["risk"]),
        traps=tuple(_pattern(language, entry) for entry in raw["traps"]),
        commands=tuple(_pattern(language, entry) for entry in raw["commands"]),
        softeners=tuple(_pattern(language, entry) for entry in raw.get("softeners", ())),
        hyperbole=re.compile(raw["hyperbole"]),
        past=re.compile(raw["past"]),
        unclear=re.compile(raw["unclear"]),
    )


def in_order(language: str) -> list[WordList]:
    """The subscriber's language first, then the others."""
    first = language if language in LANGUAGES else "en"
    return [word_list(first)] + [word_list(other) for other in LANGUAGES if other != first]


def _pattern(language: str, entry: dict[str, Any]) -> Pattern:
    return Pattern(
        language=language, name=entry["name"],
        regex=re.compile(expand(entry["pattern"], language)),
        must_match=tuple(entry.get("match", ())), must_not_match=tuple(entry.get("no_match", ())),
        level=entry.get("level", "none"), category=entry.get("category"),
        intent=entry.get("intent"), reason=entry.get("reason", ""),
        softens=tuple(entry.get("softens", ())),
        guard=re.compile(entry["guard"]) if "guard" in entry else None,
    )
