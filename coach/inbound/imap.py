"""The optional IMAP poller: unseen messages in one mailbox (COACH_IMAP_URL) go through the same
path as the inbound webhook, and are marked seen once their transaction has committed.

The server's certificate and host name are verified (``imaps://`` and ``imap+starttls://``;
SSL_CERT_FILE may name a private CA), so the mailbox password goes to no one else.

A message that fails stays unseen and is tried again at the next poll, after the messages that
have not failed yet, so it holds up no one; one already recorded is recognised by its
Message-ID, so a poll cut short duplicates nothing. After MAX_FAILURES it is set aside: marked
seen and flagged (and kept ``$CoachSetAside``) for a person to look at. Failures are counted in
keywords on the server (``$CoachFailed1``, ``$CoachFailed2``) where it keeps keywords, else in
this process. While the database is unreachable nothing is counted: the rest of the poll waits.
"""

import imaplib
import logging
import ssl
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy.exc import InterfaceError, OperationalError

from coach.db import session_factory, utcnow
from coach.inbound.email_in import receive_email
from coach.settings import Settings

log = logging.getLogger(__name__)

SCHEMES = {"imaps": 993, "imap+starttls": 143, "imap": 143}
BATCH = 100  # messages per poll, so one poll stays short; the rest wait for the next
TIMEOUT = 30.0
MAX_FAILURES = 3
FAILED = ("$CoachFailed1", "$CoachFailed2")  # the first and the second failure
SET_ASIDE = "$CoachSetAside"
UNREACHABLE = (OperationalError, InterfaceError)  # the database, not the message
_failed_here: dict[tuple[str, str], int] = {}  # (mailbox, uid): failures, without keywords


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
    set_aside: int = 0

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
        received = receive_email(factory, raw, now(), settings.secret_key,
                                 settings.inbound_authserv_id)
        if received.acks:
            enqueue(received.acks)
        return received.result

    with _connect(box) as client:
        client.login(box.user, box.password)
        _ok(client.select(_quoted(box.folder)), f"select {box.folder}")
        failures = Failures(client, _mailbox_key(client, box), _keeps_keywords(client))
        for uid in failures.in_turn(_unseen(client))[:BATCH]:
            summary.fetched += 1
            try:
                result = _take_one(client, uid, take, failures)
            except UNREACHABLE as error:
                log.error("inbound email uid %s not stored: the database is unreachable (%s); "
                          "the rest wait for the next poll", uid, type(error).__name__)
                summary.failed += 1
                break
            setattr(summary, result, getattr(summary, result) + 1)
    return summary


def _take_one(client: imaplib.IMAP4, uid: str, take: Callable[[bytes], str],
              failures: "Failures") -> str:
    try:
        result = take(_fetch(client, uid))
    except UNREACHABLE:
        raise
    except Exception as error:  # one bad message must not hold up the others
        # The type only: a database error's text can carry the reply's words.
        return failures.failed(uid, type(error).__name__)
    failures.forget(uid)
    _ok(client.uid("STORE", uid, "+FLAGS", "(\\Seen)"), "mark seen")
    return result


@dataclass
class Failures:
    """How often each unseen message has failed, and what becomes of one that fails."""

    client: imaplib.IMAP4
    mailbox: str
    on_server: bool  # the server keeps our keywords

    def in_turn(self, uids: list[str]) -> list[str]:
        """Those that never failed first, then by fewest failures: oldest first in each."""
        counts = self._counts(uids)
        return sorted(uids, key=lambda uid: (counts[uid], int(uid)))

    def failed(self, uid: str, error: str) -> str:
        count = self._counts([uid])[uid] + 1
        if count >= MAX_FAILURES:
            log.error("inbound email uid %s failed %s times (%s); set aside: marked seen and "
                      "flagged for a person to look at", uid, count, error)
            self._store(uid, "\\Seen \\Flagged", SET_ASIDE)
            self.forget(uid)
            return "set_aside"
        log.error("inbound email uid %s failed (%s); left unseen to try again after the others",
                  uid, error)
        _failed_here[(self.mailbox, uid)] = count
        self._store(uid, "", FAILED[count - 1])
        return "failed"

    def forget(self, uid: str) -> None:
        _failed_here.pop((self.mailbox, uid), None)

    def _counts(self, uids: list[str]) -> dict[str, int]:
        counts = {uid: _failed_here.get((self.mailbox, uid), 0) for uid in uids}
        for number, keyword in enumerate(FAILED if self.on_server else (), start=1):
            for uid in _search(self.client, f"UNSEEN KEYWORD {keyword}"):
                if uid in counts:
                    counts[uid] = max(counts[uid], number)
        return counts

    def _store(self, uid: str, flags: str, keyword: str) -> None:
        flags = f"{flags} {keyword}" if self.on_server else flags
        if flags.strip():
            _ok(self.client.uid("STORE", uid, "+FLAGS", f"({flags.strip()})"), "store flags")


def _keeps_keywords(client: imaplib.IMAP4) -> bool:
    """The server keeps keywords of our own: PERMANENTFLAGS has ``\\*`` (RFC 3501)."""
    _, data = client.response("PERMANENTFLAGS")
    return any(b"\\*" in item for item in data if isinstance(item, bytes))


def _mailbox_key(client: imaplib.IMAP4, box: Mailbox) -> str:
    _, data = client.response("UIDVALIDITY")  # a new validity means new uids
    validity = data[0].decode() if data and isinstance(data[0], bytes) else ""
    return f"{box.user}@{box.host}:{box.port}/{box.folder};{validity}"


def _connect(box: Mailbox) -> imaplib.IMAP4:
    # Verifies the certificate and the host name, as the SMTP channel does.
    context = ssl.create_default_context()
    if box.scheme == "imaps":
        return imaplib.IMAP4_SSL(box.host, box.port, ssl_context=context, timeout=TIMEOUT)
    client = imaplib.IMAP4(box.host, box.port, timeout=TIMEOUT)
    if box.scheme == "imap+starttls":
        try:
            client.starttls(ssl_context=context)
        except BaseException:
            with suppress(OSError):  # a failed handshake may have closed the socket already
                client.shutdown()
            raise
    return client


def _unseen(client: imaplib.IMAP4) -> list[str]:
    return _search(client, "UNSEEN")


def _search(client: imaplib.IMAP4, criteria: str) -> list[str]:
    data = _ok(client.uid("SEARCH", criteria), "search")
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
