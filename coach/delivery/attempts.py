"""Sending rows already claimed by :func:`coach.delivery.services.claim`, and what must be on
record when. Every row leaves ``sending``.

Each row, whatever its channel:

1. Quiet hours: a scheduled message that would land in them goes back to the queue until the
   morning. No provider call follows, so it commits with the next write.
2. The attempt: one conditional UPDATE sets ``attempted_at`` if the row is still ``sending``,
   nobody has tried it, and the person consents on its channel at its address as the database
   says now, not as the batch read it (DESIGN invariant 5: a STOP committed while a batch is
   sent holds from the next message on). It is committed before the provider call, for two
   reasons: after a crash housekeeping must tell a row whose call may have started (unknown,
   reconciled, never resent) from one never tried (queued again); and no lock may be held
   during the call, or a status callback, a STOP or, on SQLite, every writer would wait for
   the provider. A row it does not match is looked at once more: it moved on (leave it) or it
   may not go (failed, with the reason).
3. The outcome: one conditional UPDATE, so a status callback that came first wins. It need
   not be durable before the next provider call: a crash in between leaves the row
   ``sending`` with its attempt recorded, so unknown, never resent.

How many rows one commit covers depends on the channel:

- **A provider's** (Twilio, SMTP): one row at a time. The message leaves for a provider that
  cannot be asked later whether it got it, so each attempt is committed just before its call,
  and a crash leaves at most the row in flight unknown. The call takes tens of milliseconds;
  the commit is small beside it.
- **A local one** (``local = True``: console, file, memory): the whole batch at once. Its call
  costs microseconds and a commit costs more than a hundred of them, so the batch's attempts
  are one statement and one commit before the first call, and its outcomes one statement
  after the last. A crash between the two leaves the batch's attempted rows unknown, not one:
  the file channel's own record reconciles them (housekeeping), the console's cannot (it is
  for development).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.dml import ReturningUpdate, Update

from coach.delivery.channels import (
    AddressGone,
    Channel,
    NotAttempted,
    OutgoingMessage,
    PermanentFailure,
    TemporaryFailure,
    UnknownOutcome,
)
from coach.delivery.models import FAILED, QUEUED, SENDING, SENT, UNKNOWN, Delivery
from coach.delivery.services import (
    ALERT,
    DELIVERIES,
    MAX_ATTEMPTS,
    RETRY_BASE,
    RETRY_CAP,
    SCHEDULED_KINDS,
    WITHOUT_CONSENT,
    SendSummary,
    retry_values,
    settle,
)
from coach.subscribers.models import CHANNELS, Subscriber

log = logging.getLogger(__name__)
Row = tuple[Delivery, Subscriber]


def send_claimed(
    session: Session, ids: list[int], channels: Callable[[str], Channel], now: datetime
) -> SendSummary:
    """Send rows already claimed; what is committed when is in the module docstring."""
    summary = SendSummary()
    rows = session.execute(
        select(Delivery, Subscriber).join(Subscriber).where(Delivery.id.in_(ids))
        .order_by(Delivery.id)  # in the order they were planned
    ).all()
    local: list[Row] = []
    for delivery, subscriber in rows:
        if _deferred(session, delivery, subscriber, now, summary):
            continue
        channel = channels(delivery.channel)
        if getattr(channel, "local", False):
            local.append((delivery, subscriber))
        else:
            _send_one(session, delivery, subscriber, channel, now, summary)
    if local:
        _send_batch(session, local, channels, now, summary)
    session.commit()
    return summary


def _deferred(session: Session, delivery: Delivery, subscriber: Subscriber, now: datetime,
              summary: SendSummary) -> bool:
    """A batch delayed into quiet hours waits for the morning: deferred, never dropped.
    ``delivery`` and ``subscriber`` are the batch's copies: good for the message and the
    clock, never for consent, which is read by the attempt itself."""
    clock = subscriber.clock()
    if delivery.kind not in SCHEDULED_KINDS or not clock.in_quiet_hours(now):
        return False
    when = clock.end_of_quiet_hours(now)
    settle(session, delivery.id, retry_values(when, "deferred: quiet hours where they are"),
           untried=True)
    summary.deferred += 1
    return True


def _send_one(session: Session, delivery: Delivery, subscriber: Subscriber, channel: Channel,
              now: datetime, summary: SendSummary) -> None:
    if not _attempt(session, [delivery], now):
        _not_attempted(session, delivery, summary)
        return
    session.commit()  # the attempt is on record before the provider hears of it
    outcome = _call(delivery, subscriber, channel, now)
    became = outcome.write(session, delivery, subscriber, now, summary)
    log.info("delivery %s %s via %s", delivery.id, became, delivery.channel)


def _send_batch(session: Session, rows: list[Row], channels: Callable[[str], Channel],
                now: datetime, summary: SendSummary) -> None:
    attempted = _attempt(session, [delivery for delivery, _ in rows], now)
    for delivery, _ in rows:
        if delivery.id not in attempted:
            _not_attempted(session, delivery, summary)
    session.commit()  # every attempt is on record before the first call
    sent: list[dict[str, Any]] = []
    for delivery, subscriber in rows:
        if delivery.id not in attempted:
            continue
        outcome = _call(delivery, subscriber, channels(delivery.channel), now)
        if outcome.provider_id is not None:
            sent.append(outcome.sent_row(delivery.id, now))
            summary.sent += 1
        else:
            outcome.write(session, delivery, subscriber, now, summary)
    if sent:
        session.execute(_RECORD_SENT, sent)
    log.info("%d deliveries sent in a batch, %d not", len(sent), len(rows) - len(sent))


@dataclass
class Outcome:
    """What the provider call came to, before it is written."""

    name: str
    provider_id: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    gone: str | None = None  # the address must get nothing more, for this reason

    def sent_row(self, delivery_id: int, now: datetime) -> dict[str, Any]:
        """The parameters of _RECORD_SENT for this row."""
        return {"row": delivery_id, "pid": self.provider_id, "now": now}

    def write(self, session: Session, delivery: Delivery, subscriber: Subscriber,
              now: datetime, summary: SendSummary) -> str:
        """Write it and count it; returns what became of the row, for the log."""
        if self.provider_id is not None:
            session.execute(_RECORD_SENT, self.sent_row(delivery.id, now))
            summary.sent += 1
            return SENT
        if not settle(session, delivery.id, self.values) and self.name == UNKNOWN:
            return "moved on"  # a status callback settled it first
        if self.gone is not None:
            subscriber.set_consent(delivery.channel, False, now, self.gone)
        if self.name == FAILED:
            summary.failed += 1
        elif self.name == UNKNOWN:
            summary.unknown += 1
        else:
            summary.retry += 1
        return self.name


def _call(delivery: Delivery, subscriber: Subscriber, channel: Channel, now: datetime
          ) -> Outcome:
    """The provider call, while the row is still ``sending``."""
    try:
        return Outcome(SENT, provider_id=channel.send(_message(delivery, subscriber)))
    except TemporaryFailure as error:
        return _after_temporary_failure(delivery, now, error)
    except PermanentFailure as error:
        gone = str(error)[:80] if isinstance(error, AddressGone) else None
        return Outcome(FAILED, values={"status": FAILED, "error": str(error)[:500]}, gone=gone)
    except UnknownOutcome as error:
        return Outcome(UNKNOWN, values={"status": UNKNOWN,
                                        "error": f"outcome unknown: {error}"[:500]})


def _after_temporary_failure(delivery: Delivery, now: datetime, error: TemporaryFailure
                             ) -> Outcome:
    attempts = delivery.attempts - isinstance(error, NotAttempted)
    if attempts >= MAX_ATTEMPTS:
        reason = f"gave up after {attempts} attempts: {error}"[:500]
        return Outcome(FAILED, values={"status": FAILED, "error": reason, "attempts": attempts})
    backoff = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)
    values = retry_values(now + backoff, f"will retry: {error}")
    return Outcome(QUEUED, values={**values, "attempts": attempts})


def _message(delivery: Delivery, subscriber: Subscriber) -> OutgoingMessage:
    # An alert goes to staff, in English: no reply token, unsubscribe or manage link of the
    # person it is about. The email's HTML part is made by the SMTP channel, which sends it.
    staff = delivery.kind == ALERT
    return OutgoingMessage(delivery.id, delivery.channel, delivery.address, delivery.body_text,
                           delivery.subject, None, None if staff else subscriber.id,
                           delivery.enrolment_id, delivery.kind,
                           "en" if staff else subscriber.language)


def _attempt(session: Session, rows: list[Delivery], now: datetime) -> set[int]:
    """Mark rows as being attempted, in the one statement that checks each may go: still ours
    and untried, and the person consents on its channel at its address, as the database says
    now (DESIGN invariant 5). Only the kinds in WITHOUT_CONSENT go without it. Returns the
    rows marked."""
    return set(session.scalars(_ATTEMPT, {"rows": [row.id for row in rows], "now": now}))


def _consent_and_address(
    channel: str,
) -> tuple[InstrumentedAttribute[bool], InstrumentedAttribute[str | None]]:
    if channel == "sms":
        return Subscriber.sms_consent, Subscriber.phone
    return Subscriber.email_consent, Subscriber.email


def _attempt_statement() -> ReturningUpdate[tuple[int]]:
    on_its_channel = []
    for channel in CHANNELS:
        consent, address = _consent_and_address(channel)
        on_its_channel.append(and_(Delivery.channel == channel, consent,
                                   address == Delivery.address))
    consents = exists().where(Subscriber.id == Delivery.subscriber_id, or_(*on_its_channel))
    return (
        update(DELIVERIES)
        .where(Delivery.id.in_(bindparam("rows", expanding=True)), Delivery.status == SENDING,
               Delivery.attempted_at.is_(None),
               or_(Delivery.kind.in_(WITHOUT_CONSENT), consents))
        .values(attempted_at=bindparam("now")).returning(Delivery.id)
    )


_ATTEMPT = _attempt_statement()


def _record_sent_statement() -> Update:
    """Sent, if the row is still ``sending``; a status callback that came first knows better
    and keeps its status, but the provider's id and the time it was sent are kept all the same.
    One statement either way, so a batch writes its outcomes in one ``executemany``."""
    ours = Delivery.status == SENDING
    return (
        update(DELIVERIES).where(Delivery.id == bindparam("row"))
        .values(status=case((ours, SENT), else_=Delivery.status),
                error=case((ours, None), else_=Delivery.error),
                provider_id=bindparam("pid"),
                sent_at=func.coalesce(Delivery.sent_at, bindparam("now")))
    )


_RECORD_SENT = _record_sent_statement()


def _not_attempted(session: Session, delivery: Delivery, summary: SendSummary) -> None:
    """Why the attempt matched nothing, in one query: the row moved on (a status callback,
    housekeeping, another sender: leave it) or it may no longer go to its address."""
    consent, address = _consent_and_address(delivery.channel)
    status, attempted_at, consents, current = session.execute(
        select(Delivery.status, Delivery.attempted_at, consent, address).join(Subscriber)
        .where(Delivery.id == delivery.id)
    ).one()
    summary.skipped += 1
    if status != SENDING or attempted_at is not None:
        return
    why = "opted out" if not consents or current is None else "address changed since planned"
    settle(session, delivery.id, {"status": FAILED,
                                  "error": f"not sent: {delivery.channel} {why}"}, untried=True)
