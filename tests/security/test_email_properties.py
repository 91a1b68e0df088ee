"""Properties of every parser of inbound email, tried by Hypothesis: tokens and ids never
raise and round-trip; any message is understood or unreadable, never an exception; and on the
database, receiving any message ends in one of the known results."""

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from coach.inbound.email_auth import from_verified
from coach.inbound.email_in import (
    MAX_REPLY_CHARS,
    Understood,
    Unreadable,
    receive_email,
    understand,
)
from coach.subscribers.tokens import MAX_ID, make_token, parse_id, read_token
from tests.conftest import START
from tests.helpers import enrol

SECRET = "a-secret-for-property-tests"
AUTHSERV_ID = "mx.coach.example"
RESULTS = {"reply", "duplicate", "bounce", "unsubscribe", "dropped"}
PURPOSES = st.sampled_from(["reply", "unsubscribe"])
DIGITS = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=30)


@given(st.one_of(st.text(), DIGITS, st.integers().map(str)))
@example("²")
@example("9" * 5000)
def test_parse_id_is_an_id_in_range_or_none(text: str) -> None:
    number = parse_id(text)
    assert number is None or (0 <= number <= MAX_ID and number == int(text, 10))
    assert number is None or (text.isascii() and text.isdigit())


@given(st.text(), PURPOSES)
@example("\u00b2-0123456789abcdef", "reply")
def test_read_token_never_raises(token: str, purpose: str) -> None:
    assert read_token(SECRET, token, purpose) is None  # nothing we did not sign


@given(st.integers(0, MAX_ID), PURPOSES, st.text(min_size=1))
def test_tokens_round_trip_for_their_purpose_only(number: int, purpose: str, secret: str
                                                  ) -> None:
    token = make_token(secret, number, purpose)
    other = "unsubscribe" if purpose == "reply" else "reply"
    assert read_token(secret, token, purpose) == number
    assert read_token(secret, token.upper(), purpose) == number
    assert read_token(secret, token, other) is None


# Messages --------------------------------------------------------------------------------------

HEADER_NAMES = st.sampled_from([
    "From", "To", "Cc", "Delivered-To", "Subject", "Message-ID", "Content-Type",
    "Content-Transfer-Encoding", "Auto-Submitted", "Authentication-Results", "MIME-Version"])
HEADER_VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from([
        "Sam <sam@example.org>", "reply+1-0123456789abcdef@coach.example",
        "unsubscribe+\u00b2-0123456789abcdef@coach.example",
        "=?utf-8?q?sam@example.org=0AX?= <sam@example.org>",
        "multipart/mixed; boundary=b", "multipart/alternative; boundary=\"b\"",
        "message/rfc822", "text/html; charset=x-unknown", "base64", "quoted-printable",
        f"{AUTHSERV_ID}; dmarc=pass header.from=example.org", "auto-replied", "<id@x>"]))
BODY_LINES = st.one_of(st.text(max_size=60), st.sampled_from([
    "--b", "--b--", "Content-Type: text/plain", "Content-Type: multipart/mixed; boundary=c",
    "> quoted", "On Mon, 9 Mar 2026, coach wrote:", "STOP", "he hits me", "=E2=82", ""]))


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=12))
    body = draw(st.lists(BODY_LINES, max_size=30))
    newline = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    head = newline.join(f"{name}: {value}" for name, value in headers)
    return (head + newline * 2 + newline.join(body)).encode("utf-8", "surrogatepass")


@given(st.one_of(messages(), st.binary(max_size=2000)))
@settings(max_examples=300, deadline=None)
def test_any_message_is_understood_or_unreadable(raw: bytes) -> None:
    understood = understand(raw, AUTHSERV_ID)
    assert isinstance(understood, Understood | Unreadable)
    if isinstance(understood, Understood):
        assert len(understood.text) <= MAX_REPLY_CHARS
        assert understood.sender is None or "\n" not in understood.sender


@given(st.lists(st.tuples(st.sampled_from(["Authentication-Results", "X-Other"]),
                          st.text(max_size=200)), max_size=5), st.text(max_size=30))
def test_authentication_results_never_raise(headers: list[tuple[str, str]], domain: str
                                            ) -> None:
    assert from_verified(headers, domain, AUTHSERV_ID) in (True, False)


@pytest.fixture
def sam(factory: sessionmaker[Session], published: None) -> int:
    return enrol(factory, START)


@given(raw=messages())
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_receiving_any_message_ends_in_a_known_result(
    factory: sessionmaker[Session], sam: int, raw: bytes
) -> None:
    """Against the real database (Sam subscribed once for all examples): only a database
    error could raise, and none does here."""
    received = receive_email(factory, raw, START + timedelta(days=1), SECRET, AUTHSERV_ID)
    assert received.result in RESULTS
