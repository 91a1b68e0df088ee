"""The ledger: after a fault and its recovery, what became of every planned message.

Two records are compared: the outbox (``deliveries``, the database's word) and the channels'
own record (the ``file`` channel's JSON lines, and what a recording Twilio or SMTP peer took:
the provider's word). Every planned row must end in one of these, else it is **lost**:

- ``sent`` or ``delivered``, and the channel saw it exactly once;
- ``failed`` with a reason an admin can read (an opt-out, say), and the channel never saw it;
- ``unknown``: its sender stopped after the provider call may have started. It awaits
  reconciliation and is never resent; it is **reconciled** when the channel's record shows it
  went (the provider confirms it), otherwise it stays unknown, which is not lost;
- ``queued`` with ``send_after`` later than the end of the run: legitimately waiting, e.g.
  deferred to the end of the person's quiet hours (DESIGN invariant 3: deferred, not dropped)
  or a retry not yet due. These are counted as **deferred**. A queued row already due, or a
  row left ``sending``, is lost: nothing will move it without a person.

A delivery id the channel saw more than once is **duplicated** (each extra copy counts).
Besides the figures, the ledger lists problems in words: a step skipped or sent sooner than the
authored gap (DESIGN invariant 4), a scheduled message attempted in the person's quiet hours
(3), a message attempted on a channel after the person opted out of it (5), a row recorded sent
that the channel never saw, a row recorded failed that the channel did see.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coach.delivery.channels import read_outbox
from coach.delivery.models import DELIVERED, FAILED, QUEUED, SENT, UNKNOWN, Delivery
from coach.delivery.services import SCHEDULED_KINDS, WITHOUT_CONSENT
from coach.programmes.models import ProgrammeVersion
from coach.scheduling.models import Enrolment
from coach.scheduling.pacing import effective_gap_days
from coach.subscribers.models import Subscriber

FIGURES = ("planned", "sent", "duplicated", "lost", "unknown", "reconciled", "deferred",
           "failed")


@dataclass
class Ledger:
    planned: int = 0
    sent: int = 0
    duplicated: int = 0
    lost: int = 0
    unknown: int = 0
    reconciled: int = 0
    deferred: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in FIGURES}

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.figures().items())
        return shown + "".join(f"\n  - {p}" for p in self.problems[:20])


def check(factory: sessionmaker[Session], outbox_file: Path, end: datetime,
          peers: Counter[int] | None = None) -> Ledger:
    """The ledger of everything in the outbox at ``end``, the last moment the run simulated.
    ``peers``: the deliveries other providers took (a recording Twilio, an SMTP server), by id,
    added to the file channel's record."""
    seen = Counter(int(str(m["delivery_id"])) for m in read_outbox(outbox_file))
    seen.update(peers or Counter())
    with factory() as session:
        rows = list(session.execute(
            select(Delivery, Subscriber).join(Subscriber).order_by(Delivery.id)))
        ledger = Ledger(planned=len(rows))
        for delivery, subscriber in rows:
            _account(ledger, delivery, subscriber, seen[delivery.id], end)
        _check_pacing(ledger, session, [d for d, _ in rows])
    strangers = set(seen) - {d.id for d, _ in rows}
    if strangers:
        ledger.problems.append(f"the channel saw deliveries the outbox never planned: "
                               f"{sorted(strangers)[:10]}")
    return ledger


