"""The sweep beat runs every minute: claim due enrolments, decide, plan, advance, in batches.

Each batch is one transaction: the outbox rows and the enrolments' new state commit together.
Sends are handed on only after the commit. On PostgreSQL, concurrent sweeps split the work with
``FOR UPDATE SKIP LOCKED``; SQLite has one writer, so sweeps there take a file lock.
"""

import fcntl
import logging
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from coach import bulk
from coach.db import Base
from coach.delivery.services import insert_deliveries_by_channel
from coach.events.models import Event
from coach.events.services import event_row
from coach.programmes.limits import TemplateProblem
from coach.programmes.models import ProgrammeVersion
from coach.scheduling import plan
from coach.scheduling.manage import start_next_focus
from coach.scheduling.models import COMPLETED, Enrolment
from coach.scheduling.pacing import Decision, Due, Halt, decide
from coach.subscribers.clock import remember_send
from coach.subscribers.models import Subscriber

log = logging.getLogger(__name__)
RETRY_AFTER_ERROR = timedelta(hours=1)
# A template that fails on someone's data fails the same way until an admin acts (or the data
# changes): retrying hourly would only repeat the event.
RETRY_AFTER_TEMPLATE_PROBLEM = timedelta(days=1)


@dataclass
class SweepResult:
    due: int = 0
    planned: list[int] = field(default_factory=list)
    actions: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"due": self.due, "planned": len(self.planned), "actions": dict(self.actions)}


def sweep(
    factory: sessionmaker[Session], now: datetime, batch_size: int,
    on_planned: Callable[[list[int], str], None], on_backlog: Callable[[], None] | None = None,
) -> SweepResult:
    """Plan everything due at ``now``, batch by batch; ``on_planned(ids, channel)`` gets each
    batch's new outbox rows, a channel at a time. ``on_backlog`` is called once when the
    first batch comes back full: more is due than one batch, so helpers may join in."""
    result = SweepResult()
    with _single_claimer(factory):
        while True:
            with factory.begin() as session:
                batch = claim_due(session, now, batch_size)
                planned = _plan_batch(session, batch, now, result)
            result.due += len(batch)
            for channel, ids in planned.items():
                result.planned += ids
                on_planned(ids, channel)
            if len(batch) < batch_size:
                return result
            if on_backlog is not None:
                on_backlog()
                on_backlog = None


def claim_due(
    session: Session, now: datetime, limit: int
) -> list[tuple[Enrolment, Subscriber]]:
    rows = session.execute(
        select(Enrolment, Subscriber)
        .join(Subscriber, Subscriber.id == Enrolment.subscriber_id)
        .where(Enrolment.next_due_at <= now)
        .order_by(Enrolment.next_due_at)
        .limit(limit)
        .with_for_update(of=Enrolment, skip_locked=True)
    )
    return [(enrolment, subscriber) for enrolment, subscriber in rows]


def _plan_batch(
    session: Session, batch: list[tuple[Enrolment, Subscriber]], now: datetime,
    result: SweepResult,
) -> dict[str, list[int]]:
    _load_programmes(session, {e.version_id for e, _ in batch})
    outbox, events, progress, retries, sends = [], [], [], [], []
    following = []  # people who chose a next focus, once this programme completes
    for enrolment, subscriber in batch:
        try:
            decision, row = _decide_one(enrolment, subscriber, now)
        except Exception as error:  # one broken enrolment must not hold up the rest
            retry, reason = _failure(error)
            log.error("enrolment %s at step %s could not be planned: %s", enrolment.id,
                      enrolment.step, _without_words(error))
            retries.append({"_id": enrolment.id, "next_due_at": now + retry})
            events.append(event_row(subscriber.id, enrolment.id, now, "error", reason))
            result.actions["error"] += 1
            continue
        result.actions[decision.action] += 1
        if row is not None:
            outbox.append(row)
            sends.append(_remember_send(subscriber, now))
        if decision.changed:
            events.append(event_row(subscriber.id, enrolment.id, now, decision.action,
                                    decision.reason, **plan.describe(decision)))
        if decision.progress != plan.progress_of(enrolment):
            progress.append({"_id": enrolment.id, **plan.progress_columns(decision.progress)})
        if decision.progress.state == COMPLETED and subscriber.next_focus:
            following.append(subscriber)
    _update_by_id(session, Enrolment, progress)
    _update_by_id(session, Enrolment, retries)
    _update_by_id(session, Subscriber, sends)
    if events:
        bulk.insert(session.connection(), _table(Event), events)
    for subscriber in following:
        start_next_focus(session, subscriber, now)
    return insert_deliveries_by_channel(session, outbox)


