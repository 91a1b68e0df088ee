"""The IMAP poller against a real IMAP server (pymap, in this process): unseen messages go
through the same path as the webhook and are marked seen; a failure leaves one unseen, behind
the others, and a message that keeps failing is set aside."""

import imaplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from celery import Celery
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from coach.inbound import imap
from coach.inbound.email_in import receive_email
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


@pytest.fixture(params=[False, True], ids=["flags only", "keywords"])
def imap_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[ImapServer]:
    """Both kinds of server: one that keeps only system flags (pymap's own) and one that keeps
    keywords of ours, where failures are counted on the server."""
    monkeypatch.setattr(imap, "_failed_here", {})
    with running_imap_server(keywords=request.param) as server:
        yield server


@pytest.fixture
def imap_settings(mail_settings: Settings, imap_server: ImapServer,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("COACH_IMAP_URL", imap_server.url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def deliver(server: ImapServer, *messages: EmailMessage) -> None:
    deliver_raw(server, *(message.as_bytes() for message in messages))


def deliver_raw(server: ImapServer, *messages: bytes) -> None:
    """Put messages in the mailbox as a mail server would: unseen."""
    with imaplib.IMAP4(server.host, server.port) as client:
        client.login(USER, PASSWORD)
        for message in messages:
            client.append("INBOX", None, None, message)


def unseen(server: ImapServer) -> int:
    return len(search(server, "UNSEEN"))


def search(server: ImapServer, criteria: str) -> list[bytes]:
    with imaplib.IMAP4(server.host, server.port) as client:
        client.login(USER, PASSWORD)
        client.select("INBOX")
        return list(client.uid("SEARCH", criteria)[1][0].split())


def failing_on(monkeypatch: pytest.MonkeyPatch, marker: bytes, error: Exception) -> None:
    """Messages that contain ``marker`` fail while being stored; the others go through."""
    real = imap.receive_email

    def receive(factory: object, raw: bytes, *args: object) -> object:
        if marker in raw:
            raise error
        return real(factory, raw, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(imap, "receive_email", receive)


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
                                 "unsubscribe": 0, "dropped": 1, "failed": 0, "set_aside": 0}
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


def test_a_message_that_keeps_failing_is_set_aside_after_three_polls(
    imap_settings: Settings, imap_server: ImapServer, factory: sessionmaker[Session],
    published: None, enqueue: Enqueue, clock: Clock, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    enrol(factory, START)
    deliver(imap_server, email("always fails", message_id="<bad@x>", X_Test="fail-me"))
    failing_on(monkeypatch, b"fail-me", RuntimeError("a bug this message finds"))
    results = [poll(imap_settings, enqueue, now=clock) for _ in range(3)]
    assert [(r.failed, r.set_aside) for r in results] == [(1, 0), (1, 0), (0, 1)]
    assert poll(imap_settings, enqueue, now=clock).fetched == 0
    assert unseen(imap_server) == 0 and len(search(imap_server, "FLAGGED")) == 1
    keeps_keywords = bool(search(imap_server, "KEYWORD $CoachFailed1"))
    assert len(search(imap_server, "KEYWORD $CoachSetAside")) == int(keeps_keywords)
    assert "set aside" in caplog.text and "always fails" not in caplog.text
    assert replies(factory) == []


def test_messages_that_fail_do_not_hold_up_a_stop_behind_them(
    imap_settings: Settings, imap_server: ImapServer, factory: sessionmaker[Session],
    published: None, enqueue: Enqueue, clock: Clock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More failing messages than one poll takes, then a STOP: the STOP is read at the second
    poll, and after three failures each the failing ones are all set aside."""
    monkeypatch.setattr(imap, "BATCH", 10)
    enrol(factory, START)
    deliver(imap_server, *(email("fails", message_id=f"<bad-{n}@x>", X_Test="fail-me")
                           for n in range(15)))
    deliver(imap_server, email("STOP", message_id="<stop@x>"))
    failing_on(monkeypatch, b"fail-me", RuntimeError("a bug these messages find"))
    assert poll(imap_settings, enqueue, now=clock).failed == 10
    second = poll(imap_settings, enqueue, now=clock)
    assert (second.reply, second.failed) == (1, 9), "the 5 not yet tried, the STOP, 4 more"
    assert replies(factory) == ["STOP"]
    polls = 0
    while unseen(imap_server) and polls < 6:
        poll(imap_settings, enqueue, now=clock)
        polls += 1
    assert unseen(imap_server) == 0, "each failing message was set aside after three failures"
    assert len(search(imap_server, "FLAGGED")) == 15


def test_while_the_database_is_unreachable_nothing_is_counted_against_a_message(
    imap_settings: Settings, imap_server: ImapServer, factory: sessionmaker[Session],
    published: None, enqueue: Enqueue, clock: Clock, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    enrol(factory, START)
    deliver(imap_server, email("3", message_id="<one@x>"), email("4", message_id="<two@x>"))
    down = OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    failing_on(monkeypatch, b"Message-ID", down)
    for _ in range(imap.MAX_FAILURES + 1):
        summary = poll(imap_settings, enqueue, now=clock)
        assert (summary.fetched, summary.failed, summary.set_aside) == (1, 1, 0)
    assert "database is unreachable" in caplog.text
    assert unseen(imap_server) == 2 and search(imap_server, "FLAGGED") == []
    monkeypatch.setattr(imap, "receive_email", receive_email)
    assert poll(imap_settings, enqueue, now=clock).reply == 2
