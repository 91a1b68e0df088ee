"""Walk the schedule: when each message of a programme would go, and which it is, for three
people (answers 4 every week, answers 2 every week, never answers), with the real pacing
function and local clock, from a start date in a chosen time zone. What "don't be in a hurry"
does to an author's sequence, before anyone gets it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any

from coach.scheduling.pacing import (
    COMPLETED,
    PAUSED,
    Answer,
    Context,
    Decision,
    Due,
    Progress,
    Rules,
    Step,
    decide,
)
from coach.subscribers.clock import LocalClock, next_allowed_time, remember_send

# As coach.inbound reads a rating (a layer up): 1-2 slower, 3 steady, 4-5 ready.
RATING_SIGNALS = {1: "slower", 2: "slower", 3: "steady", 4: "ready", 5: "ready"}
MAX_EVENTS = 1000  # far beyond any programme: a walk always ends
ANSWER_AFTER = timedelta(hours=2)


@dataclass(frozen=True)
class WalkPersona:
    name: str
    rating: int | None  # the answer to every check-in; None never answers


PERSONAS = (WalkPersona("answers 4", 4), WalkPersona("answers 2", 2),
            WalkPersona("never answers", None))


@dataclass(frozen=True)
class WalkRow:
    persona: str
    at: datetime  # UTC
    local: datetime  # in the chosen zone
    kind: str  # nudge checkin repeat reminder closing notice, or answer (the persona's reply)
    step: str | None  # the step's key
    week: int | None
    reason: str


def walk(definition: Mapping[str, Any], *, timezone: str, start: datetime,
         send_time: time = time(18, 0), personas: tuple[WalkPersona, ...] = PERSONAS,
         ) -> list[WalkRow]:
    """Every message each persona would get, in time order per persona."""
    clock = LocalClock(timezone, send_time)
    steps = [Step(s["week"], s["gap_days"], bool(s.get("practice")), bool(s.get("checkin")))
             for s in definition["steps"]]
    rules = Rules(**definition.get("pacing", {}))
    rows = []
    for persona in personas:
        rows += _walk_one(persona, definition["steps"], steps, rules, clock, start)
    return rows


def _walk_one(persona: WalkPersona, authored: list[dict[str, Any]], steps: list[Step],
              rules: Rules, clock: LocalClock, start: datetime) -> list[WalkRow]:
    progress = Progress(next_due_at=next_allowed_time(clock, [], start))
    sends: list[datetime] = []
    rows: list[WalkRow] = []

    def row(at: datetime, kind: str, index: int | None, reason: str) -> None:
        step = authored[index] if index is not None else None
        rows.append(WalkRow(persona.name, at, clock.local(at), kind,
                            step["key"] if step else None, step["week"] if step else None,
                            reason))

    for _ in range(MAX_EVENTS):
        now = progress.next_due_at
        if now is None or progress.state == COMPLETED:
            break
        decision = decide(progress, Due(now), Context(steps, clock, sends, rules))
        progress = _onward(decision, now)
        if decision.send is None:
            continue
        sends = remember_send(sends, now)
        row(now, decision.send.kind, decision.send.step, decision.reason)
        if decision.send.kind == "checkin" and persona.rating is not None:
            answered_at = now + ANSWER_AFTER
            signal = RATING_SIGNALS[persona.rating]
            answer = decide(progress, Answer(answered_at, signal, str(persona.rating)),
                            Context(steps, clock, sends, rules))
            progress = answer.progress
            row(answered_at, "answer", decision.send.step, answer.reason)
        if progress.state == PAUSED and progress.paused_until is None:
            break
    return rows


def _onward(decision: Decision, now: datetime) -> Progress:
    """As the sweep does: nothing is due again within the same minute."""
    progress = decision.progress
    if progress.next_due_at is not None and progress.next_due_at <= now:
        return replace(progress, next_due_at=now + timedelta(minutes=1))
    return progress
