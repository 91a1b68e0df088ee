"""The optional IMAP poller: unseen messages in one mailbox (COACH_IMAP_URL) go through the same
path as the inbound webhook, and are marked seen once their transaction has committed.

A message that fails stays unseen and is tried again at the next poll; one already recorded is
recognised by its Message-ID, so a poll cut short duplicates nothing.
"""

import imaplib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from coach.db import session_factory, utcnow
from coach.inbound.email_in import receive_email
from coach.settings import Settings

log = logging.getLogger(__name__)

SCHEMES = {"imaps": 993, "imap+starttls": 143, "imap": 143}
BATCH = 100  # messages per poll, so one poll stays short; the rest wait for the next
TIMEOUT = 30.0


@dataclass(frozen=True)
class Mailbox:
    scheme: str
    host: str
    port: int
    user: str
    password: str
    folder: str


def mailbox(url: str) -> Mailbox:
    """``imaps://user:pass@host:993/INBOX``; also ``imap+starttls://`` and plain ``imap://``."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError("COACH_IMAP_URL must look like imaps://user:password@host/INBOX "
                         "(or imap+starttls://, or imap:// for a local test server)")
    return Mailbox(parts.scheme, parts.hostname, parts.port or SCHEMES[parts.scheme],
                   unquote(parts.username or ""), unquote(parts.password or ""),
                   unquote(parts.path.strip("/")) or "INBOX")


@dataclass
class PollSummary:
    fetched: int = 0
    reply: int = 0
    duplicate: int = 0
    bounce: int = 0
    unsubscribe: int = 0
    dropped: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def poll(settings: Settings, enqueue: Callable[[list[int]], None],
         now: Callable[[], datetime] = utcnow) -> PollSummary:
    """Take up to BATCH unseen messages; acknowledgements go to ``enqueue`` after each commit."""
    summary = PollSummary()
    if not settings.imap_url:
        return summary
    box = mailbox(settings.imap_url)
    factory = session_factory(settings.effective_database_url)

    def take(raw: bytes) -> str:
        received = receive_email(factory, raw, now(), settings.secret_key)
        if received.acks:
            enqueue(received.acks)
        return received.result

    with _connect(box) as client:
        client.login(box.user, box.password)
        _ok(client.select(_quoted(box.folder)), f"select {box.folder}")
        for uid in _unseen(client)[:BATCH]:
            summary.fetched += 1
            result = _take_one(client, uid, take)
            setattr(summary, result, getattr(summary, result) + 1)
    return summary


def _take_one(client: imaplib.IMAP4, uid: str, take: Callable[[bytes], str]) -> str:
    try:
        result = take(_fetch(client, uid))
    except Exception as error:  # one bad message must not hold up the others
        # The type only: a database error's text can carry the reply's words.
        log.error("inbound email uid %s failed (%s); left unseen to try again",
                  uid, type(error).__name__)
        return "failed"
    _ok(client.uid("STORE", uid, "+FLAGS", "(\\Seen)"), "mark seen")
    return result


def _connect(box: Mailbox) -> imaplib.IMAP4:
    if box.scheme == "imaps":
        return imaplib.IMAP4_SSL(box.host, box.port, timeout=TIMEOUT)
    client = imaplib.IMAP4(box.host, box.port, timeout=TIMEOUT)
    if box.scheme == "imap+starttls":
        client.starttls()
    return client


def _unseen(client: imaplib.IMAP4) -> list[str]:
    data = _ok(client.uid("SEARCH", "UNSEEN"), "search")
    return data[0].decode().split() if data and data[0] else []


def _fetch(client: imaplib.IMAP4, uid: str) -> bytes:
    data = _ok(client.uid("FETCH", uid, "(BODY.PEEK[])"), "fetch")  # PEEK: not seen yet
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return bytes(item[1])
    raise imaplib.IMAP4.error(f"no message body for uid {uid}")


def _ok(response: tuple[str, list[Any]], what: str) -> list[Any]:
    status, data = response
    if status != "OK":
        raise imaplib.IMAP4.error(f"IMAP {what} failed: {status}")
    return data


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
