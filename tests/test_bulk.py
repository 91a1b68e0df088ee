"""Many rows in one statement (PostgreSQL) or an executemany (SQLite): the same rows written."""

from sqlalchemy import select

from coach import bulk
from coach.delivery.models import Delivery
from coach.delivery.services import DELIVERIES
from coach.scheduling.models import Enrolment
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.helpers import enrol


def test_update_by_id_keeps_the_last_row_of_an_id_json_and_onupdate_columns(
        settings, factory, published):
    first, second = enrol(factory, START), enrol(factory, START, email="kim@example.org")
    sends = [["2026-03-01T09:00:00+00:00"], ["2026-03-01T09:00:00+00:00",
                                             "2026-03-02T09:00:00+00:00"]]
    with factory.begin() as session:
        before = {e.id: e.updated_at for e in session.scalars(select(Enrolment))}
        bulk.update_by_id(session.connection(), Subscriber.__table__, [
            {"_id": first, "recent_sends": sends[0]},
            {"_id": second, "recent_sends": []},
            {"_id": first, "recent_sends": sends[1]},  # listed twice: the last one holds
        ])
        bulk.update_by_id(session.connection(), Enrolment.__table__,
                          [{"_id": e, "step": 2} for e in before])
    with factory() as session:
        people = {s.id: s.recent_sends for s in session.scalars(select(Subscriber))}
        enrolments = list(session.scalars(select(Enrolment)))
    assert people == {first: sends[1], second: []}
    assert [e.step for e in enrolments] == [2, 2]
    assert all(e.updated_at != before[e.id] for e in enrolments), "onupdate stamped"


def test_insert_skips_a_clash_and_returns_what_went_in(settings, factory, published):
    person = enrol(factory, START)
    row = {"dedupe_key": "k1", "subscriber_id": person, "enrolment_id": None, "step_key": None,
           "kind": "nudge", "channel": "sms", "address": "+447700900123", "subject": None,
           "body_text": "Hello", "status": "queued", "created_at": START}
    with factory.begin() as session:
        first = bulk.insert(session.connection(), DELIVERIES, [row, {**row, "dedupe_key": "k2",
                                                                   "channel": "email"}],
                            conflict="dedupe_key", returning=("id", "channel")).all()
        again = bulk.insert(session.connection(), DELIVERIES, [row], conflict="dedupe_key",
                            returning=("id",)).all()
    assert [channel for _, channel in first] == ["sms", "email"] and again == []
    with factory() as session:
        assert sorted(session.scalars(select(Delivery.dedupe_key))) == ["k1", "k2"]
