"""Inbound email: one raw RFC 5322 message, from the webhook or the IMAP poller, to the one
inbound path (:func:`coach.inbound.services.record_reply`).

First the message is understood without the database (:func:`understand`); a message beyond
the bounds of :mod:`coach.inbound.email_limits`, or one the parser cannot read, is dropped with
a log line, so a stranger's bytes never stop the mail that follows. Then:

- a bounce marks the delivery it names failed (see :mod:`coach.inbound.bounces`);
- a message to ``unsubscribe+TOKEN@`` (the mailto in our List-Unsubscribe header) stops email;
- a reply is routed by the signed token in its ``reply+TOKEN@`` recipient (To, Cc,
  Delivered-To, X-Original-To), else by its From address, but only when our mail service
  vouches for that From (see :mod:`coach.inbound.email_auth`: the topmost
  ``Authentication-Results`` header with our authserv-id says DMARC passed);
- a From nobody vouches for may still stop email, since stopping is always safe, but its words
  are never an answer and change no pacing and no flag.

Only the person's own words go on: quoted text and signatures are stripped, and at most
:data:`MAX_REPLY_CHARS` are kept. Anything else is dropped with a log line. Log lines name a
message by its Message-ID (or a digest), never by its words, subject or addresses.
"""

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import cast

from sqlalchemy.orm import Session, sessionmaker

from coach.inbound import bounces
from coach.inbound.email_auth import from_verified
from coach.inbound.email_limits import MAX_RECIPIENTS, over_limit, too_many_recipients
from coach.inbound.email_text import reply_text
from coach.inbound.services import confirm_opt_out, record_reply
from coach.inbound.understanding import understand as read_reply
from coach.scheduling.consent import opt_out
from coach.subscribers.addresses import BadAddress
from coach.subscribers.models import Subscriber
from coach.subscribers.services import find_by_address
from coach.subscribers.tokens import read_token

log = logging.getLogger(__name__)

MAX_REPLY_CHARS = 2000
MAX_PROVIDER_ID = 80  # the width of replies.provider_id
MAX_FROM_CHARS = 1000
RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to")
TOKEN_ADDRESS = re.compile(r"(?:^|[\s<,:;\"(])(reply|unsubscribe)\+([^@\s<>,;\"()]{1,40})@",
                           re.IGNORECASE)
ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
FOLD = re.compile(r"\r?\n(?=[ \t])")


@dataclass
class Received:
    """What became of one message: ``reply``, ``duplicate``, ``bounce``, ``unsubscribe`` or
    ``dropped``."""

    result: str
    acks: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Understood:
    """What a message says, read without the database."""

    key: str  # the provider id: its Message-ID, or a digest
    bounce: bounces.Bounce | None = None
    tokens: tuple[tuple[str, str], ...] = ()  # (reply or unsubscribe, token) from recipients
    automatic: bool = False
    sender: str | None = None  # the From address, when it is one plain address
    verified: bool = False  # our mail service says DMARC passed for the sender's domain
    text: str = ""  # the person's own words, at most MAX_REPLY_CHARS


@dataclass(frozen=True)
class Unreadable:
    key: str
    why: str


def receive_email(factory: sessionmaker[Session], raw: bytes, now: datetime,
                  secret_key: str, authserv_id: str = "") -> Received:
    """One message in one transaction. The caller enqueues ``acks`` once this returns.
    Only database errors raise: the caller tries again later."""
    understood = understand(raw, authserv_id)
    with factory.begin() as session:
        return act(session, understood, now, secret_key)


def handle_email(session: Session, raw: bytes, now: datetime, secret_key: str,
                 authserv_id: str = "") -> Received:
    return act(session, understand(raw, authserv_id), now, secret_key)


# Understanding, without the database -----------------------------------------------------------

def understand(raw: bytes, authserv_id: str = "") -> Understood | Unreadable:
    """Never raises: a message the parser cannot read is :class:`Unreadable`."""
    too_large = over_limit(raw)
    if too_large:
        return Unreadable(_digest(raw), too_large)
    try:
        return _understand(raw, authserv_id)
    except Exception as error:  # a stranger's bytes; the type only, the text may quote them
        return Unreadable(_digest(raw), f"the parser failed ({type(error).__name__})")


def _understand(raw: bytes, authserv_id: str) -> Understood | Unreadable:
    message = cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
    key = provider_id(message, raw)
    recipients = _raw_values(message, RECIPIENT_HEADERS)
    if too_many_recipients(recipients):
        return Unreadable(key, f"more than {MAX_RECIPIENTS} recipients")
    if bounces.is_bounce(message):
        return Understood(key, bounce=bounces.read(message))
    sender = _sender(message)
    verified = sender is not None and from_verified(
        message.raw_items(), sender.rpartition("@")[2], authserv_id)
    return Understood(key, tokens=_tokens(recipients), automatic=_automatic(message),
                      sender=sender, verified=verified,
                      text=reply_text(message)[:MAX_REPLY_CHARS].strip())


