"""The outbox: planning rows and sending them, each row claimed atomically by one sender.

Sending one claimed row, and what must be on record when:

1. Quiet hours: a scheduled message that would land in them goes back to the queue until the
   morning. No provider call follows, so it commits with the next one.
2. The attempt: one conditional UPDATE sets ``attempted_at`` if the row is still ``sending``,
   nobody has tried it, and the person consents on its channel at its address as the database
   says now, not as the batch read it (DESIGN invariant 5: a STOP committed while a batch is
   sent holds from the next message on). It is committed before the provider call, for two
   reasons: after a crash housekeeping must tell a row whose call may have started (unknown,
   reconciled, never resent) from one never tried (queued again); and no lock may be held
   during the call, or a status callback, a STOP or, on SQLite, every writer would wait for
   the provider. If it matches nothing, one query says why: the row moved on (leave it) or it
   may not go (failed, with the reason).
3. The outcome: one conditional UPDATE ``WHERE status = 'sending'``, so a status callback that
   came first wins. It need not commit on its own: it commits with the next row's attempt,
   which is still before the next provider call, or at the end of the batch. A crash in
   between leaves the row ``sending`` with its attempt recorded, so unknown, never resent.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.dml import ReturningUpdate

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
# The sender writes with Core statements on the table, one row at a time: the ORM's bulk-update
# path cost more Python per row than the database round trip.
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


def send_claimed(
    session: Session, ids: list[int], channels: Callable[[str], Channel], now: datetime
) -> SendSummary:
    """Send rows already claimed by :func:`claim`; every row leaves ``sending``. What is
    committed when is in the module docstring."""
    summary = SendSummary()
    rows = session.execute(
        select(Delivery, Subscriber).join(Subscriber).where(Delivery.id.in_(ids))
        .order_by(Delivery.id)  # in the order they were planned
    ).all()
    for delivery, subscriber in rows:
        _send_one(session, delivery, subscriber, channels(delivery.channel), now, summary)
    session.commit()
    return summary


def _send_one(
    session: Session, delivery: Delivery, subscriber: Subscriber, channel: Channel,
    now: datetime, summary: SendSummary,
) -> None:
    """``delivery`` and ``subscriber`` are the batch's copies: good for the message and the
    clock, never for consent, which is read by the attempt itself."""
    clock = subscriber.clock()
    if delivery.kind in SCHEDULED_KINDS and clock.in_quiet_hours(now):
        # A batch delayed into quiet hours waits for the morning: deferred, never dropped.
        when = clock.end_of_quiet_hours(now)
        _settle(session, delivery.id, _retry_values(when, "deferred: quiet hours where they are"),
                untried=True)
        summary.deferred += 1
        return
    if not _attempt(session, delivery, now):
        _not_attempted(session, delivery, summary)
        return
    session.commit()  # the attempt is on record before the provider hears of it
    outcome = _call(session, delivery, subscriber, channel, now, summary)
    log.info("delivery %s %s via %s", delivery.id, outcome, delivery.channel)


def _call(
    session: Session, delivery: Delivery, subscriber: Subscriber, channel: Channel,
    now: datetime, summary: SendSummary,
) -> str:
    """The provider call and its outcome, written while the row is still ``sending``."""
    try:
        provider_id = channel.send(_message(delivery, subscriber))
    except TemporaryFailure as error:
        return _after_temporary_failure(session, delivery, now, error, summary)
    except PermanentFailure as error:
        _settle(session, delivery.id, {"status": FAILED, "error": str(error)[:500]})
        summary.failed += 1
        if isinstance(error, AddressGone):
            subscriber.set_consent(delivery.channel, False, now, str(error)[:80])
        return FAILED
    except UnknownOutcome as error:
        unknown = {"status": UNKNOWN, "error": f"outcome unknown: {error}"[:500]}
        if not _settle(session, delivery.id, unknown):
            return "moved on"
        summary.unknown += 1
        return UNKNOWN
    _record_sent(session, delivery.id, provider_id, now)
    summary.sent += 1
    return SENT


def _attempt(session: Session, delivery: Delivery, now: datetime) -> bool:
    """Mark the row as being attempted, in the one statement that checks it may go: still ours
    and untried, and the person consents on its channel at its address, as the database says
    now (DESIGN invariant 5). Only the kinds in WITHOUT_CONSENT go without it."""
    attempt = _ATTEMPTS[delivery.channel]
    return session.execute(attempt, {"row": delivery.id, "now": now}).first() is not None


def _consent_and_address(
    channel: str,
) -> tuple[InstrumentedAttribute[bool], InstrumentedAttribute[str | None]]:
    if channel == "sms":
        return Subscriber.sms_consent, Subscriber.phone
    return Subscriber.email_consent, Subscriber.email


def _attempt_statement(channel: str) -> ReturningUpdate[tuple[int]]:
    consent, address = _consent_and_address(channel)
    consents = exists().where(Subscriber.id == Delivery.subscriber_id, consent,
                              address == Delivery.address)
    return (
        update(DELIVERIES)
        .where(Delivery.id == bindparam("row"), Delivery.status == SENDING,
               Delivery.attempted_at.is_(None),
               or_(Delivery.kind.in_(WITHOUT_CONSENT), consents))
        .values(attempted_at=bindparam("now")).returning(Delivery.id)
    )


_ATTEMPTS = {channel: _attempt_statement(channel) for channel in ("sms", "email")}


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
    _settle(session, delivery.id, {"status": FAILED,
                                   "error": f"not sent: {delivery.channel} {why}"}, untried=True)


def _settle(session: Session, delivery_id: int, values: dict[str, Any], untried: bool = False
            ) -> bool:
    """Write what became of a row we hold, if it is still ``sending``: a status callback that
    came first knows better. A row we did not try is ours only while nobody has tried it
    (housekeeping may have handed it to another sender). Returns whether it was written."""
    statement = update(DELIVERIES).where(Delivery.id == delivery_id, Delivery.status == SENDING)
    if untried:
        statement = statement.where(Delivery.attempted_at.is_(None))
    return session.execute(statement.values(values).returning(Delivery.id)).first() is not None


def _record_sent(session: Session, delivery_id: int, provider_id: str, now: datetime) -> None:
    sent = {"status": SENT, "sent_at": now, "provider_id": provider_id, "error": None}
    if not _settle(session, delivery_id, sent):
        # A status callback came first and knows better; the provider's id is kept all the same.
        session.execute(
            update(DELIVERIES).where(Delivery.id == delivery_id)
            .values(provider_id=provider_id, sent_at=func.coalesce(Delivery.sent_at, now))
        )


def _message(delivery: Delivery, subscriber: Subscriber) -> OutgoingMessage:
    # The HTML part is made here, by the sender, not by the sweep: senders scale out.
    html = markdown_to_html(delivery.body_text) if delivery.channel == "email" else None
    # An alert goes to staff, in English: no reply token, unsubscribe or manage link of the
    # person it is about.
    staff = delivery.kind == ALERT
    return OutgoingMessage(delivery.id, delivery.channel, delivery.address, delivery.body_text,
                           delivery.subject, html, None if staff else subscriber.id,
                           delivery.enrolment_id, delivery.kind,
                           "en" if staff else subscriber.language)


def _after_temporary_failure(
    session: Session, delivery: Delivery, now: datetime, error: TemporaryFailure,
    summary: SendSummary,
) -> str:
    attempts = delivery.attempts - isinstance(error, NotAttempted)
    if attempts >= MAX_ATTEMPTS:
        reason = f"gave up after {attempts} attempts: {error}"[:500]
        _settle(session, delivery.id, {"status": FAILED, "error": reason, "attempts": attempts})
        summary.failed += 1
        return FAILED
    backoff = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)
    values = _retry_values(now + backoff, f"will retry: {error}")
    _settle(session, delivery.id, {**values, "attempts": attempts})
    summary.retry += 1
    return QUEUED


def _retry_values(when: datetime, reason: str) -> dict[str, Any]:
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
