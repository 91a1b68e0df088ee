"""STARTTLS and implicit TLS with a login, against a server that refuses a login without TLS.
The password in the URL is URL-encoded; the certificate is checked."""

from collections.abc import Callable
from pathlib import Path

import pytest

from coach.delivery.channels import OutgoingMessage, TemporaryFailure
from coach.delivery.smtp_email import smtp_channel
from tests.channels_email.conftest import (
    ENCODED_PASSWORD,
    LOGIN,
    Server,
    mail_settings,
)

MESSAGE = OutgoingMessage(1, "email", "sam@example.org", "Hello", "Hi", None, 3, 5)
CREDENTIALS = f"{LOGIN}:{ENCODED_PASSWORD}"


@pytest.mark.usefixtures("trust")
@pytest.mark.parametrize("kind", ["starttls", "smtps"])
def test_a_login_over_tls_sends(start_server: Callable[..., Server], tmp_path: Path,
                                kind: str) -> None:
    server = start_server(kind)
    smtp_channel(mail_settings(tmp_path, server.url(CREDENTIALS))).send(MESSAGE)
    [received] = server.relay.received
    assert received.login == LOGIN.encode() and received.rcpt_tos == ["sam@example.org"]


@pytest.mark.usefixtures("trust")
@pytest.mark.parametrize("kind", ["starttls", "smtps"])
def test_a_wrong_password_is_retried_with_the_relays_reason(
    start_server: Callable[..., Server], tmp_path: Path, kind: str
) -> None:
    server = start_server(kind)
    channel = smtp_channel(mail_settings(tmp_path, server.url(f"{LOGIN}:wrong")))
    with pytest.raises(TemporaryFailure, match="refused us: 535") as caught:
        channel.send(MESSAGE)
    assert "wrong" not in str(caught.value)
    assert server.relay.received == []


@pytest.mark.parametrize("kind", ["starttls", "smtps"])
def test_an_untrusted_certificate_is_refused(start_server: Callable[..., Server],
                                             tmp_path: Path, kind: str) -> None:
    server = start_server(kind)
    channel = smtp_channel(mail_settings(tmp_path, server.url(CREDENTIALS)))
    with pytest.raises(TemporaryFailure, match="CERTIFICATE_VERIFY_FAILED"):
        channel.send(MESSAGE)
    assert server.relay.received == []


@pytest.mark.usefixtures("trust")
def test_a_plain_connection_to_a_server_that_needs_tls_is_refused(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server("starttls")
    channel = smtp_channel(mail_settings(tmp_path, f"smtp://127.0.0.1:{server.port}"))
    with pytest.raises(TemporaryFailure, match="530"):
        channel.send(MESSAGE)
