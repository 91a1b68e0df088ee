"""The outbox: planning rows and sending them, each row claimed atomically by one sender."""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from coach.delivery.channels import (
    Channel,
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
    """queued -> sending, for the rows nobody else has claimed; returns the ones we got."""
    statement = (
        update(Delivery)
        .where(Delivery.id.in_(list(ids)), Delivery.status == QUEUED)
        .values(status=SENDING, claimed_at=now)
        .returning(Delivery.id)
    )
    return list(session.scalars(statement))


@dataclass
class SendSummary:
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    retry: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def send_claimed(
    session: Session, ids: list[int], channels: Callable[[str], Channel], now: datetime
) -> SendSummary:
    """Send rows already claimed by :func:`claim`; every row leaves ``sending``."""
    summary = SendSummary()
    rows = session.execute(
        select(Delivery, Subscriber).join(Subscriber).where(Delivery.id.in_(ids))
    ).all()
    for delivery, subscriber in rows:
        _send_one(delivery, subscriber, channels(delivery.channel), now, summary)
    return summary


def _send_one(
    delivery: Delivery, subscriber: Subscriber, channel: Channel, now: datetime,
    summary: SendSummary,
) -> None:
    if delivery.kind != ALLOWED_AFTER_OPT_OUT and not subscriber.consented(delivery.channel):
        delivery.status, delivery.error = FAILED, f"not sent: {delivery.channel} opted out"
        summary.skipped += 1
        return
    # The HTML part is made here, by the sender, not by the sweep: senders scale out.
    html = markdown_to_html(delivery.body_text) if delivery.channel == "email" else None
    message = OutgoingMessage(delivery.id, delivery.channel, delivery.address,
                              delivery.body_text, delivery.subject, html)
    try:
        delivery.provider_id = channel.send(message)
    except TemporaryFailure as error:
        delivery.status, delivery.error = QUEUED, f"will retry: {error}"[:500]
        summary.retry += 1
    except PermanentFailure as error:
        delivery.status, delivery.error = FAILED, str(error)[:500]
        summary.failed += 1
    except UnknownOutcome as error:
        delivery.status, delivery.error = UNKNOWN, f"outcome unknown: {error}"[:500]
        summary.unknown += 1
    else:
        delivery.status, delivery.sent_at = SENT, now
        summary.sent += 1
    log.info("delivery %s %s via %s", delivery.id, delivery.status, delivery.channel)


def mark_stale_sending(session: Session, now: datetime, older_than: timedelta) -> int:
    """A row left in ``sending`` (a worker died mid-call) is unknown: reconciled, not resent."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.status == SENDING, Delivery.claimed_at < now - older_than)
        .values(status=UNKNOWN, error="sender stopped during the send; outcome unknown")
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def stale_queued(session: Session, now: datetime, older_than: timedelta, limit: int) -> list[int]:
    """Rows still queued long after planning: their send task was lost, so enqueue again."""
    return list(session.scalars(
        select(Delivery.id)
        .where(Delivery.status == QUEUED, Delivery.created_at < now - older_than)
        .order_by(Delivery.id).limit(limit)
    ))
