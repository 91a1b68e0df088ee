"""MANAGE (or AJUSTES) by email: a fresh manage link, sent to the subscriber's own address
through the queue; never for a sender our mail service does not vouch for."""

import re

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach.delivery.channels import MemoryChannel
from coach.delivery.models import Delivery
from coach.settings import Settings
from coach.subscribers.links import read_link_token
from tests.conftest import START
from tests.email_in.conftest import SAM, email, post, reply_to, set_discreet
from tests.helpers import enrol
from tests.web.support import Clock, Enqueue

QUOTED = """Manage

On Mon, 9 Mar 2026 at 18:30, coach <coach@coach.example> wrote:
> What does trust mean to you, in a sentence?
"""
MANAGE_LINK = re.compile(r"/manage/([A-Za-z0-9._-]+)")


def sent_links(enqueue: Enqueue) -> list[tuple[str, str, str | None]]:
    """(to, token, subject) of each manage link the workers sent."""
    ids = {i for batch in enqueue.batches for i in batch}
    return [(m.to, token, m.subject) for m in MemoryChannel.sent if m.delivery_id in ids
            for token in dict.fromkeys(MANAGE_LINK.findall(m.text))]


def test_manage_by_email_sends_a_fresh_link_to_the_subscribers_address(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session],
    enqueue: Enqueue, clock: Clock
) -> None:
    subscriber_id = enrol(factory, START)
    message = email(QUOTED, sender="Sam <sam@work.example.net>",
                    to=f"coach <{reply_to(mail_settings, subscriber_id)}>")
    assert post(client, message).json() == {"result": "reply"}
    [(to, token, subject)] = sent_links(enqueue)
    assert to == SAM, "to the address on file, whoever wrote the reply"
    link = read_link_token(mail_settings.secret_key, "manage", token)
    assert link is not None and (link.ident, link.made_at) == (subscriber_id, clock.now)
    assert subject and "manage" in subject.lower()


def test_ajustes_by_email_is_answered_in_spanish(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session],
    enqueue: Enqueue
) -> None:
    enrol(factory, START, language="es")
    post(client, email("AJUSTES"))
    ids = {i for batch in enqueue.batches for i in batch}
    [answer] = [m for m in MemoryChannel.sent if m.delivery_id in ids]
    assert MANAGE_LINK.search(answer.text) and "30 días" in answer.text


def test_a_discreet_subscribers_link_email_has_a_neutral_subject(
    client: TestClient, factory: sessionmaker[Session], enqueue: Enqueue
) -> None:
    subscriber_id = enrol(factory, START)
    set_discreet(factory, subscriber_id)
    post(client, email("MANAGE"))
    [(_, _, subject)] = sent_links(enqueue)
    assert subject == "A note from coach"


def test_manage_from_a_sender_nobody_vouches_for_sends_nothing(
    client: TestClient, factory: sessionmaker[Session], enqueue: Enqueue
) -> None:
    enrol(factory, START)
    assert post(client, email("MANAGE", vouched=False)).json() == {"result": "dropped"}
    assert enqueue.batches == []
    with factory() as session:
        assert not any("/manage/" in body for body in session.scalars(select(Delivery.body_text)))


def test_manage_from_a_stranger_sends_nothing(
    client: TestClient, factory: sessionmaker[Session], enqueue: Enqueue
) -> None:
    assert post(client, email("MANAGE")).json() == {"result": "dropped"}
    assert enqueue.batches == []
