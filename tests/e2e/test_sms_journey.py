"""A person joins by text, gets nudges through Prism from a real worker, answers through the
signed webhook, is slowed down, texts STOP, and nothing more is sent."""

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coach.db import session_factory
from coach.delivery.models import Delivery
from coach.events.models import Event
from coach.scheduling.models import AWAITING
from coach.subscribers.models import Subscriber
from tests.channels_twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SENDER
from tests.e2e.conftest import sweep
from tests.helpers import deliveries
from tests.hooks_twilio.conftest import PHONE, Twilio, messages
from tests.web.support import enrolment_of

SID = re.compile(r"SM[0-9a-f]{32}")
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def _subscriber(factory: sessionmaker[Session]) -> Subscriber:
    with factory() as session:
        return session.scalars(select(Subscriber).where(Subscriber.phone == PHONE)).one()


def _last(factory: sessionmaker[Session], subscriber_id: int, kind: str) -> tuple[str, str]:
    """(action, reason) of the person's latest event of this kind."""
    with factory() as session:
        found = session.execute(select(Event.action, Event.reason).where(
            Event.subscriber_id == subscriber_id, Event.kind == kind)
            .order_by(Event.id.desc()).limit(1)).one()
    return found.action, found.reason


def _programme_rows(factory: sessionmaker[Session], subscriber_id: int) -> list[Delivery]:
    """What the worker sent: everything but the sign-up answers given in TwiML."""
    return [d for d in deliveries(factory, subscriber_id) if d.kind != "signup"]


def _through_prism(rows: list[Delivery], requests: list[dict], phone: str) -> None:
    """Each row went out (the welcome is delivered by now), with the SID Prism gave it, and
    Prism got exactly these texts, from our number, with a status callback naming the row."""
    assert all(d.status in ("sent", "delivered") and d.channel == "sms" and d.error is None
               for d in rows), [(d.kind, d.status, d.error) for d in rows]
    assert all(SID.fullmatch(d.provider_id or "") for d in rows), [d.provider_id for d in rows]
    assert [(r["path"], r["status"]) for r in requests] == [(MESSAGES_PATH, 201)] * len(rows)
    assert [r["sid"] for r in requests] == [d.provider_id for d in rows]
    assert [r["form"] for r in requests] == [
        {"To": phone, "From": SENDER, "Body": d.body_text,
         "StatusCallback": f"{PUBLIC_URL}/hooks/twilio/status?delivery={d.id}"} for d in rows]


def test_join_by_text_nudges_through_prism_slowed_down_then_stop_sends_nothing_more(
    sms_settings, sms_worker, client, sms_web, prism_tap, enqueue, clock
):
    factory = session_factory(sms_settings.effective_database_url)
    twilio = Twilio(sms_web, token=AUTH_TOKEN, public_url=PUBLIC_URL)

    # Sign-up by text: JOIN, a choice, then YES (double opt-in), each answered in TwiML.
    [menu] = messages(twilio.text("JOIN"))
    assert "Reply with a number" in menu and "3 Honesty" in menu
    [offer] = messages(twilio.text("3"))
    assert offer.startswith("Honesty: a good choice") and "Msg & data rates may apply" in offer
    [done] = messages(twilio.text("YES"))
    assert "honesty" in done and "18:00" in done and "Europe/London" in done
    person = _subscriber(factory)
    assert person.sms_consent and person.sms_consent_source == "sms double opt-in"
    enrolment = enrolment_of(factory, person.id)
    assert (enrolment.quality, enrolment.state, enrolment.pace) == ("honesty", "active", 1.0)
    assert enrolment.next_due_at is not None
    assert prism_tap.seen() == [], "the sign-up answers went in TwiML, not through the API"

    # The worker sends the welcome and the nudges through Twilio's API, sweep after sweep.
    due: datetime | None = enrolment.next_due_at
    for _ in range(6):
        assert due is not None
        sweep(client, sms_worker, factory, due)
        enrolment = enrolment_of(factory, person.id)
        if enrolment.state == AWAITING:
            break
        due = enrolment.next_due_at
    assert enrolment.state == AWAITING, "the first check-in was sent"
    checkin_at = due
    assert checkin_at is not None
    rows = _programme_rows(factory, person.id)
    assert [d.kind for d in rows] == ["nudge", "nudge", "nudge", "checkin"]
    assert "What does honesty mean to you" in rows[-1].body_text
    _through_prism(rows, prism_tap.seen(), PHONE)

    # Twilio reports the welcome delivered, through the StatusCallback URL it was given.
    welcome = rows[0]
    assert twilio.status(welcome.provider_id or "", "delivered",
                         delivery=welcome.id).status_code == 204
    assert _programme_rows(factory, person.id)[0].status == "delivered"

    # SLOWER at the check-in (it asks a question in words, so a bare "2" would tell nothing):
    # slower, the week's practice to come once more, thanks in TwiML.
    clock.now = checkin_at + timedelta(hours=1)
    [thanks] = messages(twilio.text("slower", sid="SM" + "2" * 32))
    enrolment = enrolment_of(factory, person.id)
    assert enrolment.pace == 1.5 and enrolment.repeat_step is not None
    assert enrolment.answers == {}, "a request is not kept as the words the check-in asked for"
    assert _last(factory, person.id, "decision") == (
        "slower", "check-in answer SLOWER: slowing down (pace 1.00 -> 1.50); "
        "week 1's practice will be offered once more")
    [ack] = [d for d in deliveries(factory, person.id) if d.kind == "ack"]
    assert (ack.body_text, ack.status) == (thanks, "sent")
    assert ack.provider_id == "twiml:SM" + "2" * 32
    assert len(prism_tap.seen()) == len(rows), "the thanks went in TwiML, not through the API"

    # The next sweep sends that repeat through Prism.
    repeat_at = enrolment.next_due_at
    assert repeat_at is not None and repeat_at > checkin_at
    sweep(client, sms_worker, factory, repeat_at)
    rows = _programme_rows(factory, person.id)
    assert [d.kind for d in rows if d.kind != "ack"][-1] == "repeat"
    _through_prism([d for d in rows if d.kind != "ack"], prism_tap.seen(), PHONE)

    # STOP, as Twilio's Advanced Opt-Out forwards it: Twilio confirmed, so TwiML stays empty.
    clock.now = repeat_at + timedelta(hours=2)
    response = twilio.text("STOP", OptOutType="STOP")
    assert messages(response) == [] and response.text.strip().endswith("<Response />")
    person = _subscriber(factory)
    assert not person.sms_consent
    enrolment = enrolment_of(factory, person.id)
    assert (enrolment.state, enrolment.next_due_at) == ("stopped", None)
    assert _last(factory, person.id, "consent")[0] == "sms-opt-out"

    # Two simulated weeks of sweeps, twice a day: nothing more is planned or sent.
    rows_before, requests_before = deliveries(factory, person.id), prism_tap.seen()
    for half_day in range(1, 29):
        sweep(client, sms_worker, factory, clock.now + timedelta(hours=12 * half_day))
    assert [(d.id, d.status) for d in deliveries(factory, person.id)] == [
        (d.id, d.status) for d in rows_before]
    assert prism_tap.seen() == requests_before, "Prism received nothing more"
    assert enqueue.batches == [], "every answer went back in TwiML"
