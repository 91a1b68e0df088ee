"""Signing up by text: JOIN, a choice of 1-4, then YES. Nothing is scheduled before YES."""

from datetime import timedelta

from sqlalchemy import func, select

from coach.delivery.models import Delivery
from coach.events.models import Event
from coach.inbound.signup_models import SmsSignup
from coach.inbound.sms_signup import MAX_PROMPTS, zone_for
from coach.programmes.render import sms_segments
from coach.scheduling.models import Enrolment
from coach.subscribers.links import CONFIRM_FOR
from coach.subscribers.models import Subscriber
from tests.helpers import enrol
from tests.hooks_twilio.conftest import PHONE, messages

US_PHONE = "+14155552671"


def _one(factory, model):
    with factory() as session:
        return session.scalars(select(model)).one_or_none()


def _count(factory, model) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _signup_rows(factory) -> list[Delivery]:
    with factory() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_join_choose_and_yes_subscribes_and_nothing_is_scheduled_before_yes(
    twilio, factory, clock, enqueued
):
    [menu] = messages(twilio.text("JOIN"))
    assert "coaching, not therapy" in menu and "3 Honesty" in menu
    assert _one(factory, SmsSignup).state == "choosing"

    [offer] = messages(twilio.text("3"))
    assert offer.startswith("Honesty: a good choice")
    assert "about 3 short texts a week for 6 weeks" in offer
    assert "Msg & data rates may apply" in offer and "STOP" in offer and "HELP" in offer
    assert "YES" in offer
    contact = _one(factory, Subscriber)
    assert contact.phone == PHONE and not contact.sms_consent
    assert _count(factory, Enrolment) == 0, "nothing is scheduled before YES"

    [done] = messages(twilio.text("yes"))
    assert "honesty" in done and "18:00" in done and "Europe/London" in done
    enrolment, subscriber = _one(factory, Enrolment), _one(factory, Subscriber)
    assert enrolment.quality == "honesty" and enrolment.next_due_at is not None
    assert subscriber.sms_consent and subscriber.sms_consent_source == "sms double opt-in"
    assert subscriber.timezone == "Europe/London" and f"{subscriber.send_time:%H:%M}" == "18:00"
    assert _count(factory, SmsSignup) == 0
    rows = _signup_rows(factory)
    assert [(d.kind, d.status) for d in rows] == [("signup", "sent")] * 3
    assert all(sms_segments(d.body_text) <= (2, "GSM-7") for d in rows)
    assert enqueued.batches == []


def test_an_invalid_choice_asks_again_and_a_name_is_a_choice_too(twilio, factory):
    twilio.text("join")
    [again] = messages(twilio.text("7"))
    assert again.startswith("Sorry, we didn't catch that") and "4 Clear communication" in again
    assert _one(factory, SmsSignup).state == "choosing"
    [offer] = messages(twilio.text("trust and care"))
    assert offer.startswith("Trust and care: a good choice")
    [offer_again] = messages(twilio.text("maybe"))
    assert offer_again.startswith("Sorry, we didn't catch that. You chose trust and care")
    [changed] = messages(twilio.text("1"))
    assert changed.startswith("Knowing and liking yourself")
    messages(twilio.text("Yes please"))
    assert _one(factory, Enrolment).quality == "knowing-yourself"


def test_no_before_yes_cancels_and_nothing_is_set_up(twilio, factory):
    twilio.text("JOIN")
    twilio.text("2")
    [text] = messages(twilio.text("no"))
    assert text.startswith("No problem: nothing is set up")
    assert _count(factory, SmsSignup) == 0 and _count(factory, Enrolment) == 0
    assert not _one(factory, Subscriber).sms_consent


def test_stop_during_sign_up_ends_it(twilio, factory):
    twilio.text("JOIN")
    assert messages(twilio.text("STOP", OptOutType="STOP")) == []
    assert _count(factory, SmsSignup) == 0 and _count(factory, Enrolment) == 0
    assert messages(twilio.text("yes")) == [], "YES after STOP subscribes nobody"
    assert _count(factory, Enrolment) == 0


def test_help_during_sign_up_says_what_coach_is_and_what_to_reply(twilio):
    twilio.text("JOIN")
    [text] = messages(twilio.text("HELP"))
    assert "coaching, not therapy" in text and "Reply 1-4" in text
    assert messages(twilio.text("HELP", OptOutType="HELP")) == [], "Twilio answered that one"


def test_words_of_distress_during_sign_up_end_it_and_are_flagged_for_a_person(twilio, factory):
    twilio.text("JOIN")
    [text] = messages(twilio.text("he hits me"))
    assert "emergency" in text
    assert _count(factory, SmsSignup) == 0 and _count(factory, Enrolment) == 0
    assert _one(factory, Subscriber).flagged_at is not None


def test_start_from_an_unknown_number_begins_sign_up(twilio, factory):
    [menu] = messages(twilio.text("START", OptOutType="START"))
    assert "Reply with a number" in menu
    assert _one(factory, SmsSignup).state == "choosing"


