"""The outbox: every row ends sent, failed or unknown with a reason; none is sent twice."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from coach.delivery.attempts import send_claimed
from coach.delivery.channels import (
    MemoryChannel,
    NotAttempted,
    PermanentFailure,
    TemporaryFailure,
    UnknownOutcome,
)
from coach.delivery.models import Delivery
from coach.delivery.services import claim
from coach.delivery.status import Callback, record_callback
from coach.scheduling.models import Enrolment
from coach.scheduling.services import run_sweep
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.helpers import deliveries, enrol, reply, tick

DUE = START + timedelta(hours=9, minutes=30)


@pytest.fixture(autouse=True, params=[True, False], ids=["local batch", "one by one"])
def local(request, monkeypatch) -> bool:
    """Every test twice: the memory channel as the local channel it is (a batch's attempts and
    outcomes in one write each) and as a provider's (one committed attempt at a time)."""
    monkeypatch.setattr(MemoryChannel, "local", request.param)
    return bool(request.param)


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
    with factory() as session:
        claimed = claim(session, ids, DUE)
        session.commit()
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


class WorkerDied(BaseException):
    """What a kill looks like from inside: nothing after it runs."""


class DyingChannel:
    def send(self, message):
        raise WorkerDied


def test_a_sender_that_died_before_the_attempt_hands_the_row_back(settings, factory, published):
    ids = _plan(settings, factory)
    with factory.begin() as session:
        claim(session, ids, DUE)  # ... and the worker dies here
    again: list[int] = []
    result = run_sweep(DUE + timedelta(minutes=11), settings, again.extend)
    assert (result["marked_unknown"], result["requeued"], again) == (0, 1, ids)
    [row] = deliveries(factory, 1)
    assert (row.status, row.attempts) == ("queued", 0)
    assert "queued again" in row.error
    _send(factory, again, MemoryChannel(), DUE + timedelta(minutes=11))
    assert deliveries(factory, 1)[0].status == "sent" and len(MemoryChannel.sent) == 1


def test_a_sender_that_died_mid_send_leaves_an_unknown_row_not_a_resend(
    settings, factory, published
):
    ids = _plan(settings, factory)
    with pytest.raises(WorkerDied):
        _send(factory, ids, DyingChannel(), DUE)
    result = run_sweep(DUE + timedelta(minutes=11), settings, lambda ids: pytest.fail("resent"))
    assert result["marked_unknown"] == 1
    [row] = deliveries(factory, 1)
    assert row.status == "unknown" and "outcome unknown" in row.error
    assert MemoryChannel.sent == []


def test_a_row_is_written_off_ten_minutes_after_its_attempt_not_its_claim(
    settings, factory, published
):
    ids = _plan(settings, factory)
    with factory() as session:  # a slow batch: claimed at DUE, its turn comes 9 minutes later
        claimed = claim(session, ids, DUE)
        session.commit()
        with pytest.raises(WorkerDied):
            send_claimed(session, claimed, lambda _: DyingChannel(), DUE + timedelta(minutes=9))
    nothing = run_sweep(DUE + timedelta(minutes=11), settings, lambda ids: pytest.fail("resent"))
    assert nothing["marked_unknown"] == 0 and deliveries(factory, 1)[0].status == "sending"
    later = run_sweep(DUE + timedelta(minutes=20), settings, lambda ids: pytest.fail("resent"))
    assert later["marked_unknown"] == 1


def test_a_row_handed_back_while_its_slow_sender_still_holds_it_goes_once(
    settings, factory, published
):
    ids = _plan(settings, factory)
    with factory() as slow:
        claim(slow, ids, DUE)
        slow.commit()
        again: list[int] = []
        run_sweep(DUE + timedelta(minutes=11), settings, again.extend)
        later = DUE + timedelta(minutes=11)
        with factory.begin() as session:
            assert claim(session, again, later) == ids  # a second sender has it now
        first = send_claimed(slow, ids, lambda _: MemoryChannel(), later)
    with factory() as session:
        second = send_claimed(session, ids, lambda _: MemoryChannel(), later)
    assert (first.sent, second.sent, second.skipped) == (1, 0, 1)
    assert len(MemoryChannel.sent) == 1 and deliveries(factory, 1)[0].status == "sent"


