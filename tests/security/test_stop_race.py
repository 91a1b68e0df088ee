"""A STOP that lands while a batch is being sent stops the rest of that batch (DESIGN
invariant 5): consent is read from the database in the statement that starts each attempt.

The channel here is slow for real: its first send blocks on an event until the test has
recorded the STOP through the inbound path, in its own transaction, as a webhook would.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from coach.delivery.channels import MemoryChannel, OutgoingMessage
from coach.delivery.services import delivery_row, insert_deliveries
from coach.programmes.render import Rendered
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.helpers import deliveries, enrol, reply

DUE = START + timedelta(hours=9, minutes=30)  # 18:30 in London: no quiet hours
PHONE = "+447911123456"
WAIT = 30  # seconds; only a broken test waits this long


class SlowChannel:
    """Blocks inside its first provider call until released. Every call is noted in
    ``MemoryChannel.sent`` as it begins, so the list is the order messages left in."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def send(self, message: OutgoingMessage) -> str:
        MemoryChannel.sent.append(message)
        self.calls += 1
        if self.calls == 1:
            self.inside.set()
            if not self.release.wait(WAIT):
                raise AssertionError("the test never released the first send")
        return f"slow-{message.delivery_id}"


def _plan_batch(factory, channel: str, address: str, size: int) -> list[int]:
    """``size`` scheduled messages for one person, queued together as one send batch."""
    with factory.begin() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        rows = [delivery_row(f"race-{n}", subscriber, channel, "nudge",
                             Rendered(f"practice {n}", f"day {n}", f"practice {n}"), DUE)
                for n in range(size)]
        return insert_deliveries(session, rows)


@pytest.mark.parametrize("channel, address", [("sms", PHONE), ("email", "sam@example.org")])
def test_a_stop_during_a_batch_stops_the_rest_of_it(settings, factory, published, monkeypatch,
                                                    channel, address):
    from coach.delivery import sending

    enrol(factory, START, phone=PHONE, email="sam@example.org")
    batch = _plan_batch(factory, channel, address, size=5)
    slow = SlowChannel()
    monkeypatch.setattr(sending, "channel_for", lambda name, settings: slow)
    with ThreadPoolExecutor(1) as pool:
        sender = pool.submit(sending.send_deliveries, batch, DUE, settings)
        try:
            assert slow.inside.wait(WAIT), "the first send never started"
            stop = reply(factory, settings, address, "STOP", DUE)  # committed, answered
        finally:
            slow.release.set()
        summary = sender.result(WAIT)
    first, confirmation = MemoryChannel.sent  # after the STOP, only its confirmation went
    assert (first.kind, confirmation.kind) == ("nudge", "confirm")
    rows = {row.id: row for row in deliveries(factory, 1)}
    assert rows[first.delivery_id].status == "sent"  # it had left before the STOP
    assert [(rows[i].status, rows[i].error) for i in batch if i != first.delivery_id] == \
        [("failed", f"not sent: {channel} opted out")] * 4
    assert [rows[i].status for i in stop.acks] == ["sent"]
    assert (summary.sent, summary.skipped) == (1, 4)
