"""A small IMAP server over TLS for the certificate tests: implicit TLS (imaps) or STARTTLS,
with certificates made here by the ``openssl`` command. It answers just enough for a poll of an
empty mailbox and records the commands it received, so a test can say whether LOGIN, and the
password with it, ever reached it."""

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

EMPTY_MAILBOX = (b"* 0 EXISTS\r\n* OK [UIDVALIDITY 1] uids valid\r\n"
                 b"* OK [PERMANENTFLAGS (\\Seen \\Flagged)] flags kept\r\n")


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(folder: Path) -> Certificate:
    ca = Certificate(folder / "ca.pem", folder / "ca.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(ca.key), "-out", str(ca.cert), "-days", "2",
            "-subj", "/CN=coach test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return ca


def make_certificate(folder: Path, name: str, signer: Certificate | None) -> Certificate:
    """For ``name`` (a host name or an IP address), signed by ``signer`` or by itself."""
    label = f"{name}-{'self' if signer is None else 'signed'}"
    made = Certificate(folder / f"{label}.pem", folder / f"{label}.key")
    kind = "IP" if name.replace(".", "").isdigit() else "DNS"
    common = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", str(made.key), "-subj", f"/CN={name}"]
    if signer is None:
        openssl("req", "-x509", *common, "-out", str(made.cert), "-days", "2",
                "-addext", f"subjectAltName={kind}:{name}")
        return made
    request, extensions = folder / f"{label}.csr", folder / f"{label}.ext"
    extensions.write_text(f"subjectAltName={kind}:{name}\n")
    openssl("req", *common, "-out", str(request))
    openssl("x509", "-req", "-in", str(request), "-CA", str(signer.cert), "-CAkey",
            str(signer.key), "-CAcreateserial", "-out", str(made.cert), "-days", "2",
            "-extfile", str(extensions))
    return made


@dataclass
class TlsImapServer:
    certificate: Certificate
    starttls: bool
    port: int = 0
    commands: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.certificate.cert, self.certificate.key)

    def serve(self, listener: socket.socket) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            with connection:
                connection.settimeout(10)
                self._session(connection)

    def _session(self, connection: socket.socket) -> None:
        self.wrapped: list[ssl.SSLSocket] = []
        try:
            stream = connection if self.starttls else self._wrap(connection)
            stream.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] test server ready\r\n")
            self._commands(stream)
        except (OSError, ssl.SSLError):
            return  # the client refused our certificate, or hung up
        finally:
            for stream in self.wrapped:
                stream.close()

    def _wrap(self, connection: socket.socket) -> ssl.SSLSocket:
        self.wrapped.append(self.context.wrap_socket(connection, server_side=True,
                                                     do_handshake_on_connect=False))
        self.wrapped[-1].do_handshake()
        return self.wrapped[-1]

    def _commands(self, stream: socket.socket) -> None:
        reader = stream.makefile("rb")
        for line in reader:
            tag, _, rest = line.decode("ascii", "replace").strip().partition(" ")
            command = " ".join(rest.split()[:2]).upper()
            self.commands.append(command.split()[0] if command else "")
            if command.startswith("STARTTLS"):
                stream.sendall(f"{tag} OK begin TLS now\r\n".encode())
                return self._commands(self._wrap(stream))
            stream.sendall(self._answer(command) + f"{tag} OK done\r\n".encode())
            if command.startswith("LOGOUT"):
                return None
        return None

    @staticmethod
    def _answer(command: str) -> bytes:
        if command.startswith("CAPABILITY"):
            return b"* CAPABILITY IMAP4rev1 STARTTLS\r\n"
        if command.startswith("SELECT"):
            return EMPTY_MAILBOX
        if command.startswith("UID SEARCH"):
            return b"* SEARCH\r\n"
        if command.startswith("LOGOUT"):
            return b"* BYE see you\r\n"
        return b""


@contextmanager
def running_tls_imap_server(certificate: Certificate, starttls: bool
                            ) -> Iterator[TlsImapServer]:
    server = TlsImapServer(certificate, starttls)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server.port = listener.getsockname()[1]
        thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
        thread.start()
        try:
            yield server
        finally:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting in the thread
            thread.join(10)