def test_a_row_for_an_address_the_person_has_since_changed_does_not_go(
    settings, factory, published
):
    ids = _plan(settings, factory)
    with factory.begin() as session:
        session.execute(update(Subscriber).values(email="sam.new@example.org"))
    summary = _send(factory, ids, MemoryChannel(), DUE)
    [row] = deliveries(factory, 1)
    assert (row.status, row.error) == ("failed", "not sent: email address changed since planned")
    assert (summary.skipped, MemoryChannel.sent) == (1, [])


def test_a_status_callback_that_comes_during_the_send_wins(settings, factory, published):
    """Twilio can report delivery before the provider call has returned to the sender."""
    ids = _plan(settings, factory)

    class ReportedAtOnce:
        def send(self, message):
            with factory.begin() as session:  # the webhook's own transaction
                record_callback(session, Callback("SM1", "delivered", None, message.delivery_id),
                                DUE)
            return "SM1"

    summary = _send(factory, ids, ReportedAtOnce(), DUE)
    [row] = deliveries(factory, 1)
    assert (row.status, row.provider_id, summary.sent) == ("delivered", "SM1", 1)


def test_a_lost_send_task_is_enqueued_again(settings, factory, published):
    ids = _plan(settings, factory)
    again: list[int] = []
    assert run_sweep(DUE + timedelta(minutes=9), settings, again.extend)["requeued"] == 0
    assert run_sweep(DUE + timedelta(minutes=11), settings, again.extend)["requeued"] == 1
    assert again == ids
    assert run_sweep(DUE + timedelta(minutes=12), settings, again.extend)["requeued"] == 0, \
        "enqueued again a minute ago: not flooded with copies while the queue is slow"
    assert run_sweep(DUE + timedelta(minutes=22), settings, again.extend)["requeued"] == 1


def test_everything_a_lost_broker_held_goes_back_in_one_pass_in_send_batches(
    settings, factory, published
):
    """The broker restarted empty with far more rows queued than a sweep batch: one pass of
    housekeeping hands them all back, in send-batch chunks, not 500 a minute."""
    many = 1_234
    for number in range(many):
        enrol(factory, START, email=f"p{number}@example.org")
    lost: list[int] = []
    run_sweep(DUE, settings, lost.extend)  # planned, and their tasks lost with the broker
    assert len(lost) == many > settings.sweep_batch_size
    batches: list[list[int]] = []
    result = run_sweep(DUE + timedelta(minutes=11), settings, batches.append)
    assert result["requeued"] == many
    assert sorted(i for batch in batches for i in batch) == sorted(lost)
    assert max(len(batch) for batch in batches) == settings.send_batch_size


@pytest.mark.parametrize("rate, sms_batch", [(0.5, 30), (1.0, 60), (20.0, 100)])
def test_rate_limited_sms_go_in_batches_a_minute_long_each_channel_its_own(
    settings, factory, published, monkeypatch, rate, sms_batch
):
    """Twilio at the sender's rate: a batch holds no more SMS than go in a minute (never more
    than COACH_SEND_BATCH_SIZE); email keeps the configured size; no batch mixes the two."""
    monkeypatch.setattr(settings, "sms_backend", "twilio")
    monkeypatch.setattr(settings, "sms_rate_per_second", rate)
    for number in range(110):
        enrol(factory, START, email=f"p{number}@example.org")
    for number in range(130):
        enrol(factory, START, email="", phone=f"+4479111{number:05d}")
    batches: list[list[int]] = []
    run_sweep(DUE, settings, batches.append)
    with factory() as session:
        rows = session.execute(select(Delivery.id, Delivery.channel))
        channel = {row.id: row.channel for row in rows}
    kinds = [{channel[i] for i in batch} for batch in batches]
    assert all(len(kind) == 1 for kind in kinds), "one channel a batch"
    sizes = {"sms": [], "email": []}
    for batch, kind in zip(batches, kinds, strict=True):
        sizes[kind.pop()].append(len(batch))
    assert max(sizes["sms"]) == sms_batch and sum(sizes["sms"]) == 130
    assert max(sizes["email"]) == settings.send_batch_size and sum(sizes["email"]) == 110


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


