"""The services a worker leans on fail under it: Redis loses this run's keys, PostgreSQL ends
the worker's connections."""

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from coach.db import get_engine
from coach.delivery.models import QUEUED, Delivery
from tests.conftest import clear_redis
from tests.faults.conftest import Recorder
from tests.faults.run import DUE, RECOVERY, FaultRun
from tests.integration.conftest import wait_until

STRIKE = 60
# Small send batches, so most of the run's send tasks still wait in Redis when it is flushed
# (a worker holds at most prefetch x concurrency of them).
SMALL_BATCH = "5"
REQUEUED = re.compile(r"'requeued': (\d+)")


@pytest.mark.faults
def test_redis_flushed_mid_run_housekeeping_requeues_in_one_pass(fault_run: FaultRun,
                                                                 record: Recorder) -> None:
    fault_run.populate()
    fault_run.start_worker(COACH_SEND_BATCH_SIZE=SMALL_BATCH)
    before = fault_run.sent_lines()
    fault_run.sweep(DUE)
    fault_run.wait_for_lines(before + STRIKE)
    clear_redis(fault_run.settings.effective_broker_url, fault_run.settings.redis_key_prefix)
    record.start_clock()
    fault_run.quiesce()  # the worker ends what it already held; the rest is gone
    waiting = _queued(fault_run)
    assert waiting, "send tasks were lost with the flush"
    fault_run.sweep(RECOVERY)
    fault_run.wait_settled(RECOVERY)
    passes = [int(n) for n in REQUEUED.findall(fault_run.worker_logs()) if n != "0"]
    assert passes == [waiting], "one housekeeping pass enqueued everything again"
    ledger = fault_run.ledger(RECOVERY)
    record("Redis flushed mid-run", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [] and ledger.unknown == 0, ledger
    fault_run.assert_next_morning_clean(0)


@pytest.mark.faults
def test_database_connections_ended_mid_batch_the_send_retries(fault_run: FaultRun,
                                                               record: Recorder) -> None:
    fault_run.populate()
    fault_run.start_worker()
    before = fault_run.sent_lines()
    fault_run.sweep(DUE)
    fault_run.wait_for_lines(before + STRIKE)
    ended = _end_other_connections(fault_run.settings.effective_database_url)
    record.start_clock()
    assert ended, "the worker had connections to end"
    wait_until(lambda: "retry: Retry in" in fault_run.worker_logs())
    fault_run.quiesce()
    assert "handed back for the retry" in fault_run.worker_logs()
    fault_run.sweep(RECOVERY)  # plans what a failed sweep left due; marks stale rows unknown
    fault_run.wait_settled(RECOVERY)
    ledger = fault_run.ledger(RECOVERY)
    record("database connections ended", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [], ledger
    assert ledger.unknown <= 2, "at most one unknown per pool process: the row in flight"
    fault_run.assert_next_morning_clean(ledger.unknown)


def _queued(run: FaultRun) -> int:
    with run.factory() as session:
        return int(session.scalar(select(func.count(Delivery.id))
                                  .where(Delivery.status == QUEUED)) or 0)


def _end_other_connections(url: str) -> int:
    """pg_terminate_backend on every other connection to this run's own database."""
    with get_engine(url).connect() as connection:
        ended = connection.scalars(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()
    return sum(ended)
