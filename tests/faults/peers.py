"""The peers the channel and webhook scenarios run against, in the test process, reached by the
worker processes over real sockets: what the fake Twilio (tests/support/fake_twilio.py) may
answer, an SMTP server that can drop the connection after a message's end, and the web app's
webhooks on a port.

Each peer's ``accepted()`` is its record for the ledger: the deliveries it took, by id. What a
scenario's hooks raise inside a peer is kept in its ``errors`` for the test to assert on.
"""

import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from typing import Any
from urllib.parse import urlencode

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from twilio.request_validator import RequestValidator

from coach.settings import Settings
from coach.web.app import create_app
from coach.web.context import Enqueue
from tests.channels_twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, SENDER
from tests.integration.conftest import wait_until
from tests.support.fake_twilio import Answer, Taken
from tests.support.http_peers import run_hook
from tests.support.ports import free_port

INBOUND_SECRET = "a-test-secret-for-inbound-email-posts"
# The Celery app of workers whose Twilio channel waits these seconds (see that module).
SHORT_WAITS = "tests.faults.short_waits"
TWILIO_READ_TIMEOUT, TWILIO_HOLD_OFF = 2.0, 1.0
# What the fake Twilio may answer: a message created, one of Twilio's refusals, or an answer
# held past the sender's timeout.
OK, SLOW_DOWN, BROKEN = Answer(), Answer(429, 20429), Answer(500, 20500)
HANG, OPTED_OUT = Answer(hold=2.5 * TWILIO_READ_TIMEOUT), Answer(400, 21610)


def twilio_env(api_url: str, public_url: str) -> dict[str, str]:
    """A worker's settings for SMS by Twilio at ``api_url``, with the shapes the tests use."""
    return {"COACH_SMS_BACKEND": "twilio", "COACH_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "COACH_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "COACH_TWILIO_FROM": SENDER,
            "COACH_TWILIO_API_URL": api_url, "COACH_PUBLIC_URL": public_url,
            "COACH_SMS_RATE_PER_SECOND": "1000"}


def smtp_env(url: str) -> dict[str, str]:
    return {"COACH_EMAIL_BACKEND": "smtp", "COACH_SMTP_URL": url,
            "COACH_EMAIL_FROM": "coach <coach@example.org>"}


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
        run_hook(self.errors, self.before_answer, received)
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
        """A status callback for a message the fake Twilio took, to the URL the sender gave."""
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
