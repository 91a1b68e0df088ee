"""Signed links that expire: confirming a sign-up, managing a subscription, erasing it.

A link names one id and when it was made, signed for one purpose, so a manage link can never
confirm a sign-up. Age is checked against coach's clock (which tests and ``--now`` drive), not
the machine's, and an expired link is told apart from a forged one so the page can offer a
fresh link instead of a dead end.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, Signer

from coach.settings import Settings
from coach.subscribers.tokens import parse_id

CONFIRM_FOR = timedelta(hours=48)
MANAGE_FOR = timedelta(days=30)  # long enough for a footer in last month's email
ERASE_FOR = timedelta(hours=48)
MAX_TOKEN_CHARS = 120
SECONDS = re.compile(r"[0-9]{1,12}")
# Paths whose last part is a token that acts as the person: hidden wherever people other than
# the person read them (access logs, the status timeline, the dev inbox).
TOKEN_IN_PATH = re.compile(
    r"(/(?:unsubscribe|confirm|manage|erase|admin/set-password)/)[^\s?\"#<>)\]]+")


@dataclass(frozen=True)
class Link:
    ident: int
    made_at: datetime

    def expired(self, now: datetime, lifetime: timedelta) -> bool:
        return now - self.made_at > lifetime


def make_link_token(secret: str, purpose: str, ident: int, now: datetime) -> str:
    return _signer(secret, purpose).sign(f"{ident}.{int(now.timestamp())}").decode()


def read_link_token(secret: str, purpose: str, token: str) -> Link | None:
    """What a token names, or None when it is malformed, forged or for another purpose."""
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        return None
    try:
        payload = _signer(secret, purpose).unsign(token).decode()
    except (BadSignature, UnicodeDecodeError):
        return None
    ident_text, _, stamp = payload.partition(".")
    ident = parse_id(ident_text)
    if ident is None or not SECONDS.fullmatch(stamp):
        return None
    return Link(ident, datetime.fromtimestamp(int(stamp), UTC))


def manage_path(secret: str, subscriber_id: int, now: datetime) -> str:
    """The path of a subscriber's own manage page, good for MANAGE_FOR from ``now``."""
    return f"/manage/{make_link_token(secret, 'manage', subscriber_id, now)}"


def manage_url(settings: Settings, subscriber_id: int, now: datetime) -> str:
    path = manage_path(settings.secret_key, subscriber_id, now)
    return f"{settings.public_url.rstrip('/')}{path}"


def hide_tokens(text: str) -> str:
    """The path's shape without its token: ``/manage/…``."""
    return TOKEN_IN_PATH.sub("\\1…", text)


def _signer(secret: str, purpose: str) -> Signer:
    return Signer(secret, salt=f"coach-link:{purpose}")
