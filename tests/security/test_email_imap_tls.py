"""IMAP without certificate checks sent the mailbox password to whoever answered. The poller
now verifies the server's certificate and host name, for imaps and for imap+starttls, against
the system's CAs or a private one named by SSL_CERT_FILE: a server with a certificate for
another name, or one nobody vouches for, never receives LOGIN."""
# ruff: noqa: F811  (pytest fixtures imported from tests/email_in are used as arguments)

import ssl
from collections.abc import Iterator

import pytest

from coach.inbound.imap import poll
from coach.settings import Settings, get_settings
from tests.email_in.conftest import clock, enqueue, mail_settings  # noqa: F401  (fixtures)
from tests.email_in.tls_imap import Certificate, make_ca, make_certificate, running_tls_imap_server
from tests.web.support import Clock, Enqueue

HOST = "127.0.0.1"
SCHEMES = {"imaps": False, "imap+starttls": True}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Certificate]:
    folder = tmp_path_factory.mktemp("certificates")
    ca = make_ca(folder)
    return {"ca": ca, "ours": make_certificate(folder, HOST, ca),
            "another name": make_certificate(folder, "imap.elsewhere.example", ca),
            "self-signed": make_certificate(folder, HOST, None)}


@pytest.fixture
def trusting_our_ca(certificates: dict[str, Certificate], monkeypatch: pytest.MonkeyPatch
                    ) -> Iterator[None]:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates["ca"].cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    yield


def poll_over(scheme: str, port: int, monkeypatch: pytest.MonkeyPatch,
              enqueue: Enqueue) -> None:
    monkeypatch.setenv("COACH_IMAP_URL", f"{scheme}://coach:secret-password@{HOST}:{port}/INBOX")
    get_settings.cache_clear()
    poll(get_settings(), enqueue, now=Clock())


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("which", ["another name", "self-signed"])
def test_a_server_we_cannot_verify_never_receives_the_password(
    mail_settings: Settings, enqueue: Enqueue, certificates: dict[str, Certificate],
    trusting_our_ca: None, monkeypatch: pytest.MonkeyPatch, scheme: str, which: str,
) -> None:
    with running_tls_imap_server(certificates[which], SCHEMES[scheme]) as server, \
            pytest.raises(ssl.SSLCertVerificationError):
        poll_over(scheme, server.port, monkeypatch, enqueue)
    assert "LOGIN" not in server.commands


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_server_with_a_certificate_we_trust_is_polled(
    mail_settings: Settings, enqueue: Enqueue, certificates: dict[str, Certificate],
    trusting_our_ca: None, monkeypatch: pytest.MonkeyPatch, scheme: str,
) -> None:
    with running_tls_imap_server(certificates["ours"], SCHEMES[scheme]) as server:
        poll_over(scheme, server.port, monkeypatch, enqueue)
    assert "LOGIN" in server.commands and server.commands[-1] == "LOGOUT"
    assert ("STARTTLS" in server.commands) is SCHEMES[scheme]

