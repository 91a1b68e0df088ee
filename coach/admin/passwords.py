"""Passwords, hashed with argon2id (argon2-cffi's defaults, RFC 9106's second choice).

A hash made with older parameters is replaced at the next successful sign-in. An account
with no password (or no account at all) is checked against a dummy hash, so a wrong email
takes as long to refuse as a wrong password.
"""

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_CHARS = 12
MAX_CHARS = 256  # long enough for any passphrase, short enough not to be a cost to hash


@lru_cache
def hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache
def _dummy_hash() -> str:
    return hasher().hash("no account has this password")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def check_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """(whether it matches, a new hash to store when the parameters have changed)."""
    try:
        hasher().verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False, None
    if stored is None:
        return False, None
    return True, hash_password(password) if hasher().check_needs_rehash(stored) else None


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, in words that say what to do; None when it is fine."""
    if len(password) < MIN_CHARS:
        return (f"Choose a password of at least {MIN_CHARS} characters; a few ordinary "
                "words in a row make a good one.")
    if len(password) > MAX_CHARS:
        return f"Choose a password of at most {MAX_CHARS} characters."
    if not password.strip():
        return "Choose a password that is more than spaces."
    return None
