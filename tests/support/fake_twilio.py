"""A Twilio-shaped HTTP server for what Prism cannot do: answer as a test scripts, and record
what reached "Twilio". Used by the channel tests in this process and by the fault suite's
worker processes over a real socket.

Prism serves Twilio's spec, which has none of Twilio's own error codes. This server answers
``POST …/Accounts/{sid}/Messages.json`` with the scripted answers in turn: an error in
Twilio's JSON shape (21610, 21211, 21614, 20429 with HTTP 429, a 500), an answer held past
the client's read timeout, or a connection closed without an answer; then 201 and a new SID.
"""

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.http_peers import LocalServer, answer_json, run_hook

MESSAGES = {  # Twilio's words for its errors
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "The 'To' number is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}
MESSAGES_PATH = re.compile(r"/Accounts/(\w+)/Messages\.json$")


@dataclass(frozen=True)
class Answer:
    status: int = 201
    code: int | None = None  # Twilio's error code
    hold: float = 0.0  # seconds before answering (or until ``release``)
    drop: bool = False  # close the connection after reading the request, answering nothing


def delivery_of(url: str) -> int | None:
    """The delivery id in a callback URL coach gave (``?delivery=``)."""
    number = dict(parse_qsl(urlsplit(url).query)).get("delivery", "")
    return int(number) if number.isdigit() else None


@dataclass(frozen=True)
class Taken:
    """One request to create a message: its form, its SID, its answer, when it arrived."""

    form: dict[str, str]
    sid: str
    answer: Answer
    at: float  # time.time()

    @property
    def to(self) -> str:
        return self.form.get("To", "")

    @property
    def status_callback(self) -> str:
        return self.form.get("StatusCallback", "")

    @property
    def delivery(self) -> int | None:
        return delivery_of(self.status_callback)


class FakeTwilio:
    """Twilio's Messages API, as scripted. ``before_answer`` runs for each request before its
    answer leaves (and before a hold), ``after_answer`` once a 201 has left (the sender may not
    have recorded it yet); what they raise is kept in ``errors``."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []  # the next answers, in order; then 201s
        self.taken: list[Taken] = []
        self.finished: list[Taken] = []  # answered, and its hooks done
        self.before_answer: Callable[[Taken], None] | None = None
        self.after_answer: Callable[[Taken], None] | None = None
        self.errors: list[BaseException] = []
        self.release = threading.Event()  # ends every held answer
        self._lock = threading.Lock()
        self.server = LocalServer(_handler(self))

    @property
    def url(self) -> str:
        return self.server.url

    def script(self, *answers: Answer) -> None:
        """The next answers, in order; the requests so far are forgotten."""
        with self._lock:
            self.answers, self.taken, self.finished = list(answers), [], []
        self.release.clear()

    def requests(self, answer: Answer | None = None) -> list[Taken]:
        with self._lock:
            return [t for t in self.taken if answer is None or t.answer == answer]

    def accepted(self) -> Counter[int]:
        """Deliveries taken: answered 201, or not answered at all (Twilio may well have
        created the message behind an answer that never arrived)."""
        return Counter(t.delivery for t in self.requests()
                       if t.delivery is not None and t.answer.status < 400)

    def idle(self) -> bool:
        """Every request answered, and its hooks done."""
        with self._lock:
            return len(self.finished) == len(self.taken)

    def last_refused(self) -> float:
        """When the last temporary refusal (429 or 5xx) arrived (0: never)."""
        return max((t.at for t in self.requests()
                    if t.answer.status == 429 or t.answer.status >= 500), default=0.0)

    def take(self, form: dict[str, str]) -> Taken:
        with self._lock:
            answer = self.answers.pop(0) if self.answers else Answer()
            taken = Taken(form, f"SM{len(self.taken) + 1:032x}", answer, time.time())
            self.taken.append(taken)
        return taken

    def done(self, taken: Taken) -> None:
        with self._lock:
            self.finished.append(taken)

    def stop(self) -> None:
        self.release.set()
        self.server.stop()


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            account = MESSAGES_PATH.search(self.path)
            if account is None:
                return answer_json(self, 404, {"code": 20404, "message": "not here",
                                               "status": 404})
            taken = fake.take(form)
            try:
                self._answer(taken, account.group(1))
            finally:
                fake.done(taken)

        def _answer(self, taken: Taken, account: str) -> None:
            run_hook(fake.errors, fake.before_answer, taken)
            answer = taken.answer
            if answer.drop:
                self.close_connection = True
                return
            if answer.hold:
                fake.release.wait(answer.hold)
            if answer.status >= 400:
                return answer_json(self, answer.status, {
                    "code": answer.code, "message": MESSAGES.get(answer.code or 0, "Error"),
                    "more_info": f"https://www.twilio.com/docs/errors/{answer.code}",
                    "status": answer.status})
            answer_json(self, answer.status, {
                "sid": taken.sid, "status": "queued", "to": taken.to,
                "body": taken.form.get("Body"), "account_sid": account})
            run_hook(fake.errors, fake.after_answer, taken)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