def _send(factory, ids, channel, now):
    with factory() as session:
        claimed = claim(session, ids, now)
        session.commit()
        return send_claimed(session, claimed, lambda _: channel, now)


def test_a_temporary_failure_backs_off_then_gives_up(settings, factory, published):
    ids = _plan(settings, factory)
    now, tries = DUE, []
    for _ in range(8):
        _send(factory, ids, MemoryChannel(fail_with=[TemporaryFailure("421 try later")]), now)
        [row] = deliveries(factory, 1)
        if row.status != "queued":
            break
        tries.append(row.send_after - now)
        assert run_sweep(row.send_after - timedelta(seconds=1), settings,
                         lambda ids: None)["requeued"] == 0, "not before its time"
        now = row.send_after
    assert tries == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]
    assert (row.status, row.attempts) == ("failed", 8)
    assert row.error.startswith("gave up after 8 attempts: 421 try later")


def test_a_retry_is_enqueued_again_when_its_time_comes(settings, factory, published):
    ids = _plan(settings, factory)
    _send(factory, ids, MemoryChannel(fail_with=[TemporaryFailure("429")]), DUE)
    again: list[int] = []
    run_sweep(DUE + timedelta(minutes=1), settings, again.extend)
    assert again == ids
    _send(factory, again, MemoryChannel(), DUE + timedelta(minutes=1))
    [row] = deliveries(factory, 1)
    assert (row.status, row.error, row.attempts) == ("sent", None, 2)


def test_a_batch_delayed_into_quiet_hours_waits_for_the_morning(settings, factory, published):
    ids = _plan(settings, factory)  # planned at 18:30 London ...
    late = START + timedelta(hours=12)  # ... but the worker only gets to it at 21:00
    summary = _send(factory, ids, MemoryChannel(), late)
    [row] = deliveries(factory, 1)
    assert (row.status, summary.deferred) == ("queued", 1)
    assert row.send_after == START + timedelta(days=1, hours=-1)  # 08:00 the next morning
    assert "quiet hours" in row.error and MemoryChannel.sent == []
    again: list[int] = []
    run_sweep(row.send_after, settings, again.extend)
    _send(factory, again, MemoryChannel(), row.send_after)
    assert deliveries(factory, 1)[0].status == "sent"


def test_an_acknowledgement_is_not_held_for_quiet_hours(settings, factory, published):
    enrol(factory, START)
    late = START + timedelta(hours=14)  # 23:00 in London: they just wrote to us
    reply(factory, settings, "sam@example.org", "HELP", late)
    [row] = deliveries(factory, 1)
    assert (row.kind, row.status) == ("ack", "sent")


def test_a_redelivered_send_task_does_not_send_a_deferred_row_early(settings, factory, published):
    ids = _plan(settings, factory)
    _send(factory, ids, MemoryChannel(fail_with=[TemporaryFailure("429")]), DUE)
    with factory.begin() as session:
        assert claim(session, ids, DUE + timedelta(seconds=30)) == []
        assert claim(session, ids, DUE + timedelta(minutes=1)) == ids


