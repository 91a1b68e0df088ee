"""The peers the channel and webhook scenarios run against, in the test process, reached by the
worker processes over real sockets: a recording Twilio that answers as scripted, an SMTP server
that can drop the connection after a message's end, and the web app's webhooks on a port.

Each peer's ``accepted()`` is its record for the ledger: the deliveries it took, by id. What a
scenario's hooks raise inside a peer is kept in its ``errors`` for the test to assert on.
"""

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from twilio.request_validator import RequestValidator

from coach.settings import Settings
from coach.web.app import create_app
from coach.web.context import Enqueue
from tests.channels_twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, SENDER, free_port
from tests.integration.conftest import wait_until

INBOUND_SECRET = "a-test-secret-for-inbound-email-posts"
# The Celery app of workers whose Twilio channel waits these seconds (see that module).
SHORT_WAITS = "tests.faults.short_waits"
TWILIO_READ_TIMEOUT, TWILIO_HOLD_OFF = 2.0, 1.0
# What the Twilio peer may answer: a message created, or one of Twilio's refusals.
OK, SLOW_DOWN, BROKEN, HANG, OPTED_OUT = "ok", "429", "500", "hang", "21610"
REFUSALS = {  # HTTP status, Twilio's code and words
    SLOW_DOWN: (429, 20429, "Too Many Requests"),
    BROKEN: (500, 20500, "Internal Server Error"),
    OPTED_OUT: (400, 21610, "Attempt to send to unsubscribed recipient"),
}


def twilio_env(api_url: str, public_url: str) -> dict[str, str]:
    """A worker's settings for SMS by Twilio at ``api_url``, with the shapes the tests use."""
    return {"COACH_SMS_BACKEND": "twilio", "COACH_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "COACH_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "COACH_TWILIO_FROM": SENDER,
            "COACH_TWILIO_API_URL": api_url, "COACH_PUBLIC_URL": public_url,
            "COACH_SMS_RATE_PER_SECOND": "1000"}


def smtp_env(url: str) -> dict[str, str]:
    return {"COACH_EMAIL_BACKEND": "smtp", "COACH_SMTP_URL": url,
            "COACH_EMAIL_FROM": "coach <coach@example.org>"}


# Twilio ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Taken:
    """One request to create a message: whose, what it was answered, when it arrived."""

    delivery: int | None  # from its StatusCallback's ?delivery=
    to: str
    sid: str
    answer: str
    at: float  # time.time()
    status_callback: str


class TwilioPeer:
    """Twilio's Messages API, enough of it for the SDK: ``POST …/Messages.json`` answered 201
    with a new SID, or as scripted (``script``: bursts of refusals, or answers held past the
    client's timeout). ``before_answer`` runs for each request before its answer leaves, and
    ``after_answer`` once it has left (the sender may not have recorded it yet)."""

    def __init__(self, hold_seconds: float = 2.5 * TWILIO_READ_TIMEOUT):
        self.hold_seconds = hold_seconds
        self.taken: list[Taken] = []
        self.before_answer: Callable[[Taken], None] | None = None
        self.after_answer: Callable[[Taken], None] | None = None
        self.errors: list[BaseException] = []
        self.finished: list[Taken] = []  # answered, and its after_answer done
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self.released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _twilio_handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def script(self, *bursts: tuple[int, str]) -> None:
        """The next answers, as (how many in a row, which); then 201s again."""
        with self._lock:
            for count, answer in bursts:
                self._script.extend([answer] * count)

    def accepted(self) -> Counter[int]:
        """Deliveries taken: created, or held past the client's timeout (Twilio may well have
        created the message behind an answer that never arrived)."""
        return Counter(t.delivery for t in self.requests()
                       if t.delivery is not None and t.answer in (OK, HANG))

    def idle(self) -> bool:
        """Every request answered, and its hooks done."""
        with self._lock:
            return len(self.finished) == len(self.taken)

    def last_refused(self) -> float:
        """When the last temporary refusal was answered (0: never)."""
        return max((t.at for t in self.requests() if t.answer in (SLOW_DOWN, BROKEN)),
                   default=0.0)

    def requests(self, answer: str | None = None) -> list[Taken]:
        with self._lock:
            return [t for t in self.taken if answer is None or t.answer == answer]

    def take(self, form: dict[str, str]) -> Taken:
        with self._lock:
            answer = self._script.popleft() if self._script else OK
            callback = form.get("StatusCallback", "")
            taken = Taken(delivery_of(callback), form.get("To", ""),
                          f"SM{len(self.taken) + 1:032x}", answer, time.time(), callback)
            self.taken.append(taken)
        return taken

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def _run_hook(errors: list[BaseException], hook: Callable[[Any], None] | None,
              event: Any) -> None:
    try:
        if hook is not None:
            hook(event)
    except Exception as error:  # the test asserts on it; the peer answers all the same
        errors.append(error)


