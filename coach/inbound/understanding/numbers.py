"""Ratings (1–5) and pause lengths read from a normalised reply."""

import re

RATED_EMOJI = {
    "emoji_sob": 1, "emoji_cry": 1, "emoji_thumbsdown": 1,
    "emoji_sad": 2, "emoji_unsure": 2,
    "emoji_neutral": 3, "emoji_shrug": 3,
    "emoji_smile": 4, "emoji_thumbsup": 4,
    "emoji_happy": 5, "emoji_heart": 5, "emoji_love": 5, "emoji_party": 5, "emoji_hundred": 5,
}
# "4/5", "4 out of 5", "4 de 5": a rating in any context.
EXPLICIT = re.compile(r"\b([1-5]) ?(?:/ ?5|out of 5|de 5)\b")
# A check-in answered with a number first ("2, it was hard", "a solid 4", "id give it a 2").
LEADING = re.compile(
    r"^(?:(?:maybe|honestly|probably|prob|id say|i would say|i say|diria que|le doy|le pongo"
    r"|id give it|i would give it|give it|ill give it|id go with|definitely) )?"
    r"(?:a |un |una )?(?:solid |strong |good |low |high |weak |re |big |firm )?([1-5])\b"
    r"(?! (?:day|days|week|weeks|times|mins|minutes|hours|dias|semanas|veces|months|meses)\b)"
)
UNITS = {"day": 1, "days": 1, "dia": 1, "dias": 1, "week": 7, "weeks": 7, "semana": 7,
         "semanas": 7, "month": 30, "months": 30, "mes": 30, "meses": 30}
COUNTED = re.compile(r"\b(\d{1,3}|a|an|un|una) (" + "|".join(UNITS) + r")\b")
FIXED = (
    (re.compile(r"\bfortnight\b|\bquincena\b"), 14),
    (re.compile(r"\bnext week\b|\bproxima semana\b|\bsemana que viene\b"), 7),
    (re.compile(r"\bweekend\b|\bfinde\b|\bfin de semana\b"), 2),
)
BARE = re.compile(r"^(?:pause|pausa|paws) (\d{1,3})$")


def rating_in(normalised: str, context: str) -> int | None:
    """The 1–5 value of a check-in reply, or ``None``."""
    explicit = EXPLICIT.search(normalised)
    if explicit:
        return int(explicit.group(1))
    if context != "scale":
        return None
    leading = LEADING.match(normalised)
    if leading:
        return int(leading.group(1))
    return _emoji_rating(normalised)


def _emoji_rating(normalised: str) -> int | None:
    """Emoji sent alone ("😭", "👍👍"); an emoji inside words is not a rating."""
    words = normalised.split()
    values = {RATED_EMOJI.get(word) for word in words}
    if not words or None in values or len(values) != 1:
        return None
    return values.pop()


def days_in(normalised: str) -> int | None:
    """A pause's length in days when a fixed one is given ("2 weeks", "un mes", "the weekend")."""
    counted = COUNTED.search(normalised)
    if counted:
        count = counted.group(1)
        number = int(count) if count.isdigit() else 1
        return number * UNITS[counted.group(2)]
    for pattern, days in FIXED:
        if pattern.search(normalised):
            return days
    bare = BARE.match(normalised)
    return int(bare.group(1)) if bare else None
