"""Fixtures for the email channel: a real SMTP server (aiosmtpd) in this process, which can be
told to refuse, drop the connection or stall at any step, plain or with TLS and a login.

TLS uses a throwaway self-signed certificate made with ``openssl``; the client trusts it the
way an operator trusts a private CA, through ``SSL_CERT_FILE``.
"""

import asyncio
import ssl
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from starlette.testclient import TestClient

from coach.settings import Settings, get_settings
from coach.web.app import create_app
from tests.support.ports import free_port
from tests.web.support import Clock, Enqueue

SECRET = "a-test-secret-that-is-long-enough-to-look-real"
FROM = "coach <coach@example.org>"
PUBLIC_URL = "https://coach.example.org"
LOGIN, PASSWORD = "coach", "p@ss word/1"  # needs URL-encoding: p%40ss%20word%2F1
ENCODED_PASSWORD = "p%40ss%20word%2F1"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: Any
    login: bytes | None


@dataclass
class Relay:
    """An aiosmtpd handler. ``on_mail`` / ``on_rcpt`` / ``on_data`` replace the usual 250 with
    a reply like "450 4.2.1 busy", or "drop" (close the connection without an answer);
    ``on_data`` may also be "stall" (answer only after ``stall_seconds``)."""

    on_mail: str | None = None
    on_rcpt: str | None = None
    on_data: str | None = None
    stall_seconds: float = 2.0
    received: list[Received] = field(default_factory=list)

    async def handle_MAIL(self, server: Any, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        if self.on_mail:
            return _refuse(server, self.on_mail)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        if self.on_rcpt:
            return _refuse(server, self.on_rcpt)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        message = cast(EmailMessage, message_from_bytes(cast(bytes, envelope.original_content),
                                                        policy=policy.default))
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), message,
                                      session.peer, login))
        if self.on_data == "stall":
            await asyncio.sleep(self.stall_seconds)
            return "250 OK, but too late"
        return _refuse(server, self.on_data) if self.on_data else "250 2.0.0 OK queued"


def _refuse(server: Any, reply: str) -> str:
    if reply == "drop":
        server.transport.abort()
    return reply


def _authenticate(server: Any, session: Session, envelope: Envelope, mechanism: str,
                  auth_data: Any) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and auth_data.login == LOGIN.encode() \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=good, handled=False, auth_data=auth_data)


@dataclass
class Server:
    relay: Relay
    port: int
    scheme: str

    def url(self, credentials: str = "", query: str = "") -> str:
        at = f"{credentials}@" if credentials else ""
        return f"{self.scheme}://{at}127.0.0.1:{self.port}{query}"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def trust(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The client trusts the test certificate, as it would a private CA."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def start_server(certificate: tuple[Path, Path]) -> Iterator[Callable[..., Server]]:
    """Start servers: ``start_server()`` plain; ``"starttls"`` needing STARTTLS then a login;
    ``"smtps"`` implicit TLS needing a login. Extra keywords go to aiosmtpd's SMTP."""
    with ExitStack() as stack:
        def start(kind: str = "plain", relay: Relay | None = None, **options: Any) -> Server:
            relay, port = relay or Relay(), free_port()
            scheme, extra = "smtp", dict(options)
            if kind == "starttls":
                scheme = "smtp+starttls"
                extra.update(tls_context=_server_tls(certificate), require_starttls=True)
            if kind == "starttls":
                extra.update(auth_required=True, auth_require_tls=True)
            if kind == "smtps":
                # aiosmtpd only counts STARTTLS as TLS, so on an implicit-TLS port it offers
                # AUTH only when not told to require TLS (the whole session is TLS anyway).
                scheme = "smtps"
                extra.update(ssl_context=_server_tls(certificate), auth_require_tls=False)
            if kind != "plain":
                extra.update(authenticator=_authenticate)
            controller = Controller(relay, hostname="127.0.0.1", port=port,
                                    server_hostname="localhost", **extra)
            controller.start()
            stack.callback(controller.stop)
            return Server(relay, port, scheme)

        yield start


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    return start_server()


def mail_settings(tmp_path: Path, smtp_url: str, **values: Any) -> Settings:
    """Settings for the channel alone (no database)."""
    fields: dict[str, Any] = {"data_dir": tmp_path, "email_backend": "smtp",
                              "smtp_url": smtp_url, "email_from": FROM,
                              "public_url": PUBLIC_URL, "secret_key": SECRET}
    return Settings(**{**fields, **values})


@pytest.fixture
def smtp_settings(settings: Settings, server: Server,
                  monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings with email going through the real SMTP server, as configured by
    environment variables (so the sweep and the sender see them too)."""
    values = {"EMAIL_BACKEND": "smtp", "SMTP_URL": server.url(), "EMAIL_FROM": FROM,
              "PUBLIC_URL": PUBLIC_URL, "SECRET_KEY": SECRET}
    for key, value in values.items():
        monkeypatch.setenv(f"COACH_{key}", value)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(smtp_settings: Settings, published: None, clock: Clock) -> Iterator[TestClient]:
    """The production app (no dev inbox) on a test clock, sending in this process."""
    production = smtp_settings.model_copy(update={"env": "production"})
    app = create_app(production, Enqueue(smtp_settings, clock), clock=clock)
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client
