"""Understand a reply: what it asks for, and whether the person may be in danger.

Pure: text and context in, an :class:`Understood` out; only the packaged data is read, once.
Risk is assessed first, on every reply, whatever the context. Three layers, each replaceable:
:mod:`.normalise`, the word lists of :mod:`.wordlists` and the classifier of :mod:`.classifier`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from coach.inbound.understanding.classifier import Classifier, shipped
from coach.inbound.understanding.intent import read_intent
from coach.inbound.understanding.normalise import normalise
from coach.inbound.understanding.risk import Thresholds, assess
from coach.inbound.understanding.wordlists import WordList, in_order

CONTEXTS = ("scale", "text", "none")
INTENTS = ("stop", "start", "help", "pause", "resume", "slower", "ready", "rating", "answer",
           "unclear")
RISKS = ("none", "concern", "urgent")
CATEGORIES = ("suicide_self_harm", "partner_violence", "sexual_coercion", "stalking_fear",
              "other")


@dataclass(frozen=True)
class Understood:
    intent: str  # stop start help pause resume slower ready rating answer unclear
    risk: str  # none concern urgent
    category: str | None  # one of CATEGORIES, None when risk is none
    rating: int | None  # 1..5 for rating (kept for slower/ready when a number was given)
    days: int | None  # for pause, when a duration was given
    reasons: tuple[str, ...]  # human-readable; never quote the person's words

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON contract of ``coach replies classify``."""
        return {"intent": self.intent, "risk": self.risk, "category": self.category,
                "rating": self.rating, "days": self.days, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Reader:
    """One way of understanding replies; the evaluation compares several."""

    classifier: Classifier | None
    thresholds: Thresholds = field(default_factory=Thresholds)
    word_lists: Callable[[str], list[WordList]] = in_order  # by language, the subscriber's first

    def understand(self, text: str, context: str = "none", language: str = "en",
                   country: str | None = None) -> Understood:
        if context not in CONTEXTS:
            raise ValueError(f"unknown context {context!r}; use one of {', '.join(CONTEXTS)}")
        normalised = normalise(text)
        lists = self.word_lists(language)
        risk = assess(normalised, lists, self.classifier, self.thresholds)
        read = read_intent(normalised, context, lists, at_risk=risk.level != "none")
        return Understood(read.intent, risk.level, risk.category, read.rating, read.days,
                          (*risk.reasons, read.reason))


@cache
def default_reader() -> Reader:
    return Reader(shipped())


def understand(text: str, context: str = "none", language: str = "en",
               country: str | None = None) -> Understood:
    """What a reply means. ``context``: "scale" (a 1–5 check-in is open), "text" (a free-text
    question is open) or "none". ``country`` is carried for the safety reply's helplines and
    does not change the reading."""
    return default_reader().understand(text, context, language, country)
