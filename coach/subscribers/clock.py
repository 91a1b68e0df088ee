"""Local time: the person's preferred send time, quiet hours, daylight saving, and caps.

Everything here is pure: UTC instants in, UTC instants out, the person's zone as data.

Daylight saving is handled deliberately:
- a preferred time that does not exist that day (the clocks jump over it) moves forward by
  the size of the jump (02:30 becomes 03:30 in New York, 02:15 becomes 02:45 on Lord Howe);
- a preferred time that occurs twice (the clocks fall back over it) is taken at its first
  occurrence, so nobody gets the same day's message twice.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)
MAX_PER_LOCAL_DAY = 1
MAX_PER_SEVEN_DAYS = 4


@dataclass(frozen=True)
class LocalClock:
    """A person's clock: zone, preferred send time and quiet hours (which may wrap midnight)."""

    timezone: str
    send_time: time
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", _zone(self.timezone))

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)

    def at(self, day: date, wall: time) -> datetime:
        """The UTC instant of a wall-clock time on a local day (see module docstring for DST)."""
        first = datetime.combine(day, wall).replace(tzinfo=self.zone, fold=0)
        return first.astimezone(UTC)

    def in_quiet_hours(self, instant: datetime) -> bool:
        return self.is_quiet(self.local(instant).time())

    def is_quiet(self, wall: time) -> bool:
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        if start < end:
            return start <= wall < end
        return wall >= start or wall < end

    def usual_time(self) -> time:
        """The preferred send time, or the end of quiet hours when it falls inside them."""
        return self.quiet_end if self.is_quiet(self.send_time) else self.send_time

    def next_send_time(self, earliest: datetime) -> datetime:
        """The first preferred send time at or after ``earliest``, outside quiet hours."""
        day = self.local(earliest).date()
        for offset in range(3):
            candidate = self.at(day + offset * DAY, self.usual_time())
            if self.in_quiet_hours(candidate):
                candidate = self.end_of_quiet_hours(candidate)
            if candidate >= earliest:
                return candidate
        raise AssertionError("no send time within three days")  # pragma: no cover

    def send_time_on_day_after(self, instant: datetime, days: int) -> datetime:
        """The preferred send time ``days`` local days after the day of ``instant``."""
        day = self.local(instant).date() + days * DAY
        return self.next_send_time(self.at(day, time(0, 0)))

    def end_of_quiet_hours(self, instant: datetime) -> datetime:
        local = self.local(instant)
        day = local.date() if local.time() < self.quiet_end else local.date() + DAY
        return self.at(day, self.quiet_end)


@cache
def _zone(name: str) -> ZoneInfo:
    """Hold every zone seen: ZoneInfo itself keeps only the last 8 strongly, so a sweep over
    more zones than that re-read zone files from disk for nearly every subscriber."""
    return ZoneInfo(name)


def cap_reason(clock: LocalClock, recent_sends: list[datetime], instant: datetime) -> str | None:
    """Why a scheduled message may not go at ``instant``, or None when it may."""
    local_day = clock.local(instant).date()
    if sum(clock.local(sent).date() == local_day for sent in recent_sends) >= MAX_PER_LOCAL_DAY:
        return "already had a message on this local day"
    week_start = instant - 7 * DAY
    if sum(week_start < sent <= instant for sent in recent_sends) >= MAX_PER_SEVEN_DAYS:
        return f"already had {MAX_PER_SEVEN_DAYS} messages in the last seven days"
    return None


def next_allowed_time(
    clock: LocalClock, recent_sends: list[datetime], earliest: datetime
) -> datetime:
    """The first send time at or after ``earliest`` that keeps quiet hours and the caps."""
    candidate = clock.next_send_time(earliest)
    for _ in range(14):
        if cap_reason(clock, recent_sends, candidate) is None:
            return candidate
        candidate = clock.send_time_on_day_after(candidate, 1)
    raise AssertionError("caps never cleared within two weeks")  # pragma: no cover


def remember_send(recent_sends: list[datetime], instant: datetime) -> list[datetime]:
    """Keep only what the caps can still need: the last few sends, newest last."""
    return [*sorted(recent_sends), instant][-MAX_PER_SEVEN_DAYS:]
