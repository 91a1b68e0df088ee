"""What the words ask for, apart from risk: a command, a rating, an answer, or nothing."""

import re
from dataclasses import dataclass

from coach.inbound.understanding.numbers import days_in, rating_in
from coach.inbound.understanding.wordlists import WordList

CARRIES_RATING = {"slower", "ready"}
KISSES = re.compile(r"x+|xo+|(xo)+x?")


@dataclass(frozen=True)
class Intent:
    intent: str
    rating: int | None = None
    days: int | None = None
    reason: str = ""


def read_intent(normalised: str, context: str, lists: list[WordList], at_risk: bool) -> Intent:
    rating = rating_in(normalised, context)
    command = _command(normalised, lists, at_risk)
    if command is not None:
        intent, reason = command
        kept = rating if intent in CARRIES_RATING else None
        days = days_in(normalised) if intent == "pause" else None
        return Intent(intent, kept, days, reason)
    if rating is not None:
        return Intent("rating", rating, reason=f"rating: {rating} of 5")
    if not at_risk and _content_free(normalised, context, lists):
        return Intent("unclear", reason="nothing to tell from the reply")
    return Intent("answer", reason="kept as an answer")


def _command(normalised: str, lists: list[WordList], at_risk: bool) -> tuple[str, str] | None:
    bare = _without_decoration(normalised)
    for wl in lists:
        for pattern in wl.commands:
            if at_risk and pattern.intent == "help":
                continue
            if pattern.search(normalised) or (bare != normalised and pattern.search(bare)):
                return str(pattern.intent), pattern.describe()
    return None


def _without_decoration(normalised: str) -> str:
    """The reply without emoji and sign-off kisses ("STOP 🙏", "stop pls x"), which people add
    to a command without changing what it asks."""
    words = [w for w in normalised.split() if not w.startswith("emoji_")]
    while words and KISSES.fullmatch(words[-1]):
        words.pop()
    while words and words[-1] == ".":
        words.pop()
    return " ".join(words)


def _content_free(normalised: str, context: str, lists: list[WordList]) -> bool:
    if any(wl.unclear.match(normalised) for wl in lists):
        return True
    return context != "scale" and normalised.isdigit()
