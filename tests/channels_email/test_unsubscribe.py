"""One-click unsubscribe (RFC 8058) on the production app, on both databases: GET only asks,
POST unsubscribes at once without a login, a bad link changes nothing, twice is once."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach.delivery.channels import MemoryChannel
from coach.delivery.sending import send_deliveries
from coach.events.models import Event
from coach.scheduling.services import run_sweep
from coach.settings import Settings
from coach.subscribers.models import Subscriber
from coach.subscribers.tokens import make_token
from tests.channels_email.conftest import PUBLIC_URL, SECRET, Server
from tests.conftest import START
from tests.helpers import deliveries, enrol, run_hours, tick
from tests.web.support import Clock, enrolment_of, row_counts

DUE = START + timedelta(hours=9, minutes=30)
ONE_CLICK = {"content": b"List-Unsubscribe=One-Click",
             "headers": {"content-type": "application/x-www-form-urlencoded"}}
PHONE = "+447911123456"


def welcomed(settings: Settings, factory: sessionmaker[Session], server: Server,
             clock: Clock, **form: str) -> tuple[int, str]:
    """Sam subscribes and gets the welcome; returns their id and the unsubscribe path from
    the email's List-Unsubscribe header, as a mail client reads it."""
    subscriber_id = enrol(factory, START, **form)
    tick(settings, DUE)
    clock.now = DUE + timedelta(hours=1)
    header = str(server.relay.received[-1].message["List-Unsubscribe"])
    found = re.match(rf"<{re.escape(PUBLIC_URL)}(/unsubscribe/[^>]+)>", header)
    assert found, header
    return subscriber_id, found.group(1)


def person(factory: sessionmaker[Session], subscriber_id: int) -> Subscriber:
    with factory() as session:
        found = session.get(Subscriber, subscriber_id)
    assert found is not None
    return found


def events(factory: sessionmaker[Session], subscriber_id: int) -> list[tuple[str, str, str]]:
    with factory() as session:
        rows = session.execute(select(Event.kind, Event.action, Event.reason)
                               .where(Event.subscriber_id == subscriber_id).order_by(Event.id))
        return [(kind, action, reason) for kind, action, reason in rows]


def test_get_shows_a_button_and_changes_nothing(
    client: TestClient, smtp_settings: Settings, factory: sessionmaker[Session],
    server: Server, clock: Clock,
) -> None:
    subscriber_id, path = welcomed(smtp_settings, factory, server, clock)
    before = row_counts(factory)
    page = client.get(path)
    assert page.status_code == 200
    assert f'<form method="post" action="{path}">' in page.text
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.text
    assert '<button type="submit">Unsubscribe</button>' in page.text
    assert "s••@example.org" in page.text and "sam@example.org" not in page.text
    assert client.head(path).status_code == 200  # scanners that only peek change nothing too
    assert row_counts(factory) == before
    assert person(factory, subscriber_id).email_consent is True


def test_one_click_post_unsubscribes_and_then_a_due_nudge_sends_nothing(
    client: TestClient, smtp_settings: Settings, factory: sessionmaker[Session],
    server: Server, clock: Clock,
) -> None:
    subscriber_id, path = welcomed(smtp_settings, factory, server, clock)
    response = client.post(path, **ONE_CLICK)  # type: ignore[arg-type]
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    sam = person(factory, subscriber_id)
    assert (sam.email_consent, sam.email_consent_source) == (False, "one-click unsubscribe")
    assert sam.email_consent_at == clock.now
    assert events(factory, subscriber_id)[-2:] == [
        ("consent", "email-opt-out", "unsubscribed with the one-click link: no more email"),
        ("decision", "stop", "opted out of every channel; nothing more will be sent"),
    ]
    enrolment = enrolment_of(factory, subscriber_id)
    assert (enrolment.state, enrolment.next_due_at) == ("stopped", None)
    run_hours(smtp_settings, DUE + timedelta(hours=1), 24 * 14)
    assert len(deliveries(factory, subscriber_id)) == 1
    assert len(server.relay.received) == 1


