"""coach.scheduling.pacing.decide: every pacing rule, one at a time and in whole sequences."""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest

from coach.scheduling.pacing import (
    ACTIVE,
    AWAITING,
    COMPLETED,
    DEFAULT_PAUSE_DAYS,
    MAX_PAUSE_DAYS,
    PAUSED,
    STOPPED,
    Answer,
    Context,
    Decision,
    Due,
    Event,
    Halt,
    Pause,
    Progress,
    Resume,
    Send,
    Step,
    decide,
    effective_gap_days,
    pause_days,
)
from coach.subscribers.clock import LocalClock, cap_reason, remember_send

LONDON = LocalClock("Europe/London", time(18, 30))
START = datetime(2026, 1, 5, 18, 30, tzinfo=UTC)  # a Monday; London is on UTC in January
DAY = timedelta(days=1)

# A small three-week programme: welcome, then a practice and a check-in each week, then closing.
STEPS = [
    Step(week=1, gap_days=0),                       # 0 welcome
    Step(week=1, gap_days=2, practice=True),        # 1 practice
    Step(week=1, gap_days=3, checkin=True),         # 2 check-in
    Step(week=2, gap_days=2, practice=True),        # 3 practice
    Step(week=2, gap_days=3, checkin=True),         # 4 check-in
    Step(week=3, gap_days=2, practice=True),        # 5 practice
    Step(week=3, gap_days=3, checkin=True),         # 6 check-in
    Step(week=3, gap_days=3),                       # 7 closing
]
STEP_KINDS = ("nudge", "checkin", "repeat", "closing")


def ctx(steps: list[Step] = STEPS, clock: LocalClock = LONDON,
        recent: list[datetime] | None = None) -> Context:
    return Context(steps=steps, clock=clock, recent_sends=recent or [])


def at(day: int, hour: int = 18, minute: int = 30) -> datetime:
    """A UTC instant ``day`` days after START (London is on UTC in January and February)."""
    return START.replace(hour=hour, minute=minute) + day * DAY


def checked(decision: Decision) -> Decision:
    assert isinstance(decision.reason, str)
    assert decision.reason.strip(), f"empty reason for {decision}"
    return decision


def awaiting(
    index: int = 2, since: datetime = START, pace: float = 1.0, **more: object
) -> Progress:
    """An enrolment that has just sent the check-in at ``index`` and waits for the answer."""
    return Progress(state=AWAITING, step=index + 1, pace=pace, awaiting_step=index,
                    awaiting_since=since, last_sent_at=since,
                    next_due_at=LONDON.send_time_on_day_after(since, 2), **more)  # type: ignore[arg-type]


# effective_gap_days -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gap", "pace", "expected"),
    [
        (2, 1.0, 2), (3, 1.0, 3), (2, 1.5, 3), (3, 1.5, 5), (3, 1.25, 4), (2, 1.25, 3),
        (4, 2.25, 9), (3, 3.0, 9), (0, 1.0, 1), (0, 3.0, 1), (1, 1.0, 1),
        (10, 1.1, 11),  # 10 * 1.1 is 11.000000000000002 in floating point: still 11 days
        (3, 1.1, 4), (2, 1.5625, 4), (7, 1.0, 7),
    ],
)
def test_effective_gap_is_gap_times_pace_rounded_up_and_at_least_one(
    gap: int, pace: float, expected: int
) -> None:
    assert effective_gap_days(gap, pace) == expected


# Answers to a check-in ----------------------------------------------------------------------


def test_a_slower_answer_multiplies_pace_by_one_and_a_half_and_offers_a_repeat() -> None:
    d = checked(decide(awaiting(), Answer(START + DAY, "slower", "2"), ctx()))
    assert d.action == "slower"
    assert d.send is None
    assert d.progress.pace == 1.5
    assert d.progress.state == ACTIVE
    assert d.progress.awaiting_step is None
    assert d.progress.repeat_step == 1  # week 1's practice step
    assert d.progress.last_repeat_week == 1
    assert d.progress.unanswered_streak == 0
    # The next message goes the next step's gap (2) x 1.5 = 3 days after the check-in.
    assert d.progress.next_due_at == at(3)
    assert "1.50" in d.reason