def provider_id(message: EmailMessage, raw: bytes) -> str:
    """The Message-ID, so a message posted twice is recorded once; a digest when it is too long
    for the column, or of the whole message when it has none."""
    message_id = "".join("".join(_raw_values(message, ("message-id",))[:1]).split())
    if message_id and len(message_id) <= MAX_PROVIDER_ID and message_id.isascii():
        return message_id
    return _digest(message_id.encode(errors="surrogateescape") or raw)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _raw_values(message: EmailMessage, names: tuple[str, ...]) -> list[str]:
    """Header values as they came, unfolded: no header parser runs on a stranger's text."""
    return [FOLD.sub("", str(value)) for name, value in message.raw_items()
            if name.strip().lower() in names]


def _tokens(recipients: list[str]) -> tuple[tuple[str, str], ...]:
    found = (TOKEN_ADDRESS.findall(value) for value in recipients)
    return tuple(dict.fromkeys((purpose.lower(), token) for pairs in found
                               for purpose, token in pairs))


def _sender(message: EmailMessage) -> str | None:
    values = _raw_values(message, ("from",))
    if len(values) != 1 or len(values[0]) > MAX_FROM_CHARS:
        return None
    address = parseaddr(values[0])[1]
    return address if ADDRESS.fullmatch(address) else None


def _automatic(message: EmailMessage) -> bool:
    """Out-of-office and other automatic answers (RFC 3834), and reports, are not replies."""
    submitted = " ".join(_raw_values(message, ("auto-submitted",))).strip().lower() or "no"
    precedence = " ".join(_raw_values(message, ("precedence",))).strip().lower()
    return (message.get_content_type() == "multipart/report" or submitted != "no"
            or precedence in ("auto_reply", "bulk", "junk", "list")
            or bool(_raw_values(message, ("x-autoreply", "x-autorespond"))))


# Acting on it -----------------------------------------------------------------------------------

def act(session: Session, message: Understood | Unreadable, now: datetime,
        secret_key: str) -> Received:
    if isinstance(message, Unreadable):
        return _drop(message.key, f"cannot be read: {message.why}")
    if message.bounce is not None:
        return Received(bounces.record_bounce(session, message.bounce, now))
    leaving = _by_token(session, message, secret_key, "unsubscribe")
    if leaving is not None:
        return _unsubscribe(session, leaving, now)
    if message.automatic:
        return _drop(message.key, "an automatic message (a report or an auto-reply), not a reply")
    subscriber = _by_token(session, message, secret_key, "reply")
    if subscriber is None and message.verified:
        subscriber = _by_sender(session, message.sender)
    if subscriber is None or subscriber.email is None:
        return _unvouched(session, message, now)
    if not message.text:
        return _drop(message.key, "no words of their own, only quoted text or a signature")
    outcome = record_reply(session, subscriber.email, message.text, now, message.key)
    return Received("duplicate" if outcome.duplicate else "reply", outcome.acks)


def _drop(key: str, why: str) -> Received:
    log.info("inbound email %s dropped: %s", logged_key(key), why)
    return Received("dropped")


def logged_key(key: str) -> str:
    """A Message-ID is the sender's to write, words included: logs name its digest."""
    return key if key.startswith("sha256:") else _digest(key.encode())[:23]


def _by_token(session: Session, message: Understood, secret_key: str,
              purpose: str) -> Subscriber | None:
    """The subscriber a ``purpose+TOKEN@`` recipient names, when the token is ours."""
    for kind, token in message.tokens:
        subscriber_id = read_token(secret_key, token, purpose) if kind == purpose else None
        subscriber = session.get(Subscriber, subscriber_id) if subscriber_id is not None \
            else None
        if subscriber is not None and subscriber.email:
            return subscriber
    return None


def _by_sender(session: Session, address: str | None) -> Subscriber | None:
    if address is None:
        return None
    try:
        return find_by_address(session, address)
    except BadAddress:
        return None


def _unvouched(session: Session, message: Understood, now: datetime) -> Received:
    """No token, and a From that anyone could have written: only a STOP is taken, for email."""
    subscriber = _by_sender(session, message.sender)
    if subscriber is None:
        return _drop(message.key, "no valid reply token and the sender is not a subscriber")
    if read_reply(message.text).intent != "stop":
        return _drop(message.key, "no valid reply token, and the mail service did not vouch "
                                  "for the sender (no trusted DMARC pass)")
    if not subscriber.email_consent:
        return Received("unsubscribe")
    opt_out(session, subscriber, "email", now, "STOP by email, sender not verified",
            "replied STOP by email from their address, unverified: no more email; "
            "other channels, answers and pacing unchanged")
    # Told at once, so a stranger who forged it cannot stop their email unnoticed.
    return Received("unsubscribe", confirm_opt_out(session, subscriber, "email", now,
                                                   message.key))


def _unsubscribe(session: Session, subscriber: Subscriber, now: datetime) -> Received:
    """Mail to the List-Unsubscribe mailto: no more email."""
    if subscriber.email_consent:
        opt_out(session, subscriber, "email", now, "unsubscribe by email",
                "unsubscribed by email (the List-Unsubscribe address): no more email")
    return Received("unsubscribe")
