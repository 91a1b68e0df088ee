"""Signed tokens that name a subscriber in a URL or an email address, for replies and
unsubscribing. Lower-case and short, since mail systems may fold the case of an address."""

import hashlib
import hmac

DIGEST_CHARS = 16


def make_token(secret: str, subscriber_id: int, purpose: str) -> str:
    return f"{subscriber_id}-{_digest(secret, subscriber_id, purpose)}"


def read_token(secret: str, token: str, purpose: str) -> int | None:
    """The subscriber id a token names, or None when it is malformed or not ours."""
    number, _, digest = token.strip().lower().partition("-")
    if not number.isdigit() or len(digest) != DIGEST_CHARS:
        return None
    expected = _digest(secret, int(number), purpose)
    return int(number) if hmac.compare_digest(digest, expected) else None


def _digest(secret: str, subscriber_id: int, purpose: str) -> str:
    message = f"{purpose}:{subscriber_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:DIGEST_CHARS]