@pytest.mark.parametrize(("pace", "expected"), [(1.0, 1.5), (1.5, 2.25), (2.25, 3.0), (3.0, 3.0),
                                                (2.5, 3.0)])
def test_slower_pace_is_capped_at_three(pace: float, expected: float) -> None:
    d = checked(decide(awaiting(pace=pace), Answer(START + DAY, "slower", "1"), ctx()))
    assert d.progress.pace == pytest.approx(expected)


def test_at_most_one_repeat_a_week() -> None:
    already = awaiting(last_repeat_week=1)
    d = checked(decide(already, Answer(START + DAY, "slower", "SLOWER"), ctx()))
    assert d.progress.pace == 1.5
    assert d.progress.repeat_step is None
    # A different week still gets its repeat.
    week2 = awaiting(index=4, last_repeat_week=1)
    d2 = checked(decide(week2, Answer(START + DAY, "slower", "SLOWER"), ctx()))
    assert d2.progress.repeat_step == 3
    assert d2.progress.last_repeat_week == 2


def test_a_week_without_a_practice_step_has_nothing_to_repeat() -> None:
    steps = [Step(1, 0), Step(1, 2), Step(1, 3, checkin=True), Step(2, 2)]
    d = checked(decide(awaiting(), Answer(START + DAY, "slower", "1"), ctx(steps)))
    assert d.progress.pace == 1.5
    assert d.progress.repeat_step is None


def test_a_steady_answer_keeps_the_pace() -> None:
    d = checked(decide(awaiting(pace=1.5), Answer(START + DAY, "steady", "3"), ctx()))
    assert d.action == "steady"
    assert d.progress.pace == 1.5
    assert d.progress.repeat_step is None
    assert d.progress.state == ACTIVE
    assert d.progress.next_due_at == at(3)  # gap 2 x 1.5


def test_free_words_count_as_steady() -> None:
    d = checked(decide(awaiting(pace=1.5), Answer(START + DAY, "words", "a few words"), ctx()))
    assert d.progress.pace == 1.5
    assert d.progress.repeat_step is None
    assert d.progress.state == ACTIVE


@pytest.mark.parametrize(("pace", "expected"), [(3.0, 2.0), (2.25, 1.5), (1.5, 1.0), (1.2, 1.0),
                                                (1.0, 1.0)])
def test_a_ready_answer_divides_pace_by_one_and_a_half_but_never_below_one(
    pace: float, expected: float
) -> None:
    d = checked(decide(awaiting(pace=pace), Answer(START + DAY, "ready", "5"), ctx()))
    assert d.progress.pace == pytest.approx(expected)
    assert d.progress.pace >= 1.0
    assert d.progress.repeat_step is None
    assert d.action == ("faster" if expected < pace else "steady")
    # Never sooner than the authored gap.
    assert d.progress.next_due_at is not None
    assert d.progress.next_due_at >= START + STEPS[3].gap_days * DAY


def test_an_answer_late_after_the_gap_schedules_from_now_not_the_past() -> None:
    late = START + 4 * DAY + timedelta(hours=1)
    d = checked(decide(awaiting(), Answer(late, "steady", "3"), ctx()))
    assert d.progress.next_due_at is not None
    assert d.progress.next_due_at >= late
    assert d.progress.next_due_at == at(5)


def test_an_answer_with_no_check_in_open_changes_nothing() -> None:
    active = Progress(step=2, last_sent_at=START, next_due_at=at(3))
    d = checked(decide(active, Answer(START + DAY, "steady", "3"), ctx()))
    assert d.action == "wait"
    assert d.progress == active
    assert not d.changed


def test_slower_with_no_check_in_open_still_slows_down_without_a_repeat() -> None:
    active = Progress(step=3, last_sent_at=START, next_due_at=at(2))
    d = checked(decide(active, Answer(START + DAY, "slower", "SLOWER"), ctx()))
    assert d.action == "slower"
    assert d.progress.pace == 1.5
    assert d.progress.repeat_step is None
    assert d.progress.next_due_at == at(3)


def test_ready_with_no_check_in_open_at_pace_one_changes_nothing() -> None:
    active = Progress(step=3, last_sent_at=START, next_due_at=at(2))
    d = checked(decide(active, Answer(START + DAY, "ready", "READY"), ctx()))
    assert d.action == "wait"
    assert d.progress.pace == 1.0
    assert d.progress.next_due_at == at(2)


