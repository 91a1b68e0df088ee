"""The suppression list: addresses whose owners had their data erased, kept only as a keyed hash.

A later sign-up with such an address needs fresh consent the person gives themselves (a double
opt-in), and a STOP given before the erasure is remembered (``opted_out``) without keeping the
address. The hash is HMAC-SHA256 over the normalised address, keyed by a key derived from the
secret key for this one use: without the secret, the list cannot be checked against a list of
guessed addresses. Changing ``COACH_SECRET_KEY`` makes the list unreadable, so keep it.
"""

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.subscribers.addresses import BadAddress, channel_and_address
from coach.subscribers.models import Suppression

PURPOSE = b"coach suppression list"


def address_hash(secret_key: str, address: str) -> str:
    """64 hex characters: the same for every way of writing one address."""
    key = hmac.new(secret_key.encode(), PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, _normalised(address).encode(), hashlib.sha256).hexdigest()


def is_suppressed(session: Session, secret_key: str, address: str) -> Suppression | None:
    """The suppression of an erased address, or None when the address was never erased."""
    digest = address_hash(secret_key, address)
    return session.scalars(select(Suppression).where(Suppression.address_hash == digest)).first()


def suppress(session: Session, secret_key: str, channel: str, address: str,
             opted_out: bool) -> Suppression:
    """Put an address on the list (once; a STOP already on record is kept)."""
    suppression = is_suppressed(session, secret_key, address)
    if suppression is None:
        suppression = Suppression(address_hash=address_hash(secret_key, address),
                                  channel=channel, opted_out=opted_out)
        session.add(suppression)
    suppression.opted_out = suppression.opted_out or opted_out
    return suppression


def lift(session: Session, secret_key: str, address: str) -> bool:
    """The person gave fresh consent themselves: the address leaves the list. Returns whether
    it was on it."""
    suppression = is_suppressed(session, secret_key, address)
    if suppression is not None:
        session.delete(suppression)
    return suppression is not None


def _normalised(address: str) -> str:
    """As stored: a lower-case email address or an E.164 number. An address the checks refuse
    (stored before they were strict) is hashed as written, trimmed and lower-cased."""
    try:
        return channel_and_address(address)[1]
    except BadAddress:
        return address.strip().lower()
