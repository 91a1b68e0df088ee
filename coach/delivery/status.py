"""What happens to an outbox row after it leaves: answered inline, and the provider's callbacks.

Status only moves forward (queued -> sending -> unknown -> sent -> delivered / failed), each
change one conditional UPDATE, so callbacks that arrive late, twice or out of order, or at the
same moment, change nothing they should not. Twilio's "undelivered" is stored as failed with
the reason "undelivered: ...": every row ends sent, delivered or failed (DESIGN.md), and the
status column (10 characters) cannot hold the word.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from coach.delivery.models import (
    DELIVERED,
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    UNKNOWN,
    Delivery,
)
from coach.delivery.services import WITHOUT_CONSENT, claim
from coach.events.services import record
from coach.subscribers.models import Subscriber

log = logging.getLogger(__name__)

# Replies to someone signing up by text. They answer the person's own request to join, before
# any consent to nudges, so they may go where a nudge may not (see :func:`answer_inline`).
SIGNUP = "signup"
RANK = {QUEUED: 0, SENDING: 1, UNKNOWN: 2, SENT: 3, DELIVERED: 4, FAILED: 4}
# Twilio's MessageStatus: anything before delivery means Twilio has the message, so it is sent.
TWILIO_STATUS = {
    "accepted": SENT, "scheduled": SENT, "queued": SENT, "sending": SENT, "sent": SENT,
    "delivered": DELIVERED, "read": DELIVERED, "undelivered": FAILED, "failed": FAILED,
    "canceled": FAILED,
}
OPTED_OUT = "21610"
TWILIO_ERRORS = {
    OPTED_OUT: "the number has opted out (replied STOP)",
    "21211": "not a valid phone number",
    "21614": "not a mobile number",
    "30003": "the phone is switched off or unreachable",
    "30004": "the message was blocked by the recipient or their carrier",
    "30005": "the number is unknown or no longer in service",
    "30006": "a landline, or a carrier that cannot take texts",
    "30007": "the carrier filtered the message",
    "30008": "the carrier gave no reason",
}
MAX_ID = 2**31 - 1  # id columns are 32-bit integers on PostgreSQL


def answer_inline(session: Session, ids: list[int], provider_id: str, now: datetime
                  ) -> list[Delivery]:
    """Claim rows that go back in the webhook's own answer (TwiML) and mark them sent.

    They stay outbox rows, sent exactly once: claimed here, no worker sends them too. Consent
    is read after the claim, from the database (``populate_existing``, the reply's own changes
    flushed first), in the transaction that marks them sent, and they leave in the HTTP answer
    once it commits: as fresh as the sender's attempt statement, with no batch in between.
    """
    if not ids:
        return []
    rows = session.execute(
        select(Delivery, Subscriber).join(Subscriber)
        .where(Delivery.id.in_(claim(session, ids, now))).order_by(Delivery.id)
        .execution_options(populate_existing=True)
    ).all()
    answered = []
    for delivery, subscriber in rows:
        if _may_answer(delivery, subscriber):
            delivery.status, delivery.sent_at, delivery.provider_id = SENT, now, provider_id
            delivery.attempted_at = now
            answered.append(delivery)
        else:
            delivery.status, delivery.error = FAILED, f"not sent: {delivery.channel} opted out"
    return answered


def texts_to(session: Session, ids: list[int], phone: str) -> list[int]:
    """Those of ``ids`` that are texts to ``phone``: the ones a TwiML answer can carry."""
    if not ids:
        return []
    return list(session.scalars(select(Delivery.id).where(
        Delivery.id.in_(ids), Delivery.channel == "sms", Delivery.address == phone)))


def _may_answer(delivery: Delivery, subscriber: Subscriber) -> bool:
    """The sender's rule, and two more: sign-up replies, and any answer to someone who has
    never opted in or out (a contact, who wrote to us first). After an opt-out, only the
    confirmation and the answers to their own JOIN go."""
    never_asked = getattr(subscriber, f"{delivery.channel}_consent_at") is None
    return (delivery.kind in (*WITHOUT_CONSENT, SIGNUP) or never_asked
            or subscriber.consented(delivery.channel))


@dataclass(frozen=True)
class Callback:
    """A provider's word on a message it took: Twilio's MessageSid, MessageStatus, ErrorCode."""

    provider_id: str
    status: str
    error_code: str | None = None
    delivery_id: int | None = None  # from the callback URL the sender (or the TwiML) gave


def record_callback(session: Session, callback: Callback, now: datetime) -> str:
    """Apply a status callback; returns what happened, for the log (never message text)."""
    delivery = _find(session, callback)
    if delivery is None:
        return "no such message"
    if callback.error_code == OPTED_OUT:
        _carrier_opt_out(session, delivery, now)
    status = TWILIO_STATUS.get(callback.status)
    if status is None:
        return f"status {callback.status!r} ignored"
    # Moving on from "unknown" is reconciliation: the old "outcome unknown" reason goes, and a
    # row whose sender never heard Twilio's answer learns the message's SID here.
    error = _reason(callback) if status == FAILED else None
    behind = [name for name, rank in RANK.items() if rank < RANK[status]]
    changed = session.execute(
        update(Delivery).where(Delivery.id == delivery.id, Delivery.status.in_(behind))
        .values(status=status, error=error, sent_at=func.coalesce(Delivery.sent_at, now),
                provider_id=func.coalesce(Delivery.provider_id, callback.provider_id or None))
    ).rowcount  # type: ignore[attr-defined]
    return f"delivery {delivery.id} {status}" if changed else f"delivery {delivery.id} unchanged"


def _find(session: Session, callback: Callback) -> Delivery | None:
    """By the id in the callback URL when its provider id agrees, else by the provider id."""
    if callback.delivery_id is not None and 0 < callback.delivery_id <= MAX_ID:
        delivery = session.get(Delivery, callback.delivery_id)
        known = delivery.provider_id if delivery is not None else None
        # Unset while the sender has not yet recorded it; "twiml:" for answers given inline.
        if delivery is not None and (known is None or known == callback.provider_id
                                     or known.startswith("twiml:")):
            return delivery
    if not callback.provider_id:
        return None
    return session.scalars(
        select(Delivery).where(Delivery.provider_id == callback.provider_id).limit(1)
    ).first()


def _reason(callback: Callback) -> str:
    code = callback.error_code
    if not code:
        return f"{callback.status} (the carrier gave no error code)"
    meaning = TWILIO_ERRORS.get(code, "see twilio.com/docs/api/errors")
    return f"{callback.status}: Twilio error {code}, {meaning}"[:500]


def _carrier_opt_out(session: Session, delivery: Delivery, now: datetime) -> None:
    """21610: the number opted out at the carrier. A late callback does not undo a START
    given after the message was sent."""
    subscriber = session.get(Subscriber, delivery.subscriber_id)
    since = delivery.sent_at or delivery.created_at
    if subscriber is None or delivery.channel != "sms" or not subscriber.sms_consent:
        return
    if subscriber.sms_consent_at is not None and subscriber.sms_consent_at > since:
        return
    subscriber.set_consent("sms", False, now, f"carrier opt-out ({OPTED_OUT})")
    record(session, subscriber.id, now, "consent", "sms-opt-out",
           f"the carrier reports this number opted out (Twilio error {OPTED_OUT}): "
           "no more texts", delivery.enrolment_id)
    log.info("subscriber %s opted out at the carrier", subscriber.id)