def test_the_pages_button_unsubscribes_the_same_way(
    client: TestClient, smtp_settings: Settings, factory: sessionmaker[Session],
    server: Server, clock: Clock,
) -> None:
    subscriber_id, path = welcomed(smtp_settings, factory, server, clock)
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "Your programme has stopped" in response.text
    assert person(factory, subscriber_id).email_consent is False
    again = client.get(path)
    assert "You are unsubscribed" in again.text and "<button" not in again.text


def test_unsubscribing_twice_is_the_same_as_once(
    client: TestClient, smtp_settings: Settings, factory: sessionmaker[Session],
    server: Server, clock: Clock,
) -> None:
    subscriber_id, path = welcomed(smtp_settings, factory, server, clock)
    client.post(path, **ONE_CLICK)  # type: ignore[arg-type]
    before, first = row_counts(factory), person(factory, subscriber_id)
    clock.now += timedelta(days=1)
    response = client.post(path, **ONE_CLICK)  # type: ignore[arg-type]
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    assert row_counts(factory) == before
    assert person(factory, subscriber_id).email_consent_at == first.email_consent_at


def test_email_unsubscribe_leaves_text_messages_going(
    client: TestClient, smtp_settings: Settings, factory: sessionmaker[Session],
    server: Server, clock: Clock,
) -> None:
    subscriber_id = enrol(factory, START, phone=PHONE)
    token = make_token(SECRET, subscriber_id, "unsubscribe")
    response = client.post(f"/unsubscribe/{token}", **ONE_CLICK)  # type: ignore[arg-type]
    assert "Text messages still come" in response.text
    sam = person(factory, subscriber_id)
    assert (sam.email_consent, sam.sms_consent) == (False, True)
    assert enrolment_of(factory, subscriber_id).state == "active"
    assert [e[1] for e in events(factory, subscriber_id)][-1] == "email-opt-out"
    tick(smtp_settings, DUE)
    assert [m.channel for m in MemoryChannel.sent] == ["sms"]
    assert server.relay.received == []


def test_an_email_already_planned_is_not_sent_after_unsubscribing(
    client: TestClient, smtp_settings: Settings, factory: sessionmaker[Session],
    server: Server,
) -> None:
    subscriber_id = enrol(factory, START)
    planned: list[int] = []
    run_sweep(DUE, smtp_settings, planned.extend)  # planned, its send task not yet run
    token = make_token(SECRET, subscriber_id, "unsubscribe")
    client.post(f"/unsubscribe/{token}", **ONE_CLICK)  # type: ignore[arg-type]
    send_deliveries(planned, DUE, smtp_settings)
    [row] = deliveries(factory, subscriber_id)
    assert (row.status, row.error) == ("failed", "not sent: email opted out")
    assert server.relay.received == []


@pytest.mark.parametrize("make_bad", [
    lambda sid: make_token(SECRET, sid, "unsubscribe")[:-1] + "0",   # tampered signature
    lambda sid: make_token("another-secret", sid, "unsubscribe"),     # not signed by us
    lambda sid: make_token(SECRET, sid, "reply"),                     # a reply token
    lambda sid: make_token(SECRET, sid + 1, "unsubscribe"),           # nobody has that id
    lambda sid: make_token(SECRET, 2**40, "unsubscribe"),             # beyond any id column
    lambda sid: "nonsense",
])
def test_a_bad_link_gets_a_404_and_changes_nothing(
    client: TestClient, factory: sessionmaker[Session], make_bad: object,
) -> None:
    subscriber_id = enrol(factory, START)
    path = f"/unsubscribe/{make_bad(subscriber_id)}"  # type: ignore[operator]
    before = row_counts(factory)
    for response in (client.get(path), client.post(path, **ONE_CLICK)):  # type: ignore[arg-type]
        assert response.status_code == 404
        assert "This unsubscribe link is not valid" in response.text
        assert "Nothing was changed" in response.text
    assert row_counts(factory) == before
    assert person(factory, subscriber_id).email_consent is True


def test_the_production_app_serves_unsubscribe_but_not_the_dev_inbox(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    subscriber_id = enrol(factory, START)
    token = make_token(SECRET, subscriber_id, "unsubscribe")
    assert client.get(f"/unsubscribe/{token}").status_code == 200
    home = client.get("/")
    assert home.status_code == 200 and 'action="/join"' in home.text, "/ is the sign-up page"
    assert "dev inbox" not in home.text
    assert client.get("/inbox/1").status_code == 404
