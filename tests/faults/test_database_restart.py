"""PostgreSQL restarted mid-sweep, as a failover or a restart looks to its clients: every
connection to the run's database ended, again and again for two seconds, while a real worker's
sweep is planning. The shared server itself cannot be restarted for one test."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from coach.scheduling.models import Enrolment
from tests.faults.conftest import Recorder
from tests.faults.run import DUE, RECOVERY, FaultRun
from tests.integration.conftest import wait_until

DOWN = 2.0  # seconds the database keeps ending every connection
EVERY = 0.05
NEXT_DAY = DUE + timedelta(days=1)


@pytest.mark.faults
def test_database_restarted_mid_sweep_the_next_sweeps_recover(fault_run: FaultRun,
                                                              record: Recorder) -> None:
    fault_run.populate()
    fault_run.start_worker()
    with _outside_connection(fault_run.settings.effective_database_url) as outside:
        before = _rows(outside)
        fault_run.sweep(DUE)
        wait_until(lambda: _rows(outside) > before, timeout=30, every=0.005)  # planning
        record.start_clock()
        ended = _end_every_connection_for(outside, DOWN)
    assert ended, "the worker had connections to end"
    fault_run.quiesce()  # sends retried what they could; the sweep failed and is not retried
    assert _still_due(fault_run), "the sweep was cut off mid-way, with people still due"
    fault_run.sweep(RECOVERY)  # beat's next minute after the stale senders' horizon
    fault_run.wait_settled(RECOVERY)
    ledger = fault_run.ledger(RECOVERY)
    record("PostgreSQL restarted mid-sweep", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0 and ledger.problems == [], ledger
    assert ledger.unknown == ledger.reconciled, "unknown only when the provider call started"
    # Those whose quiet hours began before recovery wait for their next preferred time.
    fault_run.sweep(NEXT_DAY)
    fault_run.wait_settled(NEXT_DAY)
    later = fault_run.ledger(NEXT_DAY)
    assert later.duplicated == 0 and later.lost == 0 and later.problems == [], later
    assert later.planned == 300 and later.deferred == 0, "every welcome, once"


@contextmanager
def _outside_connection(url: str) -> Iterator[sa.Connection]:
    """A connection of the test's own, never ended by the fault, autocommitting."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _rows(connection: sa.Connection) -> int:
    return int(connection.scalar(sa.text("SELECT count(*) FROM deliveries")) or 0)


def _end_every_connection_for(connection: sa.Connection, seconds: float) -> int:
    """pg_terminate_backend on every other connection to this database, every ``EVERY``
    seconds for ``seconds``; returns how many were ended."""
    ended, until = 0, time.monotonic() + seconds
    while time.monotonic() < until:
        ended += sum(connection.scalars(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all())
        time.sleep(EVERY)  # the fault's own rhythm, not a wait for an event
    return ended


def _still_due(run: FaultRun) -> int:
    with run.factory() as session:
        return int(session.scalar(select(func.count(Enrolment.id))
                                  .where(Enrolment.next_due_at <= DUE)) or 0)
