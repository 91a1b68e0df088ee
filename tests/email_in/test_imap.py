"""The IMAP poller against a real IMAP server (pymap, in this process): unseen messages go
through the same path as the webhook and are marked seen; a failure leaves one unseen."""

import imaplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coach.inbound import imap
from coach.inbound.imap import mailbox, poll
from coach.inbound.models import Reply
from coach.settings import Settings, get_settings
from tasks.app import _configure
from tasks.jobs import poll_imap
from tests.conftest import START
from tests.email_in.conftest import email, reply_to
from tests.email_in.pymap_server import PASSWORD, USER, ImapServer, running_imap_server
from tests.email_in.test_bounces import dsn, sent_email
from tests.helpers import enrol
from tests.web.support import Clock, Enqueue


@pytest.fixture
def imap_server() -> Iterator[ImapServer]:
    with running_imap_server() as server:
        yield server


@pytest.fixture
def imap_settings(mail_settings: Settings, imap_server: ImapServer,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("COACH_IMAP_URL", imap_server.url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def deliver(server: ImapServer, *messages: EmailMessage) -> None:
    """Put messages in the mailbox as a mail server would: unseen."""
    with imaplib.IMAP4(server.host, server.port) as client:
        client.login(USER, PASSWORD)
        for message in messages:
            client.append("INBOX", None, None, message.as_bytes())


def unseen(server: ImapServer) -> int:
    with imaplib.IMAP4(server.host, server.port) as client:
        client.login(USER, PASSWORD)
        client.select("INBOX")
        return len(client.uid("SEARCH", "UNSEEN")[1][0].split())


def replies(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(Reply.text).order_by(Reply.id)))


def test_unseen_messages_are_taken_and_marked_seen(
    imap_settings: Settings, imap_server: ImapServer, factory: sessionmaker[Session],
    published: None, enqueue: Enqueue, clock: Clock,
) -> None:
    subscriber_id, message_id = sent_email(imap_settings, factory)
    deliver(imap_server,
            email("Steady\n\n> quoted", to=reply_to(imap_settings, subscriber_id)),
            email("STOP", message_id="<stop@mail.example.org>"),
            email("who is this?", sender="stranger@example.net", message_id="<s@x>"),
            dsn(message_id, action="delayed", status="4.4.1"))
    summary = poll(imap_settings, enqueue, now=clock)
    assert summary.as_dict() == {"fetched": 4, "reply": 2, "duplicate": 0, "bounce": 1,
                                 "unsubscribe": 0, "dropped": 1, "failed": 0}
    assert replies(factory) == ["Steady", "STOP"]
    assert len(enqueue.batches) == 1, "the STOP confirmation went to the queue"
    assert unseen(imap_server) == 0
    assert poll(imap_settings, enqueue, now=clock).fetched == 0


def test_a_message_that_fails_stays_unseen_for_the_next_poll(
    imap_settings: Settings, imap_server: ImapServer, factory: sessionmaker[Session],
    published: None, enqueue: Enqueue, clock: Clock, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    enrol(factory, START)
    deliver(imap_server, email("my private words"))
    real = imap.receive_email

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("database went away while storing: my private words")

    monkeypatch.setattr(imap, "receive_email", broken)
    assert poll(imap_settings, enqueue, now=clock).failed == 1
    assert unseen(imap_server) == 1
    assert "left unseen" in caplog.text and "private" not in caplog.text
    monkeypatch.setattr(imap, "receive_email", real)
    assert poll(imap_settings, enqueue, now=clock).reply == 1
    assert replies(factory) == ["my private words"]
    assert unseen(imap_server) == 0


def test_the_task_polls_and_beat_runs_it_only_when_a_mailbox_is_set(
    imap_settings: Settings, imap_server: ImapServer, factory: sessionmaker[Session],
    published: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    enrol(factory, START)
    deliver(imap_server, email("3"))
    assert poll_imap()["reply"] == 1
    configured = Celery("test")
    _configure(configured)
    assert configured.conf.beat_schedule["poll-imap"]["task"] == "coach.poll_imap"
    monkeypatch.setenv("COACH_IMAP_URL", "")
    get_settings.cache_clear()
    _configure(configured)
    assert "poll-imap" not in configured.conf.beat_schedule


@pytest.mark.parametrize(("url", "expected"), [
    ("imaps://me%40example.org:p%3Ass@imap.example.org/INBOX",
     ("imaps", "imap.example.org", 993, "me@example.org", "p:ss", "INBOX")),
    ("imap+starttls://me:pw@imap.example.org:1143/Replies%20in",
     ("imap+starttls", "imap.example.org", 1143, "me", "pw", "Replies in")),
    ("imap://me:pw@127.0.0.1", ("imap", "127.0.0.1", 143, "me", "pw", "INBOX")),
])
def test_the_mailbox_url(url: str, expected: tuple[object, ...]) -> None:
    box = mailbox(url)
    assert (box.scheme, box.host, box.port, box.user, box.password, box.folder) == expected


def test_a_bad_mailbox_url_says_what_to_write() -> None:
    with pytest.raises(ValueError, match="imaps://user:password@host/INBOX"):
        mailbox("pop3://me:pw@mail.example.org")