def test_other_words_from_an_unknown_number_get_how_to_join_once(twilio, factory):
    """One answer, then silence: no reply loop with another automated number."""
    [text] = messages(twilio.text("hi, who is this?"))
    assert "Text JOIN to start" in text and "coaching, not therapy" in text
    assert messages(twilio.text("hi?")) == []
    assert _count(factory, Enrolment) == 0 and _count(factory, SmsSignup) == 0
    [menu] = messages(twilio.text("join"))
    assert "Reply with a number" in menu


def test_a_misunderstood_sign_up_stops_answering_after_a_few_prompts(twilio, factory):
    twilio.text("JOIN")
    answers = [messages(twilio.text("what")) for _ in range(MAX_PROMPTS + 2)]
    assert answers[0] != [] and answers[-1] == []
    assert len(_signup_rows(factory)) == MAX_PROMPTS
    [offer] = messages(twilio.text("3"))
    assert offer.startswith("Honesty"), "a real choice is still answered"


def test_a_duplicated_join_is_answered_once(twilio, factory):
    assert len(messages(twilio.text("JOIN", sid="SM" + "e" * 32))) == 1
    assert messages(twilio.text("JOIN", sid="SM" + "e" * 32)) == []
    assert len(_signup_rows(factory)) == 1


def test_join_from_someone_on_a_programme_is_a_reply_to_it(twilio, factory, clock):
    enrol(factory, clock.now, phone=PHONE, email="")
    assert messages(twilio.text("JOIN")) == []
    assert _count(factory, SmsSignup) == 0 and _count(factory, Enrolment) == 0 + 1


def test_join_after_a_finished_programme_starts_another(twilio, factory, clock):
    subscriber_id = enrol(factory, clock.now, phone=PHONE, email="")
    with factory.begin() as session:
        session.scalars(select(Enrolment)).one().state = "completed"
    twilio.text("JOIN")
    twilio.text("4")
    messages(twilio.text("YES"))
    with factory() as session:
        qualities = list(session.scalars(select(Enrolment.quality).order_by(Enrolment.id)))
        assert qualities == ["trust-and-care", "clear-communication"]
        assert session.scalar(select(func.count(Event.id)).where(
            Event.subscriber_id == subscriber_id, Event.action == "enrol")) == 2


def test_the_time_zone_comes_from_the_number():
    assert zone_for(PHONE) == "Europe/London"
    assert zone_for(US_PHONE) == "America/Los_Angeles"
    assert zone_for("+80012345678") == "UTC"  # international freephone: no zone


def test_words_of_distress_from_an_unknown_number_are_answered_and_flagged(twilio, factory):
    [text] = messages(twilio.text("I want to die"))
    assert "emergency" in text and "coaching" in text
    assert _one(factory, Subscriber).flagged_at is not None
    assert _count(factory, SmsSignup) == 0


def test_help_from_someone_who_never_joined_says_how_to_join(twilio):
    messages(twilio.text("hello"))
    [text] = messages(twilio.text("help"))
    assert "Text JOIN to start" in text


def test_a_sign_up_overtaken_by_a_web_sign_up_gives_way_to_the_programme(
    twilio, factory, clock
):
    twilio.text("JOIN")
    enrol(factory, clock.now, phone=PHONE, email="")
    assert messages(twilio.text("3 please")) == []
    assert _count(factory, SmsSignup) == 0 and _count(factory, Enrolment) == 1


def test_a_number_with_words_after_it_is_a_choice(twilio, factory):
    twilio.text("JOIN")
    [offer] = messages(twilio.text("3 please"))
    assert offer.startswith("Honesty")


def test_a_yes_long_after_the_offer_does_not_subscribe_and_starts_over(
    twilio, factory, clock, enqueued
):
    twilio.text("JOIN")
    twilio.text("3")
    clock.now += CONFIRM_FOR + timedelta(minutes=1)
    [text] = messages(twilio.text("YES"))
    assert "expired" in text and "Text JOIN to start again" in text
    assert "STOP" in text
    assert _count(factory, SmsSignup) == 0 and _count(factory, Enrolment) == 0
    assert not _one(factory, Subscriber).sms_consent
    assert [d.kind for d in _signup_rows(factory)] == ["signup"] * 3, "nothing else planned"
    assert enqueued.batches == []
    assert messages(twilio.text("yes")) == [], "a second YES finds nothing to confirm"
    assert _count(factory, Enrolment) == 0
    [menu] = messages(twilio.text("JOIN"))
    assert "Reply with a number" in menu


def test_a_yes_within_two_days_of_the_last_prompt_subscribes(twilio, factory, clock):
    twilio.text("JOIN")
    twilio.text("3")
    clock.now += CONFIRM_FOR - timedelta(minutes=1)
    [again] = messages(twilio.text("maybe"))  # asked again: the two days start afresh
    assert again.startswith("Sorry, we didn't catch that")
    clock.now += CONFIRM_FOR
    [done] = messages(twilio.text("YES"))
    assert done.startswith("You're in")
    assert _count(factory, Enrolment) == 1 and _one(factory, Subscriber).sms_consent
