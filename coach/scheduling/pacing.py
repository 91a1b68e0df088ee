"""Pacing: "don't be in a hurry", as one pure function.

``decide(progress, event, context)`` returns the new progress, what (if anything) to send, when
the enrolment is next due, and a reason a person can read. No I/O: every rule is unit-tested
and every decision is stored with its reason.

Nobody is moved faster than the authored schedule: pace never goes below 1.0.
"""

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from coach.subscribers.clock import LocalClock, cap_reason, next_allowed_time

ACTIVE, AWAITING, PAUSED, COMPLETED, STOPPED = (
    "active", "awaiting", "paused", "completed", "stopped"
)
DEFAULT_PAUSE_DAYS = 7
MAX_PAUSE_DAYS = 90


@dataclass(frozen=True)
class Rules:
    """The defaults; a programme may override any of them in its ``pacing:`` section."""

    slower_factor: float = 1.5
    faster_factor: float = 1.5
    max_pace: float = 3.0
    reminder_after_days: int = 2
    wait_for_answer_days: int = 5
    unanswered_factor: float = 1.25
    unanswered_pause_after: int = 3


@dataclass(frozen=True)
class Step:
    week: int
    gap_days: int
    practice: bool = False
    checkin: bool = False


@dataclass(frozen=True)
class Progress:
    """Where an enrolment stands: a plain snapshot of its pacing columns."""

    state: str = ACTIVE
    step: int = 0
    pace: float = 1.0
    repeat_step: int | None = None
    awaiting_step: int | None = None
    awaiting_since: datetime | None = None
    reminded: bool = False
    unanswered_streak: int = 0
    last_repeat_week: int | None = None
    paused_until: datetime | None = None
    last_sent_at: datetime | None = None
    next_due_at: datetime | None = None


@dataclass(frozen=True)
class Context:
    steps: list[Step]
    clock: LocalClock
    recent_sends: list[datetime] = field(default_factory=list)
    rules: Rules = field(default_factory=Rules)


@dataclass(frozen=True)
class Send:
    """A message to plan: a step of the programme, or a notice about the pacing itself."""

    kind: str  # nudge | checkin | repeat | reminder | closing | notice
    step: int | None = None
    notice: str | None = None  # template name under templates/messages/ for a notice


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str
    progress: Progress
    send: Send | None = None

    @property
    def changed(self) -> bool:
        return self.action != "wait"


# Events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    now: datetime


@dataclass(frozen=True)
class Answer:
    """A reply to a check-in: ``signal`` is slower, steady, ready or words (free text)."""

    now: datetime
    signal: str
    label: str


@dataclass(frozen=True)
class Pause:
    now: datetime
    days: int | None = None


@dataclass(frozen=True)
class Resume:
    now: datetime


@dataclass(frozen=True)
class Halt:
    """Every channel is opted out, or a person needs a human rather than a nudge."""

    now: datetime
    reason: str
    opted_out: bool = False


Event = Due | Answer | Pause | Resume | Halt


def decide(progress: Progress, event: Event, ctx: Context) -> Decision:
    match event:
        case Due():
            return _on_due(progress, event.now, ctx)
        case Answer():
            return _on_answer(progress, event, ctx)
        case Pause():
            return _on_pause(progress, event, ctx)
        case Resume():
            return _on_resume(progress, event.now, ctx)
        case Halt():
            return _on_halt(progress, event)
    raise TypeError(f"unknown event {event!r}")  # pragma: no cover


def effective_gap_days(gap_days: int, pace: float) -> int:
    """The authored gap times the pace, rounded up to whole days, at least one."""
    return max(1, math.ceil(round(gap_days * pace, 6)))


# Due ----------------------------------------------------------------------------------------


def _on_due(p: Progress, now: datetime, ctx: Context) -> Decision:
    if p.state in (COMPLETED, STOPPED) or (p.state == PAUSED and p.paused_until is None):
        return Decision("wait", f"nothing scheduled while {p.state}", replace(p, next_due_at=None))
    if p.state == PAUSED and now < p.paused_until:  # type: ignore[operator]
        return _defer(p, ctx, p.paused_until, "still paused")  # type: ignore[arg-type]
    held = _hold_reason(ctx, now)
    if held:
        return _defer(p, ctx, now, held)
    if p.state == PAUSED:
        resumed = replace(p, state=ACTIVE, paused_until=None)
        return _send_next(resumed, now, ctx, "the pause ended; ")
    if p.state == AWAITING:
        return _on_checkin_silence(p, now, ctx)
    return _send_next(p, now, ctx, "")


def _hold_reason(ctx: Context, now: datetime) -> str | None:
    if ctx.clock.in_quiet_hours(now):
        return "it is quiet hours where they are"
    return cap_reason(ctx.clock, ctx.recent_sends, now)


