"""The peers the channel figures run against, all local: Prism serving Twilio's API spec
(tests/support/prism.py, as the tests start it), a recording proxy in front of it, and an
aiosmtpd relay in this process that counts what it receives.

The proxy notes when each request reached "Twilio" (wall clock), its answer's status, the
connection it came on and the delivery id in its StatusCallback: that is what a carrier's rate
limit would see, unlike ``deliveries.sent_at``, which is the moment the send task started.
"""

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiosmtpd.controller import Controller

from tests.support.fake_twilio import delivery_of
from tests.support.http_peers import LocalServer
from tests.support.ports import free_port

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


# The recording proxy ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    at: float  # time.time() when the whole request had arrived
    status: int  # the peer's answer (502 when the peer could not be reached)
    connection: tuple[str, int]  # the client's address: one per keep-alive connection
    delivery: int | None  # from the StatusCallback's ?delivery=


@dataclass
class Recorder:
    upstream: str
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def messages(self) -> list[Request]:
        with self.lock:
            return list(self.requests)

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(recorder.upstream)
    local = threading.local()

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's requests session expects

        def do_GET(self) -> None:
            self._forward()

        def do_POST(self) -> None:
            self._forward()

        def log_message(self, *_: Any) -> None:
            pass

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrived = time.time()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            try:
                status, reason, answer_headers, answer = _upstream(local, target, self.command,
                                                                   self.path, body, headers)
            except OSError as error:
                status, reason, answer_headers, answer = 502, "Bad Gateway", [], \
                    str(error).encode()
            callback = dict(parse_qsl(body.decode("utf-8", "replace"))).get("StatusCallback", "")
            recorder.add(Request(arrived, status, self.client_address[:2], delivery_of(callback)))
            self.send_response(status, reason)
            for key, value in answer_headers:
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Forward


def _upstream(local: threading.local, target: Any, method: str, path: str, body: bytes,
              headers: dict[str, str]) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """One request to the peer on this thread's own kept-alive connection (one retry on a
    fresh connection if the kept one was closed meanwhile)."""
    for attempt in (1, 2):
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(
                target.hostname, target.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        except (http.client.HTTPException, OSError):
            connection.close()
            local.connection = None
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@contextmanager
def recording_proxy(upstream: str) -> Iterator[tuple[str, Recorder]]:
    """A local HTTP proxy to ``upstream`` that records every request; yields (url, recorder)."""
    recorder = Recorder(upstream)
    server = LocalServer(_handler(recorder))
    try:
        yield server.url, recorder
    finally:
        server.stop()


# The SMTP relay --------------------------------------------------------------------------------

@dataclass
class CountingRelay:
    """An aiosmtpd handler that accepts every message and notes when it came."""

    arrivals: list[float] = field(default_factory=list)
    recipients: set[str] = field(default_factory=set)
    bytes: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrivals.append(time.time())
        self.recipients.update(envelope.rcpt_tos)
        self.bytes += len(envelope.original_content or b"")
        return "250 2.0.0 OK queued"

    def clear(self) -> None:
        self.arrivals.clear()
        self.recipients.clear()
        self.bytes = 0


@contextmanager
def running_relay() -> Iterator[tuple[str, CountingRelay]]:
    """aiosmtpd on a free local port, in a thread of this process; yields (smtp URL, relay)."""
    relay, port = CountingRelay(), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", relay
    finally:
        controller.stop()
