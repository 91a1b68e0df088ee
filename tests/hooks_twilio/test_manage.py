"""MANAGE (or AJUSTES) by text: a fresh link to the person's own manage page, answered in
TwiML like any system reply; only the keyword on its own, and only for a subscriber who
consents to texts."""

import logging
import re

import pytest
from sqlalchemy import select

from coach.delivery.models import Delivery
from coach.inbound.models import Reply
from coach.subscribers.links import MANAGE_FOR, read_link_token
from coach.subscribers.models import Subscriber
from tests.helpers import deliveries, enrol
from tests.hooks_twilio.conftest import PHONE, PUBLIC_URL, messages
from tests.web.support import enrolment_of, run_until_checkin

MANAGE_LINK = re.compile(re.escape(PUBLIC_URL) + r"/manage/([A-Za-z0-9._-]+)")


def _enrolled(factory, clock, **form: str) -> int:
    return enrol(factory, clock.now, phone=PHONE, email="", **form)


def _link(settings, text: str) -> tuple[int, object]:
    """The subscriber id and the time a manage link in ``text`` names."""
    [token] = MANAGE_LINK.findall(text)
    link = read_link_token(settings.secret_key, "manage", token)
    assert link is not None, "the link's token is one the manage page accepts"
    return link.ident, link.made_at


def _all_bodies(factory) -> str:
    with factory() as session:
        return "\n".join(session.scalars(select(Delivery.body_text)))


@pytest.mark.parametrize("keyword", ["MANAGE", "manage", " Manage ", "manage\n", "MANAGE"])
def test_manage_is_answered_with_a_fresh_link_to_the_manage_page(
    settings, factory, clock, twilio, keyword
):
    subscriber_id = _enrolled(factory, clock)
    [text] = messages(twilio.text(keyword))
    assert _link(settings, text) == (subscriber_id, clock.now)
    assert "30 days" in text
    [ack] = [d for d in deliveries(factory, subscriber_id) if d.kind == "ack"]
    assert ack.status == "sent" and ack.body_text == text


def test_the_link_is_made_afresh_for_each_manage(settings, factory, clock, twilio):
    subscriber_id = _enrolled(factory, clock)
    [first] = messages(twilio.text("MANAGE"))
    clock.now += MANAGE_FOR
    [second] = messages(twilio.text("MANAGE"))
    assert first != second
    assert _link(settings, second) == (subscriber_id, clock.now)


def test_ajustes_is_answered_in_spanish(settings, factory, clock, twilio):
    subscriber_id = _enrolled(factory, clock, language="es")
    for keyword in ("AJUSTES", "ajustes", "Ajústes", " AJUSTES "):
        [text] = messages(twilio.text(keyword))
        assert _link(settings, text)[0] == subscriber_id
        assert "30 dias" in text, "in Spanish, without the accents GSM-7 lacks"


def test_manage_works_in_either_language(settings, factory, clock, twilio):
    _enrolled(factory, clock, language="es")
    [text] = messages(twilio.text("manage"))
    assert "30 dias" in text


def test_manage_inside_a_sentence_is_not_the_command(settings, factory, clock, twilio):
    subscriber_id = _enrolled(factory, clock)
    for words in ("how do I manage my time", "manage it", "I can't manage", "ajustes por favor"):
        for text in messages(twilio.text(words)):
            assert "/manage/" not in text
    assert "/manage/" not in _all_bodies(factory)
    with factory() as session:
        intents = set(session.scalars(select(Reply.intent)
                                      .where(Reply.subscriber_id == subscriber_id)))
    assert "manage" not in intents


def test_manage_during_a_check_in_is_not_taken_as_the_answer(settings, factory, clock, twilio):
    subscriber_id = _enrolled(factory, clock)
    clock.now = run_until_checkin(settings, factory, subscriber_id)
    [text] = messages(twilio.text("MANAGE"))
    assert _link(settings, text)[0] == subscriber_id
    enrolment = enrolment_of(factory, subscriber_id)
    assert enrolment.state == "awaiting" and not enrolment.answers


def test_a_discreet_subscriber_gets_a_link_that_does_not_name_the_topic(
    settings, factory, clock, twilio
):
    subscriber_id = _enrolled(factory, clock)
    with factory.begin() as session:
        session.get(Subscriber, subscriber_id).discreet = True
    [text] = messages(twilio.text("MANAGE"))
    assert text.startswith("From coach.")
    assert "trust" not in text.lower() and "relationship" not in text.lower()


def test_manage_from_an_unknown_number_gets_no_link(settings, factory, twilio):
    """There is nothing to manage: a stranger learns how to join, as for any other text."""
    [text] = messages(twilio.text("MANAGE"))
    assert "Text JOIN to start" in text and "/manage/" not in text
    assert messages(twilio.text("MANAGE")) == []
    assert "/manage/" not in _all_bodies(factory)


def test_manage_during_sign_up_gets_no_link(settings, factory, twilio):
    twilio.text("JOIN")
    for text in messages(twilio.text("MANAGE")):
        assert "/manage/" not in text
    twilio.text("2")
    for text in messages(twilio.text("AJUSTES")):
        assert "/manage/" not in text
    assert "/manage/" not in _all_bodies(factory)


def test_manage_after_stop_gets_nothing(settings, factory, clock, twilio):
    """After STOP nothing more goes to the number but the confirmation (invariant 5)."""
    subscriber_id = _enrolled(factory, clock)
    messages(twilio.text("STOP", OptOutType="STOP"))
    assert messages(twilio.text("MANAGE")) == []
    assert "/manage/" not in _all_bodies(factory)
    with factory() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None and not subscriber.sms_consent


def test_help_names_manage(settings, factory, clock, twilio):
    _enrolled(factory, clock)
    [text] = messages(twilio.text("HELP"))
    assert "MANAGE" in text


def test_the_link_never_reaches_a_log_line(settings, factory, clock, twilio, caplog):
    _enrolled(factory, clock)
    with caplog.at_level(logging.DEBUG):
        [text] = messages(twilio.text("MANAGE"))
    [token] = MANAGE_LINK.findall(text)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records, "the reply was logged (without the link)"
    assert token not in logged and "/manage/" not in logged
