"""Erase: a person's data deleted or anonymised in every table, in one transaction.

What stays is what the rest of the records need and what says nothing about who they were:
the subscriber row (anonymised, ``erased_at`` set) for the foreign keys; dates, kinds, states
and counts; pacing reasons, which are coach's own words. What goes, table by table:

- subscribers: email, phone, country, next focus and flag reason NULL; name ""; time zone UTC;
  recent sends []; consent off on both channels.
- enrolments: saved answers {}; stopped (a completed one stays completed); nothing due.
- deliveries (theirs, and any other row to one of their addresses): address, subject, body and
  reason blanked. A row not yet handed to a provider (``queued``, including deferrals and
  retries, or ``sending`` not yet attempted) is cancelled: ``failed``, with CANCELLED.
  A row whose provider call may have started keeps its status for reconciliation.
- replies: text blanked (the provider's id stays, so a retried webhook is still recorded once).
- events: every string or list in ``data`` blanked but those coach writes itself (OWN_DATA:
  states, times, categories, the names of settings changed); numbers kept.
- flags: reason anonymised, the resolving note blanked; risk, category and dates kept.
- sms_signups (by phone) and pending_signups (theirs, or to one of their addresses): deleted.
- suppressions: a keyed hash of each address, ``opted_out`` when they had withdrawn consent on
  that channel (STOP, unsubscribe, a bounce), so that is never lost, and a new sign-up needs
  their own confirmation (:mod:`coach.subscribers.suppression`).

One event records it (kind ``consent``: consent ends on every channel; action ``erased``) with
the counts, nothing else. Enrolments are written first: on PostgreSQL that waits for a sweep
holding them, so every row it planned is cancelled here.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Delete, Update

from coach.delivery.models import FAILED, QUEUED, SENDING, Delivery
from coach.events.models import Event
from coach.events.services import record
from coach.inbound.models import Reply
from coach.inbound.signup_models import SmsSignup
from coach.safety.models import Flag
from coach.scheduling.models import COMPLETED, STOPPED, Enrolment
from coach.subscribers.models import CHANNELS, PendingSignup, Subscriber
from coach.subscribers.suppression import suppress

log = logging.getLogger(__name__)

SOURCE = "erased at the person's request"
CANCELLED = "cancelled: the person's data was erased"
FLAG_REASON = "details erased at the person's request"
# Event data coach writes itself, never a person's words: kept through an erasure. Anything
# else that is not a number goes (a client IP address recorded with a consent, for one).
OWN_DATA = frozenset({"state", "next_due_at", "category", "channel", "wording", "fields"})


@dataclass
class ErasureSummary:
    """Rows changed per table (``cancelled``: outbox rows that will never be sent)."""

    subscribers: int = 0
    enrolments: int = 0
    deliveries: int = 0
    cancelled: int = 0
    replies: int = 0
    events: int = 0
    flags: int = 0
    sms_signups: int = 0
    pending_signups: int = 0
    suppressions: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def erase_subscriber(session: Session, subscriber: Subscriber, now: datetime,
                     secret_key: str) -> ErasureSummary:
    """Erase one person's data (see the module docstring); the caller commits."""
    addresses = {channel: address for channel in CHANNELS
                 if (address := subscriber.address(channel))}
    opted_out = {channel: _withdrew(subscriber, channel) for channel in addresses}
    summary = ErasureSummary(enrolments=_enrolments(session, subscriber.id, now))
    summary.cancelled, summary.deliveries = _deliveries(session, subscriber.id,
                                                        list(addresses.values()))
    summary.replies = _changed(session, update(Reply).where(Reply.subscriber_id == subscriber.id)
                               .values(text=""))
    summary.events = _events(session, subscriber.id)
    summary.flags = _flags(session, subscriber.id)
    summary.sms_signups, summary.pending_signups = _signups(session, subscriber.id, addresses)
    _anonymise(subscriber, now)
    summary.subscribers = 1
    for channel, address in addresses.items():
        suppress(session, secret_key, channel, address, opted_out[channel])
    summary.suppressions = len(addresses)
    record(session, subscriber.id, now, "consent", "erased",
           "personal data erased at the person's request", **summary.as_dict())
    session.flush()
    log.info("subscriber %s erased", subscriber.id)
    return summary


def _withdrew(subscriber: Subscriber, channel: str) -> bool:
    """Consent off after it was once on record: a STOP, an unsubscribe, a hard bounce."""
    return (not getattr(subscriber, f"{channel}_consent")
            and getattr(subscriber, f"{channel}_consent_at") is not None)


def _enrolments(session: Session, subscriber_id: int, now: datetime) -> int:
    mine = Enrolment.subscriber_id == subscriber_id
    session.execute(update(Enrolment).where(mine, Enrolment.state != COMPLETED)
                    .values(state=STOPPED, updated_at=now))
    return _changed(session, update(Enrolment).where(mine).values(
        answers={}, next_due_at=None, paused_until=None, updated_at=now))


def _deliveries(session: Session, subscriber_id: int, addresses: list[str]) -> tuple[int, int]:
    """(cancelled, blanked): rows not yet handed to a provider are cancelled first."""
    theirs = or_(Delivery.subscriber_id == subscriber_id, Delivery.address.in_(addresses))
    waiting = or_(Delivery.status == QUEUED,
                  and_(Delivery.status == SENDING, Delivery.attempted_at.is_(None)))
    cancelled = _changed(session, update(Delivery).where(theirs, waiting)
                         .values(status=FAILED, error=CANCELLED, send_after=None))
    # The reason of a row cancelled here stays (it names no one); every other goes.
    blanked = _changed(session, update(Delivery).where(theirs).values(
        address="", subject=None, body_text="",
        error=case((Delivery.error == CANCELLED, CANCELLED), else_=None)))
    return cancelled, blanked


def _events(session: Session, subscriber_id: int) -> int:
    changed = 0
    for event in session.scalars(select(Event).where(Event.subscriber_id == subscriber_id)):
        data = {key: _kept(key, value) for key, value in (event.data or {}).items()}
        if data != event.data:
            event.data = data
            changed += 1
    return changed


def _kept(key: str, value: Any) -> Any:
    if key in OWN_DATA or value is None or isinstance(value, bool | int | float):
        return value
    return ""


def _flags(session: Session, subscriber_id: int) -> int:
    mine = Flag.subscriber_id == subscriber_id
    session.execute(update(Flag).where(mine, Flag.resolved_note.is_not(None))
                    .values(resolved_note=""))
    return _changed(session, update(Flag).where(mine).values(reason=FLAG_REASON))


def _signups(session: Session, subscriber_id: int, addresses: dict[str, str]) -> tuple[int, int]:
    phone = addresses.get("sms")
    texts = _changed(session, delete(SmsSignup).where(SmsSignup.phone == phone)) if phone else 0
    pending = _changed(session, delete(PendingSignup).where(or_(
        PendingSignup.subscriber_id == subscriber_id,
        PendingSignup.address.in_(list(addresses.values())))))
    return texts, pending


def _anonymise(subscriber: Subscriber, now: datetime) -> None:
    subscriber.email = subscriber.phone = subscriber.country = subscriber.next_focus = None
    subscriber.name, subscriber.timezone, subscriber.recent_sends = "", "UTC", []
    subscriber.flag_reason = None
    for channel in CHANNELS:
        subscriber.set_consent(channel, False, now, SOURCE)
    subscriber.erased_at = now


def _changed(session: Session, statement: Update | Delete) -> int:
    return cast(CursorResult[Any], session.execute(statement)).rowcount
