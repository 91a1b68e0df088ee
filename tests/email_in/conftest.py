"""Fixtures for inbound email: the app with an inbound secret, on a clock the test moves, and
raw messages built with the standard library as mail services post them: by default with the
Authentication-Results header our mail service adds when DMARC passed for the sender."""

from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach.settings import Settings, get_settings
from coach.subscribers.models import Subscriber
from coach.subscribers.tokens import make_token
from coach.web.app import create_app
from tests.web.support import Clock, Enqueue

SECRET = "inbound-secret-for-tests-4f9c2a7e1b8d"
HOOK = "/hooks/email/inbound"
SAM = "sam@example.org"
AUTHSERV_ID = "mx.coach.example"  # the name our mail service writes in Authentication-Results


@pytest.fixture
def mail_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("COACH_INBOUND_EMAIL_SECRET", SECRET)
    monkeypatch.setenv("COACH_EMAIL_REPLY_DOMAIN", "coach.example")
    monkeypatch.setenv("COACH_INBOUND_AUTHSERV_ID", AUTHSERV_ID)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def enqueue(mail_settings: Settings, clock: Clock) -> Enqueue:
    return Enqueue(mail_settings, clock)


@pytest.fixture
def client(mail_settings: Settings, published: None, clock: Clock,
           enqueue: Enqueue) -> Iterator[TestClient]:
    with TestClient(create_app(mail_settings, enqueue, clock=clock)) as test_client:
        yield test_client


def reply_to(settings: Settings, subscriber_id: int) -> str:
    """The Reply-To address our emails carry for this subscriber."""
    return f"reply+{make_token(settings.secret_key, subscriber_id, 'reply')}@coach.example"


def email(body: str, *, sender: str = f"Sam <{SAM}>", to: str = "coach@coach.example",
          message_id: str = "<reply-1@mail.example.org>", html: bool = False,
          vouched: bool = True, **headers: str) -> EmailMessage:
    """``vouched``: our mail service says DMARC passed for the sender's domain."""
    message = EmailMessage()
    if vouched:
        message["Authentication-Results"] = dmarc_pass(sender)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Re: How did it go?"
    message["Date"] = format_datetime(Clock().now)
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body, subtype="html" if html else "plain")
    return message


def dmarc_pass(sender: str, authserv_id: str = AUTHSERV_ID) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return (f"{authserv_id}; dkim=pass (2048-bit key) header.d={domain} header.s=s1; "
            f"spf=pass smtp.mailfrom={domain}; dmarc=pass (p=reject) header.from={domain}")


def post(client: TestClient, message: EmailMessage | bytes, secret: str | None = SECRET,
         **options: Any) -> httpx.Response:
    raw = message if isinstance(message, bytes) else message.as_bytes()
    headers = {"Content-Type": "message/rfc822"}
    if secret is not None:
        headers["X-Coach-Secret"] = secret
    return client.post(HOOK, content=raw, headers=headers, **options)


def set_discreet(factory: sessionmaker[Session], subscriber_id: int) -> None:
    with factory.begin() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        subscriber.discreet = True
