"""What happens after a reply carries risk: urgent pauses nudges, answers with the person's
country's numbers (discreetly where chosen, even after STOP), raises a flag and alerts the
safety address without the words; a concern is flagged silently, changes no pace and is never
saved as an answer. Flags are listed, shown and resolved with `coach flags`."""

from datetime import timedelta

from sqlalchemy import select

from coach.delivery.channels import MemoryChannel
from coach.events.models import Event
from coach.safety.models import Flag
from coach.settings import get_settings
from coach.subscribers.models import Subscriber
from tests.helpers import deliveries, only_enrolment, reply, run_hours, to_first_checkin
from tests.privacy import MARKER
from tests.test_cli import coach

PHONE = "+447911123456"  # a UK mobile: 999 and the UK's lines
US_PHONE = "+12025550123"
URGENT = "i want to die, i cant do this anymore"
VIOLENCE = "he hit me again last night and im scared"
CONCERN = "i dont feel safe at home"




def flags(factory) -> list[Flag]:
    with factory() as session:
        return list(session.scalars(select(Flag).order_by(Flag.id)))


def test_urgent_pauses_answers_with_the_countrys_numbers_and_flags(settings, factory,
                                                                   published):
    subscriber_id, now = to_first_checkin(settings, factory, phone=US_PHONE, email="")
    outcome = reply(factory, settings, US_PHONE, URGENT, now)
    assert only_enrolment(factory).state == "paused" and only_enrolment(factory).answers == {}
    crisis = deliveries(factory, subscriber_id)[-1]
    assert crisis.kind == "crisis" and crisis.status == "sent"
    assert "call 911" in crisis.body_text and "988" in crisis.body_text
    assert "automated" in crisis.body_text and "RESUME" in crisis.body_text
    [flag] = flags(factory)
    assert (flag.risk, flag.category, flag.reply_id) == ("urgent", "suicide_self_harm",
                                                         outcome.reply_id)
    before = len(deliveries(factory, subscriber_id))
    run_hours(settings, now, 24 * 10)
    assert len(deliveries(factory, subscriber_id)) == before, "no nudges until RESUME"
    reply(factory, settings, US_PHONE, "RESUME", now + timedelta(days=10))
    assert only_enrolment(factory).state != "paused"


def test_violence_by_a_partner_names_the_abuse_line(settings, factory, published):
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    reply(factory, settings, PHONE, VIOLENCE, now)
    crisis = deliveries(factory, subscriber_id)[-1]
    assert "call 999" in crisis.body_text and "0808 2000 247" in crisis.body_text


def test_a_discreet_subscriber_gets_a_neutral_first_line(settings, factory, published):
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    with factory.begin() as session:
        person = session.get(Subscriber, subscriber_id)
        assert person is not None
        person.discreet = True
    reply(factory, settings, PHONE, URGENT, now)
    crisis = deliveries(factory, subscriber_id)[-1]
    first_line = crisis.body_text.splitlines()[0]
    assert first_line == "From coach: your messages are paused for now."
    assert "116 123" in crisis.body_text


def test_a_spanish_speaker_is_answered_in_spanish(settings, factory, published):
    subscriber_id, now = to_first_checkin(settings, factory, phone="+34612345678", email="")
    with factory.begin() as session:
        person = session.get(Subscriber, subscriber_id)
        assert person is not None
        person.language = "es"
    reply(factory, settings, "+34612345678", "me quiero morir", now)
    crisis = deliveries(factory, subscriber_id)[-1]
    assert "112" in crisis.body_text and "024" in crisis.body_text
    assert "SEGUIR" in crisis.body_text


def test_the_safety_address_is_alerted_without_the_words(settings, factory, published,
                                                        monkeypatch):
    monkeypatch.setenv("COACH_SAFETY_EMAIL", "safety@coach.example.org")
    get_settings.cache_clear()
    subscriber_id, now = to_first_checkin(settings, factory, email="sam@example.org")
    reply(factory, settings, "sam@example.org", f"{URGENT}. {MARKER}", now)
    [alert] = [d for d in deliveries(factory, subscriber_id) if d.kind == "alert"]
    assert alert.address == "safety@coach.example.org" and alert.status == "sent"
    [flag] = flags(factory)
    assert f"coach flags show {flag.id}" in alert.body_text
    assert "die" not in alert.body_text and "partner" not in alert.body_text
    sent = next(m for m in MemoryChannel.sent if m.delivery_id == alert.id)
    assert sent.subscriber_id is None, "no reply token or unsubscribe link of the person"
    crisis = next(d for d in deliveries(factory, subscriber_id) if d.kind == "crisis")
    assert "Someone from our team will see" in crisis.body_text