# Pause and resume ---------------------------------------------------------------------------


def test_pause_days_default_and_limits() -> None:
    assert DEFAULT_PAUSE_DAYS == 7 and MAX_PAUSE_DAYS == 90
    assert pause_days(None) == 7
    assert pause_days(3) == 3
    assert pause_days(14) == 14
    assert pause_days(90) == 90
    assert pause_days(91) == 90
    assert pause_days(1000) == 90
    assert pause_days(0) >= 1


@pytest.mark.parametrize(("days", "expected"), [(None, 7), (3, 3), (14, 14), (200, 90)])
def test_pause_sends_nothing_until_it_ends(days: int | None, expected: int) -> None:
    active = Progress(step=3, last_sent_at=START, next_due_at=at(2))
    now = START + timedelta(hours=2)
    d = checked(decide(active, Pause(now, days), ctx()))
    assert d.action == "pause"
    assert d.send is None
    assert d.progress.state == PAUSED
    assert d.progress.paused_until == now + expected * DAY
    assert d.progress.next_due_at is not None
    assert d.progress.next_due_at >= now + expected * DAY
    assert str(expected) in d.reason
    if days and days > 90:
        assert "90 days is the longest" in d.reason
    # A Due at any time before the pause ends sends nothing.
    paused = d.progress
    for hours in range(1, expected * 24, 7):
        early = now + timedelta(hours=hours)
        held = checked(decide(paused, Due(early), ctx()))
        assert held.send is None
        assert held.progress.state == PAUSED
        assert held.progress.next_due_at is not None
        assert held.progress.next_due_at >= paused.paused_until  # type: ignore[operator]
    # At the end of the pause, the next step goes.
    assert paused.next_due_at is not None
    resumed = checked(decide(paused, Due(paused.next_due_at), ctx()))
    assert resumed.send == Send("nudge", 3)
    assert resumed.progress.state == ACTIVE
    assert resumed.progress.paused_until is None


def test_pause_while_awaiting_a_check_in_drops_the_wait_but_keeps_a_promised_repeat() -> None:
    d = checked(decide(awaiting(repeat_step=1), Pause(START + DAY, None), ctx()))
    assert d.progress.state == PAUSED
    assert d.progress.awaiting_step is None
    assert d.progress.repeat_step == 1


@pytest.mark.parametrize("state", [COMPLETED, STOPPED])
def test_pause_after_the_end_changes_nothing(state: str) -> None:
    done = Progress(state=state, step=8)
    d = checked(decide(done, Pause(START, 3), ctx()))
    assert d.action == "wait"
    assert d.progress == done


def test_resume_schedules_the_next_step_at_the_next_preferred_time() -> None:
    paused = Progress(state=PAUSED, step=3, paused_until=at(7), next_due_at=at(7),
                      last_sent_at=at(-2))
    morning = START + 2 * DAY - timedelta(hours=8)  # 10:30 local, before 18:30
    d = checked(decide(paused, Resume(morning), ctx()))
    assert d.action == "resume"
    assert d.progress.state == ACTIVE
    assert d.progress.paused_until is None
    assert d.progress.next_due_at == at(2)
    sent = checked(decide(d.progress, Due(at(2)), ctx()))
    assert sent.send == Send("nudge", 3)
    # Resumed in the evening, after 18:30 and in quiet hours: the next day's 18:30.
    evening = START + 2 * DAY + timedelta(hours=4)
    later = checked(decide(paused, Resume(evening), ctx()))
    assert later.progress.next_due_at == at(3)


def test_resume_keeps_the_daily_cap() -> None:
    paused = Progress(state=PAUSED, step=3, paused_until=None)
    sent_today = [at(2, 9, 0)]
    d = checked(decide(paused, Resume(at(2, 10, 0)), ctx(recent=sent_today)))
    assert d.progress.next_due_at == at(3)


def test_resume_when_not_paused_changes_nothing() -> None:
    active = Progress(step=3, next_due_at=at(2))
    d = checked(decide(active, Resume(START), ctx()))
    assert d.action == "wait"
    assert d.progress == active


# Unanswered check-ins -----------------------------------------------------------------------


