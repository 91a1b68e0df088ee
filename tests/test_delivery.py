"""The outbox: every row ends sent, failed or unknown with a reason; none is sent twice."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from coach.delivery.channels import (
    MemoryChannel,
    PermanentFailure,
    TemporaryFailure,
    UnknownOutcome,
)
from coach.delivery.models import Delivery
from coach.delivery.services import claim, send_claimed
from coach.scheduling.models import Enrolment
from coach.scheduling.services import run_sweep
from tests.conftest import START
from tests.helpers import deliveries, enrol, tick

DUE = START + timedelta(hours=9, minutes=30)


def _plan(settings, factory) -> list[int]:
    enrol(factory, START)
    planned: list[int] = []
    run_sweep(DUE, settings, planned.extend)
    assert len(planned) == 1
    return planned


@pytest.mark.parametrize("error, status, reason", [
    (PermanentFailure("number is not valid"), "failed", "number is not valid"),
    (TemporaryFailure("429 too many requests"), "queued", "will retry: 429 too many requests"),
    (UnknownOutcome("timed out after the request left"), "unknown", "outcome unknown"),
])
def test_channel_errors_leave_a_readable_reason(settings, factory, published, error, status,
                                                reason):
    ids = _plan(settings, factory)
    channel = MemoryChannel(fail_with=[error])
    with factory.begin() as session:
        claimed = claim(session, ids, DUE)
        summary = send_claimed(session, claimed, lambda _: channel, DUE)
    [row] = deliveries(factory, 1)
    assert (row.status, reason in (row.error or "")) == (status, True)
    assert sum(summary.as_dict().values()) == 1
    assert MemoryChannel.sent == []


def test_a_row_claimed_once_is_not_claimed_again(settings, factory, published):
    ids = _plan(settings, factory)
    with factory.begin() as session:
        assert claim(session, ids, DUE) == ids
        assert claim(session, ids, DUE) == []


def test_a_sender_that_died_mid_send_leaves_an_unknown_row_not_a_resend(
    settings, factory, published
):
    ids = _plan(settings, factory)
    with factory.begin() as session:
        claim(session, ids, DUE)  # ... and the worker dies here
    result = run_sweep(DUE + timedelta(minutes=11), settings, lambda ids: pytest.fail("resent"))
    assert result["marked_unknown"] == 1
    [row] = deliveries(factory, 1)
    assert row.status == "unknown" and "outcome unknown" in row.error
    assert MemoryChannel.sent == []


def test_a_lost_send_task_is_enqueued_again(settings, factory, published):
    ids = _plan(settings, factory)
    again: list[int] = []
    assert run_sweep(DUE + timedelta(minutes=9), settings, again.extend)["requeued"] == 0
    assert run_sweep(DUE + timedelta(minutes=11), settings, again.extend)["requeued"] == 1
    assert again == ids


def test_one_broken_enrolment_does_not_hold_up_the_others(settings, factory, published):
    enrol(factory, START, email="first@example.org")
    enrol(factory, START, email="second@example.org")
    with factory.begin() as session:
        session.execute(update(Enrolment).where(Enrolment.id == 1).values(repeat_step=999))
    result = tick(settings, DUE)
    assert result["actions"] == {"error": 1, "send": 1}
    with factory() as session:
        broken = session.get(Enrolment, 1)
        assert broken is not None and broken.next_due_at == DUE + timedelta(hours=1)
        assert session.scalars(select(Delivery.address)).all() == ["second@example.org"]