def test_without_a_safety_address_nobody_is_promised(settings, factory, published):
    subscriber_id, now = to_first_checkin(settings, factory, email="sam@example.org")
    reply(factory, settings, "sam@example.org", URGENT, now)
    kinds = [d.kind for d in deliveries(factory, subscriber_id)]
    assert "alert" not in kinds
    crisis = next(d for d in deliveries(factory, subscriber_id) if d.kind == "crisis")
    assert "our team" not in crisis.body_text


def test_the_crisis_answer_goes_even_after_stop(settings, factory, published):
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    reply(factory, settings, PHONE, "STOP", now)
    reply(factory, settings, PHONE, URGENT, now + timedelta(hours=1))
    kinds = [(d.kind, d.status) for d in deliveries(factory, subscriber_id)][-2:]
    assert kinds == [("confirm", "sent"), ("crisis", "sent")]
    assert flags(factory)[0].risk == "urgent"


def test_stop_with_words_of_danger_stops_and_still_answers_the_danger(settings, factory,
                                                                      published):
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    reply(factory, settings, PHONE, "stop texting me i want to die", now)
    kinds = [d.kind for d in deliveries(factory, subscriber_id)][-2:]
    assert kinds == ["crisis", "confirm"]
    with factory() as session:
        person = session.get(Subscriber, subscriber_id)
        assert person is not None and person.sms_consent is False


def test_a_concern_is_flagged_silently_and_never_saved_or_echoed(settings, factory,
                                                                  published):
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    before = [d.id for d in deliveries(factory, subscriber_id)]
    reply(factory, settings, PHONE, CONCERN, now)
    assert [d.id for d in deliveries(factory, subscriber_id)] == before, "no automatic answer"
    state = only_enrolment(factory)
    assert (state.state, state.pace, state.answers) == ("awaiting", 1.0, {})
    [flag] = flags(factory)
    assert flag.risk == "concern"
    with factory() as session:
        actions = list(session.scalars(select(Event.action).where(Event.kind == "flag")))
    assert actions == ["flag-concern"]


def test_flags_are_listed_shown_and_resolved(settings, factory, published):
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    reply(factory, settings, PHONE, f"{CONCERN}. {MARKER}", now)
    [flag] = flags(factory)
    listed = coach("flags", "list")
    assert f"#{flag.id}" in listed and "concern" in listed and MARKER not in listed
    shown = coach("flags", "show", str(flag.id))
    assert MARKER in " ".join(shown.split()), "the person following up reads the words"
    assert "coach flags show 999" not in coach("flags", "show", "999", code=2)
    assert "say what was done" in coach("flags", "resolve", str(flag.id), "--note", " ",
                                        code=2)
    coach("flags", "resolve", str(flag.id), "--note", "called them; they are safe")
    assert coach("flags", "list").strip() == "no open flags"
    with factory() as session:
        person = session.get(Subscriber, subscriber_id)
        assert person is not None and person.flagged_at is None


def test_a_crisis_message_that_cannot_be_rendered_still_points_to_help(
        settings, factory, published, monkeypatch):
    from coach.inbound import services
    from coach.programmes.limits import RenderBudgetExceeded

    real = services.render_message

    def failing(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "crisis":
            raise RenderBudgetExceeded("time", "over 0.5 s of rendering")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(services, "render_message", failing)
    subscriber_id, now = to_first_checkin(settings, factory, phone=PHONE, email="")
    reply(factory, settings, PHONE, URGENT, now)
    crisis = deliveries(factory, subscriber_id)[-1]
    assert crisis.kind == "crisis" and crisis.status == "sent"
    assert crisis.body_text == services.CRISIS_FALLBACK
    assert only_enrolment(factory).state == "paused"