def delivery_of(url: str) -> int | None:
    number = dict(parse_qsl(urlsplit(url).query)).get("delivery", "")
    return int(number) if number.isdigit() else None


def _twilio_handler(peer: TwilioPeer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            form = dict(parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
            if not self.path.endswith("/Messages.json"):
                return self._write(404, {"code": 20404, "message": "not here", "status": 404})
            taken = peer.take(form)
            try:
                self._answer(taken)
            finally:
                with peer._lock:
                    peer.finished.append(taken)

        def _answer(self, taken: Taken) -> None:
            _run_hook(peer.errors, peer.before_answer, taken)
            if taken.answer == HANG:
                peer.released.wait(peer.hold_seconds)
            if taken.answer in REFUSALS:
                status, code, words = REFUSALS[taken.answer]
                return self._write(status, {"code": code, "message": words, "status": status})
            self._write(201, {"sid": taken.sid, "status": "queued", "to": taken.to,
                              "account_sid": ACCOUNT_SID})
            _run_hook(peer.errors, peer.after_answer, taken)

        def _write(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up waiting: that was the point

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# SMTP --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Received:
    delivery: int
    to: str
    at: float  # time.time() when the message's final "." had arrived
    dropped: bool


class SmtpPeer:
    """aiosmtpd taking every message, noting its delivery id (its Message-ID starts with it).
    For recipients in ``drop_after_data`` it closes the connection once the message's final "."
    has arrived, before answering. ``before_answer`` runs before each answer."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.drop_after_data: set[str] = set()
        self.before_answer: Callable[[Received], None] | None = None
        self.errors: list[BaseException] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        headers = BytesHeaderParser().parsebytes(envelope.original_content or b"")
        delivery = int(str(headers["Message-ID"]).strip("<").split(".", 1)[0])
        to = envelope.rcpt_tos[0]
        received = Received(delivery, to, time.time(), to in self.drop_after_data)
        self.received.append(received)
        _run_hook(self.errors, self.before_answer, received)
        if received.dropped:
            server.transport.abort()
            return "421 4.4.2 never heard"
        return "250 2.0.0 OK queued"

    def accepted(self) -> Counter[int]:
        """Every message whose end arrived: a relay that has it may deliver it, answer or not."""
        return Counter(r.delivery for r in self.received)

    def stop(self) -> None:
        self.controller.stop()


# The webhooks ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Posted:
    path: str
    params: dict[str, str]
    signature: str
    status: int


class Webhooks:
    """The web app on a local port (uvicorn in a thread of the test process), with Twilio's
    auth token and the inbound email secret; its public URL is its own address, so the status
    callbacks workers ask Twilio for come here. Posts as Twilio and a mail service do."""

    def __init__(self, settings: Settings, enqueue: Enqueue, clock: Callable[[], datetime]):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.settings = settings.model_copy(update={
            "public_url": self.url, "twilio_auth_token": AUTH_TOKEN,
            "inbound_email_secret": INBOUND_SECRET})
        app = create_app(self.settings, enqueue, clock=clock)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=30, every=0.05)
        self.posted: list[Posted] = []
        self._lock = threading.Lock()

    def twilio(self, path: str, params: dict[str, str], forged: bool = False) -> tuple[int, str]:
        """POST form ``params`` to ``path`` (with its query), signed as Twilio signs; a forged
        post is signed with another account's token."""
        token = "0" * 32 if forged else AUTH_TOKEN
        signature = RequestValidator(token).compute_signature(self.url + path, params)
        status, body = self._post(path, urlencode(params).encode(), {
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"})
        with self._lock:
            self.posted.append(Posted(path, params, signature, status))
        return status, body

    def replay(self, posted: Posted) -> int:
        """The very same request again, signature and all, as Twilio retries one."""
        return self._post(posted.path, urlencode(posted.params).encode(), {
            "X-Twilio-Signature": posted.signature,
            "Content-Type": "application/x-www-form-urlencoded"})[0]

    def status(self, taken: Taken, status: str, forged: bool = False, **extra: str) -> int:
        """A status callback for a message the Twilio peer took, to the URL the sender gave."""
        path = taken.status_callback.removeprefix(self.url)
        params = {"MessageSid": taken.sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID,
                  "To": taken.to, "From": SENDER, **extra}
        return self.twilio(path, params, forged)[0]

    def email(self, raw: bytes) -> int:
        return self._post("/hooks/email/inbound", raw, {
            "X-Coach-Secret": INBOUND_SECRET, "Content-Type": "message/rfc822"})[0]

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
