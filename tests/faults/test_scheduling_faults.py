"""Faults in the database under the sweep, on PostgreSQL, driven in this process at simulated
moments: another transaction holding row locks for seconds."""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from coach.delivery.models import Delivery
from coach.delivery.sending import send_deliveries
from coach.scheduling.services import run_sweep
from tests.faults.conftest import Recorder
from tests.faults.run import DUE, FaultRun

T = TypeVar("T")
LATER = DUE + timedelta(minutes=1)  # beat's next minute
HOLD = 3.0  # seconds the other transaction keeps its locks
LOCKED = 20  # enrolments, then deliveries, it locks


@pytest.mark.faults
def test_a_long_transaction_holding_locks_delays_nothing_for_good(fault_run: FaultRun,
                                                                  record: Recorder) -> None:
    fault_run.populate(people=100, opt_outs=2)
    url, settings = fault_run.settings.effective_database_url, fault_run.settings
    batches: list[list[int]] = []
    record.start_clock()
    with _long_transaction(url, "SELECT id FROM enrolments WHERE next_due_at <= :due "
                                "ORDER BY id LIMIT :n FOR UPDATE", due=DUE) as locked:
        _within(HOLD, run_sweep, DUE, settings, batches.append)  # skips them, waits for none
        assert _planned(fault_run, locked) == set(), "a locked enrolment was planned"
    assert len(locked) == LOCKED and sum(map(len, batches)) > 50
    run_sweep(LATER, settings, batches.append)
    assert _planned(fault_run, locked) == set(locked), "the next pass plans them"
    ids = sorted(i for batch in batches for i in batch)
    with _long_transaction(url, "SELECT id FROM deliveries WHERE id = ANY(:ids) "
                                "ORDER BY id DESC LIMIT :n FOR UPDATE", ids=ids) as held:
        threading.Timer(HOLD, held.release).start()
        began = time.monotonic()
        for batch in batches:
            send_deliveries(batch, LATER, settings)  # waits for the rows, only until released
        waited = time.monotonic() - began
    assert HOLD * 0.9 < waited < HOLD + 10, waited
    ledger = fault_run.ledger(LATER)
    record("long transaction holding locks", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [] and ledger.unknown == 0 and ledger.deferred == 0, ledger


class Held(list[int]):
    """The ids a long transaction locked; :meth:`release` ends it (from any thread)."""

    def __init__(self, ids: list[int], connection: sa.Connection):
        super().__init__(ids)
        self.connection, self.lock = connection, threading.Lock()

    def release(self) -> None:
        with self.lock:
            if not self.connection.closed:
                self.connection.rollback()
                self.connection.close()


@contextmanager
def _long_transaction(url: str, query: str, **values: object) -> Iterator[Held]:
    """Another client's transaction that locks rows with ``query`` and keeps them until the
    block ends or it is released."""
    engine = sa.create_engine(url)
    connection = engine.connect()
    held = Held(list(connection.scalars(sa.text(query), {"n": LOCKED, **values})), connection)
    try:
        yield held
    finally:
        held.release()
        engine.dispose()


def _within(seconds: float, call: Callable[..., T], *args: object) -> T:
    """``call`` must not wait on the locks: it ends well before they are let go (if it does
    wait, the test fails now, and the call ends when the locks go)."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(call, *args).result(timeout=seconds)
    finally:
        pool.shutdown(wait=False)


def _planned(run: FaultRun, enrolments: list[int]) -> set[int]:
    with run.factory() as session:
        return set(session.scalars(select(Delivery.enrolment_id)
                                   .where(Delivery.enrolment_id.in_(enrolments))))

