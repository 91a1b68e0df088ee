"""The sweep asks for helpers only when more is due than one batch, and only once."""

from datetime import timedelta

from sqlalchemy import func, select

from coach.delivery.models import Delivery
from coach.scheduling.services import run_sweep
from tests.conftest import START
from tests.helpers import enrol

DUE = START + timedelta(hours=9, minutes=30)


def test_a_busy_minute_calls_helpers_once(settings, factory, published):
    for number in range(5):
        enrol(factory, START, email=f"p{number}@example.org")
    busy = settings.model_copy(update={"sweep_batch_size": 2, "sweep_parallelism": 3})
    calls: list[int] = []
    result = run_sweep(DUE, busy, lambda ids: None, call_helpers=calls.append)
    assert calls == [2]
    assert result["planned"] == 5
    with factory() as session:
        assert session.scalar(select(func.count(Delivery.id))) == 5


def test_a_quiet_minute_calls_no_helpers(settings, factory, published):
    enrol(factory, START)
    calls: list[int] = []
    run_sweep(DUE, settings, lambda ids: None, call_helpers=calls.append)
    assert calls == []
