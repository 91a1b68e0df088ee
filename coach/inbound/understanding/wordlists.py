"""Layer 2: reviewed word lists, one data file per language (``data/en.yaml``, ``es.yaml``).

Every pattern carries examples it must and must not match (checked by the unit tests). Risk
patterns are written over the concepts of :mod:`.concepts` ("@partner ... @violent me"), so one
pattern covers the many ways of saying one thing. Each pattern gets a prefilter, derived from
the pattern itself as the lists load (:mod:`.prefilter`): a reply holding none of the words a
pattern needs is not searched for it, which keeps reading a reply fast however long the lists
grow. Risk lists and traps of every language are read on every reply: a Spanish speaker may
write in English when it matters. Commands are tried in the subscriber's language first.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from coach.inbound.understanding.concepts import expand
from coach.inbound.understanding.data import load
from coach.inbound.understanding.prefilter import Prefilter, derive_all

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
    prefilter: Prefilter | None = None  # derived from ``regex`` as the list loads (speed only)

    def search(self, normalised: str) -> bool:
        """Whether the pattern matches; a reply that fails the prefilter cannot, so it is not
        searched (tests/unit/test_understanding_prefilter.py checks they always agree)."""
        prefilter = self.prefilter  # Prefilter.passes, written out: this runs very often
        if prefilter is not None and prefilter.slot not in prefilter.screen.passing(normalised):
            return False
        return self.search_without_prefilter(normalised)

    def search_without_prefilter(self, normalised: str) -> bool:
        """The same answer as :meth:`search`, found the slow way."""
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


KINDS = ("risk", "traps", "commands", "softeners")


def word_list(language: str) -> WordList:
    return _word_lists()[language]


@cache
def _word_lists() -> dict[str, WordList]:
    """Every language's lists, loaded together: every reply is read with all of them, and
    their patterns' prefilters share one screen (see .prefilter)."""
    raws = {language: load(f"{language}.yaml") for language in LANGUAGES}
    entries = [(language, kind, entry) for language, raw in raws.items() for kind in KINDS
               for entry in (raw.get(kind, ()) if kind == "softeners" else raw[kind])]
    regexes = [re.compile(expand(entry["pattern"], language)) for language, _, entry in entries]
    patterns: dict[tuple[str, str], list[Pattern]] = {}
    for (language, kind, entry), regex, prefilter in zip(entries, regexes, derive_all(regexes),
                                                          strict=True):
        patterns.setdefault((language, kind), []).append(
            _pattern(language, entry, regex, prefilter))
    return {language: WordList(
        language=language,
        risk=tuple(patterns.get((language, "risk"), ())),
        traps=tuple(patterns.get((language, "traps"), ())),
        commands=tuple(patterns.get((language, "commands"), ())),
        softeners=tuple(patterns.get((language, "softeners"), ())),
        hyperbole=re.compile(raw["hyperbole"]),
        past=re.compile(raw["past"]),
        unclear=re.compile(raw["unclear"]),
    ) for language, raw in raws.items()}


def matching(patterns: Iterable[Pattern], normalised: str) -> Iterator[Pattern]:
    """The patterns that match, in order: ``filter(Pattern.search)``, the prefilters of all of
    them read at once."""
    screen, passing = None, frozenset[int]()
    for pattern in patterns:
        prefilter = pattern.prefilter
        if prefilter is not None:
            if prefilter.screen is not screen:
                screen = prefilter.screen
                passing = screen.passing(normalised)
            if prefilter.slot not in passing:
                continue
        if pattern.search_without_prefilter(normalised):
            yield pattern


def in_order(language: str) -> list[WordList]:
    """The subscriber's language first, then the others."""
    first = language if language in LANGUAGES else "en"
    return [word_list(first)] + [word_list(other) for other in LANGUAGES if other != first]


def _pattern(language: str, entry: dict[str, Any], regex: re.Pattern[str],
             prefilter: Prefilter | None) -> Pattern:
    return Pattern(
        language=language, name=entry["name"], regex=regex, prefilter=prefilter,
        must_match=tuple(entry.get("match", ())), must_not_match=tuple(entry.get("no_match", ())),
        level=entry.get("level", "none"), category=entry.get("category"),
        intent=entry.get("intent"), reason=entry.get("reason", ""),
        softens=tuple(entry.get("softens", ())),
        guard=re.compile(entry["guard"]) if "guard" in entry else None,
    )