def _defer(p: Progress, ctx: Context, earliest: datetime, why: str) -> Decision:
    due = next_allowed_time(ctx.clock, ctx.recent_sends, earliest)
    if due == p.next_due_at:
        return Decision("wait", why, p)
    reason = f"{why}; next try {due:%Y-%m-%d %H:%M} UTC"
    return Decision("defer", reason, replace(p, next_due_at=due))


def _send_next(p: Progress, now: datetime, ctx: Context, why: str) -> Decision:
    if p.repeat_step is not None:
        step = ctx.steps[p.repeat_step]
        after = replace(p, repeat_step=None, last_sent_at=now)
        after = _schedule(after, now, ctx, _gap_of(ctx.steps, p.step))
        reason = f"{why}offering week {step.week}'s practice once more before moving on"
        return Decision("repeat", reason, after, Send("repeat", p.repeat_step))
    if p.step >= len(ctx.steps):
        done = replace(p, state=COMPLETED, next_due_at=None)
        return Decision("complete", f"{why}the programme is complete", done)
    return _send_step(p, now, ctx, why)


def _send_step(p: Progress, now: datetime, ctx: Context, why: str) -> Decision:
    index, step = p.step, ctx.steps[p.step]
    after = replace(p, step=index + 1, last_sent_at=now)
    last = index + 1 == len(ctx.steps)
    if last:
        after = replace(after, state=COMPLETED, next_due_at=None)
        return Decision("send", f"{why}closing step {index + 1} of {len(ctx.steps)}", after,
                        Send("closing", index))
    if step.checkin:
        after = replace(after, state=AWAITING, awaiting_step=index, awaiting_since=now,
                        reminded=False)
        due = ctx.clock.send_time_on_day_after(now, ctx.rules.reminder_after_days)
        after = replace(after, next_due_at=_allowed(ctx, now, due))
        return Decision("send", f"{why}week {step.week} check-in (step {index + 1})", after,
                        Send("checkin", index))
    after = _schedule(after, now, ctx, ctx.steps[index + 1].gap_days)
    return Decision("send", f"{why}step {index + 1} of {len(ctx.steps)}, week {step.week}", after,
                    Send("nudge", index))


def _gap_of(steps: list[Step], index: int) -> int:
    return steps[index].gap_days if index < len(steps) else 1


def _schedule(p: Progress, sent_at: datetime, ctx: Context, gap_days: int) -> Progress:
    days = effective_gap_days(gap_days, p.pace)
    due = ctx.clock.send_time_on_day_after(sent_at, days)
    return replace(p, next_due_at=_allowed(ctx, sent_at, due))


def _allowed(ctx: Context, sent_at: datetime, due: datetime) -> datetime:
    return next_allowed_time(ctx.clock, [*ctx.recent_sends, sent_at], due)


def _on_checkin_silence(p: Progress, now: datetime, ctx: Context) -> Decision:
    rules, since = ctx.rules, p.awaiting_since or now
    week = ctx.steps[p.awaiting_step or 0].week
    give_up_at = ctx.clock.send_time_on_day_after(since, rules.wait_for_answer_days)
    if not p.reminded and now < give_up_at:
        after = replace(p, reminded=True, last_sent_at=now)
        after = replace(after, next_due_at=_allowed(ctx, now, give_up_at))
        reason = f"no answer to the week {week} check-in after {rules.reminder_after_days} days"
        return Decision("remind", reason + "; one gentle reminder", after,
                        Send("reminder", p.awaiting_step))
    if now < give_up_at:
        return _defer(p, ctx, give_up_at, "waiting for the check-in answer")
    streak = p.unanswered_streak + 1
    quiet = replace(p, state=ACTIVE, awaiting_step=None, awaiting_since=None, reminded=False,
                    unanswered_streak=streak)
    if streak >= rules.unanswered_pause_after:
        paused = replace(quiet, state=PAUSED, paused_until=None, next_due_at=None, last_sent_at=now)
        reason = (f"{streak} check-ins in a row went unanswered; pausing until they reply RESUME")
        return Decision("self-pause", reason, paused, Send("notice", notice="self_paused"))
    pace = min(rules.max_pace, p.pace * rules.unanswered_factor)
    slower = replace(quiet, pace=pace)
    why = (f"no answer to the week {week} check-in after {rules.wait_for_answer_days} days; "
           f"moving on more gently (pace {p.pace:.2f} -> {pace:.2f})")
    by_gap = ctx.clock.send_time_on_day_after(
        since, effective_gap_days(_gap_of(ctx.steps, p.step), pace))
    if now < by_gap:  # silence never moves anyone sooner than gap x pace would
        later = replace(slower, next_due_at=_allowed(ctx, since, by_gap))
        return Decision("move-on", f"{why}; next step at its paced time", later)
    return _send_next(slower, now, ctx, why + "; ")


# Answers ------------------------------------------------------------------------------------