def test_one_gentle_reminder_after_two_days_then_move_on_after_five_more_gently() -> None:
    sent = checked(decide(Progress(step=2, next_due_at=START), Due(START), ctx()))
    assert sent.send == Send("checkin", 2)
    assert sent.progress.state == AWAITING
    assert sent.progress.next_due_at == at(2)

    reminder = checked(decide(sent.progress, Due(at(2)), ctx(recent=[START])))
    assert reminder.action == "remind"
    assert reminder.send == Send("reminder", 2)
    assert reminder.progress.reminded
    assert reminder.progress.state == AWAITING
    assert reminder.progress.next_due_at == at(5)

    # Anything due in between sends nothing more.
    between = checked(decide(reminder.progress, Due(at(3)), ctx(recent=[START, at(2)])))
    assert between.send is None
    assert between.progress.next_due_at == at(5)

    moved = checked(decide(reminder.progress, Due(at(5)), ctx(recent=[START, at(2)])))
    assert moved.send == Send("nudge", 3)
    assert moved.progress.pace == 1.25
    assert moved.progress.state == ACTIVE
    assert moved.progress.unanswered_streak == 1
    assert moved.progress.awaiting_step is None
    assert "1.25" in moved.reason


def test_a_late_sweep_after_five_days_moves_on_without_a_reminder() -> None:
    d = checked(decide(awaiting(), Due(at(6)), ctx()))
    assert d.send == Send("nudge", 3)
    assert d.progress.pace == 1.25


def test_three_unanswered_check_ins_in_a_row_pause_the_enrolment() -> None:
    p = awaiting(index=6, unanswered_streak=2, reminded=True)
    d = checked(decide(p, Due(at(5)), ctx()))
    assert d.action == "self-pause"
    assert d.send == Send("notice", notice="self_paused")
    assert d.progress.state == PAUSED
    assert d.progress.next_due_at is None
    assert d.progress.paused_until is None
    # Nothing is sent while self-paused, however long it lasts.
    later = checked(decide(d.progress, Due(at(40)), ctx()))
    assert later.send is None
    assert later.progress.next_due_at is None


def test_an_answer_resets_the_unanswered_streak() -> None:
    d = checked(decide(awaiting(unanswered_streak=2), Answer(at(1), "steady", "3"), ctx()))
    assert d.progress.unanswered_streak == 0


# Due: quiet hours, caps, last step, halts ---------------------------------------------------


def test_a_due_in_quiet_hours_defers_and_sends_nothing() -> None:
    p = Progress(step=3, next_due_at=at(2, 22, 0))
    d = checked(decide(p, Due(at(2, 22, 0)), ctx()))
    assert d.action == "defer"
    assert d.send is None
    assert d.progress.step == 3
    assert d.progress.next_due_at == at(3)
    assert not LONDON.in_quiet_hours(d.progress.next_due_at)


def test_a_due_on_a_day_that_already_had_a_message_defers_to_the_next_day() -> None:
    p = Progress(step=3, next_due_at=at(2))
    d = checked(decide(p, Due(at(2)), ctx(recent=[at(2, 9, 0)])))
    assert d.action == "defer"
    assert d.send is None
    assert d.progress.next_due_at == at(3)


def test_a_due_over_the_seven_day_cap_defers_until_the_window_clears() -> None:
    recent = [at(day) for day in (0, 1, 2, 3)]
    p = Progress(step=3, next_due_at=at(5))
    d = checked(decide(p, Due(at(5)), ctx(recent=recent)))
    assert d.action == "defer"
    assert d.send is None
    assert d.progress.next_due_at == at(7)
    assert "seven days" in d.reason


def test_the_last_step_sends_a_closing_and_completes() -> None:
    p = Progress(step=7, next_due_at=at(3))
    d = checked(decide(p, Due(at(3)), ctx()))
    assert d.send == Send("closing", 7)
    assert d.progress.state == COMPLETED
    assert d.progress.next_due_at is None
    after = checked(decide(d.progress, Due(at(10)), ctx()))
    assert after.send is None
    assert after.progress.next_due_at is None


