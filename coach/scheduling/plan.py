"""From a pacing decision to rows: the enrolment's new columns, the outbox row, the event.

Shared by the sweep (due enrolments) and the inbound path (replies), so both plan messages
the same way.
"""

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from coach.delivery.services import delivery_row
from coach.programmes.qualities import other_qualities, quality_name
from coach.programmes.render import Rendered, render_message, render_step
from coach.scheduling.models import Enrolment
from coach.scheduling.pacing import Context, Decision, Progress, Rules, Send, Step
from coach.subscribers.clock import LocalClock
from coach.subscribers.models import CHANNELS, Subscriber

PROGRESS_FIELDS = [f.name for f in fields(Progress)]


@dataclass(frozen=True)
class Programme:
    """A published version, ready for pacing and rendering (cached: versions never change)."""

    title: str
    steps: list[dict[str, Any]]
    pacing_steps: list[Step]
    rules: Rules


_programmes: dict[int, Programme] = {}


def programme(version_id: int, definition: dict[str, Any]) -> Programme:
    if version_id not in _programmes:
        steps = definition["steps"]
        _programmes[version_id] = Programme(
            title=definition["title"],
            steps=steps,
            pacing_steps=[Step(s["week"], s["gap_days"], s["practice"], bool(s["checkin"]))
                          for s in steps],
            rules=Rules(**definition.get("pacing", {})),
        )
    return _programmes[version_id]


def forget_programmes() -> None:
    """For tests, whose fresh databases number versions from 1 again."""
    _programmes.clear()


def uncached(version_ids: set[int]) -> list[int]:
    return [v for v in version_ids if v not in _programmes]


def clock_of(subscriber: Subscriber) -> LocalClock:
    return subscriber.clock()


def recent_sends(subscriber: Subscriber) -> list[datetime]:
    return [datetime.fromisoformat(value) for value in subscriber.recent_sends or []]


def context(subscriber: Subscriber, prog: Programme) -> Context:
    return Context(prog.pacing_steps, clock_of(subscriber), recent_sends(subscriber), prog.rules)


def progress_of(enrolment: Enrolment) -> Progress:
    return Progress(**{name: getattr(enrolment, name) for name in PROGRESS_FIELDS})


def progress_columns(progress: Progress) -> dict[str, Any]:
    return {name: getattr(progress, name) for name in PROGRESS_FIELDS}


def channel_for(subscriber: Subscriber) -> str | None:
    """The preferred channel while it is consented, else any other that is."""
    ordered = [subscriber.preferred_channel, *(c for c in CHANNELS
                                               if c != subscriber.preferred_channel)]
    return next((c for c in ordered if subscriber.consented(c)), None)


def variables(subscriber: Subscriber, enrolment: Enrolment, prog: Programme) -> dict[str, Any]:
    return {
        "name": subscriber.name or "there",
        "programme": prog.title,
        "quality": quality_name(enrolment.quality),
        "answers": dict(enrolment.answers or {}),
        "other_qualities": other_qualities(enrolment.quality),
    }


def render_send(send: Send, subscriber: Subscriber, enrolment: Enrolment,
                prog: Programme) -> Rendered:
    data, discreet = variables(subscriber, enrolment, prog), subscriber.discreet
    if send.kind == "notice":
        return render_message(send.notice or "", data, discreet)
    step = prog.steps[send.step or 0]
    if send.kind == "reminder":
        # It says what it is about: the week and the programme (only the week when discreet).
        reminder = {**data, "question": step["checkin"], "week": step["week"]}
        return render_message("reminder", reminder, discreet)
    return render_step(step, data, repeat=send.kind == "repeat", discreet=discreet)


def outbox_row(send: Send, subscriber: Subscriber, enrolment: Enrolment, prog: Programme,
               channel: str, now: datetime) -> dict[str, Any]:
    step_key = prog.steps[send.step]["key"] if send.step is not None else None
    key = f"e{enrolment.id}:s{enrolment.step}:{send.kind}:{send.notice or step_key}:{channel}"
    rendered = render_send(send, subscriber, enrolment, prog)
    return delivery_row(key, subscriber, channel, send.kind, rendered, now,
                        enrolment_id=enrolment.id, step_key=step_key)


def describe(decision: Decision) -> dict[str, Any]:
    """What the event log keeps beside the reason: the numbers, not the words."""
    p = decision.progress
    return {"state": p.state, "pace": round(p.pace, 4), "step": p.step,
            "next_due_at": p.next_due_at.isoformat() if p.next_due_at else None}
