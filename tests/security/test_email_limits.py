"""Slow emails: 200,000 parts took 78 s and 20,000 recipients 18 s before anything was dropped.
Parts, nesting, header fields and recipients are bounded before the parser goes further, and a
message over a bound is dropped with a 2xx and a log line. A 9 MB reply was stored whole; now
at most MAX_REPLY_CHARS of a person's words are kept. (How fast is for the benchmarks: these
tests assert what happens, not how long it takes.)"""
# ruff: noqa: F811  (pytest fixtures imported from tests/email_in are used as arguments)

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from coach.inbound.email_in import MAX_REPLY_CHARS, Understood, Unreadable, understand
from coach.inbound.email_limits import (
    MAX_CONTAINERS,
    MAX_HEADERS,
    MAX_PARTS,
    MAX_RECIPIENTS,
    over_limit,
)
from coach.inbound.models import Reply
from tests.conftest import START
from tests.email_in.conftest import (  # noqa: F401  (fixtures)
    AUTHSERV_ID,
    SAM,
    client,
    clock,
    dmarc_pass,
    email,
    enqueue,
    mail_settings,
    post,
)
from tests.helpers import enrol
from tests.privacy import MARKER
from tests.web.support import row_counts

HEAD = (f"Authentication-Results: {dmarc_pass(SAM)}\r\nFrom: Sam <{SAM}>\r\n"
        "To: coach@coach.example\r\nSubject: Re: How did it go?\r\n"
        "Message-ID: <big@mail.example.org>\r\n").encode()


def with_parts(count: int) -> bytes:
    """A 7 MB message of ``count`` parts, the person's words in the first."""
    filler = b"x" * max(0, 7_000_000 // count - 60)
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\n%s\r\n" % filler
                     for _ in range(count - 1))
    return (HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\n%s\r\n" % MARKER.encode()
            + parts + b"--b--\r\n")


def with_bare_boundaries(count: int) -> bytes:
    """Parts with no headers of their own, and lines that end in CR alone."""
    return (HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
            + b"--b\r\rx\r" * count + b"--b--\r")


def nested(depth: int) -> bytes:
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (n, n)
                       for n in range(depth))
    return HEAD + opening + b"Content-Type: text/plain\r\n\r\n%s\r\n" % MARKER.encode()


def forwarded(depth: int) -> bytes:
    return HEAD + b"Content-Type: message/rfc822\r\n\r\n" * depth + b"\r\n" + MARKER.encode()


def delivery_report(blocks: int) -> bytes:
    return (HEAD + b"Content-Type: multipart/report; report-type=delivery-status; boundary=b"
            b"\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            + b"Action: failed\r\nStatus: 5.1.1\r\n\r\n" * blocks + b"--b--\r\n")


def with_headers(count: int) -> bytes:
    return HEAD + b"".join(b"X-Noise-%d: %s\r\n" % (n, MARKER.encode()) for n in range(count)) \
        + b"\r\n" + MARKER.encode()


def with_recipients(count: int, header: str = "To") -> bytes:
    addresses = ", ".join(f"person{n}@example.net" for n in range(count))
    return HEAD + f"{header}: {addresses}\r\n\r\n{MARKER}\r\n".encode()


TOO_MUCH = {
    "200,000 parts": lambda: with_parts(200_000),
    "20,000 recipients": lambda: with_recipients(20_000),
    "20,000 recipients in Cc": lambda: with_recipients(20_000, "Cc"),
    "parts past the bound": lambda: with_parts(MAX_PARTS + 2),
    "bare boundaries ending in CR": lambda: with_bare_boundaries(MAX_PARTS + 1),
    "nested past the bound": lambda: nested(MAX_CONTAINERS + 1),
    "forwarded past the bound": lambda: forwarded(MAX_CONTAINERS + 1),
    "header fields past the bound": lambda: with_headers(MAX_HEADERS),
    "recipients past the bound": lambda: with_recipients(MAX_RECIPIENTS + 1),
    "a delivery report of 200,000 blocks": lambda: delivery_report(200_000),
}
WITHIN = {
    "a few parts": lambda: with_parts(10),
    "nested a little": lambda: nested(3),
    "a few header fields": lambda: with_headers(MAX_HEADERS - 10),
    "a few recipients": lambda: with_recipients(MAX_RECIPIENTS - 5),
}


@pytest.mark.parametrize("make", TOO_MUCH.values(), ids=TOO_MUCH.keys())
def test_a_message_over_a_bound_is_unreadable(make) -> None:
    assert isinstance(understand(make(), AUTHSERV_ID), Unreadable)


@pytest.mark.parametrize("make", WITHIN.values(), ids=WITHIN.keys())
def test_a_message_within_the_bounds_is_read(make) -> None:
    raw = make()
    assert over_limit(raw) is None
    understood = understand(raw, AUTHSERV_ID)
    assert isinstance(understood, Understood) and understood.verified
    assert understood.text == MARKER


@pytest.mark.parametrize("make", [TOO_MUCH["200,000 parts"], TOO_MUCH["20,000 recipients"]],
                         ids=["200,000 parts", "20,000 recipients"])
def test_the_webhook_drops_a_message_over_a_bound_with_a_log_line(
    client: TestClient, factory: sessionmaker[Session], make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    enrol(factory, START)
    before = row_counts(factory)
    with caplog.at_level("INFO"):
        response = post(client, make())
    assert (response.status_code, response.json()) == (202, {"result": "dropped"})
    assert "dropped: cannot be read: more than" in caplog.text
    assert row_counts(factory) == before


def test_a_long_reply_is_cut_to_the_cap(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    enrol(factory, START)
    body = ("I have a lot to say. " * 450_000)[:9_000_000]  # 9 MB of the person's own words
    assert post(client, email(body)).json() == {"result": "reply"}
    with factory() as session:
        [text] = session.scalars(select(Reply.text)).all()
    assert len(text) <= MAX_REPLY_CHARS and text.startswith("I have a lot to say.")
