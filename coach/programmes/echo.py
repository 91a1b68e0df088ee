"""A person's saved answer, as later messages echo it.

Kept in GSM-7, the SMS alphabet: one character outside it (an emoji, a curly quote, an "á")
would turn the whole text into UCS-2 and halve what fits in a segment, so an echo could push a
message past its budget. Straight quotes and dashes replace typographic ones, accents GSM-7
lacks are dropped from their letters (á becomes a; é and ñ stay), and what has no GSM-7 form
(emoji) is left out. Whitespace is collapsed and the length bounded.
"""

import re
import unicodedata

from coach.programmes.render import GSM7, GSM7_EXTENDED

MAX_ANSWER = 500
TYPOGRAPHIC = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-",
                             "…": "...", "\u00a0": " "})
SMS_SAFE = GSM7 | GSM7_EXTENDED - {"\f"}
LOOSE_PUNCTUATION = re.compile(r" ([,.;:!?])")


def plain_words(text: str) -> str:
    folded = "".join(_in_gsm7(ch) for ch in text.translate(TYPOGRAPHIC))
    # A dropped emoji must not leave "matters , even": no space before punctuation.
    tidy = LOOSE_PUNCTUATION.sub(r"\1", " ".join(folded.split()))
    return tidy[:MAX_ANSWER].strip()


def _in_gsm7(ch: str) -> str:
    if ch in SMS_SAFE or ch.isspace():
        return ch if not ch.isspace() else " "
    base = unicodedata.normalize("NFKD", ch)[:1]
    return base if base in SMS_SAFE else ""
