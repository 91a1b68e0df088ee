"""The inbound path: what each kind of reply does, recorded once, with its reason."""

from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from coach.delivery.channels import MemoryChannel
from coach.events.models import Event
from coach.inbound.models import Reply
from coach.inbound.services import UnknownSender
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.helpers import (
    deliveries,
    enrol,
    only_enrolment,
    reply,
    run_hours,
    tick,
    to_first_checkin,
)

PHONE = "+447911123456"




def test_a_reply_with_the_same_provider_id_is_recorded_once(settings, factory, published):
    _, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    first = reply(factory, settings, PHONE, "4", now, provider_id="SM123")
    again = reply(factory, settings, PHONE, "4", now, provider_id="SM123")
    assert not first.duplicate and again.duplicate
    with factory() as session:
        assert session.scalar(select(func.count(Reply.id))) == 1


def test_an_unknown_sender_is_refused_and_nothing_is_stored(settings, factory, published):
    with pytest.raises(UnknownSender, match="no subscriber has the address"):
        reply(factory, settings, "nobody@example.org", "hello", START)
    with factory() as session:
        assert session.scalar(select(func.count(Reply.id))) == 0


def test_free_text_to_a_check_in_is_saved_as_the_named_answer(settings, factory, published):
    _, now = to_first_checkin(settings, factory)
    reply(factory, settings, "sam@example.org", "Keeping small promises, on time", now)
    enrolment = only_enrolment(factory)
    assert enrolment.answers == {"trust_means": "Keeping small promises, on time"}
    assert enrolment.state == "active" and enrolment.pace == 1.0


def test_answering_every_check_in_completes_and_the_closing_recalls_it(
    settings, factory, published
):
    subscriber_id = enrol(factory, START)
    now = START
    for _ in range(24 * 60):
        tick(settings, now)
        if only_enrolment(factory).state == "awaiting":
            reply(factory, settings, "sam@example.org", "Keeping small promises", now)
        now += timedelta(hours=1)
    sent = deliveries(factory, subscriber_id)
    assert only_enrolment(factory).state == "completed"
    assert sent[-1].kind == "closing" and "Keeping small promises" in sent[-1].body_text
    assert [d.kind for d in sent].count("reminder") == 0
    gaps = [(b.sent_at - a.sent_at).days for a, b in pairwise(sent)]
    assert min(gaps) >= 1, "at most one scheduled message a day"


def test_a_hard_week_in_words_keeps_the_pace(settings, factory, published):
    """The scale is how the practice went; a hard week described in words is an answer."""
    _, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    outcome = reply(factory, settings, PHONE, "honestly it was hard this week", now)
    assert outcome.decision == "steady"
    assert only_enrolment(factory).pace == 1.0


def test_asking_to_slow_down_slows_and_offers_the_practice_once_more(
        settings, factory, published):
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    outcome = reply(factory, settings, PHONE, "slower please", now)
    assert outcome.decision == "slower"
    assert only_enrolment(factory).pace == 1.5
    [ack] = [d for d in deliveries(factory, subscriber_id) if d.kind == "ack"]
    assert "slow down" in ack.body_text and "another go" in ack.body_text


def test_ready_never_goes_faster_than_the_authored_schedule(settings, factory, published):
    _, now = to_first_checkin(settings, factory)
    reply(factory, settings, "sam@example.org", "5", now)
    assert only_enrolment(factory).pace == 1.0


def test_help_answers_with_what_the_service_is(settings, factory, published):
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    reply(factory, settings, PHONE, "help", START)
    [answer] = deliveries(factory, subscriber_id)
    assert "coaching, not therapy" in answer.body_text and "STOP" in answer.body_text


def test_an_urgent_reply_gets_support_pauses_and_flags_for_a_person(settings, factory,
                                                                    published):
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    reply(factory, settings, PHONE, "3 he hit me again last night and im scared", now)
    with factory() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None and subscriber.flag_reason
        flags = session.scalars(select(Event).where(Event.kind == "flag")).all()
    assert len(flags) == 1
    enrolment = only_enrolment(factory)
    assert enrolment.state == "paused" and enrolment.next_due_at is None
    support = deliveries(factory, subscriber_id)[-1]
    assert "call 999" in support.body_text, "the UK's emergency number, from the phone number"
    assert "0808 2000 247" in support.body_text, "the abuse line, for violence by a partner"
    assert "RESUME" in support.body_text and support.kind == "crisis"
    before = len(deliveries(factory, subscriber_id))
    run_hours(settings, now, 24 * 14)
    assert len(deliveries(factory, subscriber_id)) == before, "no automated nudges after distress"


def test_stop_then_start_picks_up_again(settings, factory, published):
    subscriber_id = enrol(factory, START, phone=PHONE, email="")
    reply(factory, settings, PHONE, "Stop.", START)
    assert only_enrolment(factory).state == "stopped"
    run_hours(settings, START, 24 * 3)
    reply(factory, settings, PHONE, "START", START + timedelta(days=3))
    assert only_enrolment(factory).state == "active"
    run_hours(settings, START + timedelta(days=3), 24 * 2)
    kinds = [d.kind for d in deliveries(factory, subscriber_id)]
    assert kinds == ["confirm", "ack", "nudge"]


def test_stop_on_one_channel_moves_to_the_other(settings, factory, published):
    subscriber_id = enrol(factory, START, phone=PHONE)
    reply(factory, settings, PHONE, "STOP", START)
    run_hours(settings, START, 24)
    sent = [(d.kind, d.channel) for d in deliveries(factory, subscriber_id)]
    assert sent == [("confirm", "sms"), ("nudge", "email")]


def test_pause_is_capped_at_ninety_days(settings, factory, published):
    enrol(factory, START)
    reply(factory, settings, "sam@example.org", "pause 400", START)
    enrolment = only_enrolment(factory)
    assert enrolment.paused_until == START + timedelta(days=90)
    with factory() as session:
        reason = session.scalars(select(Event.reason).where(Event.action == "pause")).one()
    assert "90 days is the longest pause" in reason


def test_resume_when_not_paused_says_so_and_changes_nothing(settings, factory, published):
    subscriber_id = enrol(factory, START)
    due_before = only_enrolment(factory).next_due_at
    reply(factory, settings, "sam@example.org", "RESUME", START)
    assert only_enrolment(factory).next_due_at == due_before
    assert "nothing to resume" in deliveries(factory, subscriber_id)[-1].body_text


def test_three_unanswered_check_ins_pause_with_a_kind_message(settings, factory, published):
    subscriber_id = enrol(factory, START)
    run_hours(settings, START, 24 * 60)
    enrolment = only_enrolment(factory)
    assert enrolment.state == "paused" and enrolment.next_due_at is None
    sent = deliveries(factory, subscriber_id)
    assert [d.kind for d in sent].count("reminder") == 3
    assert sent[-1].kind == "notice" and "RESUME" in sent[-1].body_text
    assert enrolment.pace == pytest.approx(1.5625)
    assert not MemoryChannel.sent or all(m.to == "sam@example.org" for m in MemoryChannel.sent)


def test_saved_answers_are_kept_in_plain_punctuation(settings, factory, published):
    _, now = to_first_checkin(settings, factory)
    reply(factory, settings, "sam@example.org", "  Doing what I’d said —\n“always”  ", now)
    assert only_enrolment(factory).answers == {"trust_means": "Doing what I'd said - \"always\""}
