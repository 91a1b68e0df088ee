"""Walk the schedule with the real pacing function and clock."""

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

import pytest

from coach.programmes.loader import load_programme
from coach.scheduling.pacing import effective_gap_days
from coach.scheduling.walk import walk
from coach.subscribers.clock import LocalClock
from tests.conftest import PROGRAMMES

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # four weeks before the clocks change in London
STEP_KINDS = {"nudge", "checkin", "closing"}


@pytest.fixture(scope="module")
def honesty() -> dict:
    return load_programme(PROGRAMMES / "honesty").definition


def _firsts(rows, persona: str) -> dict[str, datetime]:
    firsts: dict[str, datetime] = {}
    for row in rows:
        if row.persona == persona and row.kind in STEP_KINDS:
            firsts.setdefault(row.step, row.at)
    return firsts


@pytest.mark.parametrize("tz", ["Europe/London", "America/New_York", "Australia/Sydney"])
def test_slower_is_never_faster_and_nobody_beats_the_gaps(honesty, tz: str) -> None:
    rows = walk(honesty, timezone=tz, start=START)
    ready, slower = _firsts(rows, "answers 4"), _firsts(rows, "answers 2")
    assert len(ready) == len(honesty["steps"]) == len(slower)
    assert all(slower[key] >= ready[key] for key in ready)
    assert max(slower.values()) > max(ready.values())
    clock = LocalClock(tz, time(18, 0))
    for persona in ("answers 4", "answers 2", "never answers"):
        sent = [r for r in rows if r.persona == persona and r.kind in STEP_KINDS]
        gaps = {s["key"]: s["gap_days"] for s in honesty["steps"]}
        for before, after in pairwise(sent):
            days = (clock.local(after.at).date() - clock.local(before.at).date()).days
            assert days >= effective_gap_days(gaps[after.step], 1.0), (persona, after)
        for row in rows:
            if row.persona == persona and row.kind != "answer":
                assert not clock.in_quiet_hours(row.at)
                assert row.local.tzinfo is not None


def test_the_silent_persona_is_reminded_then_pauses(honesty) -> None:
    rows = [r for r in walk(honesty, timezone="Europe/London", start=START)
            if r.persona == "never answers"]
    kinds = [r.kind for r in rows]
    assert "reminder" in kinds and kinds[-1] == "notice" and "answer" not in kinds
    assert "went unanswered" in rows[-1].reason


def test_daylight_saving_keeps_the_local_time(honesty) -> None:
    rows = walk(honesty, timezone="Europe/London", start=START, send_time=time(9, 30))
    sends = [r for r in rows if r.kind != "answer"]
    assert {r.local.strftime("%H:%M") for r in sends} == {"09:30"}
    utc_hours = {r.at.hour for r in sends}
    assert utc_hours == {8, 9}  # GMT before 29 March, BST after
    assert any(r.at > datetime(2026, 3, 29, tzinfo=UTC) for r in sends)


def test_a_walk_starts_no_sooner_than_the_start(honesty) -> None:
    start = START + timedelta(hours=10)
    rows = walk(honesty, timezone="Asia/Tokyo", start=start)
    assert min(r.at for r in rows) >= start
