"""A person through the programme on both databases: the engine's main promises end to end."""

from datetime import timedelta

from sqlalchemy import select

from coach.delivery.channels import MemoryChannel
from coach.delivery.email_message import build_email
from coach.events.models import Event
from coach.scheduling.models import Enrolment
from tests.conftest import START
from tests.helpers import deliveries, enrol, reply, run_hours, tick


def test_welcome_goes_at_the_preferred_local_time(settings, factory, published):
    subscriber_id = enrol(factory, START)
    tick(settings, START + timedelta(hours=9, minutes=29))  # 18:29 London (UTC in March)
    assert deliveries(factory, subscriber_id) == []
    tick(settings, START + timedelta(hours=9, minutes=30))
    [welcome] = deliveries(factory, subscriber_id)
    assert (welcome.status, welcome.kind, welcome.step_key) == ("sent", "nudge", "welcome")
    assert welcome.sent_at == START + timedelta(hours=9, minutes=30)
    [email] = MemoryChannel.sent
    assert email.subject and "coaching, not therapy" in email.text
    page = build_email(email, settings, welcome.sent_at).get_body(("html",)).get_content()
    assert "<strong>" in page and "not therapy" in page


def test_three_weeks_with_replies_and_a_pause(settings, factory, published):
    subscriber_id = enrol(factory, START)
    now = run_hours(settings, START, 24 * 8)  # welcome, practice, reflection, then check-in
    sent = deliveries(factory, subscriber_id)
    assert [d.kind for d in sent][:4] == ["nudge", "nudge", "nudge", "checkin"]
    # The first check-in asks a question in words: "2" would tell nothing; SLOWER does.
    outcome = reply(factory, settings, "sam@example.org", "slower", now)
    assert outcome.decision == "slower"
    with factory() as session:
        enrolment = session.scalars(select(Enrolment)).one()
        assert enrolment.pace == 1.5 and enrolment.repeat_step is not None
    now = run_hours(settings, now, 24 * 5)
    kinds = [d.kind for d in deliveries(factory, subscriber_id)]
    assert "repeat" in kinds, kinds
    reply(factory, settings, "sam@example.org", "PAUSE 10", now)
    before = len(deliveries(factory, subscriber_id))
    now = run_hours(settings, now, 24 * 9)
    assert len(deliveries(factory, subscriber_id)) == before, "nothing is sent while paused"
    now = run_hours(settings, now, 24 * 3)
    assert len(deliveries(factory, subscriber_id)) > before, "the pause ends by itself"
    with factory() as session:
        actions = list(session.scalars(select(Event.action).order_by(Event.id)))
    assert {"enrol", "send", "slower", "repeat", "pause"} <= set(actions)


def test_stop_then_a_due_nudge_in_the_same_minute_sends_nothing(settings, factory, published):
    subscriber_id = enrol(factory, START)
    due = START + timedelta(hours=9, minutes=30)
    reply(factory, settings, "sam@example.org", "STOP", due)
    tick(settings, due)
    sent = deliveries(factory, subscriber_id)
    assert [(d.kind, d.status) for d in sent] == [("confirm", "sent")]
    run_hours(settings, due, 24 * 14)
    assert len(deliveries(factory, subscriber_id)) == 1
