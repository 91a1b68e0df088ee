"""Work handed out twice: two beats enqueueing the same minutes, and a send task redelivered
by Redis while it is still running. Real worker processes on Redis and PostgreSQL."""

import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from coach.delivery.models import Delivery
from coach.scheduling.models import Enrolment
from tests.conftest import START
from tests.faults.conftest import Recorder
from tests.faults.run import DUE, FaultRun
from tests.helpers import enrol

MINUTES = 10  # of two beats at once, each minute with someone due
RECEIVED = re.compile(r"Task coach\.send\[([^\]]+)\] received")


@pytest.mark.faults
def test_two_beats_at_once_plan_nothing_twice(fault_run: FaultRun, record: Recorder) -> None:
    for number in range(200):  # due one of ten minutes from DUE, by email and by SMS
        form = ({"email": f"person{number}@example.org"} if number % 2 else
                {"email": "", "phone": f"+4479111{number:05d}"})
        enrol(fault_run.factory, START, send_time=f"18:{30 + number % MINUTES}", **form)
    for _ in range(2):  # two workers, each with its pool: the sweeps really race
        fault_run.start_worker()
    record.start_clock()
    for minute in range(MINUTES):
        for _beat in range(2):
            fault_run.sweep(DUE + timedelta(minutes=minute))
    end = DUE + timedelta(minutes=MINUTES - 1)
    fault_run.wait_settled(end)
    fault_run.quiesce()  # every sweep ran: a late one must not plan anything either
    ledger = fault_run.ledger(end)
    record("two beats at once", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [] and ledger.unknown == 0, ledger
    assert ledger.sent == ledger.planned == 200, ledger
    assert _welcomes_and_steps(fault_run) == ({"welcome": 200}, {1: 200})
    assert all("Task coach.sweep[" in w.log.read_text() for w in fault_run.workers), \
        "both workers swept"


def _welcomes_and_steps(run: FaultRun) -> tuple[Counter[str], Counter[int]]:
    """What was planned, by step, and where each enrolment stands: one step on, not two."""
    with run.factory() as session:
        planned = Counter(session.scalars(select(Delivery.step_key)))
        steps = Counter(session.scalars(select(Enrolment.step)))
    return Counter({str(k): v for k, v in planned.items()}), steps


@pytest.mark.faults
def test_a_send_redelivered_while_it_runs_finds_its_rows_claimed(fault_run: FaultRun,
                                                                 record: Recorder) -> None:
    fault_run.populate(people=60, opt_outs=2)
    for _ in range(2):  # the copy may go to another worker, or to the same one
        fault_run.start_worker(app="tests.faults.slow_sends", COACH_SEND_BATCH_SIZE="10")
    record.start_clock()
    fault_run.sweep(DUE)
    fault_run.wait_settled(DUE)
    fault_run.quiesce()  # every copy ran
    received = Counter(RECEIVED.findall(fault_run.worker_logs()))
    assert max(received.values()) > 1, "Redis handed a running send task out again"
    ledger = fault_run.ledger(DUE)
    record("task outlives the visibility timeout", ledger)
    assert ledger.duplicated == 0 and ledger.lost == 0, ledger
    assert ledger.problems == [] and ledger.unknown == 0, ledger
    assert ledger.sent == ledger.planned - ledger.failed == 58 + 2, ledger
