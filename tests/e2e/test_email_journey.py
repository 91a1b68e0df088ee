"""A person subscribed by email gets nudges over SMTP from a real worker, answers the check-in
by replying (through the inbound webhook), is slowed down, unsubscribes in one click, and
nothing more is sent."""

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coach.db import session_factory
from coach.delivery.models import Delivery
from coach.events.models import Event
from coach.inbound.models import Reply
from coach.scheduling.models import AWAITING
from coach.subscribers.models import Subscriber
from coach.subscribers.tokens import make_token
from tests.channels_email.conftest import PUBLIC_URL, SECRET, Received
from tests.conftest import START
from tests.e2e.conftest import sweep
from tests.email_in.conftest import SAM, email, post
from tests.helpers import deliveries, enrol
from tests.web.support import enrolment_of

ANSWER = "SLOWER please"
ONE_CLICK = {"content": b"List-Unsubscribe=One-Click",
             "headers": {"content-type": "application/x-www-form-urlencoded"}}
DOMAIN = "example.org"  # of COACH_EMAIL_FROM, coach@example.org


def _person(factory: sessionmaker[Session], subscriber_id: int) -> Subscriber:
    with factory() as session:
        found = session.get(Subscriber, subscriber_id)
    assert found is not None
    return found


def _last(factory: sessionmaker[Session], subscriber_id: int, kind: str) -> tuple[str, str]:
    """(action, reason) of the person's latest event of this kind."""
    with factory() as session:
        found = session.execute(select(Event.action, Event.reason).where(
            Event.subscriber_id == subscriber_id, Event.kind == kind)
            .order_by(Event.id.desc()).limit(1)).one()
    return found.action, found.reason


def _over_smtp(rows: list[Delivery], received: list[Received], subscriber_id: int) -> None:
    """Each row is sent as exactly one message the server received, to Sam, with the headers
    that route a reply to the person and unsubscribe them in one click."""
    assert [(d.status, d.channel, d.error) for d in rows] == [("sent", "email", None)] * len(rows)
    assert [str(r.message["Message-ID"]) for r in received] == [d.provider_id for d in rows]
    reply_token = make_token(SECRET, subscriber_id, "reply")
    unsubscribe_token = make_token(SECRET, subscriber_id, "unsubscribe")
    for row, mail in zip(rows, received, strict=True):
        message = mail.message
        assert mail.rcpt_tos == [SAM] and str(message["Subject"]) == row.subject
        assert message["Reply-To"].addresses[0].addr_spec == f"reply+{reply_token}@{DOMAIN}"
        assert str(message["List-Unsubscribe"]) == (
            f"<{PUBLIC_URL}/unsubscribe/{unsubscribe_token}>, "
            f"<mailto:unsubscribe+{unsubscribe_token}@{DOMAIN}>")
        assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
        assert message.get_body(("plain",)) is not None and message.get_body(("html",))


def _plain(mail: Received) -> str:
    part = mail.message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_by_email_slowed_down_by_a_reply_then_one_click_unsubscribe_sends_nothing_more(
    email_settings, email_worker, client, email_web, server, enqueue, clock
):
    factory = session_factory(email_settings.effective_database_url)
    received = server.relay.received
    subscriber_id = enrol(factory, START)  # Sam, by email, trust and care, at 18:30 London

    # The worker sends the welcome and the nudges over SMTP, sweep after sweep.
    due: datetime | None = enrolment_of(factory, subscriber_id).next_due_at
    for _ in range(6):
        assert due is not None
        sweep(client, email_worker, factory, due)
        enrolment = enrolment_of(factory, subscriber_id)
        if enrolment.state == AWAITING:
            break
        due = enrolment.next_due_at
    assert enrolment.state == AWAITING, "the first check-in was sent"
    checkin_at = due
    assert checkin_at is not None
    rows = deliveries(factory, subscriber_id)
    assert [d.kind for d in rows] == ["nudge", "nudge", "nudge", "checkin"]
    _over_smtp(rows, received, subscriber_id)
    question = _plain(received[-1])
    assert "What does trust mean to you" in question

    # Sam replies to the check-in from another address of theirs, above the quoted original:
    # only the Reply-To token says who it is, and only their own words are kept.
    checkin = received[-1].message
    quoted = "\n".join(f"> {line}" for line in question.splitlines())
    body = (f"{ANSWER}\n\nOn Mon, 9 Mar 2026 at 18:30, coach <coach@{DOMAIN}> wrote:\n"
            f"{quoted}\n")
    clock.now = checkin_at + timedelta(hours=2)
    response = post(email_web, email(body, sender="Sam at work <sam@work.example.net>",
                                     to=str(checkin["Reply-To"]),
                                     In_Reply_To=str(checkin["Message-ID"])))
    assert (response.status_code, response.json()) == (200, {"result": "reply"})
    with factory() as session:
        [reply] = session.scalars(select(Reply)).all()
    assert (reply.subscriber_id, reply.channel, reply.text) == (subscriber_id, "email", ANSWER)
    enrolment = enrolment_of(factory, subscriber_id)
    assert enrolment.answers == {}, "a request to slow down is not the words the question asked"
    assert enrolment.pace == 1.5 and enrolment.repeat_step is not None
    assert _last(factory, subscriber_id, "decision")[0] == "slower"
    assert enqueue.batches == [], "a check-in answered by email gets no receipt"

    # The next sweep sends the week's practice once more, over SMTP.
    repeat_at = enrolment.next_due_at
    assert repeat_at is not None and repeat_at > checkin_at
    sweep(client, email_worker, factory, repeat_at)
    rows = deliveries(factory, subscriber_id)
    assert [d.kind for d in rows][-1] == "repeat"
    _over_smtp(rows, received, subscriber_id)

    # One click, as a mail client makes it: POST to the https URL of List-Unsubscribe.
    clock.now = repeat_at + timedelta(hours=1)
    header = str(received[-1].message["List-Unsubscribe"])
    found = re.match(rf"<{re.escape(PUBLIC_URL)}(/unsubscribe/[^>]+)>", header)
    assert found, header
    response = email_web.post(found.group(1), **ONE_CLICK)
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    person = _person(factory, subscriber_id)
    assert not person.email_consent and person.email_consent_source == "one-click unsubscribe"
    assert _last(factory, subscriber_id, "consent")[0] == "email-opt-out"
    enrolment = enrolment_of(factory, subscriber_id)
    assert (enrolment.state, enrolment.next_due_at) == ("stopped", None)

    # Two simulated weeks of sweeps, twice a day: nothing more is planned or sent.
    rows_before, mails_before = deliveries(factory, subscriber_id), len(received)
    for half_day in range(1, 29):
        sweep(client, email_worker, factory, clock.now + timedelta(hours=12 * half_day))
    assert [(d.id, d.status) for d in deliveries(factory, subscriber_id)] == [
        (d.id, d.status) for d in rows_before]
    assert len(received) == mails_before, "the SMTP server received nothing more"
    assert enqueue.batches == []