def _failure(error: Exception) -> tuple[timedelta, str]:
    """When to try again, and the event's reason (read by admins: no words of the person)."""
    if isinstance(error, TemplateProblem):
        return RETRY_AFTER_TEMPLATE_PROBLEM, (f"{error}; the enrolment waits for an admin, "
                                              "trying again in a day")
    return RETRY_AFTER_ERROR, (f"could not plan the next message: {type(error).__name__}; "
                               "trying again in an hour")


def _without_words(error: Exception) -> str:
    """What went wrong and where, never the exception's text: a template's error can quote
    the answer it was rendering (``'dict object' has no attribute '<the answer>'``)."""
    if isinstance(error, TemplateProblem):
        return str(error)  # names the step, the file and line, and the type; nothing else
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}{where}"


def _remember_send(subscriber: Subscriber, now: datetime) -> dict[str, object]:
    """The subscriber's new recent sends, also set in memory (as loaded, not pending): a later
    enrolment of the same person in this batch sees them, and the ORM flushes nothing."""
    sends = [t.isoformat() for t in remember_send(plan.recent_sends(subscriber), now)]
    set_committed_value(subscriber, "recent_sends", sends)
    return {"_id": subscriber.id, "recent_sends": sends}


def _update_by_id(session: Session, model: type[Enrolment | Subscriber],
                  rows: list[dict[str, object]]) -> None:
    bulk.update_by_id(session.connection(), _table(model), rows)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _decide_one(
    enrolment: Enrolment, subscriber: Subscriber, now: datetime
) -> tuple[Decision, dict[str, object] | None]:
    prog = plan.programme(enrolment.version_id, {})
    decision = decide(plan.progress_of(enrolment), Due(now), plan.context(subscriber, prog))
    channel = plan.channel_for(subscriber)
    if decision.send is not None and channel is None:
        halt = Halt(now, "opted out of every channel; nothing more will be sent", opted_out=True)
        decision = decide(plan.progress_of(enrolment), halt, plan.context(subscriber, prog))
    decision = _never_due_again_now(decision, now)
    if decision.send is None or channel is None:
        return decision, None
    return decision, plan.outbox_row(decision.send, subscriber, enrolment, prog, channel, now)


def _never_due_again_now(decision: Decision, now: datetime) -> Decision:
    """A sweep must make progress: nothing it touched is due again within the same minute."""
    due = decision.progress.next_due_at
    if due is not None and due <= now:
        return replace(decision, progress=replace(decision.progress,
                                                  next_due_at=now + timedelta(minutes=1)))
    return decision


def _load_programmes(session: Session, version_ids: set[int]) -> None:
    missing = plan.uncached(version_ids)
    if missing:
        for version in session.scalars(select(ProgrammeVersion)
                                       .where(ProgrammeVersion.id.in_(missing))):
            plan.programme(version.id, version.definition)


@contextmanager
def _single_claimer(factory: sessionmaker[Session]) -> Iterator[None]:
    bind = factory.kw["bind"]
    if bind.dialect.name != "sqlite" or not bind.url.database:
        yield
        return
    lock_path = Path(bind.url.database + ".sweep.lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
