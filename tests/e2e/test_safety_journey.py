"""Replies that carry risk, end to end with a real worker: an urgent text during a check-in
pauses the programme, is answered at once in TwiML with the country's numbers (discreetly, as
this person chose), alerts the safety address through the worker without the words, is never
kept to be echoed, and RESUME restarts; a concern is flagged with no answer at all; "opt out"
in words stops texts, and stops email when it comes by email."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coach.db import session_factory
from coach.safety.models import Flag
from coach.scheduling.models import AWAITING
from coach.settings import Settings, get_settings
from coach.subscribers.models import Subscriber
from tests.channels_twilio.conftest import AUTH_TOKEN, PUBLIC_URL
from tests.conftest import START
from tests.e2e.conftest import sweep
from tests.email_in.conftest import email, post, reply_to
from tests.helpers import deliveries, enrol
from tests.hooks_twilio.conftest import PHONE, Twilio, messages
from tests.integration.conftest import wait_until
from tests.privacy import MARKER
from tests.support.workers import Worker
from tests.web.support import enrolment_of

SAFETY = "safety@coach.example.org"
URGENT = f"i want to die. {MARKER}"


@pytest.fixture
def safety_settings(sms_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("COACH_SAFETY_EMAIL", SAFETY)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def safety_worker(safety_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    started = Worker(safety_settings, beat=False, log=tmp_path / "worker.log")
    yield started
    started.stop()


def _person(factory: sessionmaker[Session], subscriber_id: int) -> Subscriber:
    with factory() as session:
        person = session.get(Subscriber, subscriber_id)
        assert person is not None
        return person


def _to_checkin(client, worker, factory, subscriber_id):  # type: ignore[no-untyped-def]
    due = enrolment_of(factory, subscriber_id).next_due_at
    for _ in range(6):
        assert due is not None
        sweep(client, worker, factory, due)
        enrolment = enrolment_of(factory, subscriber_id)
        if enrolment.state == AWAITING:
            return due
        due = enrolment.next_due_at
    raise AssertionError("the first check-in never came")


def test_an_urgent_text_pauses_answers_alerts_and_resume_restarts(
    safety_settings, safety_worker, client, sms_web, prism_tap, enqueue, clock
):
    factory = session_factory(safety_settings.effective_database_url)
    twilio = Twilio(sms_web, token=AUTH_TOKEN, public_url=PUBLIC_URL)
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    with factory.begin() as session:
        person = session.get(Subscriber, subscriber_id)
        assert person is not None
        person.discreet = True
    checkin_at = _to_checkin(client, safety_worker, factory, subscriber_id)

    # The urgent text: answered at once, in TwiML, discreetly, with the UK's numbers.
    clock.now = checkin_at + timedelta(hours=1)
    [answer] = messages(twilio.text(URGENT))
    assert answer.splitlines()[0] == "From coach: your messages are paused for now."
    assert "999" in answer and "116 123" in answer and "RESUME" in answer
    enrolment = enrolment_of(factory, subscriber_id)
    assert (enrolment.state, enrolment.answers) == ("paused", {}), "never kept to echo"
    with factory() as session:
        [flag] = session.scalars(select(Flag)).all()
    assert (flag.risk, flag.category) == ("urgent", "suicide_self_harm")

    # The safety address hears through the worker, by email, without the words.
    wait_until(lambda: any(m["to"] == SAFETY for m in safety_worker.outbox()))
    [alert] = [m for m in safety_worker.outbox() if m["to"] == SAFETY]
    assert f"coach flags show {flag.id}" in str(alert["text"])
    assert MARKER not in str(alert) and "die" not in str(alert["text"])
    assert alert["subscriber_id"] is None, "no reply token or unsubscribe link of the person"

    # Ten days of sweeps: nothing more to the person.
    seen = prism_tap.seen()
    for day in range(1, 11):
        sweep(client, safety_worker, factory, clock.now + timedelta(days=day))
    assert prism_tap.seen() == seen

    # RESUME restarts: the next due step goes out through the worker and Prism.
    clock.now += timedelta(days=10, hours=1)
    [resumed] = messages(twilio.text("RESUME"))
    assert "welcome back" in resumed.lower() or "resum" in resumed.lower(), resumed
    enrolment = enrolment_of(factory, subscriber_id)
    assert enrolment.state != "paused" and enrolment.next_due_at is not None
    sweep(client, safety_worker, factory, enrolment.next_due_at)
    assert len(prism_tap.seen()) > len(seen), "the programme goes on"


def test_a_concern_is_flagged_with_no_answer_and_opt_out_stops_texts(
    safety_settings, safety_worker, client, sms_web, prism_tap, clock
):
    factory = session_factory(safety_settings.effective_database_url)
    twilio = Twilio(sms_web, token=AUTH_TOKEN, public_url=PUBLIC_URL)
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    checkin_at = _to_checkin(client, safety_worker, factory, subscriber_id)
    clock.now = checkin_at + timedelta(hours=1)
    pace = enrolment_of(factory, subscriber_id).pace

    assert messages(twilio.text("i dont feel safe at home")) == [], "no answer to a concern"
    with factory() as session:
        [flag] = session.scalars(select(Flag)).all()
    assert flag.risk == "concern"
    assert enrolment_of(factory, subscriber_id).pace == pace
    assert "alert" not in [d.kind for d in deliveries(factory, subscriber_id)], "no alert"

    [confirmed] = messages(twilio.text("opt out please"))
    assert "unsubscribed" in confirmed.lower()
    assert not _person(factory, subscriber_id).sms_consent
    seen = prism_tap.seen()
    for day in range(1, 8):
        sweep(client, safety_worker, factory, clock.now + timedelta(days=day))
    assert prism_tap.seen() == seen, "nothing more by text"


def test_opt_out_in_words_by_email_stops_email(email_settings, email_web, factory_for_email):
    factory = factory_for_email
    subscriber_id = enrol(factory, START)  # Sam, by email
    response = post(email_web, email("Please remove me from this list",
                                     to=reply_to(email_settings, subscriber_id)))
    assert response.status_code == 200
    person = _person(factory, subscriber_id)
    assert not person.email_consent
    assert [d.kind for d in deliveries(factory, subscriber_id)][-1] == "confirm"


@pytest.fixture
def factory_for_email(email_settings: Settings) -> sessionmaker[Session]:
    return session_factory(email_settings.effective_database_url)
