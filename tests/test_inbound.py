"""The inbound path: what each kind of reply does, recorded once, with its reason.

Each reply comes with a bystander enrolled just before its sender, on the same schedule: a
reply that lands on the wrong person changes the bystander, and the test fails."""

from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from coach.delivery.channels import MemoryChannel
from coach.events.models import Event
from coach.inbound.models import Reply
from coach.inbound.services import UnknownSender
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.helpers import deliveries, enrol, reply, run_hours, tick, to_first_checkin
from tests.web.support import enrolment_of, run_until_checkin

PHONE = "+447911123456"
OTHER_PHONE = "+447911123457"  # one digit from PHONE
OTHER_EMAIL = "alex@example.org"


@dataclass
class Bystander:
    factory: sessionmaker[Session]
    id: int

    def state(self) -> tuple[object, ...]:
        """All a reply could change: the enrolment, consent and flags, replies, what was sent."""
        enrolment = enrolment_of(self.factory, self.id)
        with self.factory() as session:
            subscriber = session.get(Subscriber, self.id)
            assert subscriber is not None
            replies = session.scalar(select(func.count(Reply.id))
                                     .where(Reply.subscriber_id == self.id))
            events = session.scalar(select(func.count(Event.id))
                                    .where(Event.subscriber_id == self.id))
        return (enrolment.state, enrolment.pace, enrolment.answers, enrolment.next_due_at,
                enrolment.paused_until, subscriber.sms_consent, subscriber.email_consent,
                subscriber.preferred_channel, subscriber.flag_reason, replies, events,
                [d.kind for d in deliveries(self.factory, self.id)])


@pytest.fixture
def bystander(factory: sessionmaker[Session], published: None) -> Bystander:
    """Enrolled before the test's own person, so a lookup that takes the first row finds them."""
    return Bystander(factory, enrol(factory, START, email=OTHER_EMAIL, phone=OTHER_PHONE))


def replies_of(factory: sessionmaker[Session], subscriber_id: int) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(Reply.text).where(Reply.subscriber_id == subscriber_id)
                                    .order_by(Reply.id)))


def test_a_reply_with_the_same_provider_id_is_recorded_once(settings, factory, bystander):
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    before = bystander.state()
    first = reply(factory, settings, PHONE, "4", now, provider_id="SM123")
    again = reply(factory, settings, PHONE, "4", now, provider_id="SM123")
    assert not first.duplicate and again.duplicate
    assert replies_of(factory, subscriber_id) == ["4"]
    assert bystander.state() == before


def test_an_unknown_sender_is_refused_and_nothing_is_stored(settings, factory, bystander):
    before = bystander.state()
    with pytest.raises(UnknownSender, match="no subscriber has the address"):
        reply(factory, settings, "nobody@example.org", "hello", START)
    with factory() as session:
        assert session.scalar(select(func.count(Reply.id))) == 0
    assert bystander.state() == before


def test_free_text_to_a_check_in_is_saved_as_the_named_answer(settings, factory, bystander):
    subscriber_id, now = to_first_checkin(settings, factory)
    before = bystander.state()
    reply(factory, settings, "sam@example.org", "Keeping small promises, on time", now)
    enrolment = enrolment_of(factory, subscriber_id)
    assert enrolment.answers == {"trust_means": "Keeping small promises, on time"}
    assert enrolment.state == "active" and enrolment.pace == 1.0
    assert bystander.state() == before


def test_answering_every_check_in_completes_and_the_closing_recalls_it(
    settings, factory, bystander
):
    subscriber_id = enrol(factory, START)
    now = START
    for _ in range(24 * 60):
        tick(settings, now)
        if enrolment_of(factory, subscriber_id).state == "awaiting":
            reply(factory, settings, "sam@example.org", "Keeping small promises", now)
        now += timedelta(hours=1)
    sent = deliveries(factory, subscriber_id)
    assert enrolment_of(factory, subscriber_id).state == "completed"
    assert sent[-1].kind == "closing" and "Keeping small promises" in sent[-1].body_text
    assert [d.kind for d in sent].count("reminder") == 0
    gaps = [(b.sent_at - a.sent_at).days for a, b in pairwise(sent)]
    assert min(gaps) >= 1, "at most one scheduled message a day"
    unanswered = enrolment_of(factory, bystander.id)
    assert unanswered.state == "paused" and unanswered.answers == {}, "the bystander never answered"
    assert replies_of(factory, bystander.id) == []


def test_a_hard_week_in_words_keeps_the_pace(settings, factory, bystander):
    """The scale is how the practice went; a hard week described in words is an answer."""
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    before = bystander.state()
    outcome = reply(factory, settings, PHONE, "honestly it was hard this week", now)
    assert outcome.decision == "steady"
    enrolment = enrolment_of(factory, subscriber_id)
    assert enrolment.pace == 1.0 and enrolment.state == "active", "the check-in is answered"
    assert bystander.state() == before


def test_asking_to_slow_down_slows_and_offers_the_practice_once_more(
        settings, factory, bystander):
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    before = bystander.state()
    outcome = reply(factory, settings, PHONE, "slower please", now)
    assert outcome.decision == "slower"
    assert enrolment_of(factory, subscriber_id).pace == 1.5
    [ack] = [d for d in deliveries(factory, subscriber_id) if d.kind == "ack"]
    assert "slow down" in ack.body_text and "another go" in ack.body_text
    assert bystander.state() == before


