"""Unknown rows of the file channel, settled from its outbox file: what it holds was sent, what
it never got goes again, once."""

import json
from datetime import timedelta

import pytest

from coach.delivery.attempts import send_claimed
from coach.delivery.channels import FileChannel, read_outbox
from coach.delivery.sending import send_deliveries
from coach.delivery.services import claim
from coach.scheduling.services import run_sweep
from coach.settings import get_settings
from tests.conftest import START
from tests.helpers import enrol
from tests.test_delivery import WorkerDied

DUE = START + timedelta(hours=9, minutes=30)
LATER = DUE + timedelta(minutes=11)  # past the horizon after which a sender is taken for gone


@pytest.fixture
def file_settings(settings, monkeypatch):
    monkeypatch.setenv("COACH_EMAIL_BACKEND", "file")
    get_settings.cache_clear()
    return get_settings()


class DiesAfter(FileChannel):
    """The file channel in a sender killed once it has handed over ``count`` messages."""

    def __init__(self, path, count):
        super().__init__(path)
        self.count = count

    def send(self, message):
        if self.count == 0:
            raise WorkerDied
        self.count -= 1
        return super().send(message)


def _plan(settings, factory, people):
    for number in range(people):
        enrol(factory, START, email=f"person{number}@example.org")
    planned: list[int] = []
    run_sweep(DUE, settings, planned.extend)
    assert len(planned) == people
    return planned


def _send_until_killed(factory, ids, channel):
    with factory() as session, pytest.raises(WorkerDied):
        claimed = claim(session, ids, DUE)
        session.commit()
        send_claimed(session, claimed, lambda _: channel, DUE)


def test_a_batch_killed_mid_way_is_settled_from_the_file_and_nothing_goes_twice(
    file_settings, factory, published
):
    ids = _plan(file_settings, factory, 5)
    outbox = file_settings.effective_outbox_file
    _send_until_killed(factory, ids, DiesAfter(outbox, 2))
    handed_over = [line["delivery_id"] for line in read_outbox(outbox)]
    assert handed_over == ids[:2]

    again: list[int] = []
    result = run_sweep(LATER, file_settings, again.extend)
    assert (result["marked_unknown"], result["reconciled"]) == (5, 5)
    assert again == ids[2:], "what the file never got is enqueued again at once"
    statuses = _statuses(factory)
    assert [statuses[i][0] for i in ids] == ["sent"] * 2 + ["queued"] * 3
    assert [statuses[i][1] for i in ids[:2]] == [line["provider_id"]
                                                  for line in read_outbox(outbox)]
    assert all(statuses[i][2] == 0 for i in ids[2:]), "an attempt that never left is not counted"

    assert send_deliveries(again, LATER, file_settings).sent == 3
    assert sorted(line["delivery_id"] for line in read_outbox(outbox)) == sorted(ids)
    assert run_sweep(LATER + timedelta(minutes=11), file_settings, again.extend)["reconciled"] == 0


def test_a_line_cut_short_by_the_kill_counts_as_never_handed_over(
    file_settings, factory, published
):
    ids = _plan(file_settings, factory, 2)
    outbox = file_settings.effective_outbox_file
    _send_until_killed(factory, ids, DiesAfter(outbox, 1))
    cut = json.dumps({"delivery_id": ids[1], "provider_id": "file-cut"})[:20]
    with outbox.open("a", encoding="utf-8") as file:
        file.write(cut)
    again: list[int] = []
    run_sweep(LATER, file_settings, again.extend)
    assert again == [ids[1]]
    assert [status for status, _, _ in _statuses(factory).values()] == ["sent", "queued"]


def test_other_channels_unknown_rows_are_left_alone(settings, factory, published):
    """Memory and SMTP keep no record to ask: their unknown rows stay unknown."""
    ids = _plan(settings, factory, 1)
    _send_until_killed(factory, ids, DiesAfter(settings.effective_outbox_file, 0))
    result = run_sweep(LATER, settings, lambda ids: pytest.fail("resent"))
    assert (result["marked_unknown"], result["reconciled"]) == (1, 0)
    assert [status for status, _, _ in _statuses(factory).values()] == ["unknown"]


def _statuses(factory):
    from sqlalchemy import select

    from coach.delivery.models import Delivery

    with factory() as session:
        rows = session.execute(select(Delivery.id, Delivery.status, Delivery.provider_id,
                                      Delivery.attempts).order_by(Delivery.id))
        return {row.id: (row.status, row.provider_id, row.attempts) for row in rows}