def _on_answer(p: Progress, a: Answer, ctx: Context) -> Decision:
    if p.state != AWAITING or p.awaiting_step is None:
        return _on_request_outside_checkin(p, a, ctx)
    rules, index = ctx.rules, p.awaiting_step
    week = ctx.steps[index].week
    answered = replace(p, state=ACTIVE, awaiting_step=None, awaiting_since=None, reminded=False,
                       unanswered_streak=0)
    if a.signal == "slower":
        pace = min(rules.max_pace, p.pace * rules.slower_factor)
        answered = replace(answered, pace=pace)
        reason = f"check-in answer {a.label}: slowing down (pace {p.pace:.2f} -> {pace:.2f})"
        practice = _practice_of_week(ctx.steps, week)
        if practice is not None and p.last_repeat_week != week:
            answered = replace(answered, repeat_step=practice, last_repeat_week=week)
            reason += f"; week {week}'s practice will be offered once more"
        action = "slower"
    elif a.signal == "ready":
        pace = max(1.0, p.pace / rules.faster_factor)
        answered = replace(answered, pace=pace)
        reason = f"check-in answer {a.label}: ready (pace {p.pace:.2f} -> {pace:.2f})"
        action = "faster" if pace < p.pace else "steady"
    else:
        reason = f"check-in answer {a.label}: keeping the pace at {p.pace:.2f}"
        action = "steady"
    return Decision(action, reason, _reschedule_after_answer(answered, a.now, ctx))


def _reschedule_after_answer(p: Progress, now: datetime, ctx: Context) -> Progress:
    gap = _gap_of(ctx.steps, p.step)
    sent_at = p.last_sent_at or now
    due = ctx.clock.send_time_on_day_after(sent_at, effective_gap_days(gap, p.pace))
    return replace(p, next_due_at=next_allowed_time(ctx.clock, ctx.recent_sends, max(due, now)))


def _on_request_outside_checkin(p: Progress, a: Answer, ctx: Context) -> Decision:
    if p.state not in (ACTIVE,) or a.signal not in ("slower", "ready"):
        return Decision("wait", f"{a.label}: noted, no check-in was open", p)
    if a.signal == "slower":
        pace = min(ctx.rules.max_pace, p.pace * ctx.rules.slower_factor)
    else:
        pace = max(1.0, p.pace / ctx.rules.faster_factor)
    if pace == p.pace:
        return Decision("wait", f"{a.label}: pace stays at {p.pace:.2f}", p)
    after = _reschedule_after_answer(replace(p, pace=pace), a.now, ctx)
    action = "slower" if pace > p.pace else "faster"
    return Decision(action, f"{a.label}: pace {p.pace:.2f} -> {pace:.2f}", after)


def _practice_of_week(steps: list[Step], week: int) -> int | None:
    return next((i for i, s in enumerate(steps) if s.week == week and s.practice), None)


# Pause, resume, halt ------------------------------------------------------------------------


def pause_days(requested: int | None) -> int:
    if requested is None:
        return DEFAULT_PAUSE_DAYS
    return max(1, min(MAX_PAUSE_DAYS, requested))


def _on_pause(p: Progress, e: Pause, ctx: Context) -> Decision:
    if p.state in (COMPLETED, STOPPED):
        return Decision("wait", f"pause asked while {p.state}: nothing to pause", p)
    days = pause_days(e.days)
    until = e.now + timedelta(days=days)
    paused = replace(p, state=PAUSED, paused_until=until, awaiting_step=None, awaiting_since=None,
                     reminded=False)
    paused = replace(paused, next_due_at=next_allowed_time(ctx.clock, ctx.recent_sends, until))
    capped = " (90 days is the longest pause)" if e.days and e.days > MAX_PAUSE_DAYS else ""
    return Decision("pause", f"paused for {days} days as they asked{capped}", paused)


def _on_resume(p: Progress, now: datetime, ctx: Context) -> Decision:
    if p.state not in (PAUSED, STOPPED):
        return Decision("wait", f"resume asked while {p.state}: nothing to resume", p)
    due = next_allowed_time(ctx.clock, ctx.recent_sends, now)
    # Coming back is a fresh start: earlier silences no longer count toward a self-pause.
    resumed = replace(p, state=ACTIVE, paused_until=None, next_due_at=due, unanswered_streak=0)
    return Decision("resume", "resumed; the next step goes at their next preferred time", resumed)


def _on_halt(p: Progress, e: Halt) -> Decision:
    if p.state in (COMPLETED,):
        return Decision("wait", e.reason, p)
    state = STOPPED if e.opted_out else PAUSED
    halted = replace(p, state=state, paused_until=None, next_due_at=None, awaiting_step=None,
                     awaiting_since=None, reminded=False)
    return Decision("stop" if state == STOPPED else "pause", e.reason, halted)
