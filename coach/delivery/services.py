"""The outbox: planning rows, claiming them for one sender each, handing them back, and the
housekeeping that finds what a sender left behind. Sending a claimed row, and what is on record
when, is :mod:`coach.delivery.attempts`.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.orm import Session

from coach import bulk
from coach.delivery.models import QUEUED, SENDING, UNKNOWN, Delivery
from coach.programmes.render import Rendered
from coach.settings import Settings
from coach.subscribers.models import Subscriber

log = logging.getLogger(__name__)
# The one message that may go to an address after it opted out: the confirmation of it.
ALLOWED_AFTER_OPT_OUT = "confirm"
# The answer to a reply read as urgent risk: it answers the person's own message with
# emergency and crisis numbers, so it goes even after an opt-out, once per such reply.
CRISIS = "crisis"
# An email to the safety address about someone's reply: staff, not the person, receive it.
ALERT = "alert"
# What a person asked for on the web page before consenting: the confirmation of their sign-up,
# or a link to manage their subscription (capped per address and day).
OPTIN = "optin"
# Kinds that go without the person's consent on the channel (the reasons are above).
WITHOUT_CONSENT = (ALLOWED_AFTER_OPT_OUT, CRISIS, ALERT, OPTIN)
# Planned by the schedule, so they keep quiet hours; acknowledgements answer a person at once.
SCHEDULED_KINDS = frozenset({"nudge", "checkin", "repeat", "reminder", "closing", "notice"})
MAX_ATTEMPTS = 8
RETRY_BASE, RETRY_CAP = timedelta(minutes=1), timedelta(hours=1)
# The sender writes with Core statements on the table: the ORM's bulk-update path cost more
# Python per row than the database round trip.
DELIVERIES = cast(Table, Delivery.__table__)


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
    return [row_id for row_id, _ in _insert(session, rows)]


def insert_deliveries_by_channel(session: Session, rows: list[dict[str, Any]]
                                 ) -> dict[str, list[int]]:
    """The same, the new rows' ids by channel: send batches are sized per channel."""
    by_channel: dict[str, list[int]] = {}
    for row_id, channel in _insert(session, rows):
        by_channel.setdefault(channel, []).append(row_id)
    return by_channel


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    if not rows:
        return []
    if session.autoflush:
        session.flush()  # what the ORM statement did implicitly: pending rows go in first
    # Core on the table, not the ORM entity: the ORM's bulk insert starts a new statement
    # whenever the set of non-NULL keys changes (an SMS row after an email row).
    inserted = bulk.insert(session.connection(), DELIVERIES, rows, conflict="dedupe_key",
                           returning=("id", "channel"))
    return [(row.id, row.channel) for row in inserted]


def send_batch_size(channel: str, settings: Settings) -> int:
    """Rows one send task claims: COACH_SEND_BATCH_SIZE, but no more rate-limited SMS than the
    sender sends in a minute, so no claimed row waits in its batch anywhere near housekeeping's
    horizon (a row claimed long ago and not yet tried is taken for a dead sender's)."""
    if channel == "sms" and settings.backend(channel) == "twilio":
        per_minute = int(settings.sms_rate_per_second * 60)
        return max(1, min(settings.send_batch_size, per_minute))
    return settings.send_batch_size


def claim(session: Session, ids: Iterable[int], now: datetime) -> list[int]:
    """queued -> sending, for the rows nobody else has claimed and whose time has come (a
    deferral or a retry waits for ``send_after``); returns the ones we got."""
    statement = (
        update(Delivery)
        .where(Delivery.id.in_(list(ids)), Delivery.status == QUEUED,
               or_(Delivery.send_after.is_(None), Delivery.send_after <= now))
        .values(status=SENDING, claimed_at=now, attempted_at=None,
                attempts=Delivery.attempts + 1)
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


def settle(session: Session, delivery_id: int, values: dict[str, Any], untried: bool = False
            ) -> bool:
    """Write what became of a row we hold, if it is still ``sending``: a status callback that
    came first knows better. A row we did not try is ours only while nobody has tried it
    (housekeeping may have handed it to another sender). Returns whether it was written."""
    statement = update(DELIVERIES).where(Delivery.id == delivery_id, Delivery.status == SENDING)
    if untried:
        statement = statement.where(Delivery.attempted_at.is_(None))
    return session.execute(statement.values(values).returning(Delivery.id)).first() is not None


def retry_values(when: datetime, reason: str) -> dict[str, Any]:
    error = f"{reason} (next try {when:%Y-%m-%d %H:%M} UTC)"[:500]
    return {"status": QUEUED, "send_after": when, "error": error}


def hand_back(session: Session, ids: list[int]) -> int:
    """Claimed rows whose attempt was never recorded go back to the queue at once (their
    sender lost its database mid-batch and will retry); returns how many. A row whose
    attempt was recorded stays ``sending``: housekeeping marks it unknown, never resends it."""
    handed = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == SENDING, Delivery.attempted_at.is_(None))
        .values(status=QUEUED, attempts=Delivery.attempts - 1,
                error="handed back: the sender lost its database before sending it")
    ).rowcount  # type: ignore[attr-defined]
    return handed  # type: ignore[no-any-return]


def mark_stale_sending(session: Session, now: datetime, older_than: timedelta) -> int:
    """Rows a sender left in ``sending`` (it died, or lost its database). One whose provider
    call may have started is unknown: reconciled, never resent; returns how many. One never
    tried goes back to the queue, its claim not counted as an attempt."""
    stale = now - older_than
    unknown = session.execute(
        update(Delivery)
        .where(Delivery.status == SENDING, Delivery.attempted_at < stale)
        .values(status=UNKNOWN, error="sender stopped during the send; outcome unknown")
    ).rowcount  # type: ignore[attr-defined]
    session.execute(
        update(Delivery)
        .where(Delivery.status == SENDING, Delivery.attempted_at.is_(None),
               Delivery.claimed_at < stale)
        .values(status=QUEUED, attempts=Delivery.attempts - 1,
                error="sender stopped before sending it; queued again")
    )
    return unknown  # type: ignore[no-any-return]


def due_queued(session: Session, now: datetime, lost_after: timedelta, limit: int) -> list[int]:
    """Queued rows to enqueue again, stamped ``enqueued_at``: a retry or deferral whose time
    has come, or a row whose send task was lost (still queued long after it was planned or
    last enqueued: the broker lost its queue, say). A row enqueued again waits another
    ``lost_after`` before the next time, so a slow queue is not flooded with copies."""
    handed = func.coalesce(Delivery.enqueued_at, Delivery.send_after, Delivery.created_at)
    ids = list(session.scalars(
        select(Delivery.id)
        .where(Delivery.status == QUEUED, or_(
            # a retry or deferral whose time has come, not enqueued since
            and_(Delivery.send_after <= now, or_(Delivery.enqueued_at.is_(None),
                                                 Delivery.enqueued_at < Delivery.send_after)),
            # lost: still here long after it was planned, due, or last enqueued
            handed < now - lost_after,
        ))
        .order_by(Delivery.id).limit(limit)
    ))
    if ids:
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(enqueued_at=now))
    return ids
