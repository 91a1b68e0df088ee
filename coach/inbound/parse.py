"""What a reply means. Pure: text in, an ``Intent`` out.

Matching ignores case, spacing and punctuation. Carrier keywords (STOP, START, HELP) count only
when they are the whole message, as carriers treat them. Language of distress is checked before
anything else a person writes, so it never gets a cheerful automated answer.
"""

import re
from dataclasses import dataclass

STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit"}
START_WORDS = {"start", "unstop"}
HELP_WORDS = {"help", "info"}
SLOWER_WORDS = {"slower", "slow", "slow down"}
READY_WORDS = {"ready"}
RESUME_WORDS = {"resume"}

STRUGGLING = re.compile(
    r"\b(hard|not yet|struggl\w*|difficult|too much|overwhelm\w*|stuck|cant)\b"
)
NOT_STRUGGLING = re.compile(
    r"\b(not|wasnt|isnt|never|no)\s+(that\s+|so\s+|too\s+|really\s+)?(hard|difficult)\b"
)

DISTRESS = re.compile(
    r"\b("
    r"kill(ing)? myself|suicid\w*|end (my|it) (life|all)|want(ed)? to die|wanna die"
    r"|hurt(ing)? myself|self ?harm\w*|cut(ting)? myself|no reason to live|better off dead"
    r"|dont want to (live|be here)|overdose"
    r"|(hit|hits|hitting|beat|beats|beating|hurt|hurts|hurting|choke[ds]?|choking"
    r"|threaten(s|ed|ing)?|kick(s|ed|ing)?|push(es|ed|ing)?) me"
    r"|abus(e|ed|ive|ing)|rape[ds]?|assault\w*|(afraid|scared|terrified) of (my|him|her|them)"
    r"|(not|dont feel|never feel) safe|unsafe|in danger"
    r")\b"
)
PAUSE = re.compile(r"^pause(?:\s+(?:for\s+)?(\d{1,4})(?:\s*days?)?)?$")
RATING = re.compile(r"^([1-5])(?:\b|$)")


@dataclass(frozen=True)
class Intent:
    kind: str  # stop start help pause resume slower steady ready words distress
    days: int | None = None  # for pause
    label: str = ""  # how the decision log names what they said (never the free text itself)


def normalize(text: str) -> str:
    folded = text.casefold().replace("'", "").replace("’", "")
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def parse(text: str) -> Intent:
    words = normalize(text)
    keyword = _keyword(words)
    if keyword:
        return keyword
    if DISTRESS.search(words):
        return Intent("distress", label="words of distress")
    if _short_stop(words):
        return Intent("stop", label="STOP")
    rating = RATING.match(words)
    if rating:
        return _rating(int(rating.group(1)))
    if STRUGGLING.search(words) and not NOT_STRUGGLING.search(words):
        return Intent("slower", label="words saying it is hard")
    return Intent("words", label="a few words")


def _keyword(words: str) -> Intent | None:
    simple = {
        **dict.fromkeys(STOP_WORDS, "stop"),
        **dict.fromkeys(START_WORDS, "start"),
        **dict.fromkeys(HELP_WORDS, "help"),
        **dict.fromkeys(RESUME_WORDS, "resume"),
        **dict.fromkeys(SLOWER_WORDS, "slower"),
        **dict.fromkeys(READY_WORDS, "ready"),
    }
    if words in simple:
        return Intent(simple[words], label=words.upper())
    pause = PAUSE.match(words)
    if pause:
        days = int(pause.group(1)) if pause.group(1) else None
        return Intent("pause", days=days, label=words.upper())
    return None


POLITE = {"please", "pls", "now", "it", "all", "me", "thanks", "thank", "you", "messages", "texts",
          "emails", "texting", "emailing"}


def _short_stop(words: str) -> bool:
    """'stop please', 'please STOP', 'stop texting thanks': one stop word and only courtesy
    around it. 'I can't stop' or 'the end' are not requests to unsubscribe."""
    parts = words.split()
    stops = [p for p in parts if p in STOP_WORDS]
    return len(stops) == 1 and all(p in POLITE for p in parts if p not in STOP_WORDS)


def _rating(value: int) -> Intent:
    kind = "slower" if value <= 2 else "steady" if value == 3 else "ready"
    return Intent(kind, label=str(value))
