"""Faults under the sweep, on PostgreSQL, driven in this process at simulated moments: another
transaction holding row locks for seconds; two workers' clocks apart while people change time
zone across a daylight-saving change."""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from functools import partial
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from coach.delivery.models import Delivery
from coach.delivery.sending import send_deliveries
from coach.delivery.services import SCHEDULED_KINDS
from coach.scheduling.manage import Settings as Chosen
from coach.scheduling.manage import change_settings
from coach.scheduling.services import run_sweep
from coach.settings import Settings
from coach.subscribers.models import Subscriber
from tests.faults.conftest import Recorder
from tests.faults.run import DUE, FaultRun
from tests.helpers import enrol

T = TypeVar("T")
LATER = DUE + timedelta(minutes=1)  # beat's next minute
HOLD = 3.0  # seconds the other transaction keeps its locks
LOCKED = 20  # enrolments, then deliveries, it locks
# London's clocks go forward at 01:00 UTC on 29 March 2026: the run starts two days before and
# ends after three steps of the programme (gaps of two days); halfway, half the people move.
BEFORE_DST = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
MOVED = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
AFTER_DST = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)  # one worker's clock behind, the other's ahead, by this much
EVERY = timedelta(minutes=10)
LONDON = "Europe/London"
# Send times at the edges of quiet hours (21:00-08:00); people moving to a zone in which
# their earlier messages were not in quiet hours either (the ledger reads the current zone).
SEND_TIMES = {"08:00": "Europe/Berlin", "08:05": "Europe/Berlin", "20:50": "America/New_York",
              "20:55": "America/New_York"}


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



@pytest.mark.faults
def test_skewed_clocks_and_a_new_zone_across_dst(fault_run: FaultRun, record: Recorder) -> None:
    for number in range(40):
        enrol(fault_run.factory, BEFORE_DST, email=f"person{number}@example.org",
              timezone=LONDON, send_time=list(SEND_TIMES)[number % len(SEND_TIMES)])
    record.start_clock()
    _two_skewed_workers(fault_run.settings, BEFORE_DST, MOVED)
    moved = _move_half(fault_run)
    _two_skewed_workers(fault_run.settings, MOVED, AFTER_DST)
    ledger = fault_run.ledger(AFTER_DST + SKEW)
    record("skewed clocks, new zone, DST", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [] and ledger.unknown == 0, ledger
    assert ledger.sent == ledger.planned - ledger.deferred == 40 * 3, "three steps each"
    assert _planned_off_their_time(fault_run, moved) == []


def _two_skewed_workers(settings: Settings, start: datetime, end: datetime) -> None:
    """Beat's sweep every ``EVERY``, run by one worker and then the other, whose clocks are
    ``SKEW`` ahead and behind; what one plans, the other sends, by its own clock."""
    moment = start
    while moment < end:
        for planner, sender in ((moment + SKEW, moment - SKEW), (moment - SKEW, moment + SKEW)):
            run_sweep(planner, settings, partial(_send, settings=settings, now=sender))
        moment += EVERY


def _send(ids: list[int], settings: Settings, now: datetime) -> None:
    send_deliveries(ids, now, settings)


def _move_half(run: FaultRun) -> dict[int, str]:
    """Every other person moves on their manage page, keeping their time; returns who moved."""
    moved = {}
    with run.factory.begin() as session:
        for subscriber in session.scalars(select(Subscriber).where(Subscriber.id % 2 == 0)):
            wanted = Chosen(f"{subscriber.send_time:%H:%M}",
                            SEND_TIMES[f"{subscriber.send_time:%H:%M}"], "21:00", "08:00",
                            "email", "en", False)
            assert change_settings(session, subscriber, wanted, MOVED) == ["time zone"]
            moved[subscriber.id] = wanted.timezone
    return moved


def _planned_off_their_time(run: FaultRun, moved: dict[int, str]) -> list[str]:
    """Each scheduled message, planned at the person's send time in the zone they were in then
    (or, for the evening, deferred to the morning): never an hour off across the change."""
    off = []
    with run.factory() as session:
        for row, send_time in session.execute(
                select(Delivery, Subscriber.send_time).join(Subscriber)
                .where(Delivery.kind.in_(SCHEDULED_KINDS))):
            zone = moved.get(row.subscriber_id, LONDON) if row.created_at > MOVED else LONDON
            local = row.created_at.astimezone(ZoneInfo(zone)).time()
            if not (_within_a_sweep(send_time, local) or _within_a_sweep(wall_time(8, 0), local)):
                off.append(f"{row.step_key} for {row.subscriber_id} planned at {local} {zone}")
    return off


def _within_a_sweep(wanted: wall_time, local: wall_time) -> bool:
    minutes = (local.hour * 60 + local.minute) - (wanted.hour * 60 + wanted.minute)
    return 0 <= minutes < EVERY.total_seconds() / 60
