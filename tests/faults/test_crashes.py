"""A worker process dies mid-batch: killed outright, or stopped for a deploy."""

import os
import signal

import pytest

from tests.faults.conftest import Recorder
from tests.faults.run import DUE, RECOVERY, FaultRun
from tests.integration.conftest import wait_until

# How many messages the channel has seen, beyond the opt-out confirmations, when the fault
# strikes: well into the first send batch, far from the end of the run.
STRIKE = 60
POOL = 2  # pool processes per worker


@pytest.mark.faults
def test_kill_9_mid_batch_then_housekeeping_recovers(fault_run: FaultRun,
                                                      record: Recorder) -> None:
    fault_run.populate()
    doomed = fault_run.start_worker(POOL)
    before = fault_run.sent_lines()
    fault_run.sweep(DUE)
    fault_run.wait_for_lines(before + STRIKE)
    doomed.kill(signal.SIGKILL)
    record.start_clock()
    dead = fault_run.snapshot()
    assert dead.sending, "the kill came mid-batch: rows claimed, not yet tried"
    fault_run.start_worker(POOL)
    fault_run.quiesce(dead)  # the fresh worker sends what was still in the queue
    fault_run.sweep(RECOVERY)  # housekeeping: stale rows unknown or queued again, then sent
    fault_run.wait_settled(RECOVERY)
    ledger = fault_run.ledger(RECOVERY)
    record("kill -9 a worker mid-batch", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [], ledger
    assert ledger.unknown <= POOL, "at most one unknown per killed pool process"
    fault_run.assert_next_morning_clean(ledger.unknown)


@pytest.mark.faults
def test_a_pool_process_killed_its_task_comes_back_and_skips(fault_run: FaultRun,
                                                             record: Recorder) -> None:
    """The kernel's OOM killer takes one pool process: the main process reports the task lost
    and (reject_on_worker_lost) puts it back; it runs again and finds its rows claimed."""
    fault_run.populate()
    survivor = fault_run.start_worker(POOL)
    before = fault_run.sent_lines()
    fault_run.sweep(DUE)
    fault_run.wait_for_lines(before + STRIKE)
    os.kill(survivor.pool_pids()[0], signal.SIGKILL)
    record.start_clock()
    wait_until(lambda: "WorkerLostError" in survivor.log.read_text())
    fault_run.quiesce()
    fault_run.sweep(RECOVERY)
    fault_run.wait_settled(RECOVERY)
    ledger = fault_run.ledger(RECOVERY)
    record("kill -9 one pool process", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [], ledger
    assert ledger.unknown <= 1, "at most one unknown: the killed process's row in flight"
    fault_run.assert_next_morning_clean(ledger.unknown)


@pytest.mark.faults
def test_sigterm_mid_batch_finishes_or_hands_back(fault_run: FaultRun, record: Recorder) -> None:
    fault_run.populate()
    leaving = fault_run.start_worker(POOL)
    before = fault_run.sent_lines()
    fault_run.sweep(DUE)
    fault_run.wait_for_lines(before + STRIKE)
    leaving.process.send_signal(signal.SIGTERM)  # what a deploy sends: a warm shutdown
    record.start_clock()
    leaving.process.wait(timeout=120)
    assert fault_run.snapshot().sending == set(), "the leaving worker finished its batches"
    fault_run.start_worker(POOL)
    fault_run.wait_settled(DUE)  # no housekeeping: what it held went back to the queue
    ledger = fault_run.ledger(DUE)
    record("SIGTERM a worker mid-batch", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [] and ledger.unknown == 0, ledger
