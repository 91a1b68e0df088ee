"""MANAGE on the inbound path: the keyword alone, a link only where the person consents."""

import pytest

from coach.delivery.channels import MemoryChannel
from coach.inbound.services import asks_to_manage
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.helpers import deliveries, enrol, reply


@pytest.mark.parametrize("text", ["MANAGE", "manage", " Manage ", "\tmanage\n", "MÁNAGE",
                                  "AJUSTES", "ajustes", "Ajústes", " AJUSTES"])
def test_the_keyword_alone_asks_to_manage(text: str) -> None:
    assert asks_to_manage(text)


@pytest.mark.parametrize("text", ["how do I manage my time", "manage it", "manage!", "manager",
                                  "ajustes por favor", "I can't manage", "", "settings"])
def test_anything_more_or_else_is_not_the_keyword(text: str) -> None:
    assert not asks_to_manage(text)


def test_manage_is_recorded_with_its_own_intent_and_answered_by_email(settings, factory,
                                                                      published):
    subscriber_id = enrol(factory, START)
    outcome = reply(factory, settings, "sam@example.org", "manage", START)
    assert outcome.intent == "manage" and len(outcome.acks) == 1
    [sent] = [m for m in MemoryChannel.sent if m.delivery_id in outcome.acks]
    assert sent.to == "sam@example.org" and "/manage/" in sent.text
    assert sent.subscriber_id == subscriber_id


def test_manage_after_unsubscribing_from_email_sends_nothing(settings, factory, published):
    subscriber_id = enrol(factory, START)
    with factory.begin() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        subscriber.set_consent("email", False, START, "unsubscribe link")
    outcome = reply(factory, settings, "sam@example.org", "MANAGE", START)
    assert outcome.acks == []
    assert not any("/manage/" in d.body_text for d in deliveries(factory, subscriber_id))
