"""Every way a send can end, told apart by where it failed: before the relay took the message
(retry), refused for good (fail, with the relay's reason), a bad address (stop emailing it),
or after the message left without an answer (unknown: never resent)."""

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from coach.delivery.channels import (
    AddressGone,
    OutgoingMessage,
    PermanentFailure,
    TemporaryFailure,
    UnknownOutcome,
)
from coach.delivery.smtp_email import address_gone, smtp_channel
from tests.channels_email.conftest import Relay, Server, mail_settings
from tests.support.ports import free_port

MESSAGE = OutgoingMessage(1, "email", "sam@example.org", "Hello", "Hi", None, 3, 5)


def send(server: Server, tmp_path: Path, query: str = "") -> str:
    return smtp_channel(mail_settings(tmp_path, server.url(query=query))).send(MESSAGE)


REFUSALS = [
    # (step, reply, exception, words the reason must carry)
    ("on_mail", "421 4.3.2 Service shutting down", TemporaryFailure, "MAIL FROM refused: 421"),
    # A refused sender is our set-up, not this message: it waits for the fix, then goes.
    ("on_mail", "553 5.7.1 Sender not allowed", TemporaryFailure, "MAIL FROM refused: 553"),
    ("on_rcpt", "450 4.2.1 Mailbox busy, try later", TemporaryFailure, "RCPT TO refused: 450"),
    ("on_rcpt", "452 4.3.1 Insufficient storage", TemporaryFailure, "452 4.3.1"),
    ("on_rcpt", "550 5.1.1 No such user here", AddressGone, "hard bounce: 550 5.1.1"),
    ("on_rcpt", "551 5.1.6 User has moved", AddressGone, "551 5.1.6"),
    ("on_rcpt", "553 Sorry, that user does not exist", AddressGone, "553 Sorry"),
    ("on_rcpt", "550 5.7.1 Refused by local policy", PermanentFailure, "RCPT TO refused: 550"),
    ("on_rcpt", "554 5.7.1 Relay access denied", PermanentFailure, "Relay access denied"),
    ("on_data", "451 4.3.0 Temporary queue failure", TemporaryFailure, "end of DATA refused"),
    ("on_data", "554 5.6.0 Message content rejected", PermanentFailure, "content rejected"),
    ("on_data", "550 5.1.1 Recipient unknown", AddressGone, "550 5.1.1"),
]


@pytest.mark.parametrize(("step", "reply", "raised", "reason"), REFUSALS)
def test_a_refusal_maps_to_retry_failure_or_gone(
    start_server: Callable[..., Server], tmp_path: Path, step: str, reply: str,
    raised: type[Exception], reason: str,
) -> None:
    relay = Relay()
    setattr(relay, step, reply)
    server = start_server(relay=relay)
    with pytest.raises(raised) as caught:
        send(server, tmp_path)
    assert type(caught.value) is raised  # AddressGone is a PermanentFailure; not the reverse
    assert reason in str(caught.value)


def test_a_connection_refused_is_retried(tmp_path: Path) -> None:
    channel = smtp_channel(mail_settings(tmp_path, f"smtp://127.0.0.1:{free_port()}"))
    with pytest.raises(TemporaryFailure, match=r"could not reach the mail relay at 127\.0\.0\.1"):
        channel.send(MESSAGE)


def test_a_connection_dropped_before_the_message_is_retried(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server(relay=Relay(on_rcpt="drop"))
    with pytest.raises(TemporaryFailure, match="closed the connection before the message"):
        send(server, tmp_path)
    assert server.relay.received == []


def test_a_connection_lost_after_the_message_is_an_unknown_outcome(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server(relay=Relay(on_data="drop"))
    with pytest.raises(UnknownOutcome, match="the message was sent but the relay's answer"):
        send(server, tmp_path)
    assert len(server.relay.received) == 1  # it did arrive: which is why it is never resent


def test_no_answer_within_the_timeout_after_the_message_is_an_unknown_outcome(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server(relay=Relay(on_data="stall", stall_seconds=2))
    started = time.monotonic()
    with pytest.raises(UnknownOutcome, match="timed out"):
        send(server, tmp_path, query="?timeout=0.5")
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(("code", "text", "gone"), [
    (550, "5.1.1 <sam@example.org>: Recipient address rejected", True),
    (550, "5.2.1 Mailbox disabled", True),
    (550, "5.7.1 Message rejected as spam", False),
    (550, "5.1.8 Bad sender's system address", False),  # about us, not them
    (550, "Requested action not taken: no such user", True),
    (550, "Relaying denied", False),
    (552, "5.2.2 Mailbox full", False),
    (554, "5.1.1 No such user", False),  # not a code for a bad mailbox
])
def test_only_a_bad_mailbox_counts_as_gone(code: int, text: str, gone: bool) -> None:
    assert address_gone(code, text) is gone


def test_one_connection_serves_a_batch_and_is_replaced_when_the_relay_closed_it(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server(timeout=0.3)  # the relay drops idle sessions after 0.3 s
    with smtp_channel(mail_settings(tmp_path, server.url())) as channel:
        channel.send(MESSAGE)
        channel.send(MESSAGE)
        time.sleep(0.6)
        channel.send(MESSAGE)
    peers = [received.peer for received in server.relay.received]
    assert len(peers) == 3 and peers[0] == peers[1] != peers[2]


def test_without_a_batch_each_send_has_its_own_connection(server: Server, tmp_path: Path
                                                          ) -> None:
    channel = smtp_channel(mail_settings(tmp_path, server.url()))
    channel.send(MESSAGE)
    channel.send(MESSAGE)
    peers = [received.peer for received in server.relay.received]
    assert peers[0] != peers[1]


def test_a_failure_in_a_batch_does_not_spoil_the_next_send(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server(relay=Relay(on_rcpt="450 4.2.1 busy"))
    with smtp_channel(mail_settings(tmp_path, server.url())) as channel:
        with pytest.raises(TemporaryFailure):
            channel.send(MESSAGE)
        server.relay.on_rcpt = None
        channel.send(MESSAGE)
    assert len(server.relay.received) == 1


def test_a_non_ascii_address_fails_with_a_reason(server: Server, tmp_path: Path) -> None:
    message = OutgoingMessage(1, "email", "zoë@example.org", "Hello", "Hi", None, 3, 5)
    with pytest.raises(PermanentFailure, match="SMTPUTF8"):
        smtp_channel(mail_settings(tmp_path, server.url())).send(message)