def test_halt_opted_out_stops_for_good() -> None:
    for p in (Progress(step=3, next_due_at=at(2)), awaiting(), Progress(state=PAUSED, step=3,
                                                                      paused_until=at(4))):
        d = checked(decide(p, Halt(START, "opted out of every channel", opted_out=True), ctx()))
        assert d.action == "stop"
        assert d.progress.state == STOPPED
        assert d.progress.next_due_at is None
        assert d.send is None
        after = checked(decide(d.progress, Due(at(9)), ctx()))
        assert after.send is None
        assert after.progress.next_due_at is None


def test_halt_without_opt_out_pauses_until_resume() -> None:
    d = checked(decide(awaiting(), Halt(START, "needs a person"), ctx()))
    assert d.progress.state == PAUSED
    assert d.progress.paused_until is None
    assert d.progress.next_due_at is None
    assert checked(decide(d.progress, Due(at(30)), ctx())).send is None


# Whole sequences ----------------------------------------------------------------------------


@dataclass
class Sent:
    at: datetime
    send: Send
    pace: float
    next_step: int  # the programme step the enrolment is on after this send


@dataclass
class Run:
    sent: list[Sent] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)

    def kinds(self) -> list[str]:
        return [s.send.kind for s in self.sent]


Answers = Callable[[int], str | None]


def drive(steps: list[Step], clock: LocalClock, start: datetime, answer: Answers,
          answer_after: timedelta = timedelta(hours=3)) -> Run:
    """Deliver Due events at each next_due_at, answering the n-th check-in with answer(n)."""
    run = Run(progress=Progress(next_due_at=start))
    recent: list[datetime] = []
    checkins = 0
    for _ in range(300):
        now = run.progress.next_due_at
        if now is None:
            break
        decision = checked(decide(run.progress, Due(now), Context(steps, clock, recent)))
        run.decisions.append(decision)
        if decision.send is not None:
            assert cap_reason(clock, recent, now) is None, (now, recent)
            assert not clock.in_quiet_hours(now)
            recent = remember_send(recent, now)
            run.sent.append(Sent(now, decision.send, decision.progress.pace,
                                 decision.progress.step))
        else:
            assert decision.progress.next_due_at is None or decision.progress.next_due_at > now
        run.progress = decision.progress
        if decision.send is not None and decision.send.kind == "checkin":
            signal = answer(checkins)
            checkins += 1
            if signal is not None:
                event: Event = Answer(now + answer_after, signal, signal)
                reply = checked(decide(run.progress, event, Context(steps, clock, recent)))
                run.decisions.append(reply)
                run.progress = reply.progress
    else:
        pytest.fail("the programme never finished")
    return run


def local_days(clock: LocalClock, earlier: datetime, later: datetime) -> int:
    return (clock.local(later).date() - clock.local(earlier).date()).days


def assert_gaps_respect_pace(run: Run, steps: list[Step], clock: LocalClock) -> None:
    """Between programme messages: never shorter than the authored gap x the pace in force."""
    step_sends = [s for s in run.sent if s.send.kind in STEP_KINDS]
    for before, after in pairwise(step_sends):
        index = after.next_step if after.send.kind == "repeat" else after.send.step
        assert index is not None
        gap = steps[index].gap_days
        days = local_days(clock, before.at, after.at)
        assert days >= max(1, gap), (before, after)
        assert days >= effective_gap_days(gap, after.pace), (before, after, gap)


def answers(*signals: str | None) -> Answers:
    return lambda n: signals[n] if n < len(signals) else "steady"


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        (("steady", "steady", "steady"),
         ["nudge", "nudge", "checkin", "nudge", "checkin", "nudge", "checkin", "closing"]),
        (("slower", "steady", "steady"),
         ["nudge", "nudge", "checkin", "repeat", "nudge", "checkin", "nudge", "checkin",
          "closing"]),
        (("slower", "slower", "ready"),
         ["nudge", "nudge", "checkin", "repeat", "nudge", "checkin", "repeat", "nudge",
          "checkin", "closing"]),
        (("ready", "ready", "ready"),
         ["nudge", "nudge", "checkin", "nudge", "checkin", "nudge", "checkin", "closing"]),
        (("words", "slower", "words"),
         ["nudge", "nudge", "checkin", "nudge", "checkin", "repeat", "nudge", "checkin",
          "closing"]),
        ((None, "steady", "steady"),
         ["nudge", "nudge", "checkin", "reminder", "nudge", "checkin", "nudge", "checkin",
          "closing"]),
    ],
)
def test_a_whole_programme_sends_in_order_and_never_faster_than_gap_times_pace(
    signals: tuple[str | None, ...], expected: list[str]
) -> None:
    run = drive(STEPS, LONDON, START, answers(*signals))
    assert run.kinds() == expected
    assert run.progress.state == COMPLETED
    assert run.progress.next_due_at is None
    programme_steps = [s.send.step for s in run.sent if s.send.kind in ("nudge", "checkin",
                                                                         "closing")]
    assert programme_steps == list(range(len(STEPS)))
    assert run.sent[0].send == Send("nudge", 0)
    assert run.sent[-1].send == Send("closing", len(STEPS) - 1)
    for s in run.sent:
        assert LONDON.local(s.at).time() == time(18, 30)
        assert s.pace >= 1.0
    assert_gaps_respect_pace(run, STEPS, LONDON)


