"""Issue 6, items 6 and 7, through the real sweep.

A version published before today's checks (or one whose template fails only on real data) must
fail that one enrolment with an event an admin can read, never the batch, and never put the
person's words in a log line (the suite-wide guard in tests/privacy.py watches every test).
"""

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from coach.delivery.models import Delivery
from coach.events.models import Event
from coach.programmes.models import Programme, ProgrammeVersion
from coach.scheduling import plan
from coach.scheduling.models import Enrolment
from coach.scheduling.services import run_sweep
from tests.conftest import START
from tests.helpers import enrol
from tests.privacy import MARKER
from tests.security.templates import source

DUE = START + timedelta(hours=9, minutes=30)


def unchecked_version(factory: sessionmaker[Session], **blocks: str) -> int:
    """A new version of trust-and-care whose first step is the given template, stored as an
    older release would have stored it: without today's validation."""
    plan.forget_programmes()  # another test's database may have had a version of this id
    with factory.begin() as session:
        programme = session.scalars(select(Programme).where(
            Programme.slug == "trust-and-care")).one()
        latest = programme.versions[-1]
        steps = [dict(s) for s in latest.definition["steps"]]
        steps[0] = {**steps[0], "source": source(**blocks)}
        version = ProgrammeVersion(programme=programme, number=latest.number + 1,
                                   checksum="unchecked", definition={**latest.definition,
                                                                     "steps": steps})
        session.add(version)
        session.flush()
        return version.id


def enrolment_of(factory: sessionmaker[Session], subscriber_id: int, **values: Any) -> int:
    with factory.begin() as session:
        enrolment = session.scalars(select(Enrolment).where(
            Enrolment.subscriber_id == subscriber_id)).one()
        if values:
            session.execute(update(Enrolment).where(Enrolment.id == enrolment.id).values(values))
        return enrolment.id


def events_of(factory: sessionmaker[Session], enrolment_id: int) -> list[Event]:
    with factory() as session:
        return list(session.scalars(select(Event).where(Event.enrolment_id == enrolment_id)
                                    .order_by(Event.id)))


def deliveries_of(factory: sessionmaker[Session], enrolment_id: int) -> list[Delivery]:
    with factory() as session:
        return list(session.scalars(select(Delivery).where(
            Delivery.enrolment_id == enrolment_id)))


def test_a_step_over_budget_fails_its_enrolment_not_the_batch(settings, factory, published):
    before = enrolment_of(factory, enrol(factory, START, email="before@example.org"))
    unchecked_version(factory, sms="{% if name != 'Alexandra' %}{{ 'x' * 10**7 }}{% endif %}")
    hostile = enrolment_of(factory, enrol(factory, START, email="hostile@example.org"))
    after = enrolment_of(factory, enrol(factory, START, email="after@example.org",
                                        focus="honesty"))
    result = run_sweep(DUE, settings, lambda ids: None)
    assert result["actions"]["error"] == 1
    assert result["planned"] == 2
    assert deliveries_of(factory, hostile) == []
    assert len(deliveries_of(factory, before)) == len(deliveries_of(factory, after)) == 1
    [event] = [e for e in events_of(factory, hostile) if e.action == "error"]
    assert event.reason.startswith("step welcome broke its size budget (")
    assert "the enrolment waits for an admin" in event.reason
    with factory() as session:
        assert session.get(Enrolment, hostile).next_due_at > DUE + timedelta(hours=1)


def test_a_step_that_fails_on_real_words_logs_no_words(settings, factory, published, caplog):
    unchecked_version(factory, email="You said {{ answers[answers.q1] }}.")
    enrolment = enrolment_of(factory, enrol(factory, START),
                             answers={"q1": MARKER})
    result = run_sweep(DUE, settings, lambda ids: None)
    assert result["actions"]["error"] == 1
    [event] = [e for e in events_of(factory, enrolment) if e.action == "error"]
    assert event.reason == ("step welcome failed at steps/welcome.j2:4 (UndefinedError); "
                            "the enrolment waits for an admin, trying again in a day")
    assert MARKER not in caplog.text
    logged = [r for r in caplog.records if r.name == "coach.scheduling.sweep"]
    assert logged and all(MARKER not in r.getMessage() and r.exc_info is None
                          for r in logged)
    assert "UndefinedError" in logged[0].getMessage()
    assert "welcome" in logged[0].getMessage()
