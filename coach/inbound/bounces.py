"""Bounces: delivery-status notifications (RFC 3464) and plainer MAILER-DAEMON reports.

The delivery a bounce names (by the Message-ID we sent, our provider id) is marked failed with
the diagnostic as its reason; a permanent failure (status 5.x.x) also stops email to that
address. A delay (4.x.x, "will keep trying") changes nothing. Nothing here is a reply.
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.policy import default
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.delivery.models import FAILED, Delivery
from coach.scheduling.consent import opt_out
from coach.subscribers.models import Subscriber

log = logging.getLogger(__name__)

DAEMONS = ("mailer-daemon", "postmaster")
STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
ORIGINAL_ID = re.compile(r"^\s*Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Bounce:
    message_id: str | None  # of the message we sent
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # e.g. 5.1.1; empty when the report gives none
    diagnostic: str

    @property
    def permanent(self) -> bool:
        return self.action == "failed" and self.status.startswith("5.")

    @property
    def reason(self) -> str:
        return f"bounced ({self.status or 'no status'}): {self.diagnostic}"[:500]


def is_bounce(message: EmailMessage) -> bool:
    if any(part.get_content_type() == "message/delivery-status" for part in message.walk()):
        return True
    # The raw value: the header parser raises on an encoded line break in a stranger's From.
    sender = parseaddr(" ".join(str(v) for n, v in message.raw_items() if n.lower() == "from"))[1]
    return sender.partition("@")[0].lower() in DAEMONS


def read(message: EmailMessage) -> Bounce:
    fields = _recipient_fields(message)
    text = "\n".join(_texts(message))
    found = STATUS.search(fields.get("status", "")) or STATUS.search(text)
    status = found.group(1) if found else ""
    # A plain report without an Action field: a 4.x.x code means the server is still trying.
    action = fields.get("action", "").lower() or ("delayed" if status[:1] == "4" else "failed")
    said = next((line for line in text.splitlines() if status and status in line), "")
    diagnostic = fields.get("diagnostic-code") or said or "no diagnostic given"
    return Bounce(_original_id(message, text), action, status, " ".join(diagnostic.split()))


def record_bounce(session: Session, bounce: Bounce, now: datetime) -> str:
    """Apply a bounce; returns ``bounce`` when it named a delivery of ours, else ``dropped``."""
    delivery = _delivery(session, bounce.message_id)
    if delivery is None:
        log.info("bounce dropped: it names no email we sent (%s)", bounce.message_id)
        return "dropped"
    log.info("delivery %s bounced: %s %s", delivery.id, bounce.action, bounce.status)
    if bounce.action != "failed":
        return "bounce"  # delayed, or a positive report: still on its way
    delivery.status, delivery.error = FAILED, bounce.reason
    if bounce.permanent:
        _stop_email(session, delivery, bounce, now)
    return "bounce"


def _stop_email(session: Session, delivery: Delivery, bounce: Bounce, now: datetime) -> None:
    subscriber = session.get(Subscriber, delivery.subscriber_id)
    if subscriber is None or subscriber.email != delivery.address or not subscriber.email_consent:
        return  # the address has changed since, or email is already off
    opt_out(session, subscriber, "email", now, "hard bounce",
            f"email to this address bounced for good ({bounce.status}): no more email",
            delivery_id=delivery.id)


def _delivery(session: Session, message_id: str | None) -> Delivery | None:
    if not message_id:
        return None
    bare = message_id.strip("<>")
    return session.scalars(
        select(Delivery).where(Delivery.channel == "email",
                               Delivery.provider_id.in_([f"<{bare}>", bare]))
    ).first()


def _recipient_fields(message: EmailMessage) -> dict[str, str]:
    """The first per-recipient block of the delivery-status part, names in lower case."""
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            for block in blocks if isinstance(blocks, list) else []:
                if isinstance(block, Message) and ("Action" in block or "Status" in block):
                    return {name.lower(): str(value) for name, value in block.items()}
    return {}


def _original_id(message: EmailMessage, text: str) -> str | None:
    """From the returned message or its headers, else a Message-ID line in the report."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            original = part.get_payload(0)
            if isinstance(original, Message) and original.get("Message-ID"):
                return str(original["Message-ID"]).strip()
        if kind == "text/rfc822-headers":
            headers = HeaderParser(policy=default).parsestr(_text(part))
            if headers.get("Message-ID"):
                return str(headers["Message-ID"]).strip()
    found = ORIGINAL_ID.search(text)
    return found.group(1) if found else None


def _texts(message: EmailMessage) -> list[str]:
    """The report's own text parts, not those of the returned message."""
    texts: list[str] = []
    returned: set[int] = set()
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            returned.update(id(inner) for inner in part.walk() if inner is not part)
        elif part.get_content_maintype() == "text" and id(part) not in returned:
            texts.append(_text(part))
    return texts


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("utf-8", "replace")
