"""The ledger catches what it is there to catch: the fault suite's own test, on both databases."""

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from coach.delivery.models import Delivery
from coach.scheduling.services import run_sweep
from coach.settings import Settings
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.faults.ledger import Ledger, check
from tests.faults.run import DUE
from tests.helpers import enrol

Factory = sessionmaker[Session]
QUIET = START + timedelta(hours=14)  # 23:00 in London


@pytest.fixture
def planned(settings: Settings, factory: sessionmaker[Session], published: None) -> list[int]:
    for number in range(3):
        enrol(factory, START, email=f"person{number}@example.org")
    ids: list[int] = []
    run_sweep(DUE, settings, ids.extend)
    assert len(ids) == 3
    return ids


def _set(factory: sessionmaker[Session], delivery_id: int, **values: object) -> None:
    with factory.begin() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def _sent(factory: sessionmaker[Session], ids: list[int], at: datetime = DUE) -> None:
    for delivery_id in ids:
        _set(factory, delivery_id, status="sent", attempted_at=at, sent_at=at)


def _channel_saw(path: Path, ids: list[int]) -> Path:
    path.write_text("".join(json.dumps({"delivery_id": i}) + "\n" for i in ids))
    return path


def _ledger(factory: sessionmaker[Session], tmp_path: Path, seen: list[int]) -> Ledger:
    return check(factory, _channel_saw(tmp_path / "outbox.jsonl", seen), DUE)


def test_every_row_sent_once_is_a_clean_ledger(
    factory: Factory, planned: list[int], tmp_path: Path
) -> None:
    _sent(factory, planned)
    ledger = _ledger(factory, tmp_path, planned)
    assert ledger.figures() == {"planned": 3, "sent": 3, "duplicated": 0, "lost": 0,
                                "unknown": 0, "reconciled": 0, "deferred": 0, "failed": 0}
    assert ledger.problems == []


def test_a_second_copy_at_the_channel_is_a_duplicate(
    factory: Factory, planned: list[int], tmp_path: Path
) -> None:
    _sent(factory, planned)
    ledger = _ledger(factory, tmp_path, [*planned, planned[1]])
    assert ledger.duplicated == 1 and ledger.problems


def test_rows_nobody_will_move_are_lost(
    factory: Factory, planned: list[int], tmp_path: Path
) -> None:
    first, second, third = planned
    _sent(factory, [first])  # recorded sent, never reached the channel
    _set(factory, second, status="sending", attempted_at=None)  # a sender's claim, abandoned
    _set(factory, third, status="failed", error="")  # failed, with no reason to read
    ledger = _ledger(factory, tmp_path, [])
    assert ledger.lost == 3 and len(ledger.problems) == 3


def test_unknown_deferred_and_failed_with_a_reason_are_not_lost(
    factory: Factory, planned: list[int], tmp_path: Path
) -> None:
    first, second, third = planned
    _set(factory, first, status="unknown", attempted_at=DUE)
    _set(factory, second, status="queued", send_after=DUE + timedelta(hours=14))
    _set(factory, third, status="failed", error="not sent: email opted out")
    ledger = _ledger(factory, tmp_path, [first])
    assert (ledger.lost, ledger.unknown, ledger.reconciled) == (0, 1, 1)
    assert (ledger.deferred, ledger.failed) == (1, 1)
    assert ledger.problems == []


def test_quiet_hours_opt_outs_and_hurried_steps_are_problems(
    factory: Factory, planned: list[int], tmp_path: Path
) -> None:
    first, second, third = planned
    _sent(factory, [first], at=QUIET)
    _sent(factory, [second, third])
    with factory.begin() as session:
        row = session.get(Delivery, second)
        person = session.get(Subscriber, row.subscriber_id if row else None)
        assert person is not None
        person.set_consent("email", False, DUE - timedelta(minutes=1), "STOP")
    _set(factory, third, step_key="w1-reflect")  # the third step first
    problems = "\n".join(_ledger(factory, tmp_path, planned).problems)
    assert "quiet hours" in problems
    assert "after an opt-out" in problems
    assert "step w1-reflect after step number 0" in problems
