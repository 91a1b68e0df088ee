"""Signed tokens that name a subscriber in a URL or an email address, for replies and
unsubscribing. Lower-case and short, since mail systems may fold the case of an address.

Ids from outside (a token's, or the delivery id of a status callback) are read by one strict
pattern: ASCII digits only, at most the width of an id column. ``str.isdigit`` is not enough:
it accepts ``²``, which ``int`` refuses, and ``int`` refuses 5,000 digits too.
"""

import hashlib
import hmac
import re

DIGEST_CHARS = 16
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
ID = r"[0-9]{1,10}"
ID_PATTERN = re.compile(ID)
TOKEN_PATTERN = re.compile(rf"({ID})-([0-9a-f]{{{DIGEST_CHARS}}})")


def make_token(secret: str, subscriber_id: int, purpose: str) -> str:
    return f"{subscriber_id}-{_digest(secret, subscriber_id, purpose)}"


def read_token(secret: str, token: str, purpose: str) -> int | None:
    """The subscriber id a token names, or None when it is malformed or not ours."""
    found = TOKEN_PATTERN.fullmatch(token.strip().lower())
    number = parse_id(found.group(1)) if found else None
    if found is None or number is None:
        return None
    expected = _digest(secret, number, purpose)
    return number if hmac.compare_digest(found.group(2), expected) else None


def parse_id(text: str) -> int | None:
    """An id as we write them (ASCII digits, no sign or spaces, within a column), else None."""
    if not ID_PATTERN.fullmatch(text):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def _digest(secret: str, subscriber_id: int, purpose: str) -> str:
    message = f"{purpose}:{subscriber_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:DIGEST_CHARS]
