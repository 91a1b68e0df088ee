"""The outbox: planning rows and sending them, each row claimed atomically by one sender."""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, object_session

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
from coach.programmes.render import Rendered, markdown_to_html
from coach.subscribers.models import Subscriber

log = logging.getLogger(__name__)
# The one message that may go to an address after it opted out: the confirmation of it.
ALLOWED_AFTER_OPT_OUT = "confirm"
# Planned by the schedule, so they keep quiet hours; acknowledgements answer a person at once.
SCHEDULED_KINDS = frozenset({"nudge", "checkin", "repeat", "reminder", "closing", "notice"})
MAX_ATTEMPTS = 8
RETRY_BASE, RETRY_CAP = timedelta(minutes=1), timedelta(hours=1)


def delivery_row(
    key: str, subscriber: Subscriber, channel: str, kind: str, rendered: Rendered, now: datetime,
    enrolment_id: int | None = None, step_key: str | None = None,
) -> dict[str, Any]:
    email = channel == "email"
    return {
        "dedupe_key": key, "subscriber_id": subscriber.id, "enrolment_id": enrolment_id,
        "step_key": step_key, "kind": kind, "channel": channel,
        "address": subscriber.address(channel), "subject": rendered.subject if email else None,
        "body_text": rendered.text if email else rendered.sms,
        "status": QUEUED, "created_at": now,
    }


def insert_deliveries(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert outbox rows; a row whose key already exists is skipped, never sent twice."""
    if not rows:
        return []
    if session.autoflush:
        session.flush()  # what the ORM statement did implicitly: pending rows go in first
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = Delivery.__table__
    # A Core statement on the table, not the ORM entity: the ORM's bulk insert starts a new
    # statement whenever the set of non-NULL keys changes (an SMS row after an email row), so
    # a mixed batch went row by row; Core sends it as multi-row INSERTs.
    statement = (
        dialect.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(table.c.id)
    )
    return list(session.connection().scalars(statement, rows))


def claim(session: Session, ids: Iterable[int], now: datetime) -> list[int]:
    """queued -> sending, for the rows nobody else has claimed and whose time has come (a
    deferral or a retry waits for ``send_after``); returns the ones we got."""
    statement = (
        update(Delivery)
        .where(Delivery.id.in_(list(ids)), Delivery.status == QUEUED,
               or_(Delivery.send_after.is_(None), Delivery.send_after <= now))
        .values(status=SENDING, claimed_at=now, attempts=Delivery.attempts + 1)
        .returning(Delivery.id)
    )
    return list(session.scalars(statement))


@dataclass
class SendSummary:
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    retry: int = 0
    deferred: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def send_claimed(
    session: Session, ids: list[int], channels: Callable[[str], Channel], now: datetime
) -> SendSummary:
    """Send rows already claimed by :func:`claim`; every row leaves ``sending``, and each
    outcome is committed as soon as it is known."""
    summary = SendSummary()
    rows = session.execute(
        select(Delivery, Subscriber).join(Subscriber).where(Delivery.id.in_(ids))
    ).all()
    for delivery, subscriber in rows:
        _send_one(delivery, subscriber, channels(delivery.channel), now, summary)
        # Each outcome is final before the next send: a status callback for this message may
        # come within seconds (coach/delivery/status.py) and must not meet an open batch.
        session.commit()
    return summary


def _send_one(
    delivery: Delivery, subscriber: Subscriber, channel: Channel, now: datetime,
    summary: SendSummary,
) -> None:
    if delivery.kind != ALLOWED_AFTER_OPT_OUT and not subscriber.consented(delivery.channel):
        delivery.status, delivery.error = FAILED, f"not sent: {delivery.channel} opted out"
        summary.skipped += 1
        return
    clock = subscriber.clock()
    if delivery.kind in SCHEDULED_KINDS and clock.in_quiet_hours(now):
        # A batch delayed into quiet hours waits for the morning: deferred, never dropped.
        _retry_at(delivery, clock.end_of_quiet_hours(now), "deferred: quiet hours where they are")
        summary.deferred += 1
        return
    try:
        delivery.provider_id = channel.send(_message(delivery, subscriber))
        if _moved_on(delivery):  # a status callback came first: it knows better
            delivery.sent_at = now
            summary.sent += 1
            return
    except TemporaryFailure as error:
        if isinstance(error, NotAttempted):
            delivery.attempts -= 1
        _after_temporary_failure(delivery, now, str(error), summary)
    except PermanentFailure as error:
        delivery.status, delivery.error = FAILED, str(error)[:500]
        summary.failed += 1
        if isinstance(error, AddressGone):
            subscriber.set_consent(delivery.channel, False, now, str(error)[:80])
    except UnknownOutcome as error:
        if _moved_on(delivery):
            return
        delivery.status, delivery.error = UNKNOWN, f"outcome unknown: {error}"[:500]
        summary.unknown += 1
    else:
        delivery.status, delivery.sent_at, delivery.error = SENT, now, None
        summary.sent += 1
    log.info("delivery %s %s via %s", delivery.id, delivery.status, delivery.channel)


def _moved_on(delivery: Delivery) -> bool:
    """Whether a status callback has moved the row on from ``sending`` while we sent it."""
    session = object_session(delivery)
    assert session is not None
    with session.no_autoflush:  # the status in the database is the question; no write first
        status = session.scalar(select(Delivery.status).where(Delivery.id == delivery.id))
    return status != SENDING


def _message(delivery: Delivery, subscriber: Subscriber) -> OutgoingMessage:
    # The HTML part is made here, by the sender, not by the sweep: senders scale out.
    html = markdown_to_html(delivery.body_text) if delivery.channel == "email" else None
    return OutgoingMessage(delivery.id, delivery.channel, delivery.address, delivery.body_text,
                           delivery.subject, html, subscriber.id, delivery.enrolment_id,
                           delivery.kind)


def _after_temporary_failure(
    delivery: Delivery, now: datetime, reason: str, summary: SendSummary
) -> None:
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = FAILED
        delivery.error = f"gave up after {delivery.attempts} attempts: {reason}"[:500]
        summary.failed += 1
        return
    backoff = min(RETRY_BASE * 2 ** (delivery.attempts - 1), RETRY_CAP)
    _retry_at(delivery, now + backoff, f"will retry: {reason}")
    summary.retry += 1


def _retry_at(delivery: Delivery, when: datetime, reason: str) -> None:
    delivery.status, delivery.send_after = QUEUED, when
    delivery.error = f"{reason} (next try {when:%Y-%m-%d %H:%M} UTC)"[:500]


def mark_stale_sending(session: Session, now: datetime, older_than: timedelta) -> int:
    """A row left in ``sending`` (a worker died mid-call) is unknown: reconciled, not resent."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.status == SENDING, Delivery.claimed_at < now - older_than)
        .values(status=UNKNOWN, error="sender stopped during the send; outcome unknown")
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def due_queued(session: Session, now: datetime, lost_after: timedelta, limit: int) -> list[int]:
    """Queued rows to enqueue again: a retry or deferral whose time has come, or a row whose
    send task was lost (still queued long after it was planned)."""
    return list(session.scalars(
        select(Delivery.id)
        .where(Delivery.status == QUEUED, or_(
            Delivery.send_after <= now,
            and_(Delivery.send_after.is_(None), Delivery.created_at < now - lost_after),
        ))
        .order_by(Delivery.id).limit(limit)
    ))
