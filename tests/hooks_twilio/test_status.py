"""Status callbacks: found by provider id or the delivery id in the URL, moving forward only,
so late, repeated and out-of-order callbacks are safe."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from coach.delivery.models import Delivery
from coach.events.models import Event
from coach.subscribers.models import Subscriber
from tests.helpers import enrol, tick
from tests.hooks_twilio.conftest import PHONE, messages
from tests.web.support import enrolment_of, row_counts


@pytest.fixture
def welcome(settings, factory, clock) -> Delivery:
    """The welcome text, sent through the memory channel: it has a provider id."""
    subscriber_id = enrol(factory, clock.now, phone=PHONE, email="")
    due = enrolment_of(factory, subscriber_id).next_due_at
    assert due is not None
    tick(settings, due)
    with factory() as session:
        delivery = session.scalars(select(Delivery)).one()
    assert delivery.status == "sent" and delivery.provider_id
    return delivery


def _reload(factory, delivery_id: int) -> Delivery:
    with factory() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery


def _statuses(factory) -> list[tuple[int, str, str | None]]:
    with factory() as session:
        return [(d.id, d.status, d.error) for d in session.scalars(select(Delivery))]


def _set(factory, delivery_id: int, **values) -> None:
    with factory.begin() as session:
        delivery = session.get(Delivery, delivery_id)
        for name, value in values.items():
            setattr(delivery, name, value)


def test_callbacks_in_order_move_the_delivery_forward(twilio, factory, welcome):
    for status in ("queued", "sent", "delivered"):
        response = twilio.status(welcome.provider_id, status, delivery=welcome.id)
        assert response.status_code == 204 and response.content == b""
    assert _reload(factory, welcome.id).status == "delivered"


def test_late_callbacks_never_move_a_delivery_back(twilio, factory, welcome):
    twilio.status(welcome.provider_id, "delivered")
    for late in ("sent", "queued", "sending", "undelivered", "failed"):
        twilio.status(welcome.provider_id, late, ErrorCode="30003")
    delivery = _reload(factory, welcome.id)
    assert delivery.status == "delivered" and delivery.error is None


def test_undelivered_ends_failed_with_the_error_code_as_the_reason(twilio, factory, welcome):
    twilio.status(welcome.provider_id, "undelivered", ErrorCode="30003")
    twilio.status(welcome.provider_id, "delivered")  # the end is the end
    delivery = _reload(factory, welcome.id)
    assert delivery.status == "failed"
    assert delivery.error == ("undelivered: Twilio error 30003, the phone is switched off "
                              "or unreachable")


def test_failed_with_21610_turns_sms_consent_off(twilio, factory, welcome):
    twilio.status(welcome.provider_id, "failed", ErrorCode="21610")
    twilio.status(welcome.provider_id, "failed", ErrorCode="21610")  # repeated: one event
    assert _reload(factory, welcome.id).status == "failed"
    with factory() as session:
        subscriber = session.get(Subscriber, welcome.subscriber_id)
        assert subscriber is not None and not subscriber.sms_consent
        assert subscriber.sms_consent_source == "carrier opt-out (21610)"
        events = list(session.scalars(select(Event.action).where(
            Event.kind == "consent", Event.action == "sms-opt-out")))
        assert events == ["sms-opt-out"]


def test_a_late_21610_does_not_undo_a_newer_start(twilio, factory, welcome, clock):
    with factory.begin() as session:
        subscriber = session.get(Subscriber, welcome.subscriber_id)
        assert subscriber is not None
        subscriber.set_consent("sms", True, clock.now + timedelta(days=30), "reply START")
    twilio.status(welcome.provider_id, "failed", ErrorCode="21610")
    with factory() as session:
        assert session.get(Subscriber, welcome.subscriber_id).sms_consent


def test_the_delivery_id_finds_a_row_whose_provider_id_is_not_recorded_yet(
    twilio, factory, welcome
):
    """Twilio can call back before the sender has committed the message's sid."""
    _set(factory, welcome.id, status="sending", provider_id=None, sent_at=None)
    twilio.status("SM" + "f" * 32, "sent", delivery=welcome.id)
    delivery = _reload(factory, welcome.id)
    assert delivery.status == "sent" and delivery.sent_at is not None


def test_a_callback_reconciles_a_delivery_whose_outcome_was_unknown(twilio, factory, welcome):
    _set(factory, welcome.id, status="unknown", error="outcome unknown: timed out")
    twilio.status(welcome.provider_id, "delivered", delivery=welcome.id)
    delivery = _reload(factory, welcome.id)
    assert delivery.status == "delivered" and delivery.error is None


def test_an_unknown_message_sid_changes_nothing(twilio, factory, welcome):
    before, statuses = row_counts(factory), _statuses(factory)
    assert twilio.status("SM" + "0" * 32, "failed", ErrorCode="21610").status_code == 204
    # A delivery id whose row has another sid is not taken on the id's word.
    assert twilio.status("SM" + "0" * 32, "failed", delivery=welcome.id).status_code == 204
    assert twilio.status("SM" + "0" * 32, "failed", delivery=2**40).status_code == 204
    assert row_counts(factory) == before and _statuses(factory) == statuses
    with factory() as session:
        assert session.get(Subscriber, welcome.subscriber_id).sms_consent


def test_an_answer_given_in_twiml_reports_its_delivery_by_its_delivery_id(twilio, factory):
    messages(twilio.text("JOIN"))
    [answer] = _statuses(factory)
    assert twilio.status("SM" + "9" * 32, "delivered", delivery=answer[0]).status_code == 204
    assert _reload(factory, answer[0]).status == "delivered"