def test_the_repeat_is_the_week_practice_and_comes_before_moving_on() -> None:
    run = drive(STEPS, LONDON, START, answers("slower", "steady", "steady"))
    kinds = [(s.send.kind, s.send.step) for s in run.sent]
    assert kinds[2:5] == [("checkin", 2), ("repeat", 1), ("nudge", 3)]
    assert run.progress.pace == 1.5


def test_two_slower_answers_in_the_same_week_give_one_repeat() -> None:
    steps = [
        Step(1, 0), Step(1, 2, practice=True), Step(1, 2, checkin=True),
        Step(1, 2, checkin=True), Step(2, 2, practice=True), Step(2, 2),
    ]
    run = drive(steps, LONDON, START, answers("slower", "slower"))
    assert run.kinds() == ["nudge", "nudge", "checkin", "repeat", "checkin", "nudge", "closing"]
    assert run.progress.pace == 2.25
    assert_gaps_respect_pace(run, steps, LONDON)


def test_three_unanswered_check_ins_self_pause_a_whole_run() -> None:
    run = drive(STEPS, LONDON, START, answers(None, None, None))
    assert run.kinds() == ["nudge", "nudge", "checkin", "reminder", "nudge", "checkin",
                           "reminder", "nudge", "checkin", "reminder", "notice"]
    assert run.sent[-1].send.notice == "self_paused"
    assert run.progress.state == PAUSED
    assert run.progress.next_due_at is None
    assert run.progress.pace == pytest.approx(1.5625)
    # A reminder comes two local days after its check-in, the next step five days after.
    for i, s in enumerate(run.sent):
        if s.send.kind == "reminder":
            assert local_days(LONDON, run.sent[i - 1].at, s.at) == 2
            assert local_days(LONDON, run.sent[i - 1].at, run.sent[i + 1].at) == 5
    # RESUME brings it back; the next step goes at the next preferred time.
    now = run.sent[-1].at + 3 * DAY + timedelta(hours=1)
    resumed = checked(decide(run.progress, Resume(now), ctx()))
    assert resumed.progress.state == ACTIVE
    assert resumed.progress.next_due_at == LONDON.next_send_time(now)
    nxt = checked(decide(resumed.progress, Due(resumed.progress.next_due_at), ctx()))
    assert nxt.send == Send("closing", 7)


def test_an_answer_in_between_breaks_the_unanswered_row() -> None:
    run = drive(STEPS, LONDON, START, answers(None, "steady", None))
    assert "notice" not in run.kinds()
    assert run.progress.state == COMPLETED
    assert run.kinds().count("reminder") == 2


def test_silence_after_slowing_down_does_not_rush_the_next_step() -> None:
    """The effective gap (authored gap x pace) holds after an unanswered check-in too.

    At pace 3.0 the step after the week-1 check-in (authored gap 2) is due 6 days later.
    Moving on after the 5-day wait for an answer must not send it sooner than that: staying
    silent must not move someone along faster than answering "3" would.
    """
    p = awaiting(pace=3.0, reminded=True)
    steady = checked(decide(p, Answer(START + timedelta(hours=1), "steady", "3"), ctx()))
    assert steady.progress.next_due_at == at(6)  # answering "3": 6 days, as the rule says

    due = at(5)
    d = checked(decide(p, Due(due), ctx(recent=[START, at(2)])))
    sent_on = due if d.send is not None else d.progress.next_due_at
    assert sent_on is not None
    assert local_days(LONDON, START, sent_on) >= effective_gap_days(STEPS[3].gap_days, 3.0), (
        f"the next step went {local_days(LONDON, START, sent_on)} days after the check-in "
        f"at pace {d.progress.pace}: {d.action} / {d.send} / {d.reason}"
    )


