"""coach.subscribers.clock: preferred send times, quiet hours, daylight saving and the caps.

2026 transitions used below (looked up with zoneinfo):

- America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
- Europe/London: 2026-03-29 01:00 GMT -> 02:00 BST; 2026-10-25 02:00 BST -> 01:00 GMT.
- Australia/Lord_Howe: 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (30 minutes forward);
  2026-04-05 02:00 +11:00 -> 01:30 +10:30 (30 minutes back).
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from coach.subscribers.clock import (
    MAX_PER_SEVEN_DAYS,
    LocalClock,
    cap_reason,
    next_allowed_time,
    remember_send,
)

NEW_YORK, LONDON, LORD_HOWE = "America/New_York", "Europe/London", "Australia/Lord_Howe"
# Quiet hours that never apply (start == end), so night-time DST edges can be tested directly.
NO_QUIET = {"quiet_start": time(12, 0), "quiet_end": time(12, 0)}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def offset_hours(clock: LocalClock, instant: datetime) -> float:
    offset = clock.local(instant).utcoffset()
    assert offset is not None
    return offset.total_seconds() / 3600


# The transitions themselves: checked against zoneinfo so the cases below test what they claim.


@pytest.mark.parametrize(
    ("zone", "before_utc", "offset_before", "offset_after"),
    [
        (NEW_YORK, utc(2026, 3, 8, 6, 59), -5, -4),
        (NEW_YORK, utc(2026, 11, 1, 5, 59), -4, -5),
        (LONDON, utc(2026, 3, 29, 0, 59), 0, 1),
        (LONDON, utc(2026, 10, 25, 0, 59), 1, 0),
        (LORD_HOWE, utc(2026, 10, 3, 15, 29), 10.5, 11),
        (LORD_HOWE, utc(2026, 4, 4, 14, 59), 11, 10.5),
    ],
)
def test_the_2026_transitions_used_here_are_real(
    zone: str, before_utc: datetime, offset_before: float, offset_after: float
) -> None:
    clock = LocalClock(zone, time(9, 0))
    assert offset_hours(clock, before_utc) == offset_before
    assert offset_hours(clock, before_utc + timedelta(minutes=1)) == offset_after


# Spring forward: a time that does not exist moves forward by the size of the jump.


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected_utc", "expected_wall", "expected_offset"),
    [
        (NEW_YORK, date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30), time(3, 30), -4),
        (NEW_YORK, date(2026, 3, 8), time(2, 0), utc(2026, 3, 8, 7, 0), time(3, 0), -4),
        (LONDON, date(2026, 3, 29), time(1, 30), utc(2026, 3, 29, 1, 30), time(2, 30), 1),
        (LONDON, date(2026, 3, 29), time(1, 0), utc(2026, 3, 29, 1, 0), time(2, 0), 1),
        (LORD_HOWE, date(2026, 10, 4), time(2, 15), utc(2026, 10, 3, 15, 45), time(2, 45), 11),
        (LORD_HOWE, date(2026, 10, 4), time(2, 0), utc(2026, 10, 3, 15, 30), time(2, 30), 11),
    ],
)
def test_a_time_skipped_by_spring_forward_moves_forward_by_the_jump(
    zone: str, day: date, wall: time, expected_utc: datetime, expected_wall: time,
    expected_offset: float,
) -> None:
    clock = LocalClock(zone, wall, **NO_QUIET)
    instant = clock.at(day, wall)
    assert instant == expected_utc
    assert instant.tzinfo == UTC
    assert clock.local(instant).time() == expected_wall
    assert offset_hours(clock, instant) == expected_offset
    midnight = clock.at(day, time(0, 0))
    assert clock.next_send_time(midnight) == expected_utc


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected_utc", "first_offset", "second_utc"),
    [
        (NEW_YORK, date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30), -4,
         utc(2026, 11, 1, 6, 30)),
        (LONDON, date(2026, 10, 25), time(1, 30), utc(2026, 10, 25, 0, 30), 1,
         utc(2026, 10, 25, 1, 30)),
        (LORD_HOWE, date(2026, 4, 5), time(1, 45), utc(2026, 4, 4, 14, 45), 11,
         utc(2026, 4, 4, 15, 15)),
    ],
)
def test_a_time_repeated_by_fall_back_is_taken_at_its_first_occurrence(
    zone: str, day: date, wall: time, expected_utc: datetime, first_offset: float,
    second_utc: datetime,
) -> None:
    clock = LocalClock(zone, wall, **NO_QUIET)
    # Both instants really show the same wall time on that day.
    assert clock.local(expected_utc).time() == clock.local(second_utc).time() == wall
    assert clock.local(second_utc).date() == day
    instant = clock.at(day, wall)
    assert instant == expected_utc
    assert offset_hours(clock, instant) == first_offset
    assert clock.next_send_time(clock.at(day, time(0, 0))) == expected_utc


@pytest.mark.parametrize(
    ("zone", "day", "wall", "second_utc"),
    [
        (NEW_YORK, date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 6, 30)),
        (LONDON, date(2026, 10, 25), time(1, 30), utc(2026, 10, 25, 1, 30)),
        (LORD_HOWE, date(2026, 4, 5), time(1, 45), utc(2026, 4, 4, 15, 15)),
    ],
)
def test_after_the_first_occurrence_the_next_send_is_the_next_day_not_the_repeat(
    zone: str, day: date, wall: time, second_utc: datetime
) -> None:
    clock = LocalClock(zone, wall, **NO_QUIET)
    first = clock.at(day, wall)
    after_first = clock.next_send_time(first + timedelta(minutes=1))
    assert after_first != second_utc
    assert clock.local(after_first).date() == day + timedelta(days=1)
    assert clock.local(after_first).time() == wall


@pytest.mark.parametrize(
    ("zone", "wall", "days_before"),
    [
        (NEW_YORK, time(18, 30), [date(2026, 3, 6), date(2026, 10, 30)]),
        (LONDON, time(8, 15), [date(2026, 3, 27), date(2026, 10, 23)]),
        (LORD_HOWE, time(19, 45), [date(2026, 4, 3), date(2026, 10, 2)]),
    ],
)
def test_send_time_on_day_after_keeps_the_local_wall_time_across_both_changes(
    zone: str, wall: time, days_before: list[date]
) -> None:
    clock = LocalClock(zone, wall)
    for day in days_before:
        sent = clock.at(day, wall)
        offsets = set()
        for days in range(1, 6):
            nxt = clock.send_time_on_day_after(sent, days)
            assert clock.local(nxt).date() == day + timedelta(days=days)
            assert clock.local(nxt).time() == wall
            offsets.add(offset_hours(clock, nxt))
        offsets.add(offset_hours(clock, sent))
        # The stretch really crossed a change: two different UTC offsets were involved.
        assert len(offsets) == 2, (zone, day, offsets)
        # So the UTC distance between consecutive days is not always 24 hours.
        gaps = {clock.send_time_on_day_after(sent, d + 1) - clock.send_time_on_day_after(sent, d)
                for d in range(0, 5)}
        assert gaps != {timedelta(days=1)}


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected_wall"),
    [
        (NEW_YORK, date(2026, 3, 5), time(2, 30), time(3, 30)),
        (LONDON, date(2026, 3, 26), time(1, 30), time(2, 30)),
        (LORD_HOWE, date(2026, 10, 1), time(2, 15), time(2, 45)),
    ],
)
def test_send_time_on_day_after_lands_on_the_moved_time_on_the_day_of_the_jump(
    zone: str, day: date, wall: time, expected_wall: time
) -> None:
    clock = LocalClock(zone, wall, **NO_QUIET)
    sent = clock.at(day, wall)
    jump_day = clock.send_time_on_day_after(sent, 3)
    assert clock.local(jump_day).time() == expected_wall
    after = clock.send_time_on_day_after(sent, 4)
    assert clock.local(after).time() == wall


# Quiet hours.


def test_default_quiet_hours_are_21_to_8_and_wrap_midnight() -> None:
    clock = LocalClock(LONDON, time(18, 30))
    assert (clock.quiet_start, clock.quiet_end) == (time(21, 0), time(8, 0))
    assert clock.is_quiet(time(21, 0))
    assert clock.is_quiet(time(23, 59))
    assert clock.is_quiet(time(0, 0))
    assert clock.is_quiet(time(7, 59))
    assert not clock.is_quiet(time(8, 0))
    assert not clock.is_quiet(time(20, 59))
    assert not clock.is_quiet(time(12, 0))


def test_quiet_hours_that_do_not_wrap_midnight() -> None:
    clock = LocalClock(LONDON, time(18, 30), quiet_start=time(13, 0), quiet_end=time(15, 0))
    assert clock.is_quiet(time(13, 0))
    assert clock.is_quiet(time(14, 59))
    assert not clock.is_quiet(time(15, 0))
    assert not clock.is_quiet(time(12, 59))
    assert not clock.is_quiet(time(23, 0))


def test_in_quiet_hours_uses_the_local_time_not_utc() -> None:
    clock = LocalClock(NEW_YORK, time(18, 30))
    # 01:00 UTC is 20:00 in New York in winter: not quiet there, though quiet by UTC.
    assert not clock.in_quiet_hours(utc(2026, 1, 15, 1, 0))
    # 12:30 UTC is 07:30 in New York: quiet there, though daytime in UTC.
    assert clock.in_quiet_hours(utc(2026, 1, 15, 12, 30))


@pytest.mark.parametrize("preferred", [time(21, 0), time(22, 30), time(0, 0), time(6, 45)])
def test_a_preferred_time_in_quiet_hours_goes_at_the_end_of_quiet_hours(preferred: time) -> None:
    clock = LocalClock(LONDON, preferred)
    assert clock.usual_time() == time(8, 0)
    sent = clock.next_send_time(utc(2026, 1, 15, 12, 0))
    assert clock.local(sent) == datetime(2026, 1, 16, 8, 0, tzinfo=ZoneInfo(LONDON))
    morning = clock.next_send_time(utc(2026, 1, 15, 3, 0))
    assert clock.local(morning) == datetime(2026, 1, 15, 8, 0, tzinfo=ZoneInfo(LONDON))


def test_a_preferred_time_in_custom_quiet_hours_goes_at_their_end() -> None:
    clock = LocalClock(NEW_YORK, time(13, 30), quiet_start=time(13, 0), quiet_end=time(15, 0))
    assert clock.usual_time() == time(15, 0)
    sent = clock.next_send_time(utc(2026, 6, 1, 12, 0))
    assert clock.local(sent).replace(tzinfo=None) == datetime(2026, 6, 1, 15, 0)


def test_a_preferred_time_outside_quiet_hours_is_kept() -> None:
    clock = LocalClock(LONDON, time(18, 30))
    assert clock.usual_time() == time(18, 30)
    assert clock.next_send_time(utc(2026, 1, 15, 9, 0)) == utc(2026, 1, 15, 18, 30)
    # Exactly at the send time counts ("at or after").
    assert clock.next_send_time(utc(2026, 1, 15, 18, 30)) == utc(2026, 1, 15, 18, 30)
    assert clock.next_send_time(utc(2026, 1, 15, 18, 31)) == utc(2026, 1, 16, 18, 30)


def test_a_jumped_time_that_lands_in_quiet_hours_waits_for_their_end() -> None:
    # 02:30 does not exist on 2026-03-08 in New York: it becomes 03:30, which is quiet here.
    clock = LocalClock(NEW_YORK, time(2, 30), quiet_start=time(3, 0), quiet_end=time(4, 0))
    assert not clock.is_quiet(time(2, 30))
    sent = clock.next_send_time(clock.at(date(2026, 3, 8), time(0, 0)))
    assert not clock.in_quiet_hours(sent)
    assert clock.local(sent).replace(tzinfo=None) == datetime(2026, 3, 8, 4, 0)


CLOCKS = [
    LocalClock(zone, send_time, *quiet)
    for zone in (NEW_YORK, LONDON, LORD_HOWE, "Asia/Kolkata", "Pacific/Chatham")
    for send_time in (time(0, 0), time(1, 45), time(2, 15), time(2, 30), time(8, 0),
                      time(18, 30), time(20, 59), time(23, 30))
    for quiet in ((time(21, 0), time(8, 0)), (time(2, 0), time(3, 0)),
                  (time(0, 0), time(0, 0)), (time(1, 45), time(2, 15)))
]
STARTS = [utc(2026, 3, 6), utc(2026, 3, 27), utc(2026, 4, 2), utc(2026, 10, 1),
          utc(2026, 10, 23), utc(2026, 10, 30)]


def test_next_send_time_is_never_in_the_past_nor_in_quiet_hours() -> None:
    checked = 0
    for clock in CLOCKS:
        for start in STARTS:
            for minutes in range(0, 4 * 24 * 60, 53):  # every 53 minutes over four days
                earliest = start + timedelta(minutes=minutes)
                sent = clock.next_send_time(earliest)
                assert sent >= earliest, (clock, earliest, sent)
                assert not clock.in_quiet_hours(sent), (clock, earliest, clock.local(sent))
                assert sent - earliest <= timedelta(days=2), (clock, earliest, sent)
                assert sent.utcoffset() == timedelta(0)
                checked += 1
    assert checked > 50_000


def test_next_send_time_is_the_first_preferred_time_not_a_later_one() -> None:
    clock = LocalClock(LONDON, time(18, 30))
    for hours in range(0, 24 * 10):
        earliest = utc(2026, 3, 25) + timedelta(hours=hours, minutes=7)
        sent = clock.next_send_time(earliest)
        assert clock.local(sent).time() == time(18, 30)
        # No preferred time exists between earliest and the one returned.
        assert clock.at(clock.local(sent).date() - timedelta(days=1), time(18, 30)) < earliest


# Caps: one scheduled message per local day, four per rolling seven days.


def test_no_sends_means_no_cap() -> None:
    clock = LocalClock(LONDON, time(18, 30))
    assert cap_reason(clock, [], utc(2026, 3, 2, 18, 30)) is None


def test_at_most_one_message_per_local_day() -> None:
    clock = LocalClock(LONDON, time(18, 30))
    reason = cap_reason(clock, [utc(2026, 3, 2, 9, 0)], utc(2026, 3, 2, 18, 30))
    assert reason is not None
    assert "day" in reason
    assert cap_reason(clock, [utc(2026, 3, 1, 18, 30)], utc(2026, 3, 2, 18, 30)) is None


def test_the_daily_cap_uses_the_local_day_not_the_utc_day() -> None:
    clock = LocalClock(NEW_YORK, time(18, 30))
    # 2026-03-02 23:30 UTC is 18:30 on the 2nd in New York; 04:00 UTC on the 3rd is 23:00
    # on the 2nd there: the same local day though different UTC days.
    assert cap_reason(clock, [utc(2026, 3, 2, 23, 30)], utc(2026, 3, 3, 4, 0)) is not None
    # 04:30 UTC on the 2nd is still the 1st in New York; 13:00 UTC is 08:00 on the 2nd:
    # the same UTC day but different local days.
    assert cap_reason(clock, [utc(2026, 3, 2, 4, 30)], utc(2026, 3, 2, 13, 0)) is None


def test_the_daily_cap_covers_the_whole_25_hour_fall_back_day() -> None:
    clock = LocalClock(NEW_YORK, time(18, 30))
    early = local(NEW_YORK, 2026, 11, 1, 0, 30)
    late = local(NEW_YORK, 2026, 11, 1, 23, 30)
    assert late - early == timedelta(hours=24)
    assert cap_reason(clock, [early], late) is not None


def test_at_most_four_messages_in_a_rolling_seven_days() -> None:
    clock = LocalClock(LONDON, time(18, 30), quiet_start=time(0, 0), quiet_end=time(0, 0))
    sends = [utc(2026, 1, day, 18, 30) for day in (5, 6, 7, 8)]
    assert MAX_PER_SEVEN_DAYS == 4
    reason = cap_reason(clock, sends, utc(2026, 1, 11, 18, 30))
    assert reason is not None
    assert "4" in reason and "seven days" in reason
    # Three in the window is fine.
    assert cap_reason(clock, sends[1:], utc(2026, 1, 11, 18, 30)) is None
    # Once the first send is seven days old, the window holds three again.
    assert cap_reason(clock, sends, utc(2026, 1, 12, 18, 30)) is None
    assert cap_reason(clock, sends, utc(2026, 1, 12, 18, 29)) is not None


def test_next_allowed_time_skips_a_day_that_already_had_a_message() -> None:
    clock = LocalClock(LONDON, time(18, 30))
    allowed = next_allowed_time(clock, [utc(2026, 3, 2, 9, 0)], utc(2026, 3, 2, 10, 0))
    assert allowed == utc(2026, 3, 3, 18, 30)


def test_next_allowed_time_waits_for_the_seven_day_window() -> None:
    clock = LocalClock(LONDON, time(18, 30))
    sends = [utc(2026, 1, day, 18, 30) for day in (5, 6, 7, 8)]
    allowed = next_allowed_time(clock, sends, utc(2026, 1, 9, 9, 0))
    assert allowed == utc(2026, 1, 12, 18, 30)
    assert cap_reason(clock, sends, allowed) is None


def test_next_allowed_time_is_the_plain_send_time_when_nothing_caps() -> None:
    clock = LocalClock(LORD_HOWE, time(7, 0))  # in quiet hours: goes at 08:00
    earliest = utc(2026, 6, 1, 0, 0)
    allowed = next_allowed_time(clock, [], earliest)
    assert allowed == clock.next_send_time(earliest)
    assert clock.local(allowed).time() == time(8, 0)


def test_next_allowed_time_keeps_quiet_hours_and_caps_over_many_instants() -> None:
    clock = LocalClock(NEW_YORK, time(20, 45))
    sends = [local(NEW_YORK, 2026, 10, day, 20, 45) for day in (27, 28, 29, 30)]
    for hours in range(0, 24 * 12, 5):
        earliest = sends[-1] + timedelta(hours=hours)
        allowed = next_allowed_time(clock, sends, earliest)
        assert allowed >= earliest
        assert not clock.in_quiet_hours(allowed)
        assert cap_reason(clock, sends, allowed) is None
        assert allowed >= sends[0] + timedelta(days=7) - timedelta(hours=1)


def test_remember_send_keeps_the_newest_four_in_order() -> None:
    sends = [utc(2026, 1, day, 18, 30) for day in (8, 5, 7, 6)]
    kept = remember_send(sends, utc(2026, 1, 9, 18, 30))
    assert kept == [utc(2026, 1, day, 18, 30) for day in (6, 7, 8, 9)]
    assert remember_send([], utc(2026, 1, 9, 18, 30)) == [utc(2026, 1, 9, 18, 30)]
    assert sends == [utc(2026, 1, day, 18, 30) for day in (8, 5, 7, 6)]  # not mutated


def test_remember_send_keeps_enough_for_both_caps() -> None:
    clock = LocalClock(LONDON, time(18, 30))
    recent: list[datetime] = []
    for day in (5, 6, 7, 8):
        recent = remember_send(recent, utc(2026, 1, day, 18, 30))
    assert cap_reason(clock, recent, utc(2026, 1, 11, 18, 30)) is not None
    recent = remember_send(recent, utc(2026, 1, 12, 18, 30))
    assert cap_reason(clock, recent, utc(2026, 1, 12, 20, 0)) is not None
