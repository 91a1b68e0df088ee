"""The peers the channel figures run against, all local: Prism serving Twilio's API spec (as
tests/channels_twilio/conftest.py starts it), a recording proxy in front of it, and an aiosmtpd
relay in this process that counts what it receives.

The proxy notes when each request reached "Twilio" (wall clock), its answer's status, the
connection it came on and the delivery id in its StatusCallback: that is what a carrier's rate
limit would see, unlike ``deliveries.sent_at``, which is the moment the send task started.
"""

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiosmtpd.controller import Controller

from coach.settings import PROJECT_ROOT

PRISM = PROJECT_ROOT / ".peers" / "node_modules" / ".bin" / "prism"
SPEC = Path(os.environ.get("COACH_TEST_TWILIO_SPEC",
                           PROJECT_ROOT.parent / "shared" / "peers" / "twilio_api_v2010.json"))
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def missing_peers() -> str | None:
    """Why the Twilio figures cannot run here, or None."""
    if not PRISM.exists():
        return f"Prism is not installed at {PRISM}; run `make peers`"
    if not SPEC.exists():
        return f"Twilio's API spec is not at {SPEC}; set COACH_TEST_TWILIO_SPEC"
    return None


@contextmanager
def running_prism(log: Path) -> Iterator[tuple[str, int]]:
    """``prism mock`` serving Twilio's spec on a free port, in its own process group; yields
    its URL and pid, and stops the whole group (node and anything it started) afterwards."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "warn", str(SPEC)],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answers(url, process, log)
        yield url, process.pid
    finally:
        _stop_group(process)


def _wait_until_answers(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prism exited with {process.returncode}: "
                               f"{log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answered (404: no such path in the spec)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Prism did not answer within 90 s: {log.read_text()[-2000:]}")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


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
            recorder.add(Request(arrived, status, self.client_address[:2], _delivery(body)))
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


def _delivery(body: bytes) -> int | None:
    for key, value in parse_qsl(body.decode("utf-8", "replace")):
        if key == "StatusCallback":
            for name, number in parse_qsl(urlsplit(value).query):
                if name == "delivery" and number.isdigit():
                    return int(number)
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


@contextmanager
def recording_proxy(upstream: str) -> Iterator[tuple[str, Recorder]]:
    """A local HTTP proxy to ``upstream`` that records every request; yields (url, recorder)."""
    recorder = Recorder(upstream)
    server = _Server(("127.0.0.1", 0), _handler(recorder))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


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