@pytest.mark.parametrize(
    ("zone", "send_time", "start"),
    [
        ("Europe/London", time(18, 30), datetime(2026, 3, 16, 18, 30, tzinfo=UTC)),
        ("America/New_York", time(8, 15), datetime(2026, 10, 19, 12, 15, tzinfo=UTC)),
        ("Australia/Lord_Howe", time(19, 0), datetime(2026, 3, 23, 8, 0, tzinfo=UTC)),
    ],
)
def test_a_programme_across_a_daylight_saving_change_keeps_the_local_time(
    zone: str, send_time: time, start: datetime
) -> None:
    clock = LocalClock(zone, send_time)
    assert clock.local(start).time() == send_time
    run = drive(STEPS, clock, start, answers("slower", "steady", "ready"))
    offsets = {clock.local(s.at).utcoffset() for s in run.sent}
    assert len(offsets) == 2  # the run really crossed a change
    for s in run.sent:
        assert clock.local(s.at).time() == send_time
    assert run.progress.state == COMPLETED
    assert_gaps_respect_pace(run, STEPS, clock)


def test_a_preferred_time_in_quiet_hours_sends_the_whole_programme_at_their_end() -> None:
    clock = LocalClock("Europe/London", time(23, 0))
    run = drive(STEPS, clock, datetime(2026, 1, 5, 8, 0, tzinfo=UTC), answers())
    assert run.progress.state == COMPLETED
    assert {clock.local(s.at).time() for s in run.sent} == {time(8, 0)}


def test_a_programme_of_daily_steps_keeps_four_a_week_and_one_a_day() -> None:
    steps = [Step(1, 0)] + [Step(1 + i // 4, 1) for i in range(11)]
    run = drive(steps, LONDON, START, answers())
    assert run.progress.state == COMPLETED
    times = [s.at for s in run.sent]
    assert len(times) == len(steps)
    days = [LONDON.local(t).date() for t in times]
    assert len(set(days)) == len(days)
    for t in times:
        assert sum(t - 7 * DAY < other <= t for other in times) <= 4
    # The caps really bit: 12 daily steps cannot fit in 12 days.
    assert (days[-1] - days[0]).days > len(steps)


def test_a_due_that_arrives_in_quiet_hours_in_a_sequence_is_only_deferred() -> None:
    p = Progress(step=3, next_due_at=at(2))
    late = at(2, 23, 0)
    d = checked(decide(p, Due(late), ctx()))
    assert d.send is None
    assert d.progress.next_due_at is not None
    d2 = checked(decide(d.progress, Due(d.progress.next_due_at), ctx()))
    assert d2.send == Send("nudge", 3)
    assert LONDON.local(d.progress.next_due_at).date() == date(2026, 1, 8)


def test_every_decision_in_a_mixed_run_has_a_reason() -> None:
    run = drive(STEPS, LONDON, START, answers("slower", None, "ready"))
    assert run.decisions
    extra = [
        decide(run.progress, e, ctx())
        for e in (Due(at(60)), Pause(at(60), 5), Resume(at(60)), Halt(at(60), "done"),
                  Answer(at(60), "steady", "3"))
    ]
    for d in [*run.decisions, *extra]:
        checked(d)


def test_progress_is_not_mutated_by_decide() -> None:
    p = awaiting()
    before = replace(p)
    decide(p, Answer(START + DAY, "slower", "1"), ctx())
    decide(p, Due(at(2)), ctx())
    assert p == before


def test_resume_after_a_self_pause_is_a_fresh_start() -> None:
    paused = Progress(state=PAUSED, step=5, unanswered_streak=3, paused_until=None)
    d = checked(decide(paused, Resume(START), ctx()))
    assert (d.progress.state, d.progress.unanswered_streak) == (ACTIVE, 0)