def test_ready_never_goes_faster_than_the_authored_schedule(settings, factory, bystander):
    subscriber_id, now = to_first_checkin(settings, factory)
    reply(factory, settings, "sam@example.org", "Keeping small promises", now)
    asked = run_until_checkin(settings, factory, subscriber_id)  # "1 = ..., 5 = a habit"
    before = bystander.state()
    outcome = reply(factory, settings, "sam@example.org", "5", asked)
    assert outcome.decision == "steady", "read as ready, already at the authored pace"
    with factory() as session:
        reason = session.scalars(select(Event.reason).where(Event.subscriber_id == subscriber_id)
                                 .order_by(Event.id.desc())).first()
    assert reason and "5 of 5: ready (pace 1.00 -> 1.00)" in reason
    enrolment = enrolment_of(factory, subscriber_id)
    assert enrolment.pace == 1.0 and enrolment.state == "active", "the check-in is answered"
    assert bystander.state() == before


def test_help_answers_with_what_the_service_is(settings, factory, bystander):
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    before = bystander.state()
    reply(factory, settings, PHONE, "help", START)
    [answer] = deliveries(factory, subscriber_id)
    assert "coaching, not therapy" in answer.body_text and "STOP" in answer.body_text
    assert bystander.state() == before


def test_an_urgent_reply_gets_support_pauses_and_flags_for_a_person(settings, factory,
                                                                    bystander):
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    before = bystander.state()
    reply(factory, settings, PHONE, "3 he hit me again last night and im scared", now)
    with factory() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None and subscriber.flag_reason
        flagged = session.scalars(select(Event.subscriber_id).where(Event.kind == "flag")).all()
    assert flagged == [subscriber_id]
    enrolment = enrolment_of(factory, subscriber_id)
    assert enrolment.state == "paused" and enrolment.next_due_at is None
    support = deliveries(factory, subscriber_id)[-1]
    assert "call 999" in support.body_text, "the UK's emergency number, from the phone number"
    assert "0808 2000 247" in support.body_text, "the abuse line, for violence by a partner"
    assert "RESUME" in support.body_text and support.kind == "crisis"
    assert bystander.state() == before
    sent, others = len(deliveries(factory, subscriber_id)), len(deliveries(factory, bystander.id))
    run_hours(settings, now, 24 * 14)
    assert len(deliveries(factory, subscriber_id)) == sent, "no automated nudges after distress"
    assert len(deliveries(factory, bystander.id)) > others, "the programme went on for others"


def test_stop_then_start_picks_up_again(settings, factory, bystander):
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    before = bystander.state()
    reply(factory, settings, PHONE, "Stop.", START)
    assert enrolment_of(factory, subscriber_id).state == "stopped"
    assert bystander.state() == before
    run_hours(settings, START, 24 * 3)
    reply(factory, settings, PHONE, "START", START + timedelta(days=3))
    assert enrolment_of(factory, subscriber_id).state == "active"
    run_hours(settings, START + timedelta(days=3), 24 * 2)
    kinds = [d.kind for d in deliveries(factory, subscriber_id)]
    assert kinds == ["confirm", "ack", "nudge"]
    assert "ack" not in [d.kind for d in deliveries(factory, bystander.id)]


def test_stop_on_one_channel_moves_to_the_other(settings, factory, bystander):
    subscriber_id = enrol(factory, START, phone=PHONE)
    reply(factory, settings, PHONE, "STOP", START)
    run_hours(settings, START, 24)
    sent = [(d.kind, d.channel) for d in deliveries(factory, subscriber_id)]
    assert sent == [("confirm", "sms"), ("nudge", "email")]
    others = [(d.kind, d.channel) for d in deliveries(factory, bystander.id)]
    assert others == [("nudge", "sms")], "the bystander's texts go on"


def test_pause_is_capped_at_ninety_days(settings, factory, bystander):
    subscriber_id = enrol(factory, START)
    before = bystander.state()
    reply(factory, settings, "sam@example.org", "pause 400", START)
    enrolment = enrolment_of(factory, subscriber_id)
    assert enrolment.paused_until == START + timedelta(days=90)
    with factory() as session:
        reason = session.scalars(select(Event.reason).where(Event.action == "pause")).one()
    assert "90 days is the longest pause" in reason
    assert bystander.state() == before


def test_resume_when_not_paused_says_so_and_changes_nothing(settings, factory, bystander):
    subscriber_id = enrol(factory, START)
    due_before, before = enrolment_of(factory, subscriber_id).next_due_at, bystander.state()
    reply(factory, settings, "sam@example.org", "RESUME", START)
    assert enrolment_of(factory, subscriber_id).next_due_at == due_before
    assert "nothing to resume" in deliveries(factory, subscriber_id)[-1].body_text
    assert bystander.state() == before


def test_three_unanswered_check_ins_pause_with_a_kind_message(settings, factory, published):
    subscriber_id = enrol(factory, START)
    run_hours(settings, START, 24 * 60)
    enrolment = enrolment_of(factory, subscriber_id)
    assert enrolment.state == "paused" and enrolment.next_due_at is None
    sent = deliveries(factory, subscriber_id)
    assert [d.kind for d in sent].count("reminder") == 3
    assert sent[-1].kind == "notice" and "RESUME" in sent[-1].body_text
    assert enrolment.pace == pytest.approx(1.5625)
    assert MemoryChannel.sent and all(m.to == "sam@example.org" for m in MemoryChannel.sent)


def test_saved_answers_are_kept_in_plain_punctuation(settings, factory, bystander):
    subscriber_id, now = to_first_checkin(settings, factory)
    before = bystander.state()
    reply(factory, settings, "sam@example.org", "  Doing what I’d said —\n“always”  ", now)
    assert enrolment_of(factory, subscriber_id).answers == {
        "trust_means": "Doing what I'd said - \"always\""}
    assert bystander.state() == before