def test_our_own_rate_limit_uses_up_no_attempt(settings, factory, published):
    ids = _plan(settings, factory)
    _send(factory, ids, MemoryChannel(fail_with=[NotAttempted("SMS rate limit busy")]), DUE)
    [row] = deliveries(factory, 1)
    assert (row.status, row.attempts) == ("queued", 0)
    assert "SMS rate limit busy" in row.error


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_sender_that_loses_its_database_mid_batch_hands_back_what_it_never_reached(
    settings, factory, published, monkeypatch, local
):
    """Its PostgreSQL connection is terminated (as in a failover) during the third message.
    One by one: the rows it never reached go back to the queue at once, the task's retry sends
    them, and nothing is sent twice; the third row's outcome is unknown (its provider call had
    started). A local batch recorded every attempt before its first call and goes on to the
    end: no row is handed back or sent again, and all await reconciliation."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from coach.delivery import sending
    from coach.delivery.sending import send_deliveries

    for number in range(6):
        enrol(factory, START, email=f"person{number}@example.org")
    ids: list[int] = []
    run_sweep(DUE, settings, ids.extend)
    assert len(ids) == 6
    killer = create_engine(settings.effective_database_url)
    real_send, real_send_claimed, sender = MemoryChannel.send, sending.send_claimed, []

    def send_claimed_noting_its_connection(session, *args):
        sender.append(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar())
        return real_send_claimed(session, *args)

    def send_then_lose_the_database(self, message):
        provider_id = real_send(self, message)
        if len(MemoryChannel.sent) == 3:
            with killer.begin() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": sender[0]})
        return provider_id

    monkeypatch.setattr(sending, "send_claimed", send_claimed_noting_its_connection)
    monkeypatch.setattr(MemoryChannel, "send", send_then_lose_the_database)
    with pytest.raises(OperationalError):
        send_deliveries(ids, DUE, settings)
    statuses = {row.id: row.status for row in _all_rows(factory)}
    if local:
        assert list(statuses.values()) == ["sending"] * 6 and len(MemoryChannel.sent) == 6
        monkeypatch.setattr(MemoryChannel, "send", real_send)
        assert send_deliveries(ids, DUE, settings).skipped == 6 and len(MemoryChannel.sent) == 6
        killer.dispose()
        return
    assert [statuses[i] for i in ids[:2]] == ["sent", "sent"]
    assert statuses[ids[2]] == "sending", "its outcome was never written: unknown, not resent"
    assert [statuses[i] for i in ids[3:]] == ["queued"] * 3, "handed back at once"

    monkeypatch.setattr(MemoryChannel, "send", real_send)
    monkeypatch.setattr(sending, "send_claimed", real_send_claimed)
    retried = send_deliveries(ids, DUE, settings)  # what the task's autoretry does
    assert retried.sent == 3 and retried.skipped == 3
    assert sorted(m.to for m in MemoryChannel.sent) == sorted(
        f"person{n}@example.org" for n in range(6))
    killer.dispose()


def _all_rows(factory):
    with factory() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_only_the_send_task_retries_and_only_when_the_database_went_away():
    from celery.app.task import Task as CeleryTask

    from coach.delivery.sending import RECOVERABLE
    from tasks.app import CoachTask, app
    from tasks.jobs import poll_imap, send, sweep

    assert issubclass(app.Task, CoachTask), "every task of the app is a CoachTask"
    assert tuple(send.autoretry_for) == RECOVERABLE and send.max_retries == 8
    for task in (sweep, poll_imap):
        assert not getattr(task, "autoretry_for", ()), task.name
    assert all(isinstance(task, CeleryTask) and task.acks_late
               for task in (send, sweep, poll_imap))


def test_a_hand_back_that_cannot_reach_the_database_leaves_the_rows_to_housekeeping(
    settings, monkeypatch, caplog
):
    from sqlalchemy.exc import OperationalError

    from coach.delivery import sending

    def still_down(session, ids):
        raise OperationalError("UPDATE deliveries", {}, Exception("server closed"))

    monkeypatch.setattr(sending, "hand_back", still_down)
    sending._hand_back(settings, [1, 2])  # no exception: the task's own error is the one raised
    assert "housekeeping will requeue the batch" in caplog.text