def _account(ledger: Ledger, row: Delivery, subscriber: Subscriber, seen: int,
             end: datetime) -> None:
    ledger.duplicated += max(0, seen - 1)
    if seen > 1:
        ledger.problems.append(f"delivery {row.id} reached the channel {seen} times")
    if row.status in (SENT, DELIVERED):
        ledger.sent += 1
        if not seen:
            ledger.lost += 1
            ledger.problems.append(f"delivery {row.id} recorded {row.status}, never sent")
    elif row.status == FAILED:
        ledger.failed += 1
        if not (row.error or "").strip():
            ledger.lost += 1
            ledger.problems.append(f"delivery {row.id} failed without a reason")
        if seen:
            ledger.problems.append(f"delivery {row.id} recorded failed, but it was sent")
    elif row.status == UNKNOWN:
        ledger.unknown += 1
        ledger.reconciled += bool(seen)
    elif row.status == QUEUED and row.send_after is not None and row.send_after > end:
        ledger.deferred += 1
    else:
        ledger.lost += 1
        ledger.problems.append(f"delivery {row.id} left {row.status} ({row.error or 'no reason'})")
    if seen:
        _check_rules(ledger, row, subscriber)


def _check_rules(ledger: Ledger, row: Delivery, subscriber: Subscriber) -> None:
    """Quiet hours and opt-out, at the moment the sender attempted the message."""
    moment = row.attempted_at or row.sent_at
    if moment is None:
        ledger.problems.append(f"delivery {row.id} reached the channel with no attempt recorded")
        return
    if row.kind in SCHEDULED_KINDS and subscriber.clock().in_quiet_hours(moment):
        ledger.problems.append(f"delivery {row.id} ({row.kind}) sent in quiet hours at {moment}")
    consent_at = getattr(subscriber, f"{row.channel}_consent_at")
    opted_out = not getattr(subscriber, f"{row.channel}_consent")
    if (row.kind not in WITHOUT_CONSENT and opted_out and consent_at is not None
            and consent_at <= moment):
        ledger.problems.append(f"delivery {row.id} ({row.kind}) sent by {row.channel} at "
                               f"{moment}, after an opt-out at {consent_at}")


def _check_pacing(ledger: Ledger, session: Session, rows: list[Delivery]) -> None:
    """Per enrolment, the scheduled steps in the order planned: from the first step, one step
    at a time (a repeat or a reminder keeps the step), never sooner than the authored gap."""
    steps = _step_lists(session)
    by_enrolment: dict[int, list[Delivery]] = {}
    for row in rows:
        if row.enrolment_id is not None and row.kind in SCHEDULED_KINDS and row.step_key:
            by_enrolment.setdefault(row.enrolment_id, []).append(row)
    for enrolment in session.scalars(select(Enrolment)
                                     .where(Enrolment.id.in_(list(by_enrolment)))):
        zone = _zone_of(session, enrolment)
        _check_walk(ledger, enrolment.id, by_enrolment[enrolment.id],
                    steps[enrolment.version_id], zone)


def _check_walk(ledger: Ledger, enrolment_id: int, rows: list[Delivery],
                steps: list[dict[str, Any]], zone: ZoneInfo) -> None:
    index = {step["key"]: number for number, step in enumerate(steps)}
    previous: tuple[int, datetime] | None = None
    for row in rows:
        current = index.get(row.step_key or "")
        if current is None:
            ledger.problems.append(f"enrolment {enrolment_id}: unknown step {row.step_key}")
            return
        last, last_at = previous or (-1, row.created_at)
        if current > last + 1 or current < last:
            ledger.problems.append(f"enrolment {enrolment_id}: step {row.step_key} after "
                                   f"step number {last + 1}")
        elif previous is not None and current == last + 1:
            days = (row.created_at.astimezone(zone).date() - last_at.astimezone(zone).date()).days
            floor = effective_gap_days(int(steps[current]["gap_days"]), 1.0)
            if days < floor:
                ledger.problems.append(f"enrolment {enrolment_id}: {row.step_key} {days} days "
                                       f"after the step before, the authored gap is {floor}")
        previous = (current, row.created_at)


def _step_lists(session: Session) -> dict[int, list[dict[str, Any]]]:
    return {version.id: version.definition["steps"]
            for version in session.scalars(select(ProgrammeVersion))}


def _zone_of(session: Session, enrolment: Enrolment) -> ZoneInfo:
    subscriber = session.get(Subscriber, enrolment.subscriber_id)
    assert subscriber is not None
    return subscriber.clock().zone
