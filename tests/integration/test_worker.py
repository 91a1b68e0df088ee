"""The engine with a real Celery worker and beat on Redis and PostgreSQL."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from coach.db import session_factory
from coach.delivery.models import Delivery
from coach.programmes.services import publish_missing_builtins
from coach.scheduling.models import Enrolment
from coach.scheduling.services import run_sweep
from tests.conftest import PROGRAMMES, START
from tests.helpers import enrol, reply
from tests.integration.conftest import wait_until


def _ready(settings):
    factory = session_factory(settings.effective_database_url)
    with factory.begin() as session:
        publish_missing_builtins(session, PROGRAMMES)
    return factory


def _statuses(factory):
    with factory() as session:
        return list(session.execute(select(Delivery.kind, Delivery.status).order_by(Delivery.id)))


def _sweep(client, now):
    return client.send_task("coach.sweep", kwargs={"now": now.isoformat()})


def _finished(worker, task) -> bool:
    """The worker has run the task to its end (its own log line, not a guess at the time)."""
    return f"[{task.id}] succeeded" in worker.log.read_text()


def _sweeps_run(worker) -> int:
    return len(re.findall(r"Task coach\.sweep\[[^\]]+\] succeeded", worker.log.read_text()))


def _sweep_and_wait(client, factory, now):
    """Sweeps replay moments in order: wait until this one planned and sent everything."""
    _sweep(client, now)

    def settled():
        with factory() as session:
            due = session.scalar(select(func.count(Enrolment.id))
                                 .where(Enrolment.next_due_at <= now))
            busy = session.scalar(select(func.count(Delivery.id))
                                  .where(Delivery.status.in_(["queued", "sending"])))
        return due == 0 and busy == 0

    wait_until(settled)


def _all_settled(factory, count):
    rows = _statuses(factory)
    return rows if len(rows) >= count and all(s != "queued" and s != "sending" for _, s in rows) \
        else None


def test_beat_triggers_the_sweep_and_the_worker_sends(pg_settings, worker_with_beat):
    factory = _ready(pg_settings)
    now = datetime.now(UTC)
    send_at = (now - timedelta(minutes=2)).strftime("%H:%M")
    quiet = now + timedelta(hours=12)  # a minute of quiet hours, far from the send time
    enrol(factory, now - timedelta(days=1), timezone="UTC", send_time=send_at,
          quiet_start=f"{quiet:%H:%M}", quiet_end=f"{quiet + timedelta(minutes=1):%H:%M}")
    wait_until(lambda: _all_settled(factory, 1), timeout=40)
    assert _statuses(factory) == [("nudge", "sent")]
    [message] = worker_with_beat.outbox()
    assert message["to"] == "sam@example.org" and message["subject"]


def test_three_weeks_with_replies_and_a_pause(pg_settings, worker, client):
    factory = _ready(pg_settings)
    enrol(factory, START)
    now, sent_before = START, 0
    for day in range(21):
        now = START + timedelta(days=day, hours=9, minutes=30)  # 18:30 London, before BST
        _sweep_and_wait(client, factory, now)
        if day == 7:
            reply(factory, pg_settings, "sam@example.org", "slower", now + timedelta(hours=1))
        if day == 12:
            reply(factory, pg_settings, "sam@example.org", "PAUSE 5", now + timedelta(hours=1))
            sent_before = len(_statuses(factory))
        if day == 16:
            assert len(_statuses(factory)) == sent_before, "nothing is sent during a pause"
    kinds = [kind for kind, _ in _statuses(factory)]
    assert kinds[:4] == ["nudge", "nudge", "nudge", "checkin"]
    assert "repeat" in kinds
    assert len(kinds) > sent_before, "the pause ended by itself"
    assert len(worker.outbox()) == len(kinds), "every row sent exactly once"
    with factory() as session:
        assert session.scalars(select(Enrolment.pace)).one() == 1.5


def test_the_same_send_task_delivered_twice_sends_once(pg_settings, worker, client):
    factory = _ready(pg_settings)
    enrol(factory, START)
    planned: list[int] = []
    due = START + timedelta(hours=9, minutes=30)
    run_sweep(due, pg_settings, planned.extend)  # plan only
    assert len(planned) == 1
    for _ in range(3):
        client.send_task("coach.send", args=[planned, due.isoformat()])
    wait_until(lambda: _all_settled(factory, 1))
    wait_until(lambda: worker.outbox())
    again = client.send_task("coach.send", args=[planned, due.isoformat()])
    wait_until(lambda: _finished(worker, again))
    assert len(worker.outbox()) == 1
    assert _statuses(factory) == [("nudge", "sent")]


def test_two_sweeps_at_once_create_no_duplicate(pg_settings, worker, client):
    factory = _ready(pg_settings)
    for number in range(300):
        enrol(factory, START, email=f"person{number}@example.org")
    due = START + timedelta(hours=9, minutes=30)
    for _ in range(4):
        _sweep(client, due)
    wait_until(lambda: _all_settled(factory, 300), timeout=60)
    with factory() as session:
        rows = session.scalar(select(func.count(Delivery.id)))
        keys = session.scalar(select(func.count(func.distinct(Delivery.dedupe_key))))
    assert rows == keys == 300
    assert len(worker.outbox()) == 300


def test_stop_then_a_due_nudge_in_the_same_minute_sends_nothing(pg_settings, worker, client):
    factory = _ready(pg_settings)
    enrol(factory, START)
    due = START + timedelta(hours=9, minutes=30)
    reply(factory, pg_settings, "sam@example.org", "STOP", due)
    sweeps = [_sweep(client, due), _sweep(client, due + timedelta(days=3))]
    wait_until(lambda: all(_finished(worker, sweep) for sweep in sweeps))
    assert _statuses(factory) == [("confirm", "sent")]
    assert [m["subject"] for m in worker.outbox()] == ["You're unsubscribed"]


def test_stop_after_a_nudge_was_planned_still_sends_nothing(pg_settings, worker, client):
    factory = _ready(pg_settings)
    enrol(factory, START)
    due = START + timedelta(hours=9, minutes=30)
    planned: list[int] = []
    run_sweep(due, pg_settings, planned.extend)  # the nudge is in the outbox, not yet sent
    reply(factory, pg_settings, "sam@example.org", "STOP", due)
    client.send_task("coach.send", args=[planned, due.isoformat()])
    wait_until(lambda: _all_settled(factory, 2))
    assert _statuses(factory) == [("nudge", "failed"), ("confirm", "sent")]
    assert [m["subject"] for m in worker.outbox()] == ["You're unsubscribed"]


def test_a_busy_minute_is_shared_by_helper_sweeps(pg_settings, worker, client):
    factory = _ready(pg_settings)
    for number in range(200):
        enrol(factory, START, email=f"person{number}@example.org")
    _sweep_and_wait(client, factory, START + timedelta(hours=9, minutes=30))
    with factory() as session:
        assert session.scalar(select(func.count(Delivery.id))) == 200
    assert _sweeps_run(worker) >= 2, "a helper sweep joined in"
    assert len(worker.outbox()) == 200
