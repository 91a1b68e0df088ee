"""Whether a secret is strong enough to sign tokens or guard a webhook: long, and not a
pattern a person typed. Tokens signed with a guessable key can be forged offline."""

import math
from collections import Counter

MIN_CHARS = 32
MIN_BITS = 128  # estimated from the characters' spread, like a random 22-character token
HOW = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def secret_problem(name: str, value: str) -> str | None:
    """What is wrong with ``value`` as the secret ``name``, or None when it will do."""
    if len(value) < MIN_CHARS:
        return f"{name} is {len(value)} characters; use at least {MIN_CHARS} random ones ({HOW})"
    if estimated_bits(value) < MIN_BITS:
        return f"{name} repeats too few characters to be hard to guess; {HOW}"
    return None


def estimated_bits(value: str) -> float:
    """Shannon entropy of the characters, times the length: a lower bound for patterns like
    'xxxx…' or 'abcabc…', generous for random text."""
    counts, total = Counter(value), len(value)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_char * total
