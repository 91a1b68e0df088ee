"""Layer 1: one plain spelling of a reply, so word lists and the classifier see "KMS 😭",
"kms😭" and "Kms 😭" alike.

Case folded, accents and apostrophes dropped, typographic quotes made straight, emoji as words
(``emoji_sob``), letters stretched three times or more said once ("stoppp", "pleaseee"),
text-speak spelled out ("kms" → "kill myself", "2" → "to" between words),
number words as digits. Clause punctuation becomes a lone "." so "stop. not doing this" keeps
its two clauses; other punctuation goes.
"""

import re
import unicodedata
from functools import cache
from typing import Any

from coach.inbound.understanding.data import load

INVISIBLE = re.compile("[\ufe0f\ufe0e\u200d\u200b\U0001f3fb-\U0001f3ff\u2640\u2642]")
TYPOGRAPHIC = str.maketrans({"‘": "'", "’": "'", "ʼ": "'", "`": "'", "´": "'",
                             "“": '"', "”": '"', "–": " - ", "—": " - ", "…": "."})
CLAUSE_MARKS = re.compile(r"[.!?¡¿;,:\n]+|\s-+\s|^-+\s|\s-+$")
REPEATED = re.compile(r"([a-z])\1{2,}")  # "stoppp", "pleaseeee", "nooo": stretched for feeling
WORD = re.compile(r"[a-z]+")
OTHER_MARKS = re.compile(r"[^a-z0-9_/ .]+|(?<![0-9])/|/(?![0-9])")


def normalise(text: str) -> str:
    """The reply in plain words separated by single spaces, "." between clauses."""
    table = _table()
    if table["emoji_in_ascii"] or not text.isascii():  # else none to find (most replies)
        text = INVISIBLE.sub("", unicodedata.normalize("NFC", text))  # INVISIBLE: none ASCII
        text = table["emoji"].sub(lambda m: f" {table['emoji_words'][m.group(0)]} ", text)
    text = text.translate(TYPOGRAPHIC).casefold()
    for pattern, words in table["before_apostrophes"]:
        text = pattern.sub(words, text)
    text = _without_accents(text).replace("'", "").replace('"', " ")
    text = CLAUSE_MARKS.sub(" . ", text)
    if REPEATED.search(text):
        text = WORD.sub(_unstretched, text)
    text = OTHER_MARKS.sub(" ", text)
    tokens = _spelled_out(text.split(), table)
    return " ".join(_tidy_clauses(tokens))


def _unstretched(match: re.Match[str]) -> str:
    """"stoppp" → "stop", "pleaseee" → "please"; a word of one letter ("mmm", "zzz") stays."""
    word = match.group(0)
    return word if len(set(word)) == 1 else REPEATED.sub(r"\1", word)


def plain_words(normalised: str) -> list[str]:
    """The words alone, without clause marks (what the classifier reads)."""
    return [word for word in normalised.split() if word != "."]


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    if decomposed.isascii():  # no accent left to take off (most replies)
        return decomposed
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _spelled_out(tokens: list[str], table: dict[str, Any]) -> list[str]:
    spoken: list[str] = []
    for word in tokens:
        spoken.extend(table["textspeak"].get(word, word).split())
    numbers = table["numbers"]
    spoken = [numbers.get(word, word) for word in spoken]
    return [_digit_as_word(spoken, i, table) for i in range(len(spoken))]


def _digit_as_word(tokens: list[str], i: int, table: dict[str, Any]) -> str:
    """"want 2 die" → "want to die", "rdy 4 the next" → "ready for the next"; a digit next to
    a unit or a number ("2 weeks", "4 2 wks", "a 4 mate") stays a number."""
    word = tokens[i]
    if word not in table["digit_words"] or i == 0 or i == len(tokens) - 1:
        return word
    before, after = tokens[i - 1], tokens[i + 1]
    if not before.isalpha() or before in {"a", "un", "it", "say", "maybe", "doy", "le"}:
        return word
    if after in table["units"] or not (after.isalpha() or after.isdigit()):
        return word
    if after.isdigit() and word != "4":
        return word
    return str(table["digit_words"][word])


def _tidy_clauses(tokens: list[str]) -> list[str]:
    tidy: list[str] = []
    for word in tokens:
        if word == "." and (not tidy or tidy[-1] == "."):
            continue
        tidy.append(word)
    while tidy and tidy[-1] == ".":
        tidy.pop()
    return tidy


@cache
def _table() -> dict[str, Any]:
    raw = load("normalise.yaml")
    emoji = sorted(raw["emoji"], key=len, reverse=True)
    return {
        "emoji": re.compile("|".join(re.escape(e) for e in emoji)),
        "emoji_words": raw["emoji"],
        "emoji_in_ascii": any(e.isascii() for e in emoji),  # an emoticon such as ":)" listed
        "before_apostrophes": [(re.compile(p), w) for p, w in raw["before_apostrophes"].items()],
        "textspeak": raw["textspeak"],
        "numbers": {word: str(value) for word, value in raw["numbers"].items()},
        "digit_words": {str(k): v for k, v in raw["digit_words"].items()},
        "units": frozenset(raw["units"]),
    }
