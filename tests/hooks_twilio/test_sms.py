"""Texts from subscribers through Twilio's webhook: recorded once, answered in TwiML, and
Twilio's Advanced Opt-Out honoured without a second confirmation."""

from xml.etree import ElementTree

from sqlalchemy import func, select

from coach.delivery.channels import MemoryChannel
from coach.delivery.sending import send_deliveries
from coach.events.models import Event
from coach.inbound.models import Reply
from coach.subscribers.models import Subscriber
from tests.helpers import deliveries, enrol
from tests.hooks_twilio.conftest import PHONE, messages
from tests.web.support import enrolment_of, row_counts, run_until_checkin


def _at_checkin(settings, factory, clock) -> int:
    subscriber_id = enrol(factory, clock.now, phone=PHONE, email="")
    clock.now = run_until_checkin(settings, factory, subscriber_id)
    return subscriber_id


def _count(factory, model) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _subscriber(factory, subscriber_id) -> Subscriber:
    with factory() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        return subscriber


def test_a_check_in_answer_gets_its_acknowledgement_in_twiml_sent_once(
    settings, factory, clock, twilio, enqueued
):
    subscriber_id = _at_checkin(settings, factory, clock)
    sent_by_workers = len(MemoryChannel.sent)
    response = twilio.text("slower", sid="SM" + "c" * 32)
    [text] = messages(response)
    [ack] = [d for d in deliveries(factory, subscriber_id) if d.kind == "ack"]
    assert text == ack.body_text and text.startswith("Thank you for being honest")
    assert ack.status == "sent" and ack.provider_id == "twiml:SM" + "c" * 32
    action = ElementTree.fromstring(response.text).find("Message").get("action")
    assert action == f"https://coach.example.org/hooks/twilio/status?delivery={ack.id}"
    assert enrolment_of(factory, subscriber_id).pace == 1.5
    # No worker sends it too: it was never handed over, and a stray send finds it taken.
    assert enqueued.batches == []
    assert send_deliveries([ack.id], clock.now, settings).sent == 0
    assert len(MemoryChannel.sent) == sent_by_workers


def test_the_same_message_sid_twice_is_recorded_once_and_answered_once(
    settings, factory, clock, twilio
):
    subscriber_id = _at_checkin(settings, factory, clock)
    first = twilio.text("slower", sid="SM" + "d" * 32)
    again = twilio.text("slower", sid="SM" + "d" * 32)
    assert len(messages(first)) == 1 and messages(again) == []
    assert _count(factory, Reply) == 1
    assert [d.kind for d in deliveries(factory, subscriber_id)].count("ack") == 1
    assert enrolment_of(factory, subscriber_id).pace == 1.5, "slowed down once, not twice"


def test_stop_answered_by_twilio_opts_out_without_a_second_confirmation(
    settings, factory, clock, twilio
):
    subscriber_id = _at_checkin(settings, factory, clock)
    response = twilio.text("STOP", OptOutType="STOP")
    assert messages(response) == []
    assert response.text.strip().endswith("<Response />")
    assert not _subscriber(factory, subscriber_id).sms_consent
    assert enrolment_of(factory, subscriber_id).state == "stopped"
    assert "confirm" not in [d.kind for d in deliveries(factory, subscriber_id)]
    with factory() as session:
        assert session.scalar(select(Event.action).where(Event.kind == "consent")
                              .order_by(Event.id.desc()).limit(1)) == "sms-opt-out"


def test_twilios_opt_out_counts_even_for_a_word_we_do_not_know(
    settings, factory, clock, twilio
):
    """Twilio's keyword list (REVOKE, OPTOUT, ...) is longer than ours; its word is final."""
    subscriber_id = _at_checkin(settings, factory, clock)
    assert messages(twilio.text("revoke", OptOutType="STOP")) == []
    assert not _subscriber(factory, subscriber_id).sms_consent


def test_stop_without_advanced_opt_out_gets_our_one_confirmation(
    settings, factory, clock, twilio
):
    subscriber_id = _at_checkin(settings, factory, clock)
    [text] = messages(twilio.text("STOP"))
    assert text.startswith("You're unsubscribed")
    [confirm] = [d for d in deliveries(factory, subscriber_id) if d.kind == "confirm"]
    assert confirm.status == "sent"


def test_start_and_help_answered_by_twilio_are_recorded_and_not_answered_again(
    settings, factory, clock, twilio
):
    subscriber_id = _at_checkin(settings, factory, clock)
    twilio.text("STOP", OptOutType="STOP")
    assert messages(twilio.text("START", OptOutType="START")) == []
    assert _subscriber(factory, subscriber_id).sms_consent
    assert enrolment_of(factory, subscriber_id).state != "stopped"
    assert messages(twilio.text("HELP", OptOutType="HELP")) == []
    with factory() as session:
        assert list(session.scalars(select(Reply.intent).order_by(Reply.id))) == [
            "stop", "start", "help"]
    kinds = [d.kind for d in deliveries(factory, subscriber_id)]
    assert "ack" not in kinds and "confirm" not in kinds


def test_help_without_advanced_opt_out_gets_our_help(settings, factory, clock, twilio):
    _at_checkin(settings, factory, clock)
    [text] = messages(twilio.text("help"))
    assert "coaching, not therapy" in text and "STOP" in text


def test_an_answer_to_an_opted_out_number_is_not_sent(settings, factory, clock, twilio):
    """A reply the engine plans after STOP (here HELP) follows the sender's consent rule."""
    subscriber_id = _at_checkin(settings, factory, clock)
    twilio.text("STOP", OptOutType="STOP")
    assert messages(twilio.text("help")) == []
    [help_row] = [d for d in deliveries(factory, subscriber_id) if d.kind == "ack"]
    assert help_row.status == "failed" and help_row.error == "not sent: sms opted out"


def test_a_sender_that_is_not_a_phone_number_is_ignored(twilio, factory):
    before = row_counts(factory)
    assert messages(twilio.text("hello", sender="COACHCO")) == []
    assert row_counts(factory) == before


def test_a_text_without_a_message_sid_is_refused(twilio, factory):
    before = row_counts(factory)
    response = twilio.post("/hooks/twilio/sms", {"From": PHONE, "Body": "2"})
    assert response.status_code == 400 and row_counts(factory) == before


def test_only_post_is_served(twilio):
    assert twilio.client.get("/hooks/twilio/sms").status_code == 405
