"""One stranger's email must not stop inbound email for everyone: messages that made the
webhook answer 500 (so the mail service retried them forever) and that the IMAP poller left
unseen at the head of every poll. Each is now dropped with a 2xx and a log line that names the
message, never its words; what comes after it is read."""
# ruff: noqa: F811  (pytest fixtures imported from tests/email_in are used as arguments)

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach.inbound import imap
from coach.inbound.email_in import Understood, Unreadable, understand
from coach.inbound.imap import poll
from coach.inbound.models import Reply
from coach.settings import Settings, get_settings
from coach.subscribers.models import Subscriber
from tests.conftest import START
from tests.email_in.conftest import (  # noqa: F401  (fixtures)
    SAM,
    client,
    clock,
    dmarc_pass,
    enqueue,
    mail_settings,
    post,
)
from tests.email_in.pymap_server import ImapServer, running_imap_server
from tests.email_in.test_imap import deliver_raw, unseen
from tests.helpers import enrol
from tests.privacy import MARKER
from tests.web.support import Clock, Enqueue, row_counts


def raw_email(body: str = MARKER, *, sender: str = f"Sam <{SAM}>",
              to: str = "coach@coach.example", message_id: str = "<poison@x>",
              vouched: bool = False, extra: str = "") -> bytes:
    """Written by hand: the standard library refuses to build most of these."""
    auth = f"Authentication-Results: {dmarc_pass(sender)}\r\n" if vouched else ""
    return (f"{auth}From: {sender}\r\nTo: {to}\r\nSubject: {MARKER}\r\n"
            f"Message-ID: {message_id}\r\n{extra}\r\n{body}\r\n").encode()


def nested(depth: int, message_id: str = "<nested@x>") -> bytes:
    head = raw_email(message_id=message_id, extra="Content-Type: multipart/mixed; boundary=b0\r\n",
                     body="")
    parts = b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (n, n + 1)
                     for n in range(depth))
    return head + parts + b"--b%d\r\nContent-Type: text/plain\r\n\r\n%s\r\n" % (
        depth, MARKER.encode())


POISON = {
    "a Unicode digit in the reply token": lambda n: raw_email(
        to="reply+\u00b2-0123456789abcdef@coach.example", message_id=f"<digit-{n}@x>"),
    "a 5,000-digit reply token": lambda n: raw_email(
        to=f"reply+{'9' * 5000}-0123456789abcdef@coach.example", message_id=f"<long-{n}@x>"),
    "an encoded line break in From": lambda n: raw_email(
        sender=f"=?utf-8?q?{SAM}=0AX?= <{SAM}>", message_id=f"<lf-{n}@x>"),
    "a multipart nested 3,000 deep": lambda n: nested(3000, f"<deep-{n}@x>"),
    "a Unicode digit in the unsubscribe token": lambda n: raw_email(
        to="unsubscribe+\u00b9\u00b2-0123456789abcdef@coach.example", message_id=f"<u-{n}@x>"),
    "bytes that are not text in every header": lambda n: (
        b"From: \xff\xfe <\xff@\xfe>\r\nTo: reply+\xb2-x@\xff\r\nMessage-ID: <bytes-%d@x>\r\n"
        b"Content-Type: text/plain; charset=x-unknown-\xff\r\n\r\n\xff\xfe%s\r\n"
        % (n, MARKER.encode())),
}


@pytest.mark.parametrize("make", POISON.values(), ids=POISON.keys())
def test_poison_is_understood_or_unreadable_but_never_raises(make) -> None:
    assert isinstance(understand(make(0), "mx.coach.example"), Understood | Unreadable)


@pytest.mark.parametrize("make", POISON.values(), ids=POISON.keys())
def test_the_webhook_drops_poison_with_a_2xx_and_stores_nothing(
    client: TestClient, factory: sessionmaker[Session], make, caplog: pytest.LogCaptureFixture,
) -> None:
    enrol(factory, START)
    before = row_counts(factory)
    with caplog.at_level("INFO"):
        response = post(client, make(0))
    assert (response.status_code, response.json()) == (202, {"result": "dropped"})
    assert "dropped" in caplog.text and SAM not in caplog.text
    assert row_counts(factory) == before
    stop = raw_email("STOP", message_id="<stop@x>", vouched=True)
    assert post(client, stop).json() == {"result": "reply"}


@pytest.fixture
def imap_server(mail_settings: Settings, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[ImapServer]:
    monkeypatch.setattr(imap, "_failed_here", {})
    with running_imap_server() as server:
        monkeypatch.setenv("COACH_IMAP_URL", server.url)
        get_settings.cache_clear()
        yield server
    get_settings.cache_clear()


def test_a_stop_behind_more_poison_than_one_poll_takes_is_read_at_the_next_poll(
    imap_server: ImapServer, factory: sessionmaker[Session], published: None,
    enqueue: Enqueue, clock: Clock,
) -> None:
    subscriber_id = enrol(factory, START)
    # pymap's own parser recurses on 3,000 levels; 50 is as far beyond our bound.
    makers = [*(make for name, make in POISON.items() if "nested" not in name),
              lambda n: nested(50, f"<deep-{n}@x>")]
    deliver_raw(imap_server, *(makers[n % len(makers)](n) for n in range(imap.BATCH + 5)))
    deliver_raw(imap_server, raw_email("STOP", message_id="<stop@x>", vouched=True))
    first = poll(get_settings(), enqueue, now=clock)
    assert (first.fetched, first.dropped, first.failed) == (imap.BATCH, imap.BATCH, 0)
    second = poll(get_settings(), enqueue, now=clock)
    assert (second.fetched, second.reply, second.dropped) == (6, 1, 5)
    assert unseen(imap_server) == 0
    with factory() as session:
        assert list(session.scalars(select(Reply.text))) == ["STOP"]
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None and subscriber.email_consent is False
