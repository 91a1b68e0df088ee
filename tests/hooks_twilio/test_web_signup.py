"""A sign-up from the web page with a phone number is confirmed by replying YES (or SI) to the
text it sends; the page's choices are kept, and a late or missing YES subscribes nobody."""

from datetime import timedelta

from sqlalchemy import select

from coach.scheduling.models import Enrolment
from coach.scheduling.optin import request_signup
from coach.subscribers.models import PendingSignup, Subscriber
from coach.subscribers.services import SignUp
from tests.conftest import START
from tests.hooks_twilio.conftest import PHONE, messages


def web_sign_up(factory, settings, language: str = "en") -> list[int]:
    with factory.begin() as session:
        return request_signup(session, SignUp(
            focus="clear-communication", timezone="Europe/Madrid", phone=PHONE,
            send_time="07:45", language=language, source="web double opt-in"), START, settings)


def enrolments(factory) -> list[Enrolment]:
    with factory() as session:
        return list(session.scalars(select(Enrolment)))


def test_yes_to_the_text_starts_the_programme_the_page_chose(twilio, factory, settings, clock):
    [asked] = web_sign_up(factory, settings)
    assert asked and enrolments(factory) == []
    clock.now = START + timedelta(minutes=5)  # 10:05 in Madrid
    [done] = messages(twilio.text("Yes"))
    assert "clear communication" in done and "07:45" in done and "Europe/Madrid" in done
    [enrolment] = enrolments(factory)
    assert enrolment.quality == "clear-communication"
    assert enrolment.next_due_at == clock.now, "the welcome goes at once"
    with factory() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        assert subscriber.sms_consent and subscriber.sms_consent_source == "web double opt-in"
        pending = session.scalars(select(PendingSignup)).one()
        assert pending.confirmed_at == clock.now


def test_si_confirms_a_spanish_sign_up(twilio, factory, settings):
    web_sign_up(factory, settings, language="es")
    messages(twilio.text("Sí"))
    [enrolment] = enrolments(factory)
    with factory() as session:
        assert session.get(Subscriber, enrolment.subscriber_id).language == "es"


def test_a_yes_after_48_hours_subscribes_nobody(twilio, factory, settings, clock):
    web_sign_up(factory, settings)
    clock.now = START + timedelta(hours=48, minutes=1)
    twilio.text("YES")
    assert enrolments(factory) == []


def test_stop_instead_of_yes_subscribes_nobody_and_is_kept(twilio, factory, settings):
    web_sign_up(factory, settings)
    twilio.text("STOP")
    assert enrolments(factory) == []
    with factory() as session:
        subscriber = session.scalars(select(Subscriber)).one()
        assert not subscriber.sms_consent and subscriber.sms_consent_at is not None
    twilio.text("YES")
    assert enrolments(factory) == [], "a YES after STOP does not undo the STOP"
