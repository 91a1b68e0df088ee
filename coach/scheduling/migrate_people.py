"""Move people from version N of a programme to version M, explicitly (an enrolment otherwise
stays on the version it started with).

Steps are mapped by key (an author may map an old key to a new one, or to nothing). A person
lands just after the last step they were sent that the new version has, then past any step
of the new version they have already had: nobody is sent a step twice, and the outbox's
dedupe keys (enrolment, position, kind, step) cannot meet an earlier row. Their next message
never comes sooner than the new step's gap times their pace after their last message: nobody
moves faster than the authored schedule. An open check-in stays open if the new version has
it. The move goes in batches, one event per person with the reason; moved people are on
version M, so running the same migration again finds nobody.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coach.delivery.models import Delivery
from coach.events.services import record
from coach.programmes.models import Programme, ProgrammeVersion
from coach.scheduling import plan
from coach.scheduling.models import ACTIVE, AWAITING, COMPLETED, STOPPED, Enrolment
from coach.scheduling.pacing import Progress, effective_gap_days
from coach.subscribers.clock import next_allowed_time
from coach.subscribers.models import Subscriber

BATCH_SIZE = 200


class MigrationError(ValueError):
    """The migration cannot run as asked; the message says what to change."""


@dataclass(frozen=True)
class Move:
    enrolment_id: int
    subscriber_id: int
    state: str
    last_sent: str | None  # the key of the last step they were sent, in version N
    position: int  # their new ``step``: how many steps of version M are behind them
    next_step: str | None  # the key of the next step of version M, None at the end
    next_kind: str  # the next message: step, reminder (an open check-in), or end
    next_at: datetime | None
    reason: str


@dataclass
class MigrationPlan:
    slug: str
    from_number: int
    to_number: int
    mapping: dict[str, str | None]
    moves: list[Move] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        landing: dict[str, int] = {}
        for move in self.moves:
            landing[move.next_step or "(end)"] = landing.get(move.next_step or "(end)", 0) + 1
        return {"people": len(self.moves), "landing": landing}


def default_mapping(old: Mapping[str, Any], new: Mapping[str, Any],
                    overrides: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
    """Old step key -> new step key: the same key where the new version has it, adjusted by
    ``overrides`` (a key mapped to None or "" maps to nothing)."""
    old_keys = [s["key"] for s in old["steps"]]
    new_keys = {s["key"] for s in new["steps"]}
    mapping: dict[str, str | None] = {k: (k if k in new_keys else None) for k in old_keys}
    for source, target in (overrides or {}).items():
        if source not in mapping:
            raise MigrationError(f"the old version has no step {source!r}; its steps are "
                                 + ", ".join(old_keys))
        if target and target not in new_keys:
            raise MigrationError(f"the new version has no step {target!r}")
        mapping[source] = target or None
    return mapping


def plan_migration(session: Session, slug: str, from_number: int, to_number: int,
                   overrides: Mapping[str, str | None] | None = None,
                   now: datetime | None = None) -> MigrationPlan:
    """The dry run: who moves, where each lands, their next message and when. Changes nothing."""
    old, new = _versions(session, slug, from_number, to_number)
    result = MigrationPlan(slug, from_number, to_number,
                           default_mapping(old.definition, new.definition, overrides))
    rows = session.execute(_movable(old.id))
    for enrolment, subscriber in rows:
        delivered = _delivered(session, [enrolment.id]).get(enrolment.id, set())
        result.moves.append(land(enrolment, subscriber, old, new, result.mapping,
                                 delivered, now or datetime.now(UTC))[0])
    return result


def migrate(factory: sessionmaker[Session], slug: str, from_number: int, to_number: int,
            overrides: Mapping[str, str | None] | None = None, now: datetime | None = None,
            by: str | None = None, batch_size: int = BATCH_SIZE) -> list[Move]:
    """Move everyone, a batch per transaction; returns the moves made."""
    now = now or datetime.now(UTC)
    moved: list[Move] = []
    while True:
        with factory.begin() as session:
            old, new = _versions(session, slug, from_number, to_number)
            mapping = default_mapping(old.definition, new.definition, overrides)
            batch = list(session.execute(_movable(old.id).limit(batch_size)
                                         .with_for_update(of=Enrolment)))
            delivered = _delivered(session, [e.id for e, _ in batch])
            for enrolment, subscriber in batch:
                move, progress = land(enrolment, subscriber, old, new, mapping,
                                      delivered.get(enrolment.id, set()), now)
                _apply(session, enrolment, new, progress, move, from_number, now, by)
                moved.append(move)
        if len(batch) < batch_size:
            return moved


def land(enrolment: Enrolment, subscriber: Subscriber, old: ProgrammeVersion,
         new: ProgrammeVersion, mapping: Mapping[str, str | None], delivered: set[str],
         now: datetime) -> tuple[Move, Progress]:
    """Where one person lands in the new version, and their new progress (pure)."""
    old_keys = [s["key"] for s in old.definition["steps"]]
    new_keys = [s["key"] for s in new.definition["steps"]]
    p = plan.progress_of(enrolment)
    sent = old_keys[:p.step]
    had = delivered | set(sent) | {mapping.get(k) for k in sent if mapping.get(k)}
    position = next((new_keys.index(t) + 1 for k in reversed(sent)
                     if (t := mapping.get(k)) in new_keys), 0)
    while position < len(new_keys) and new_keys[position] in had:
        position += 1
    p = replace(p, step=position, repeat_step=_mapped(p.repeat_step, old_keys, new_keys, mapping),
                awaiting_step=_mapped(p.awaiting_step, old_keys, new_keys, mapping))
    if p.state == AWAITING and p.awaiting_step is None:
        p = replace(p, state=ACTIVE, awaiting_since=None, reminded=False)
    p = _not_sooner(p, subscriber, new, now)
    last = sent[-1] if sent else None
    next_step = new_keys[position] if position < len(new_keys) else None
    kind = "reminder" if p.state == AWAITING and not p.reminded else (
        "step" if next_step else "end")
    reason = (f"moved from version {old.number} to {new.number}: after {last or 'nothing yet'}"
              f", next {next_step or 'the end of the programme'}")
    move = Move(enrolment.id, subscriber.id, p.state, last, position, next_step, kind,
                p.next_due_at, reason)
    return move, p


def _not_sooner(p: Progress, subscriber: Subscriber, new: ProgrammeVersion,
                now: datetime) -> Progress:
    """The next step goes no sooner than its authored gap times the pace after the last send."""
    steps = new.definition["steps"]
    if p.state != ACTIVE or p.next_due_at is None or p.last_sent_at is None:
        return p
    if p.repeat_step is None and p.step >= len(steps):
        return p
    gap = steps[p.step]["gap_days"] if p.step < len(steps) else 1
    clock = subscriber.clock()
    earliest = clock.send_time_on_day_after(p.last_sent_at,
                                            effective_gap_days(gap, p.pace))
    if p.next_due_at >= earliest:
        return p
    due = next_allowed_time(clock, plan.recent_sends(subscriber), max(earliest, now))
    return replace(p, next_due_at=due)


def _apply(session: Session, enrolment: Enrolment, new: ProgrammeVersion, progress: Progress,
           move: Move, from_number: int, now: datetime, by: str | None) -> None:
    enrolment.version_id = new.id
    for name, value in plan.progress_columns(progress).items():
        setattr(enrolment, name, value)
    record(session, enrolment.subscriber_id, now, "decision", "migrate", move.reason,
           enrolment.id, from_version=from_number, to_version=new.number, step=move.position,
           next_step=move.next_step, by=by,
           next_due_at=progress.next_due_at.isoformat() if progress.next_due_at else None)


def _mapped(index: int | None, old_keys: list[str], new_keys: list[str],
            mapping: Mapping[str, str | None]) -> int | None:
    if index is None or index >= len(old_keys):
        return None
    target = mapping.get(old_keys[index])
    return new_keys.index(target) if target in new_keys else None


def _versions(session: Session, slug: str, from_number: int,
              to_number: int) -> tuple[ProgrammeVersion, ProgrammeVersion]:
    if from_number == to_number:
        raise MigrationError("give two different versions")
    found = {v.number: v for v in session.scalars(
        select(ProgrammeVersion).join(Programme)
        .where(Programme.slug == slug, ProgrammeVersion.number.in_([from_number, to_number])))}
    for number in (from_number, to_number):
        if number not in found:
            raise MigrationError(f"{slug} has no version {number}; see coach programmes list")
    return found[from_number], found[to_number]


def _movable(version_id: int) -> Any:
    return (select(Enrolment, Subscriber)
            .join(Subscriber, Subscriber.id == Enrolment.subscriber_id)
            .where(Enrolment.version_id == version_id,
                   Enrolment.state.not_in([COMPLETED, STOPPED]))
            .order_by(Enrolment.id))


def _delivered(session: Session, enrolment_ids: list[int]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    if not enrolment_ids:
        return found
    rows = session.execute(select(Delivery.enrolment_id, Delivery.step_key)
                           .where(Delivery.enrolment_id.in_(enrolment_ids),
                                  Delivery.step_key.is_not(None)))
    for enrolment_id, key in rows:
        if enrolment_id is not None and key is not None:
            found.setdefault(enrolment_id, set()).add(key)
    return found

