"""A throwaway PostgreSQL database for one bench run: create, migrate, publish, reset, drop."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from coach.db import get_engine, session_factory
from coach.migrate import upgrade
from coach.programmes.models import Programme, ProgrammeVersion
from coach.programmes.services import publish_missing_builtins
from coach.settings import PROJECT_ROOT

PROGRAMMES = PROJECT_ROOT / "templates" / "programmes"


@contextmanager
def throwaway_database(admin_url: str, keep: bool = False) -> Iterator[str]:
    """Yield the URL of a fresh, migrated database with the built-in programmes published."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"coach_bench_{uuid.uuid4().hex[:6]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        publish(url)
        yield url
    finally:
        get_engine(url).dispose()
        if not keep:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def publish(url: str) -> None:
    with session_factory(url).begin() as session:
        publish_missing_builtins(session, PROGRAMMES)


def versions_by_quality(url: str) -> dict[str, tuple[int, int]]:
    """quality -> (the newest published version id, its number of steps)."""
    query = sa.select(Programme.quality, ProgrammeVersion.id, ProgrammeVersion.definition).join(
        ProgrammeVersion).order_by(ProgrammeVersion.id)
    with session_factory(url)() as session:
        return {quality: (version, len(definition["steps"]))
                for quality, version, definition in session.execute(query)}


RESET_ENROLMENTS = """
UPDATE enrolments AS e SET state = 'active', repeat_step = NULL, pace = 1.0, next_due_at = :now,
    step = (e.id / 8) % json_array_length(v.definition -> 'steps'), last_sent_at = NULL,
    awaiting_step = NULL, awaiting_since = NULL, reminded = false, unanswered_streak = 0,
    last_repeat_week = NULL, paused_until = NULL
FROM programme_versions AS v WHERE v.id = e.version_id AND e.id <= :due
"""  # the same step as bench.seed.step_of


def reset_due(url: str, due: int, now: datetime) -> None:
    """Undo a sweep: the first ``due`` enrolments are due at ``now`` again, no outbox, no events."""
    engine = get_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE deliveries, events RESTART IDENTITY"))
        connection.execute(sa.text(RESET_ENROLMENTS), {"now": naive(now), "due": due})
        connection.execute(sa.text("UPDATE subscribers SET recent_sends = '[]' WHERE id <= :due"),
                           {"due": due})
    vacuum(url)


def vacuum(url: str) -> None:
    with get_engine(url).connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            sa.text("VACUUM ANALYZE"))


def count_sent(url: str) -> int:
    with get_engine(url).connect() as connection:
        return connection.scalar(
            sa.text("SELECT count(*) FROM deliveries WHERE status = 'sent'")) or 0


def status_counts(url: str) -> dict[str, int]:
    with get_engine(url).connect() as connection:
        rows = connection.execute(
            sa.text("SELECT status, count(*) FROM deliveries GROUP BY status"))
        return {status: count for status, count in rows}


def naive(moment: datetime) -> datetime:
    """coach stores naive UTC (see coach.db.UTCDateTime)."""
    return moment.replace(tzinfo=None)
