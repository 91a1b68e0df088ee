"""Inbound email: one raw RFC 5322 message, from the webhook or the IMAP poller, to the one
inbound path (:func:`coach.inbound.services.record_reply`).

A bounce marks the delivery it names failed (see :mod:`coach.inbound.bounces`); a message to
``unsubscribe+TOKEN@`` (the mailto in our List-Unsubscribe header) stops email; a reply is
routed by the signed token in its ``reply+TOKEN@`` recipient, else by its From address, and
only the person's own words go on: quoted text and signatures are stripped. Anything else is
dropped with a log line. Reply text never goes into a log line.
"""

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import cast

from mailparser_reply import EmailReplyParser
from sqlalchemy.orm import Session, sessionmaker

from coach.inbound import bounces
from coach.inbound.services import record_reply
from coach.subscribers.addresses import BadAddress
from coach.subscribers.consent import opt_out
from coach.subscribers.models import Subscriber
from coach.subscribers.services import find_by_address
from coach.subscribers.tokens import read_token

log = logging.getLogger(__name__)

RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To")
# Mail clients write "On ... wrote:" in their user's language, not ours.
LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "da", "sv", "pl", "cs"]
MAX_PROVIDER_ID = 80  # the width of replies.provider_id


@dataclass
class Received:
    """What became of one message: ``reply``, ``duplicate``, ``bounce``, ``unsubscribe`` or
    ``dropped``."""

    result: str
    acks: list[int] = field(default_factory=list)


def receive_email(factory: sessionmaker[Session], raw: bytes, now: datetime,
                  secret_key: str) -> Received:
    """One message in one transaction. The caller enqueues ``acks`` once this returns."""
    with factory.begin() as session:
        return handle_email(session, raw, now, secret_key)


def handle_email(session: Session, raw: bytes, now: datetime, secret_key: str) -> Received:
    message = cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
    key = provider_id(message, raw)
    if bounces.is_bounce(message):
        return Received(bounces.record_bounce(session, bounces.read(message), now))
    leaving = _by_token(session, message, secret_key, "unsubscribe")
    if leaving is not None:
        return _unsubscribe(session, leaving, now)
    if message.get_content_type() == "multipart/report" or _automatic(message):
        return _drop(key, "an automatic message (a report or an auto-reply), not a reply")
    subscriber = (_by_token(session, message, secret_key, "reply")
                  or _by_sender(session, message))
    if subscriber is None or subscriber.email is None:
        return _drop(key, "no valid reply token and the sender is not a subscriber")
    text = reply_text(message)
    if not text:
        return _drop(key, "no words of their own, only quoted text or a signature")
    outcome = record_reply(session, subscriber.email, text, now, key)
    return Received("duplicate" if outcome.duplicate else "reply", outcome.acks)


def provider_id(message: EmailMessage, raw: bytes) -> str:
    """The Message-ID, so a message posted twice is recorded once; a digest when it is too long
    for the column, or of the whole message when it has none."""
    message_id = "".join(str(message.get("Message-ID", "")).split())
    if message_id and len(message_id) <= MAX_PROVIDER_ID:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode() or raw).hexdigest()


def _drop(key: str, why: str) -> Received:
    log.info("inbound email %s dropped: %s", key, why)
    return Received("dropped")


def _automatic(message: EmailMessage) -> bool:
    """Out-of-office and other automatic answers (RFC 3834) are not anyone's reply."""
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (submitted != "no" or precedence in ("auto_reply", "bulk", "junk", "list")
            or "X-Autoreply" in message or "X-Autorespond" in message)


# Routing ---------------------------------------------------------------------------------------

def _by_token(session: Session, message: EmailMessage, secret_key: str,
              purpose: str) -> Subscriber | None:
    """The subscriber a ``purpose+TOKEN@`` recipient names, when the token is ours."""
    values = [str(value) for name in RECIPIENT_HEADERS for value in message.get_all(name, [])]
    for _, address in getaddresses(values):
        prefix, _, token = address.rpartition("@")[0].partition("+")
        subscriber_id = read_token(secret_key, token, purpose) if token else None
        if prefix.lower() == purpose and subscriber_id is not None:
            subscriber = session.get(Subscriber, subscriber_id)
            if subscriber is not None and subscriber.email:
                return subscriber
    return None


def _by_sender(session: Session, message: EmailMessage) -> Subscriber | None:
    address = parseaddr(str(message.get("From", "")))[1]
    if "@" not in address:
        return None
    try:
        return find_by_address(session, address)
    except BadAddress:
        return None


def _unsubscribe(session: Session, subscriber: Subscriber, now: datetime) -> Received:
    """Mail to the List-Unsubscribe mailto: no more email."""
    if subscriber.email_consent:
        opt_out(session, subscriber, "email", now, "unsubscribe by email",
                "unsubscribed by email (the List-Unsubscribe address): no more email")
    return Received("unsubscribe")


# The person's own words ------------------------------------------------------------------------

def reply_text(message: EmailMessage) -> str:
    """The text/plain part (or the HTML one as text), without quoted text or a signature."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = str(part.get_content())
    except LookupError:  # a charset Python does not know: read it as UTF-8
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    return strip_quoted(content)


def strip_quoted(text: str) -> str:
    """The newest reply above any "On ... wrote:" header, without its signature; lines quoted
    with ">" go too (what remains of a reply written below the quote)."""
    replies = EmailReplyParser(languages=LANGUAGES).read(text).replies
    newest = replies[0].body if replies else text
    return "\n".join(line for line in newest.splitlines()
                     if not line.lstrip().startswith(">")).strip()


def html_to_text(html: str) -> str:
    reader = _HtmlText()
    reader.feed(html)
    reader.close()
    lines = (" ".join(line.split()) for line in "".join(reader.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _HtmlText(HTMLParser):
    """Visible text with line breaks where blocks end; quoted replies and styles left out."""

    SKIP = frozenset({"blockquote", "head", "script", "style", "title"})
    BREAK = frozenset({"br", "div", "p", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAK and not self.skipping:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BREAK and not self.skipping:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))
