"""Email through coach's own sweep and sender with COACH_EMAIL_BACKEND=smtp, on both databases:
what the relay receives, and what each way of failing leaves in the outbox row."""

from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from coach.delivery.sending import send_deliveries
from coach.settings import Settings, get_settings
from coach.subscribers.models import Subscriber
from coach.subscribers.tokens import read_token
from tests.channels_email.conftest import SECRET, Server
from tests.conftest import START
from tests.helpers import deliveries, enrol, tick
from tests.support.ports import free_port
from tests.web.support import enrolment_of

DUE = START + timedelta(hours=9, minutes=30)  # 18:30 in London, Sam's preferred time


def next_send(settings: Settings, factory: sessionmaker[Session], subscriber_id: int
              ) -> datetime:
    due = enrolment_of(factory, subscriber_id).next_due_at
    assert due is not None
    tick(settings, due)
    return due


def subscriber(factory: sessionmaker[Session], subscriber_id: int) -> Subscriber:
    with factory() as session:
        found = session.get(Subscriber, subscriber_id)
    assert found is not None
    return found


def received(server: Server) -> list[EmailMessage]:
    return [r.message for r in server.relay.received]


@pytest.mark.usefixtures("published")
def test_a_nudge_goes_through_the_sweep_the_sender_and_the_relay(
    smtp_settings: Settings, factory: sessionmaker[Session], server: Server
) -> None:
    subscriber_id = enrol(factory, START)
    tick(smtp_settings, DUE)
    [row] = deliveries(factory, subscriber_id)
    [email] = received(server)
    assert (row.status, row.sent_at, row.error) == ("sent", DUE, None)
    assert row.provider_id == email["Message-ID"]
    assert email["To"] == "sam@example.org" and email["Subject"] == row.subject
    plain = email.get_body(preferencelist=("plain",))
    assert plain is not None and "coaching, not therapy" in plain.get_content()
    token = str(email["Reply-To"]).split("reply+")[1].split("@")[0]
    assert read_token(SECRET, token, "reply") == subscriber_id
    assert email["References"] == f"<enrolment-{row.enrolment_id}@example.org>"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.usefixtures("published")
def test_two_messages_of_one_programme_share_a_thread(
    smtp_settings: Settings, factory: sessionmaker[Session], server: Server
) -> None:
    subscriber_id = enrol(factory, START)
    next_send(smtp_settings, factory, subscriber_id)
    next_send(smtp_settings, factory, subscriber_id)
    first, second = received(server)
    assert first["Message-ID"] != second["Message-ID"]
    assert first["References"] == second["References"] == second["In-Reply-To"]
    assert [d.status for d in deliveries(factory, subscriber_id)] == ["sent", "sent"]


ERRORS: list[tuple[dict[str, Any], str, str, bool]] = [
    # (what the relay does, the row's status, its reason, email consent afterwards)
    ({"on_rcpt": "450 4.2.1 Mailbox busy"}, "queued",
     "will retry: RCPT TO refused: 450 4.2.1 Mailbox busy", True),
    ({"on_rcpt": "drop"}, "queued", "will retry: the mail relay closed the connection", True),
    ({"on_data": "554 5.6.0 Message content rejected"}, "failed",
     "end of DATA refused: 554 5.6.0 Message content rejected", True),
    ({"on_rcpt": "550 5.1.1 No such user"}, "failed", "hard bounce: 550 5.1.1 No such user",
     False),
    ({"on_data": "drop"}, "unknown", "outcome unknown: the message was sent but", True),
]


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize(("relay", "status", "reason", "consent"), ERRORS)
def test_each_smtp_error_leaves_the_row_with_its_status_and_reason(
    smtp_settings: Settings, factory: sessionmaker[Session], server: Server,
    relay: dict[str, Any], status: str, reason: str, consent: bool,
) -> None:
    for name, value in relay.items():
        setattr(server.relay, name, value)
    subscriber_id = enrol(factory, START)
    tick(smtp_settings, DUE)
    [row] = deliveries(factory, subscriber_id)
    assert row.status == status and reason in (row.error or ""), (row.status, row.error)
    assert subscriber(factory, subscriber_id).email_consent is consent


@pytest.mark.usefixtures("published")
def test_a_hard_bounce_stops_email_to_that_address(
    smtp_settings: Settings, factory: sessionmaker[Session], server: Server
) -> None:
    server.relay.on_rcpt = "550 5.1.1 No such user"
    subscriber_id = enrol(factory, START)
    tick(smtp_settings, DUE)
    person = subscriber(factory, subscriber_id)
    assert person.email_consent_source == "hard bounce: 550 5.1.1 No such user"
    server.relay.on_rcpt = None
    tick(smtp_settings, DUE + timedelta(days=3))  # the next step is due: nothing goes
    assert len(deliveries(factory, subscriber_id)) == 1
    assert server.relay.received == []
    assert enrolment_of(factory, subscriber_id).state == "stopped"


@pytest.mark.usefixtures("published")
def test_an_unknown_outcome_is_never_resent(
    smtp_settings: Settings, factory: sessionmaker[Session], server: Server
) -> None:
    server.relay.on_data = "drop"
    subscriber_id = enrol(factory, START)
    tick(smtp_settings, DUE)
    [row] = deliveries(factory, subscriber_id)
    server.relay.on_data = None
    send_deliveries([row.id], DUE + timedelta(minutes=5), smtp_settings)  # a redelivered task
    assert [d.status for d in deliveries(factory, subscriber_id)] == ["unknown"]
    assert len(server.relay.received) == 1  # it arrived once, before the answer was lost


@pytest.mark.usefixtures("published")
def test_an_unreachable_relay_keeps_the_row_for_a_retry(
    smtp_settings: Settings, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COACH_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    subscriber_id = enrol(factory, START)
    tick(get_settings(), DUE)
    [row] = deliveries(factory, subscriber_id)
    assert row.status == "queued"
    assert "will retry: could not reach the mail relay at 127.0.0.1" in (row.error or "")
