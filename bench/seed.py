"""Seeding subscribers and enrolments fast, with COPY, all due at one chosen instant.

Subscribers are spread over the time zones where ``now`` is outside quiet hours, each with a
preferred send time equal to their local time at ``now``: at ``now`` every one of them is due at
their own preferred local time. Half are on SMS, half on email, across the four programmes, at
every step of them.
"""

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from rich.progress import Progress
from sqlalchemy.engine import make_url

from coach.subscribers.clock import LocalClock

ZONES = [
    "Pacific/Honolulu", "America/Los_Angeles", "America/Denver", "America/Chicago",
    "America/New_York", "America/Sao_Paulo", "Atlantic/Azores", "Europe/London", "Europe/Berlin",
    "Europe/Athens", "Europe/Moscow", "Asia/Dubai", "Asia/Kolkata", "Asia/Bangkok",
    "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
]
NAMES = ["Sam", "Alex", "Priya", "Jonas", "Mei", "Ana", "Kofi", "Lena", "Omar", "Ruth", ""]
QUIET_START, QUIET_END = time(21, 0), time(8, 0)
CHUNK = 20_000
SUBSCRIBER_COLUMNS = (
    "id, email, phone, name, timezone, send_time, quiet_start, quiet_end, preferred_channel, "
    "sms_consent, sms_consent_at, sms_consent_source, email_consent, email_consent_at, "
    "email_consent_source, recent_sends, created_at"
)
ENROLMENT_COLUMNS = (
    "id, subscriber_id, version_id, quality, state, step, pace, next_due_at, reminded, "
    "unanswered_streak, answers, started_at, updated_at"
)


def daytime_zones(now: datetime, lasting: timedelta = timedelta(0)) -> list[tuple[str, time]]:
    """(zone, local wall time at ``now``) for every zone where ``now`` is a valid send time,
    and still is ``lasting`` later (sends checked again at send time are not deferred)."""
    found = []
    for zone in ZONES:
        wall = now.astimezone(ZoneInfo(zone)).time().replace(second=0, microsecond=0)
        clock = LocalClock(zone, wall, QUIET_START, QUIET_END)
        if not clock.in_quiet_hours(now) and not clock.in_quiet_hours(now + lasting):
            found.append((zone, wall))
    if not found:
        raise RuntimeError(f"no zone in bench.seed.ZONES is outside quiet hours at {now}")
    return found


def seed(conninfo: str, start: int, stop: int, now: datetime, due_until: int,
         versions: dict[str, tuple[int, int]],
         zones: list[tuple[str, time]] | None = None) -> None:
    """Subscribers and enrolments with ids start..stop-1; ids below ``due_until`` are due at now,
    the rest a day later (present, but not due). ``zones`` defaults to daytime_zones(now)."""
    zones = zones or daytime_zones(now)
    with psycopg.connect(conninfo) as connection, Progress(transient=True) as progress:
        task = progress.add_task(f"seeding {start - 1:,} -> {stop - 1:,}", total=stop - start)
        for low in range(start, stop, CHUNK):
            high = min(stop, low + CHUNK)
            _copy(connection, "subscribers", SUBSCRIBER_COLUMNS,
                  _subscriber_lines(low, high, now, zones))
            _copy(connection, "enrolments", ENROLMENT_COLUMNS,
                  _enrolment_lines(low, high, now, due_until, versions))
            connection.commit()
            progress.advance(task, high - low)
        _fix_sequences(connection)


def _copy(connection: psycopg.Connection, table: str, columns: str, lines: Iterator[str]) -> None:
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write("".join(lines))


def _subscriber_lines(low: int, high: int, now: datetime,
                      zones: list[tuple[str, time]]) -> Iterator[str]:
    at = _stamp(now - timedelta(days=1))
    for i in range(low, high):
        zone, wall = zones[i % len(zones)]
        name = NAMES[i % len(NAMES)]
        if i % 2:
            contact = f"\\N\t+4477{i:08d}\t{name}\t{zone}\t{wall}\t{QUIET_START}\t" \
                      f"{QUIET_END}\tsms\tt\t{at}\tbench\tf\t\\N\t\\N"
        else:
            contact = f"p{i}@bench.example\t\\N\t{name}\t{zone}\t{wall}\t{QUIET_START}\t" \
                      f"{QUIET_END}\temail\tf\t\\N\t\\N\tt\t{at}\tbench"
        yield f"{i}\t{contact}\t[]\t{at}\n"


def _enrolment_lines(low: int, high: int, now: datetime, due_until: int,
                     versions: dict[str, tuple[int, int]]) -> Iterator[str]:
    qualities = sorted(versions)
    due, later, at = _stamp(now), _stamp(now + timedelta(days=1)), _stamp(now - timedelta(days=1))
    for i in range(low, high):
        quality = qualities[(i // 2) % len(qualities)]
        version, steps = versions[quality]
        when = due if i < due_until else later
        yield f"{i}\t{i}\t{version}\t{quality}\tactive\t{step_of(i, steps)}\t1.0\t{when}\tf\t0" \
              f"\t{{}}\t{at}\t{at}\n"


def step_of(enrolment_id: int, steps: int) -> int:
    """Spread over the whole programme, as a steady-state minute would be: welcomes, nudges,
    check-ins and closings (bench.database.RESET_ENROLMENTS computes the same)."""
    return (enrolment_id // 8) % steps  # ids 8k..8k+7 cover all four programmes, both channels


def _fix_sequences(connection: psycopg.Connection) -> None:
    for table in ("subscribers", "enrolments"):
        connection.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")
    connection.commit()


def _stamp(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(sep=" ")


def conninfo_of(url: str) -> str:
    """A SQLAlchemy URL as a libpq connection string for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
