"""Bounces through the inbound hook: the delivery they name fails with the diagnostic as its
reason; only a permanent failure (5.x.x) stops email; nothing is taken for a reply."""

from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach.delivery.models import Delivery
from coach.events.models import Event
from coach.inbound.models import Reply
from coach.settings import Settings
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.email_in.conftest import post
from tests.helpers import deliveries, enrol, tick
from tests.web.support import enrolment_of, row_counts

DIAGNOSTIC = "smtp; 550 5.1.1 <sam@example.org>: Recipient address rejected: User unknown"


def sent_email(settings: Settings, factory: sessionmaker[Session]) -> tuple[int, str]:
    """Sam's welcome email, sent, with a Message-ID as the SMTP channel records it."""
    subscriber_id = enrol(factory, START)
    due = enrolment_of(factory, subscriber_id).next_due_at
    assert due is not None
    tick(settings, due)
    with factory.begin() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert delivery.status == "sent"
        delivery.provider_id = f"<{delivery.id}.0a1b2c3d4e5f6a7b@coach.example>"
        return subscriber_id, delivery.provider_id


def fields(**values: str) -> EmailMessage:
    block = EmailMessage()
    for name, value in values.items():
        block[name.replace("_", "-")] = value
    return block


def dsn(original_id: str, action: str = "failed", status: str = "5.1.1",
        diagnostic: str = DIAGNOSTIC, returned: str = "headers") -> EmailMessage:
    """A delivery-status notification (RFC 3464) as Postfix sends one."""
    report = EmailMessage()
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.net>"
    report["To"] = "coach@coach.example"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = "<bounce-1@mx.example.net>"
    report["Auto-Submitted"] = "auto-replied"
    report.set_content("This is the mail system at host mx.example.net.\n\n"
                       "I'm sorry to have to inform you that your message could not\n"
                       "be delivered to one or more recipients.\n")
    report.make_mixed()
    report.set_type("multipart/report")
    report.set_param("report-type", "delivery-status")
    status_part = EmailMessage()
    status_part["Content-Type"] = "message/delivery-status"
    status_part.set_payload([
        fields(Reporting_MTA="dns; mx.example.net"),
        fields(Final_Recipient="rfc822; sam@example.org", Action=action, Status=status,
               Diagnostic_Code=diagnostic),
    ])
    report.attach(status_part)
    report.attach(_returned(original_id, returned))
    return report


def _returned(original_id: str, how: str) -> EmailMessage:
    original = fields(From="coach <coach@coach.example>", To="sam@example.org",
                      Subject="Welcome: trust and care", Message_ID=original_id)
    part = EmailMessage()
    if how == "message":
        original.set_content("Hi Sam, welcome.")
        part.set_content(original)  # message/rfc822
    else:
        part["Content-Type"] = "text/rfc822-headers"
        part.set_payload(original.as_string())
    return part


def state(factory: sessionmaker[Session], subscriber_id: int) -> tuple[str, str | None, bool]:
    with factory() as session:
        delivery = session.scalars(select(Delivery)).first()
        subscriber = session.get(Subscriber, subscriber_id)
        assert delivery is not None and subscriber is not None
        return delivery.status, delivery.error, subscriber.email_consent


@pytest.mark.parametrize("returned", ["headers", "message"])
def test_a_permanent_bounce_fails_the_delivery_and_stops_email(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session], returned: str
) -> None:
    subscriber_id, message_id = sent_email(mail_settings, factory)
    for _ in range(2):  # a retried post changes nothing more
        response = post(client, dsn(message_id, returned=returned))
        assert (response.status_code, response.json()) == (200, {"result": "bounce"})
    status, error, consent = state(factory, subscriber_id)
    assert (status, consent) == ("failed", False)
    assert error is not None and "5.1.1" in error and "User unknown" in error
    with factory() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None and subscriber.email_consent_source == "hard bounce"
        assert session.scalar(select(func.count(Reply.id))) == 0
        opt_outs = session.scalars(select(Event).where(Event.action == "email-opt-out")).all()
        assert len(opt_outs) == 1 and "bounced" in opt_outs[0].reason
    # No channel is left: the programme halts at once, and nothing more is sent.
    enrolment = enrolment_of(factory, subscriber_id)
    assert (enrolment.state, enrolment.next_due_at) == ("stopped", None)
    tick(mail_settings, START + timedelta(days=14))
    assert len(deliveries(factory, subscriber_id)) == 1


def test_a_delay_notice_changes_nothing(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session]
) -> None:
    subscriber_id, message_id = sent_email(mail_settings, factory)
    delayed = dsn(message_id, action="delayed", status="4.4.1",
                  diagnostic="smtp; 451 4.4.1 mailbox temporarily unavailable")
    assert post(client, delayed).json() == {"result": "bounce"}
    assert state(factory, subscriber_id) == ("sent", None, True)


def test_a_temporary_failure_given_up_fails_the_delivery_but_keeps_email(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session]
) -> None:
    subscriber_id, message_id = sent_email(mail_settings, factory)
    post(client, dsn(message_id, status="4.4.7", diagnostic="delivery time expired"))
    status, error, consent = state(factory, subscriber_id)
    assert (status, consent) == ("failed", True)
    assert error == "bounced (4.4.7): delivery time expired"


def test_a_plain_mailer_daemon_bounce_is_read_too(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session]
) -> None:
    """Not a multipart/report: the status and the Message-ID are found in the text."""
    subscriber_id, message_id = sent_email(mail_settings, factory)
    bounce = EmailMessage()
    bounce["From"] = "MAILER-DAEMON@mx.example.net"
    bounce["To"] = "coach@coach.example"
    bounce["Subject"] = "failure notice"
    bounce["Message-ID"] = "<qmail-bounce@mx.example.net>"
    bounce.set_content(
        "Hi. This is the qmail-send program at mx.example.net.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
        "<sam@example.org>:\nRemote host said: 550 5.1.1 mailbox does not exist\n\n"
        "--- Below this line is a copy of the message.\n\n"
        f"From: coach <coach@coach.example>\nMessage-ID: {message_id}\nSubject: Welcome\n\n"
        "Hi Sam, welcome.\n")
    assert post(client, bounce).json() == {"result": "bounce"}
    status, error, consent = state(factory, subscriber_id)
    assert (status, consent) == ("failed", False)
    assert error == "bounced (5.1.1): Remote host said: 550 5.1.1 mailbox does not exist"


def test_a_bounce_for_a_message_we_did_not_send_is_dropped(
    client: TestClient, mail_settings: Settings, factory: sessionmaker[Session]
) -> None:
    subscriber_id, _ = sent_email(mail_settings, factory)
    before = row_counts(factory)
    response = post(client, dsn("<someone-else@elsewhere.example>"))
    assert (response.status_code, response.json()) == (202, {"result": "dropped"})
    assert row_counts(factory) == before
    assert state(factory, subscriber_id) == ("sent", None, True)
