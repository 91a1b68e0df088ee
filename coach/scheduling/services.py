"""One sweep as beat runs it: housekeeping, then due enrolments, sends enqueued after commit."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from coach.db import session_factory
from coach.delivery.reconcile import Reconciled, reconcile_file_channel
from coach.delivery.services import due_queued, mark_stale_sending, send_batch_size
from coach.scheduling.sweep import sweep
from coach.settings import Settings
from coach.subscribers.models import CHANNELS

STALE_SENDING = timedelta(minutes=10)
LOST_AFTER = timedelta(minutes=10)  # longer than a busy queue takes to drain
# Rows one housekeeping pass enqueues again, in send-batch chunks: after a broker lost its
# queue, everything waiting goes back in one pass, not a sweep batch a minute.
MAX_REQUEUED_PER_PASS = 100_000
# A database that cannot grow: SQLite's SQLITE_FULL, PostgreSQL's disk_full (SQLSTATE 53100).
SQLITE_FULL, DISK_FULL_SQLSTATE = "database or disk is full", "53100"


class DatabaseFull(RuntimeError):
    """The disk that holds the database is full: the sweep planned nothing more."""


def run_sweep(
    now: datetime, settings: Settings, enqueue: Callable[[list[int]], None],
    call_helpers: Callable[[int], None] | None = None, housekeeping: bool = True,
) -> dict[str, Any]:
    """Housekeeping, then the sweep. With more due than one batch, ``call_helpers(n)`` asks for
    n more sweeps of the same moment: on PostgreSQL they share the work (SKIP LOCKED)."""
    with _full_disk_said_plainly(settings.effective_database_url):
        return _run_sweep(now, settings, enqueue, call_helpers, housekeeping)


def _run_sweep(
    now: datetime, settings: Settings, enqueue: Callable[[list[int]], None],
    call_helpers: Callable[[int], None] | None, housekeeping: bool,
) -> dict[str, Any]:
    factory = session_factory(settings.effective_database_url)
    unknown, reconciled, lost = (_housekeeping(factory, now, settings) if housekeeping
                                 else (0, Reconciled(), []))
    # Found lost, of either channel: in batches no bigger than the smaller channel's.
    for batch in _chunks(lost, min(send_batch_size(name, settings) for name in CHANNELS)):
        enqueue(batch)

    def enqueue_in_batches(ids: list[int], channel: str) -> None:
        for batch in _chunks(ids, send_batch_size(channel, settings)):
            enqueue(batch)

    helpers = settings.sweep_parallelism - 1
    on_backlog = (lambda: call_helpers(helpers)) if call_helpers and helpers > 0 else None
    result = sweep(factory, now, settings.sweep_batch_size, enqueue_in_batches, on_backlog)
    return {**result.as_dict(), "requeued": len(lost), "marked_unknown": unknown,
            "reconciled": reconciled.sent + reconciled.requeued}


def _housekeeping(
    factory: sessionmaker[Session], now: datetime, settings: Settings
) -> tuple[int, Reconciled, list[int]]:
    with factory.begin() as session:
        unknown = mark_stale_sending(session, now, STALE_SENDING)
        reconciled = reconcile_file_channel(session, settings, now)
        lost = due_queued(session, now, LOST_AFTER, MAX_REQUEUED_PER_PASS)
    return unknown, reconciled, lost


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start:start + size] for start in range(0, len(ids), size)]


@contextmanager
def _full_disk_said_plainly(url: str) -> Iterator[None]:
    """A full disk as an error that says what to do, not the driver's, whose parameters may
    hold people's words. Each batch committed whole or not at all, so nothing is half-done."""
    try:
        yield
    except OperationalError as error:
        if SQLITE_FULL not in str(error.orig) and (
                getattr(error.orig, "sqlstate", None) != DISK_FULL_SQLSTATE):
            raise
        database = make_url(url)
        where = database.database if database.get_backend_name() == "sqlite" else (
            f"PostgreSQL on {database.host}")
        raise DatabaseFull(f"the database is full ({where}): free space on the disk that holds "
                           "it; the next sweep then plans what is still due") from None
